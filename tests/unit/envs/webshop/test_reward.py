"""WebShop's reward on hand-computed purchases: each term, and how they combine."""

from __future__ import annotations

from dataclasses import replace

import pytest

from a3t.envs.webshop.reward import (
    is_success,
    normalize_colour,
    option_match,
    reward,
    reward_terms,
    title_words,
    token_set_ratio,
    type_term,
)
from tests.unit.envs.webshop.scenario import SHAMPOO_GOAL, SHAMPOOS, product

TARGET, OVER_PRICE, NO_DRY_HAIR = SHAMPOOS
GOAL = SHAMPOO_GOAL  # sulfate free + dry hair, 16 fl oz, at most $20


@pytest.mark.parametrize(
    ("a", "b", "score"),
    [
        ("tea tree", "tea tree oil", 100),  # one word set holds the other
        ("essential oils", "essential oil", 96),
        ("pack of 2", "pack of 4", 89),  # a match: WebShop counts these as the same option
        ("8 fl oz", "16 fl oz", 83),
        ("sulfate free", "paraben free", 58),
        ("Navy-Blue", "navy blue", 100),  # case and punctuation do not count
        ("", "anything", 0),
    ],
)
def test_token_set_ratio(a: str, b: str, score: int) -> None:
    assert token_set_ratio(a, b) == score
    assert token_set_ratio(b, a) == score


def test_options_compare_as_colours() -> None:
    assert normalize_colour("navy blue") == "blue"  # the first colour of the list it contains
    assert normalize_colour("16 fl oz") == "16 fl oz"
    assert option_match("navy blue", "blue")
    assert not option_match("light blue", "navy")
    assert not option_match("16 fl oz", "8 fl oz")


def test_everything_matched_is_one() -> None:
    terms = reward_terms(GOAL, TARGET, {"size": "16 fl oz"}, TARGET.price)
    assert terms.type.r_type == 1.0
    assert (terms.type.query_match, terms.type.category_match, terms.type.title_score) == (
        True,
        True,
        1.0,
    )
    assert terms.attributes == (True, True)
    assert terms.options == (True,)
    assert terms.price_ok is True
    assert terms.reward == 1.0
    assert is_success(terms.reward)


def test_missing_or_wrong_option() -> None:
    assert reward_terms(GOAL, TARGET, {}, TARGET.price).options == (False,)
    assert reward(GOAL, TARGET, {}, TARGET.price) == 0.75  # (2 + 0 + 1) / 4
    assert reward(GOAL, TARGET, {"size": "8 fl oz"}, TARGET.price) == 0.75
    assert reward(GOAL, TARGET, {"size": "16 fl oz", "scent": "coconut"}, TARGET.price) == 1.0
    assert not is_success(0.75)


def test_price_above_the_bound() -> None:
    terms = reward_terms(GOAL, OVER_PRICE, {"size": "16 fl oz"}, OVER_PRICE.price)
    assert terms.price_ok is False
    assert terms.reward == 0.75  # (2 + 1 + 0) / 4
    assert reward(GOAL, TARGET, {"size": "16 fl oz"}, 20.0) == 1.0  # "lower than" includes it
    assert reward(GOAL, TARGET, {"size": "16 fl oz"}, 20.01) == 0.75


def test_missing_attribute() -> None:
    terms = reward_terms(GOAL, NO_DRY_HAIR, {"size": "16 fl oz"}, NO_DRY_HAIR.price)
    assert terms.attributes == (True, False)
    assert terms.type.title_score == 5 / 8  # sulfate free shampoo argan oil, of 8 words
    assert terms.reward == 0.75  # (1 + 1 + 1) / 4


def test_attribute_found_in_the_text() -> None:
    # Not among the attributes, but in the title or the text: WebShop counts it.
    plain = replace(TARGET, name="Verdell Shampoo", attributes=(), features=(), description="")
    assert reward_terms(GOAL, plain, {}, 1.0).attributes == (False, False)
    described = replace(plain, description="Gentle on dry hair.")
    assert reward_terms(GOAL, described, {}, 1.0).attributes == (False, True)
    featured = replace(plain, features=("Sulfate free formula",))
    assert reward_terms(GOAL, featured, {}, 1.0).attributes == (True, False)


def test_wrong_type() -> None:
    lotion = product(
        "B0LOTION01",
        "Nuvia Dry Skin Lotion",
        10.0,
        ("sulfate free",),
        query="body lotion",
        product_category="Beauty & Personal Care › Skin Care › Body",
    )
    term = type_term(GOAL, lotion)
    # Another query, one breadcrumb level in common, 1 of 8 title words: half credit.
    assert (term.query_match, term.category_match, term.title_score) == (False, False, 1 / 8)
    assert term.r_type == 0.5
    assert reward(GOAL, lotion, {"size": "16 fl oz"}, lotion.price) == 0.375  # 3/4 * 0.5

    conditioner = replace(
        lotion,
        name="Lumera Conditioner",
        query="conditioner",
        product_category="Beauty & Personal Care › Hair Care › Conditioners",
    )
    term = type_term(GOAL, conditioner)
    # Two breadcrumb levels in common would be a match, but no title word is shared: zero.
    assert (term.category_match, term.title_score, term.r_type) == (True, 0.0, 0.0)
    assert reward(GOAL, conditioner, {"size": "16 fl oz"}, 1.0) == 0.0


def test_few_title_words_override_a_query_match() -> None:
    goal = replace(GOAL, name="one two three four five six seven eight nine ten eleven")
    same_query = replace(TARGET, name="eleven")
    term = type_term(goal, same_query)
    assert term.query_match is True
    assert term.title_score == 1 / 11
    assert term.r_type == 0.1  # under 0.1 of the words: the query match does not save it


def test_title_words_drop_function_words() -> None:
    assert title_words("Shampoo for Dry Hair, 16 Fl Oz (Pack of 2)") == {
        "shampoo",
        "dry",
        "hair",
        "fl",
        "oz",
        "pack",
    }
