"""The page flow and text of one WebShop episode, on hand-written shops."""

from __future__ import annotations

import pytest

from a3t.envs.base import GameState
from a3t.envs.webshop.catalog import OptionGroup
from a3t.envs.webshop.pages import WebShopGame
from a3t.errors import FailedPrecondition
from tests.unit.envs.webshop import scenario
from tests.unit.envs.webshop.scenario import SHAMPOO_GOAL, product

SEARCH_PAGE = (
    "WebShop [SEP] Instruction: [SEP] i am looking for a sulfate free, dry hair shampoo in size "
    "16 fl oz, and price lower than 20.00 dollars [SEP] Search"
)
ITEM_BUTTONS = (
    "click[Back to Search]",
    "click[< Prev]",
    "click[8 fl oz]",
    "click[16 fl oz]",
    "click[32 fl oz]",
    "click[coconut]",
    "click[lavender]",
    "click[Description]",
    "click[Features]",
    "click[Reviews]",
    "click[Buy Now]",
)


def started(game: WebShopGame | None = None) -> WebShopGame:
    game = game or scenario.game()
    game.reset()
    return game


def on_item_page() -> WebShopGame:
    game = started()
    game.step("search[sulfate free shampoo dry hair]")
    game.step("click[B09SFD2HQ4]")
    return game


def test_reset_shows_the_search_page() -> None:
    instruction, state = scenario.game().reset()
    assert instruction == SHAMPOO_GOAL.instruction
    assert state == GameState(SEARCH_PAGE, (), 0.0, False, False)


def test_search_shows_results() -> None:
    state = started().step("search[Sulfate Free Shampoo dry hair]")
    assert state.observation == (
        "[Back to Search] [SEP] Page 1 (Total results: 3) [SEP] [B07LMR8TXC] [SEP] Lumera "
        "Sulfate Free Shampoo, Dry Hair, Tea Tree [SEP] $24.99 [SEP] [B09SFD2HQ4] [SEP] Verdell "
        "Sulfate Free Shampoo, Dry Hair, Argan Oil [SEP] $14.99 [SEP] [B08AUR3LLE] [SEP] Aurelle "
        "Argan Oil Shampoo, Color Safe, Sulfate Free [SEP] $12.99"
    )
    assert state.admissible == (
        "click[Back to Search]",
        "click[B07LMR8TXC]",
        "click[B09SFD2HQ4]",
        "click[B08AUR3LLE]",
    )
    assert (state.reward, state.done, state.won) == (0.0, False, False)


def test_search_with_no_match() -> None:
    state = started().step("search[garden hose]")
    assert state.observation == "[Back to Search] [SEP] Page 1 (Total results: 0)"
    assert state.admissible == ("click[Back to Search]",)


def test_pagination() -> None:
    shop = tuple(
        product(f"B0PAGE{i:04d}", f"Brand{i} Shampoo", 5.0 + i, ("sulfate free",))
        for i in range(23)
    )
    game = started(scenario.game(shop))

    def shown(state: GameState) -> list[str]:
        return [a[6:-1] for a in state.admissible if a.startswith("click[B0")]

    first = game.step("search[shampoo]")
    assert first.observation.startswith(
        "[Back to Search] [SEP] Page 1 (Total results: 23) [SEP] [Next >] [SEP] [B0PAGE"
    )
    assert first.admissible[:2] == ("click[Back to Search]", "click[Next >]")
    second = game.step("click[next >]")  # buttons match whatever the case
    assert second.observation.startswith(
        "[Back to Search] [SEP] Page 2 (Total results: 23) [SEP] [< Prev] [SEP] [Next >] [SEP]"
    )
    assert second.admissible[:3] == ("click[Back to Search]", "click[< Prev]", "click[Next >]")
    third = game.step("click[Next >]")
    assert third.observation.startswith(
        "[Back to Search] [SEP] Page 3 (Total results: 23) [SEP] [< Prev] [SEP] [B0PAGE"
    )
    assert "click[Next >]" not in third.admissible
    pages = [shown(first), shown(second), shown(third)]
    assert [len(p) for p in pages] == [10, 10, 3]
    assert sorted(a for page in pages for a in page) == sorted(p.asin for p in shop)
    assert game.step("click[< Prev]") == second
    # An item's [< Prev] goes back to the results page it was opened from.
    game.step(f"click[{pages[1][4]}]")
    assert game.step("click[< Prev]") == second


def test_item_page_and_options() -> None:
    game = started()
    game.step("search[sulfate free shampoo dry hair]")
    item = game.step("click[b09sfd2hq4]")
    assert item.observation == (
        "[Back to Search] [SEP] [< Prev] [SEP] size [SEP] [8 fl oz] [SEP] [16 fl oz] [SEP] "
        "[32 fl oz] [SEP] scent [SEP] [coconut] [SEP] [lavender] [SEP] Verdell Sulfate Free "
        "Shampoo, Dry Hair, Argan Oil [SEP] Price: $14.99 [SEP] Rating: 4.5 [SEP] [Description] "
        "[SEP] [Features] [SEP] [Reviews] [SEP] [Buy Now]"
    )
    assert item.admissible == ITEM_BUTTONS
    clicked = game.step("click[16 fl oz]")
    assert clicked == GameState("You have clicked 16 fl oz.", ITEM_BUTTONS, 0.0, False, False)
    game.step("click[lavender]")
    # The chosen values show doubled brackets when the page is shown again.
    game.step("click[Features]")
    again = game.step("click[< Prev]")
    assert "[SEP] [[16 fl oz]] [SEP]" in again.observation
    assert "[SEP] [[lavender]] [SEP] Verdell" in again.observation
    assert again.admissible == ITEM_BUTTONS
    # A chosen value can be clicked as shown, doubled brackets and all.
    assert game.step("click[[16 fl oz]]").observation == "You have clicked 16 fl oz."


