"""A scripted shopper that knows the goal: search, find the target on the result pages, choose the
goal's options, buy. It reads only observations, admissible actions and the goal record, so it
plays through any client (in-process game or the env service) and checks that a split's goals
are reachable with reward 1.0.

    shopper = ScriptedShopper(goal)
    action = shopper.next_action(observation, admissible)   # until the episode is done
"""

from __future__ import annotations

from collections.abc import Sequence

from a3t.envs.base import GameState
from a3t.envs.webshop.catalog import Goal
from a3t.envs.webshop.pages import BACK_TO_SEARCH, BUY_NOW, NEXT, WebShopGame


class ScriptedShopper:
    """Searches the goal's type and attributes; when the target is not among the results, goes
    back and searches its exact title."""

    def __init__(self, goal: Goal):
        self.goal = goal
        self._searches = 0
        self._chosen: set[str] = set()

    def next_action(self, observation: str, admissible: Sequence[str]) -> str:
        clicks = {a.lower(): a for a in admissible}
        if not clicks:  # the search page: nothing to click, a query to write
            self._searches += 1
            words = (self.goal.query, *self.goal.attributes)
            return f"search[{' '.join(words) if self._searches == 1 else self.goal.name}]"
        if f"click[{BUY_NOW}]".lower() in clicks:  # the target's item page
            for value in self.goal.options:
                if value not in self._chosen:
                    self._chosen.add(value)
                    return clicks[f"click[{value}]".lower()]
            return clicks[f"click[{BUY_NOW}]".lower()]
        for key in (f"click[{self.goal.asin}]", f"click[{NEXT}]", f"click[{BACK_TO_SEARCH}]"):
            if key.lower() in clicks:
                return clicks[key.lower()]
        raise ValueError(f"no way forward from this page: {observation[:200]!r}")


def play(game: WebShopGame, goal: Goal, max_steps: int = 30) -> tuple[list[str], GameState]:
    """Plays one episode with the scripted shopper: (its actions, the last state)."""
    shopper = ScriptedShopper(goal)
    _, state = game.reset()
    actions: list[str] = []
    while not state.done and len(actions) < max_steps:
        actions.append(shopper.next_action(state.observation, state.admissible))
        state = game.step(actions[-1])
    return actions, state
