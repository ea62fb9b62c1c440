"""ALFWorld engine: find games on disk and play one through the real TextWorld engine.

Plain Python (no gRPC): the env service runs it through `AlfworldEnvironment` (the plugin's
engine, a3t.envs.base.Environment), and the game generator uses `AlfworldGame` to check the games
it writes. A game is played as alfworld 0.4.2's `AlfredTWEnv` plays it in evaluation:
textworld's PddlEnv behind `GenericEnvironment`, alfworld's `AlfredDemangler(shuffle=False)` and
`AlfredInfos` wrappers, then textworld's `Filter`, with `EnvInfos(won, admissible_commands,
extras=["gamefile"])`. So observations and admissible commands are byte-identical to ALFWorld's.

A reset rebuilds the game's PDDL state as textworld does, but reuses the PDDL -> SAS translation
of the game's own load (`_translation_memo`): the translation was most of a reset's time, and it
is a pure function of the domain and problem texts, so a reset stays exactly a fresh game's.

alfworld and textworld are imported lazily (about 1 s): importing this module stays cheap.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a3t.envs.base import GameState, TaskRecord, check_split_name
from a3t.errors import FailedPrecondition, NotFound

logger = logging.getLogger(__name__)

GAME_FILE = "game.tw-pddl"
JSON_DIR = "json_2.1.1"
TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
_TASK_PREFIX = "Your task is to: "


# --- discovering games -----------------------------------------------------------------------


@dataclass(frozen=True)
class GameRecord:
    """One playable game file found under a data root."""

    task_id: str  # "<task folder>/<trial folder>", relative to the split directory
    task_type: str  # folder-name prefix before the first '-', one of TASK_TYPES
    split: str
    path: Path  # the game.tw-pddl file

    def task_record(self) -> TaskRecord:
        return TaskRecord(self.task_id, self.task_type, self.split, ref=str(self.path))


def list_splits(data_root: Path) -> list[str]:
    """Names of the split directories under `data_root/json_2.1.1`, sorted; [] if there are none."""
    split_dir = Path(data_root) / JSON_DIR
    if not split_dir.is_dir():
        return []
    return sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def discover_games(data_root: Path, split: str) -> list[GameRecord]:
    """Every `<task>/<trial>/game.tw-pddl` of one split, sorted by task_id.

    Only the file system is read (no JSON parsing), so listing the 3,553 training games is fast.
    A task folder whose prefix is not an ALFWorld task type is skipped with a warning.
    """
    data_root = Path(data_root)
    splits = list_splits(data_root)
    if split not in splits:
        # Checking membership (rather than joining the name into a path) also rules out "../x".
        where = data_root / JSON_DIR
        if splits:
            raise NotFound(f"split {split!r} not found under {where}; available splits: {splits}")
        raise NotFound(
            f"split {split!r} not found: {where} has no split directories; download games with "
            "`alfworld-download` or generate them, in the layout json_2.1.1/<split>/<task>/<trial>/"
        )
    split_dir = data_root / JSON_DIR / split
    records = []
    for path in split_dir.glob(f"*/*/{GAME_FILE}"):
        task_folder, trial_folder = path.parent.parent.name, path.parent.name
        task_type = task_folder.split("-", 1)[0]
        if task_type not in TASK_TYPES:
            logger.warning("skipping %s: %r is not an ALFWorld task type", path, task_type)
            continue
        records.append(
            GameRecord(
                task_id=f"{task_folder}/{trial_folder}", task_type=task_type, split=split, path=path
            )
        )
    records.sort(key=lambda r: r.task_id)
    return records


def read_walkthrough(path: Path) -> list[str]:
    """The expert action list stored in a game file (`walkthrough` key); [] when it has none."""
    with open(path) as f:
        return list(json.load(f).get("walkthrough") or [])


# --- playing one game ------------------------------------------------------------------------


def ensure_alfworld_data() -> str:
    """Point ALFWORLD_DATA inside the project before alfworld is imported, and return it.

    Importing any alfworld module creates $ALFWORLD_DATA (default ~/.cache/alfworld). Playing games
    never reads it, so when unset it goes to ./var/alfworld (git-ignored) rather than the home dir.
    """
    return os.environ.setdefault("ALFWORLD_DATA", str(Path.cwd() / "var" / "alfworld"))


def _make_env(path: Path) -> Any:
    """Load a game with the same wrapper stack and request_infos as alfworld's AlfredTWEnv."""
    ensure_alfworld_data()
    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
    from textworld.envs.wrappers import Filter, GenericEnvironment

    request_infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
    env = GenericEnvironment(request_infos)
    # Same order as textworld.gym's _make_env: wrappers, then Filter. No Limit wrapper: the
    # episode step budget is the session's business, not the engine's.
    env = AlfredDemangler(shuffle=False)(env)
    env = AlfredInfos(env)
    env = Filter(env)
    env.load(str(path))
    return env


# (domain, problem, verbose, optimize): the arguments of fast_downward.pddl2sas
_TranslationKey = tuple[str, str, bool, bool]


