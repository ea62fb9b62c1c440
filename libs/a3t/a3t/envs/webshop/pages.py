"""WebShop's pages as text, and one shopping episode played over them (`WebShopGame`).

Pages and buttons follow WebShop's site; the text is its simple observation mode as the ReAct and
A3T papers show it: page elements joined by " [SEP] ", clickables in brackets.

    search       WebShop [SEP] Instruction: [SEP] <instruction> [SEP] Search
    results      [Back to Search] [SEP] Page 1 (Total results: 12) [SEP] [Next >] [SEP]
                 [B0ABCDEFGH] [SEP] <name> [SEP] $12.99 [SEP] ...   (10 per page)
    item         [Back to Search] [SEP] [< Prev] [SEP] size [SEP] [8 fl oz] [SEP] [[16 fl oz]]
                 [SEP] <name> [SEP] Price: $12.99 [SEP] Rating: 4.5 [SEP] [Description] [SEP]
                 [Features] [SEP] [Reviews] [SEP] [Buy Now]         ([[x]]: the chosen value)
    description  [Back to Search] [SEP] [< Prev] [SEP] <description>
    features     [Back to Search] [SEP] [< Prev] [SEP] <bullet> [SEP] <bullet> ...
    reviews      [Back to Search] [SEP] [< Prev] [SEP] "<title>" [SEP] <stars> [SEP] <text> ...
    done         Thank you for shopping with us! [SEP] Your score (min 0.0, max 1.0) [SEP] 0.75

Actions: `search[query]` on the search page, `click[button]` for a button of the current page
(case-insensitive). Clicking an option value chooses it for its group and is answered "You have
clicked <value>." (as in ReAct's transcripts); `[< Prev]` goes back one page (results page n-1,
item -> its results page, sub-page -> item); `[Buy Now]` ends the episode with the reward.
`[< Prev]` and `[Next >]` show only where there is a page to go to (WebShop always shows
`[Next >]`).

Admissible actions are the page's buttons as `click[<button>]`, spelled as shown. The search
page has none: a query is free text and cannot be enumerated, and listing a placeholder would
have exploration (which samples admissible actions, DESIGN.md: "clickables, never a random search
text") or grounding pick it. So exploration has nothing to sample there and the policy writes the
search. An empty list means "free text is accepted here" (docs/environments.md): the env service
(StepResponse.admissible) and the controller's invalid-action counter count any action taken on
the search page as admissible, even one the page answers "Invalid action!".

Anything else (an unknown button, a search off the search page, text that is not an action) is
answered "Invalid action! <why>" with the page unchanged, reward 0 and the episode going on, as
WebShop does. The step limit is the env service's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from a3t.envs.base import GameState
from a3t.envs.webshop.catalog import Goal, Product
from a3t.envs.webshop.reward import is_success, reward
from a3t.errors import FailedPrecondition

SEP = " [SEP] "
PER_PAGE = 10  # WebShop's PRODUCT_WINDOW
BACK_TO_SEARCH = "Back to Search"
PREV = "< Prev"
NEXT = "Next >"
BUY_NOW = "Buy Now"
SUB_PAGES = ("Description", "Features", "Reviews")

_ACTION = re.compile(r"(\w+)\[(.*)\]", re.DOTALL)


@dataclass(frozen=True)
class View:
    """A rendered page: its text and its clickables, as shown."""

    text: str
    buttons: tuple[str, ...]

    def admissible(self) -> tuple[str, ...]:
        return tuple(f"click[{b}]" for b in self.buttons)


def _b(label: str) -> str:
    return f"[{label}]"


def search_view(instruction: str) -> View:
    return View(SEP.join(("WebShop", "Instruction:", instruction, "Search")), ())


def results_view(shown: list[Product], page: int, total: int) -> View:
    buttons = [BACK_TO_SEARCH]
    if page > 1:
        buttons.append(PREV)
    if page * PER_PAGE < total:
        buttons.append(NEXT)
    parts = [_b(BACK_TO_SEARCH), f"Page {page} (Total results: {total})"]
    parts += [_b(b) for b in buttons[1:]]
    for product in shown:
        parts += [_b(product.asin), product.name, product.price_text]
        buttons.append(product.asin)
    return View(SEP.join(parts), tuple(buttons))


def item_view(product: Product, chosen: Mapping[str, str]) -> View:
    parts = [_b(BACK_TO_SEARCH), _b(PREV)]
    buttons = [BACK_TO_SEARCH, PREV]
    for group in product.options:
        parts.append(group.name)
        for value in group.values:
            parts.append(f"[{_b(value)}]" if chosen.get(group.name) == value else _b(value))
            buttons.append(value)
    parts += [product.name, f"Price: {product.price_text}", f"Rating: {product.rating}"]
    parts += [_b(b) for b in (*SUB_PAGES, BUY_NOW)]
    buttons += [*SUB_PAGES, BUY_NOW]
    return View(SEP.join(parts), tuple(buttons))


def sub_view(kind: str, product: Product) -> View:
    if kind == "Description":
        body = [product.description]
    elif kind == "Features":
        body = list(product.features)
    else:
        body = [x for r in product.reviews for x in (f'"{r.title}"', str(r.score), r.body)]
    return View(SEP.join((_b(BACK_TO_SEARCH), _b(PREV), *body)), (BACK_TO_SEARCH, PREV))


def done_view(value: float) -> View:
    return View(
        SEP.join(
            ("Thank you for shopping with us!", "Your score (min 0.0, max 1.0)", f"{value:.2f}")
        ),
        (),
    )


class WebShopGame:
    """One goal's shopping episode (not thread-safe). `search` maps a query to ASINs, best
    first; `products` holds every product it can return."""

    def __init__(
        self,
        goal: Goal,
        products: Mapping[str, Product],
        search: Callable[[str], tuple[str, ...]],
    ):
        self.goal = goal
        self._products = products
        self._search = search
        self._started = False
        self._reset_state()

    def _reset_state(self) -> None:
        self._page = "search"  # search | results | item | Description | Features | Reviews | done
        self._results: tuple[str, ...] = ()
        self._page_no = 1
        self._asin = ""
        self._chosen: dict[str, str] = {}
        self._view = search_view(self.goal.instruction)

    def reset(self) -> tuple[str, GameState]:
        self._reset_state()
        self._started = True
        return self.goal.instruction, self._state(self._view.text)

    def step(self, action: str) -> GameState:
        if not self._started:
            raise FailedPrecondition("no episode is running; call reset() before step()")
        if self._page == "done":
            raise FailedPrecondition(
                "the episode is over (bought); call reset() to start a new one"
            )
        match = _ACTION.fullmatch(action.strip())
        verb, argument = (match.group(1).lower(), match.group(2).strip()) if match else ("", "")
        if verb == "search":
            return self._search_step(argument)
        if verb == "click":
            return self._click(argument)
        return self._invalid(
            f"{action.strip()[:80]!r} is not an action. Write search[query] on the search page "
            "or click[button] with a button shown in brackets."
        )

    # --- actions ---------------------------------------------------------------------------

    def _search_step(self, query: str) -> GameState:
        if self._page != "search":
            return self._invalid(
                f"Search works on the search page only; click[{BACK_TO_SEARCH}] first."
            )
        if not query:
            return self._invalid("The search is empty; write search[words to look for].")
        self._results = self._search(query.lower())
        return self._show_results(1)

    def _click(self, label: str) -> GameState:
        button = self._button(label)
        if button is None:
            return self._invalid(f"There is no [{label[:80]}] button on this page.")
        if button == BACK_TO_SEARCH:
            self._go_to_search()
            return self._state(self._view.text)
        if self._page == "results":
            if button == PREV:
                return self._show_results(self._page_no - 1)
            if button == NEXT:
                return self._show_results(self._page_no + 1)
            self._asin, self._chosen = button, {}
            return self._show_item()
        if self._page == "item":
            if button == PREV:
                return self._show_results(self._page_no)
            if button in SUB_PAGES:
                self._page = button
                self._view = sub_view(button, self._product())
                return self._state(self._view.text)
            if button == BUY_NOW:
                return self._buy()
            group = self._product().option_group(button)
            assert group is not None  # every other item-page button is an option value
            self._chosen[group.name] = button
            self._view = item_view(self._product(), self._chosen)
            return self._state(f"You have clicked {button}.")
        # A sub-page's only buttons are Back to Search and < Prev.
        return self._show_item()

    def _buy(self) -> GameState:
        product = self._product()
        value = reward(self.goal, product, self._chosen, product.price)
        self._page = "done"
        self._view = done_view(value)
        return GameState(self._view.text, (), value, True, is_success(value))

    # --- pages -----------------------------------------------------------------------------

    def _button(self, label: str) -> str | None:
        """The current page's button `label` names, ignoring case; a doubled bracket (how a
        chosen option is shown) is forgiven."""
        wanted = label.lower()
        if wanted.startswith("[") and wanted.endswith("]"):
            wanted = wanted[1:-1].strip()
        return next((b for b in self._view.buttons if b.lower() == wanted), None)

    def _go_to_search(self) -> None:
        self._page, self._view = "search", search_view(self.goal.instruction)

    def _product(self) -> Product:
        return self._products[self._asin]

    def _show_results(self, page_no: int) -> GameState:
        self._page, self._page_no = "results", page_no
        start = (page_no - 1) * PER_PAGE
        shown = [self._products[a] for a in self._results[start : start + PER_PAGE]]
        self._view = results_view(shown, page_no, len(self._results))
        return self._state(self._view.text)

    def _show_item(self) -> GameState:
        self._page = "item"
        self._view = item_view(self._product(), self._chosen)
        return self._state(self._view.text)

    def _state(self, observation: str) -> GameState:
        return GameState(observation, self._view.admissible(), 0.0, False, False)

    def _invalid(self, why: str) -> GameState:
        return self._state(f"Invalid action! {why}")