def test_choosing_again_replaces_the_value_of_its_group() -> None:
    game = on_item_page()
    game.step("click[16 fl oz]")
    game.step("click[8 fl oz]")
    assert game.step("click[Buy Now]").reward == 0.75  # 8 fl oz was bought
    game = on_item_page()
    game.step("click[8 fl oz]")
    game.step("click[16 fl oz]")
    assert game.step("click[Buy Now]").reward == 1.0


def test_sub_pages_and_back() -> None:
    game = on_item_page()
    item = game.step("click[< Prev]")  # to the results ...
    item = game.step("click[B09SFD2HQ4]")  # ... and back
    sub = ("click[Back to Search]", "click[< Prev]")
    description = game.step("click[Description]")
    assert description == GameState(
        "[Back to Search] [SEP] [< Prev] [SEP] Verdell Sulfate Free Shampoo, Dry Hair, Argan Oil. "
        "Highlights: sulfate free, dry hair, argan oil.",
        sub,
        0.0,
        False,
        False,
    )
    assert game.step("click[< Prev]") == item
    features = game.step("click[features]")
    assert features.observation == (
        "[Back to Search] [SEP] [< Prev] [SEP] Sulfate Free: checked by hand before it ships "
        "[SEP] Dry Hair: checked by hand before it ships [SEP] Argan Oil: checked by hand "
        "before it ships"
    )
    assert game.step("click[< Prev]") == item
    reviews = game.step("click[Reviews]")
    assert reviews.observation == (
        '[Back to Search] [SEP] [< Prev] [SEP] "Just right" [SEP] 5 [SEP] Arrived quickly and '
        'matches the listing. [SEP] "Solid" [SEP] 4 [SEP] Works as described for the price.'
    )
    assert game.step("click[Back to Search]") == GameState(SEARCH_PAGE, (), 0.0, False, False)
    # A new search from there works as the first one did.
    assert game.step("search[argan oil]").observation.startswith("[Back to Search] [SEP] Page 1")


@pytest.mark.parametrize(
    ("action", "answer"),
    [
        ("click[Add to Cart]", "Invalid action! There is no [Add to Cart] button on this page."),
        (
            "search[shampoo]",
            "Invalid action! Search works on the search page only; click[Back to Search] first.",
        ),
        (
            "buy the shampoo",
            "Invalid action! 'buy the shampoo' is not an action. Write search[query] on the "
            "search page or click[button] with a button shown in brackets.",
        ),
        ("click[Next >]", "Invalid action! There is no [Next >] button on this page."),
        ("think[which size?]", None),
    ],
)
def test_invalid_actions_leave_the_page(action: str, answer: str | None) -> None:
    game = on_item_page()
    state = game.step(action)
    if answer is not None:
        assert state.observation == answer
    assert state.observation.startswith("Invalid action! ")
    assert (state.admissible, state.reward, state.done, state.won) == (
        ITEM_BUTTONS,
        0.0,
        False,
        False,
    )
    assert game.step("click[Buy Now]").done  # the page is still the item page


def test_invalid_on_the_search_page() -> None:
    game = started()
    assert game.step("search[ ]") == GameState(
        "Invalid action! The search is empty; write search[words to look for].",
        (),
        0.0,
        False,
        False,
    )
    assert game.step("click[Search]").observation == (
        "Invalid action! There is no [Search] button on this page."
    )


def test_buy_now_ends_the_episode() -> None:
    game = on_item_page()
    game.step("click[16 fl oz]")
    done = game.step("click[BUY NOW]")
    assert done == GameState(
        "Thank you for shopping with us! [SEP] Your score (min 0.0, max 1.0) [SEP] 1.00",
        (),
        1.0,
        True,
        True,
    )
    with pytest.raises(FailedPrecondition, match="episode is over"):
        game.step("click[Back to Search]")
    # A reset starts over.
    assert game.reset()[1].observation == SEARCH_PAGE


def test_buying_the_wrong_product() -> None:
    game = started()
    game.step("search[sulfate free shampoo dry hair]")
    game.step("click[B07LMR8TXC]")  # over the price limit
    game.step("click[16 fl oz]")
    done = game.step("click[Buy Now]")
    assert (done.observation[-4:], done.reward, done.done, done.won) == ("0.75", 0.75, True, False)


def test_step_before_reset() -> None:
    with pytest.raises(FailedPrecondition, match="call reset"):
        scenario.game().step("search[shampoo]")


def test_option_value_shared_by_two_groups_goes_to_the_first() -> None:
    colours = OptionGroup("color", ("black", "white"))
    trims = OptionGroup("trim", ("black", "gold"))
    shop = (product("B0TWOGROUP", "Corvo Hoodie", 30.0, ("fleece lined",), (colours, trims)),)
    game = started(scenario.game(shop))
    game.step("search[hoodie]")
    game.step("click[B0TWOGROUP]")
    game.step("click[black]")
    game.step("click[Description]")
    page = game.step("click[< Prev]").observation
    assert "color [SEP] [[black]] [SEP] [white] [SEP] trim [SEP] [black] [SEP] [gold]" in page