@contextmanager
def _translation_memo(memo: dict[_TranslationKey, Any]) -> Iterator[None]:
    """While active, fast_downward.pddl2sas answers from `memo`, translating only what is new.

    textworld's PddlState calls `fast_downward.pddl2sas` twice (plain and optimized) every time a
    game's state is built: at load and at every reset. Translating the same problem text again
    gives the same task and SAS text, and PddlState only reads them (the planner's copy of the
    state is rebuilt from the SAS text by `load_sas`), so a game keeps its own translations in
    `memo` and a reset skips them. The key is every argument, so a lookup can only return what
    the real function returns for the same call. The swap is process-wide, so like AlfworldGame
    it is not thread-safe: a process plays one game at a time (each pool worker is a process).
    """
    import fast_downward

    translate = fast_downward.pddl2sas

    def pddl2sas(domain: str, problem: str, verbose: bool = False, optimize: bool = False):
        key = (domain, problem, verbose, optimize)
        if key not in memo:
            memo[key] = translate(domain, problem, verbose=verbose, optimize=optimize)
        return memo[key]

    fast_downward.pddl2sas = pddl2sas
    try:
        yield
    finally:
        fast_downward.pddl2sas = translate


def parse_instruction(observation: str) -> str:
    """The goal line of a first observation: "Your task is to: X." -> "X"."""
    for line in observation.splitlines():
        if line.startswith(_TASK_PREFIX):
            return line[len(_TASK_PREFIX) :].strip().rstrip(".")
    raise FailedPrecondition(
        f"the game's first observation has no {_TASK_PREFIX.strip()!r} line; "
        "check the game file's grammar (#intro#)"
    )


class AlfworldGame:
    """One game played in-process through the real engine.

    textworld's PddlEnv with the AlfredDemangler/AlfredInfos wrappers, as alfworld does. Loading
    takes about 1 s; `reset()` starts a new episode without reloading and, reusing the load's
    PDDL translation, costs about what a step does (bench/env_engine.py measures both).
    Not thread-safe: one episode at a time.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise NotFound(f"game file {self.path} does not exist")
        self._translations: dict[_TranslationKey, Any] = {}
        try:
            with _translation_memo(self._translations):
                self._env = _make_env(self.path)
        except ImportError:
            raise  # a broken install, not a broken game: let it say so itself
        except Exception as e:
            # Bad JSON (ValueError), a missing key (KeyError), PDDL the planner rejects, ...
            raise FailedPrecondition(
                f"game file {self.path} is not a playable game.tw-pddl "
                f"(JSON with pddl_domain, grammar, pddl_problem): {type(e).__name__}: {e}"
            ) from e
        self._state: GameState | None = None

    def reset(self) -> tuple[str, GameState]:
        """Start a new episode: (instruction, first state)."""
        with _translation_memo(self._translations):
            observation, infos = self._env.reset()
        self._state = self._make_state(observation, infos, stepped=False)
        return parse_instruction(observation), self._state

    def step(self, action: str) -> GameState:
        """Play one command. A command the game does not know is answered "Nothing happens."."""
        if self._state is None:
            raise FailedPrecondition("no episode is running; call reset() before step()")
        if self._state.done:
            # alfworld's batch env freezes a finished game; refusing is clearer than a stale copy.
            raise FailedPrecondition("the episode is over (won); call reset() to start a new one")
        observation, _score, _done, infos = self._env.step(action)
        self._state = self._make_state(observation, infos, stepped=True)
        return self._state

    @staticmethod
    def _make_state(observation: str, infos: dict[str, Any], stepped: bool) -> GameState:
        won = bool(infos["won"])
        # Stepping a finished episode is refused, so a step that reports won is the winning step.
        # PddlEnv's done is `won or lost` and it never reports lost, so done == won.
        return GameState(
            observation=observation,
            admissible=tuple(infos["admissible_commands"]),
            reward=1.0 if won and stepped else 0.0,
            done=won,
            won=won,
        )


# --- the plugin's engine ---------------------------------------------------------------------


class AlfworldEnvironment:
    """ALFWorld as an a3t environment: games under `<data_root>/json_2.1.1/<split>/`, played by
    `AlfworldGame`, generated by `a3t.envs.alfworld.gen`. A task's ref is its game file."""

    def __init__(self, data_root: Path):
        self.data_root = Path(data_root)

    def list_tasks(self, split: str) -> list[TaskRecord]:
        return [g.task_record() for g in discover_games(self.data_root, split)]

    def load(self, task: TaskRecord) -> AlfworldGame:
        return AlfworldGame(Path(task.ref))

    def generate(
        self, split: str, level: int, seed: int, count: int, task_types: tuple[str, ...]
    ) -> int:
        """Writes the games (each checked by replaying its walkthrough) and returns the split's
        size. Idempotent: the same arguments find the same games; a split holding other games is
        refused rather than mixed."""
        from a3t.envs.alfworld.gen import generate_games  # only generation needs it

        check_split_name(split)
        split_dir = self.data_root / JSON_DIR / split
        types = list(task_types) or None
        if split_dir.exists() and any(split_dir.iterdir()):
            with tempfile.TemporaryDirectory() as tmp:
                fresh = generate_games(Path(tmp), split, level, seed, count, types)
                wanted = {p.relative_to(Path(tmp) / JSON_DIR / split) for p in fresh}
            have = {p.relative_to(split_dir) for p in split_dir.glob(f"*/*/{GAME_FILE}")}
            if have != wanted:
                raise FailedPrecondition(
                    f"split {split!r} already holds {len(have)} other games under {split_dir}; "
                    "pick another split name"
                )
        else:
            generate_games(self.data_root, split, level, seed, count, types)
        return len(discover_games(self.data_root, split))

    def warm_up(self) -> None:
        ensure_alfworld_data()
        import alfworld.agents.environment.alfred_tw_env  # noqa: F401
        import textworld  # noqa: F401
