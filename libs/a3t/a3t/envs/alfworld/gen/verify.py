"""Play a game's own walkthrough through the real engine and check that it wins.

Uses the env service's `AlfworldGame` (textworld's PddlEnv with alfworld's wrappers), the same
code path that serves real games, so a game that passes here plays the same in a session.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from a3t.envs.alfworld.engine import AlfworldGame
from a3t.errors import FailedPrecondition

logger = logging.getLogger(__name__)


def play_walkthrough(path: Path) -> int:
    """Play the walkthrough stored in `path`; return its length, or raise FailedPrecondition.

    Every step must be admissible when it is played, and the last one (only the last) must win.
    """
    walkthrough = json.loads(Path(path).read_text())["walkthrough"]
    game = AlfworldGame(path)
    _, state = game.reset()
    if state.won:
        raise FailedPrecondition(f"{path}: the game is won before any step")
    for i, action in enumerate(walkthrough):
        if action not in state.admissible:
            raise FailedPrecondition(
                f"{path}: walkthrough step {i + 1} {action!r} is not admissible; "
                f"admissible: {list(state.admissible)}"
            )
        state = game.step(action)
        if state.won != (i == len(walkthrough) - 1):
            what = "wins early" if state.won else "does not win"
            raise FailedPrecondition(f"{path}: walkthrough {what} at step {i + 1} {action!r}")
    return len(walkthrough)


def verify_games(paths: Iterable[Path]) -> int:
    """Play every game's walkthrough (about 0.3 s a small game); return how many were checked."""
    checked = 0
    for path in paths:
        steps = play_walkthrough(path)
        logger.debug("%s: walkthrough of %d steps wins", path, steps)
        checked += 1
    return checked
