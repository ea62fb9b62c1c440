"""WebShop's reward for a purchase (Yao et al. 2022, section 3), as a pure function.

    r = r_type * (|attributes matched| + |options matched| + 1[price <= bound])
               / (|goal attributes| + |goal options| + 1)

- attribute match: a goal attribute matches when one of the product's attributes is a fuzzy match
  (token-set ratio > 85), or else when it occurs in the title, features or description;
- option match: a goal option matches when one chosen option value is a fuzzy match, both first
  reduced to the first colour word they contain;
- r_type: 1.0 when the product's type agrees with the target's (same query, at least two shared
  breadcrumb levels, or more than 0.2 of the target title's words in the bought title), 0.5 when
  none of these hold; then 0.1 when under 0.1 of the title words are shared, 0.0 when none are.

Success is reward == 1.0 exactly (DESIGN.md): every term matched and r_type 1.0.

Two parts are our own stand-ins, documented here because they decide edge cases:
- the fuzzy score is the token-set ratio of thefuzz/rapidfuzz (lower-cased, non-alphanumerics to
  spaces, Indel similarity on sorted token sets, rounded), written out below to avoid a
  dependency for 30 lines;
- WebShop keeps only the nouns of both titles (spaCy tagging); no tagger model can be installed
  here, so `title_words` keeps every word of two or more letters that is not a function word.
  Both titles go through the same function, so the target's own title always scores 1.0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from a3t.envs.webshop.catalog import Goal, Product

FUZZY_THRESHOLD = 85  # a score above this is a match (WebShop's value)

# Reduces an option value to its first colour word, so "navy blue" and "blue" compare as colours.
# fmt: off
COLOURS = (
    "beige", "black", "blue", "brown", "burgundy", "coral", "cream", "gold", "gray", "green",
    "grey", "ivory", "khaki", "lavender", "maroon", "mint", "navy", "olive", "orange", "pink",
    "purple", "red", "rose", "silver", "tan", "teal", "turquoise", "white", "yellow",
)
_FUNCTION_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it",
    "its", "of", "on", "or", "our", "than", "that", "the", "this", "to", "up", "with", "without",
    "your", "you",
))
# fmt: on
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_WORD = re.compile(r"[a-z]{2,}")


# --- fuzzy matching (thefuzz.fuzz.token_set_ratio with its default processing) -------------


def _process(text: str) -> str:
    ascii_only = text.encode("ascii", "ignore").decode()
    return _NON_ALNUM.sub(" ", ascii_only.lower()).strip()


def _lcs(a: str, b: str) -> int:
    """Length of the longest common subsequence (Indel similarity counts it twice)."""
    row = [0] * (len(b) + 1)
    for ch in a:
        prev_diag = 0
        for j, other in enumerate(b, start=1):
            keep = row[j]
            row[j] = prev_diag + 1 if ch == other else max(row[j], row[j - 1])
            prev_diag = keep
    return row[len(b)]


def _similarity(distance: int, total_length: int) -> float:
    return 100.0 if total_length == 0 else 100.0 * (1 - distance / total_length)


def token_set_ratio(a: str, b: str) -> int:
    """0-100: how alike two phrases are as sets of words (100 when one set holds the other)."""
    tokens_a, tokens_b = set(_process(a).split()), set(_process(b).split())
    if not tokens_a or not tokens_b:
        return 0
    common = tokens_a & tokens_b
    only_a, only_b = tokens_a - tokens_b, tokens_b - tokens_a
    if common and (not only_a or not only_b):
        return 100
    rest_a, rest_b = " ".join(sorted(only_a)), " ".join(sorted(only_b))
    common_len = len(" ".join(common))
    sep = 1 if common_len else 0
    full_a, full_b = common_len + sep + len(rest_a), common_len + sep + len(rest_b)
    # "<common> <rest_a>" against "<common> <rest_b>": the shared prefix costs nothing.
    rest_distance = len(rest_a) + len(rest_b) - 2 * _lcs(rest_a, rest_b)
    best = _similarity(rest_distance, full_a + full_b)
    if common_len:
        # "<common>" against "<common> <rest>": the distance is the appended part.
        best = max(
            best,
            _similarity(sep + len(rest_a), common_len + full_a),
            _similarity(sep + len(rest_b), common_len + full_b),
        )
    return round(best)


def fuzzy_match(a: str, b: str) -> bool:
    return token_set_ratio(a, b) > FUZZY_THRESHOLD


def normalize_colour(value: str) -> str:
    """The first colour word that `value` contains, else `value` itself."""
    for colour in COLOURS:
        if colour in value:
            return colour
    return value


def option_match(goal_value: str, chosen_value: str) -> bool:
    return fuzzy_match(normalize_colour(chosen_value), normalize_colour(goal_value))


# --- the terms -------------------------------------------------------------------------------


def title_words(name: str) -> frozenset[str]:
    """The words of a title the type term compares (our stand-in for WebShop's nouns)."""
    return frozenset(w for w in _WORD.findall(name.lower()) if w not in _FUNCTION_WORDS)


def _breadcrumb(path: str) -> set[str]:
    return {level.strip() for level in path.split("›")}


@dataclass(frozen=True)
class TypeTerm:
    r_type: float
    query_match: bool
    category_match: bool  # at least two breadcrumb levels in common
    title_score: float  # share of the target title's words found in the bought title


def type_term(goal: Goal, product: Product) -> TypeTerm:
    query_match = product.query == goal.query
    category_match = (
        len(_breadcrumb(product.product_category) & _breadcrumb(goal.product_category)) >= 2
    )
    wanted = title_words(goal.name)
    # WebShop's value for a target title with no nouns.
    title_score = len(title_words(product.name) & wanted) / len(wanted) if wanted else 0.2
    r_type = 1.0 if (query_match or category_match or title_score > 0.2) else 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return TypeTerm(r_type, query_match, category_match, title_score)


def attribute_matches(goal: Goal, product: Product) -> tuple[bool, ...]:
    """Per goal attribute: found among the product's attributes, or else in its text."""
    text = " ".join((product.name, *product.features, product.description)).lower()
    return tuple(
        any(fuzzy_match(have, wanted) for have in product.attributes) or wanted in text
        for wanted in goal.attributes
    )


def option_matches(goal: Goal, chosen: Sequence[str]) -> tuple[bool, ...]:
    """Per goal option: one of the chosen values matches it."""
    return tuple(any(option_match(wanted, value) for value in chosen) for wanted in goal.options)


@dataclass(frozen=True)
class RewardTerms:
    type: TypeTerm
    attributes: tuple[bool, ...]  # per goal attribute
    options: tuple[bool, ...]  # per goal option
    price_ok: bool  # price <= the goal's bound

    @property
    def reward(self) -> float:
        matched = sum(self.attributes) + sum(self.options) + int(self.price_ok)
        total = len(self.attributes) + len(self.options) + 1
        return matched / total * self.type.r_type


def reward_terms(
    goal: Goal, product: Product, chosen: Mapping[str, str], price: float
) -> RewardTerms:
    """The terms for buying `product` at `price` with `chosen` options (group -> value)."""
    return RewardTerms(
        type=type_term(goal, product),
        attributes=attribute_matches(goal, product),
        options=option_matches(goal, list(chosen.values())),
        price_ok=price <= goal.price_upper,
    )


def reward(goal: Goal, product: Product, chosen: Mapping[str, str], price: float) -> float:
    return reward_terms(goal, product, chosen, price).reward


def is_success(value: float) -> bool:
    return value == 1.0
