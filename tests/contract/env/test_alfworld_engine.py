"""The ALFWorld engine layer against the real engine and the real games in ../shared/data/alfworld.

The fixed sample is the first valid_seen game (by task_id) of each of the 6 task types. Missing
data fails these tests (the `alfworld_data` fixture raises): CI has the data. Resets are checked
against textworld's own env freshly loaded, on real games and on a generated game of every level.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from a3t.envs.alfworld.engine import (
    TASK_TYPES,
    AlfworldGame,
    GameRecord,
    GameState,
    _make_env,
    discover_games,
    read_walkthrough,
)
from a3t.envs.alfworld.gen import LEVELS, generate_games
from a3t.envs.base import TaskRecord
from a3t.errors import A3tError, Aborted, FailedPrecondition, NotFound, Unavailable
from a3t_env.pool import GamePool


@pytest.fixture(scope="module")
def valid_seen(alfworld_data: Path) -> list[GameRecord]:
    return discover_games(alfworld_data, "valid_seen")


@pytest.fixture(scope="module")
def sample(valid_seen: list[GameRecord]) -> dict[str, GameRecord]:
    """task type -> the first valid_seen game of that type."""
    firsts: dict[str, GameRecord] = {}
    for record in valid_seen:
        firsts.setdefault(record.task_type, record)
    return firsts


def _check_walkthrough_episode(
    record: GameRecord, instruction: str, first: GameState, states: list[GameState]
) -> None:
    """Won on the last step only, reward 1.0 there and 0.0 everywhere else."""
    assert first.observation.startswith("-= Welcome to TextWorld, ALFRED! =-\n\n")
    assert f"\n\nYour task is to: {instruction}." in first.observation
    assert (first.reward, first.done, first.won) == (0.0, False, False)
    assert [s.won for s in states] == [False] * (len(states) - 1) + [True], record.task_id
    assert [s.done for s in states] == [False] * (len(states) - 1) + [True]
    assert [s.reward for s in states] == [0.0] * (len(states) - 1) + [1.0]
    assert all(s.observation != "Nothing happens." for s in states), record.task_id


def test_valid_seen_has_140_games_of_6_types(valid_seen: list[GameRecord]) -> None:
    assert len(valid_seen) == 140
    assert {r.task_type for r in valid_seen} == set(TASK_TYPES)
    assert all(r.path.name == "game.tw-pddl" and r.split == "valid_seen" for r in valid_seen)


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_walkthrough_wins_in_process(sample: dict[str, GameRecord], task_type: str) -> None:
    record = sample[task_type]
    game = AlfworldGame(record.path)
    instruction, first = game.reset()
    states = [game.step(action) for action in read_walkthrough(record.path)]
    _check_walkthrough_episode(record, instruction, first, states)


def test_first_observation_and_steps_match_alfworlds_own_env(
    sample: dict[str, GameRecord], tmp_path: Path
) -> None:
    """Replay through alfworld's own AlfredTWEnv.init_env (its wrappers, request_infos and
    textworld.gym) and through AlfworldGame: every observation and admissible list is identical."""
    from alfworld.agents.environment.alfred_tw_env import AlfredTWEnv

    record = sample["pick_two_obj_and_place"]  # the quickest of the sample to load and reset
    config = {
        "env": {"domain_randomization": False, "expert_type": "handcoded"},
        "general": {"training_method": "dagger"},
        "dagger": {"training": {"max_nb_steps_per_episode": 50}},
    }
    # Skip __init__: it only walks a data dir for traj_data.json files, which these games lack.
    reference = AlfredTWEnv.__new__(AlfredTWEnv)
    reference.config, reference.train_eval = config, "eval_in_distribution"
    reference.game_files = [str(record.path)]
    env = reference.init_env(batch_size=1)
    obs, infos = env.reset()

    game = AlfworldGame(record.path)
    _, first = game.reset()
    assert first.observation == obs[0]
    assert list(first.admissible) == infos["admissible_commands"][0]

    actions = ["jump", "look", "inventory", *read_walkthrough(record.path)]
    for action in actions:
        obs, _, dones, infos = env.step([action])
        state = game.step(action)
        assert state.observation == obs[0], action
        assert list(state.admissible) == infos["admissible_commands"][0], action
        assert state.won == infos["won"][0]
        assert state.done == dones[0]
    assert state.won
    env.close()


def test_impossible_action_is_answered_nothing_happens(sample: dict[str, GameRecord]) -> None:
    game = AlfworldGame(sample["pick_and_place_simple"].path)
    _, first = game.reset()
    for action in ["fly to the moon", "take mug 99 from desk 1", ""]:
        state = game.step(action)
        assert state == GameState("Nothing happens.", first.admissible, 0.0, False, False)


def test_reset_after_win_starts_a_fresh_episode(sample: dict[str, GameRecord]) -> None:
    record = sample["look_at_obj_in_light"]
    game = AlfworldGame(record.path)
    walkthrough = read_walkthrough(record.path)
    instruction, first = game.reset()
    for action in walkthrough:
        last = game.step(action)
    assert last.won
    with pytest.raises(FailedPrecondition, match="reset"):
        game.step("look")

    again_instruction, again = game.reset()
    assert (again_instruction, again) == (instruction, first)
    # The episode really restarted: the first walkthrough step is not a win, the last one is.
    states = [game.step(action) for action in walkthrough]
    _check_walkthrough_episode(record, instruction, again, states)


# --- reset: the same as a freshly loaded game -------------------------------------------------

_View = tuple[str, tuple[str, ...], bool]  # observation, admissible commands, won


def _view(state: GameState) -> _View:
    return (state.observation, state.admissible, state.won)


def _textworld_episode(path: Path, actions: list[str]) -> list[_View]:
    """The first state and the state after each action, from textworld's env (the engine's
    wrapper stack) freshly loaded and reset by textworld itself: no translation memo."""
    env = _make_env(path)
    observation, infos = env.reset()
    views = [(observation, tuple(infos["admissible_commands"]), bool(infos["won"]))]
    for action in actions:
        observation, _, _, infos = env.step(action)
        views.append((observation, tuple(infos["admissible_commands"]), bool(infos["won"])))
    return views


def _check_resets_replay_a_fresh_game(path: Path) -> None:
    """Reset after a partly played episode and after a won one: each time the first state and
    every walkthrough step are exactly those of a freshly loaded game, and the walkthrough wins."""
    walkthrough = read_walkthrough(path)
    expected = _textworld_episode(path, walkthrough)
    assert [won for _, _, won in expected] == [False] * len(walkthrough) + [True], path

    game = AlfworldGame(path)
    _, first = game.reset()
    assert _view(first) == expected[0]
    # Partly played: half the walkthrough (the agent moved, maybe holds the object) and a
    # command the game does not know.
    for action in [*walkthrough[: max(1, len(walkthrough) // 2)], "fly"]:
        game.step(action)
    for episode in ("after a partly played episode", "after a won episode"):
        _, first = game.reset()
        played = [first, *(game.step(action) for action in walkthrough)]
        assert [_view(s) for s in played] == expected, (path, episode)
        assert played[-1].reward == 1.0


@pytest.mark.parametrize(
    "task_type",
    ["pick_two_obj_and_place", "look_at_obj_in_light", "pick_and_place_simple"],
)
def test_reset_replays_a_fresh_real_game(sample: dict[str, GameRecord], task_type: str) -> None:
    _check_resets_replay_a_fresh_game(sample[task_type].path)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """One generated game per level; the task type rotates with the level's position."""
    root = tmp_path_factory.mktemp("gen-reset")
    games = {}
    for at, level in enumerate(LEVELS):
        games[level] = generate_games(root, f"l{level}", level, 3, at + 1)[at]
    return games


@pytest.mark.parametrize("level", list(LEVELS))
def test_reset_replays_a_fresh_generated_game(generated: dict[int, Path], level: int) -> None:
    _check_resets_replay_a_fresh_game(generated[level])


def test_reset_does_not_translate_the_pddl_again(
    sample: dict[str, GameRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load translates the problem twice (plain and optimized, textworld's PddlState); a
    reset reuses those, and puts textworld's translator back when it is done."""
    import fast_downward

    calls: list[bool] = []
    translate = fast_downward.pddl2sas

    def counting(domain: str, problem: str, verbose: bool = False, optimize: bool = False):
        calls.append(optimize)
        return translate(domain, problem, verbose=verbose, optimize=optimize)

    monkeypatch.setattr(fast_downward, "pddl2sas", counting)
    record = sample["pick_two_obj_and_place"]
    game = AlfworldGame(record.path)
    assert calls == [False, True]
    assert fast_downward.pddl2sas is counting
    game.reset()
    game.step(read_walkthrough(record.path)[0])
    game.reset()
    assert calls == [False, True]
    assert fast_downward.pddl2sas is counting
    # Another game is translated: the memo is per game.
    AlfworldGame(sample["look_at_obj_in_light"].path).reset()
    assert calls == [False, True, False, True]


def test_step_before_reset_and_bad_game_files(
    tmp_path: Path, sample: dict[str, GameRecord]
) -> None:
    game = AlfworldGame(sample["pick_and_place_simple"].path)
    with pytest.raises(FailedPrecondition, match="reset"):
        game.step("look")

    with pytest.raises(NotFound, match="does not exist"):
        AlfworldGame(tmp_path / "nope" / "game.tw-pddl")
    broken = tmp_path / "broken.tw-pddl"
    broken.write_text("{not json")
    with pytest.raises(FailedPrecondition, match="not a playable game"):
        AlfworldGame(broken)
    no_problem = tmp_path / "no_problem.tw-pddl"
    no_problem.write_text(json.dumps({"pddl_domain": "", "grammar": ""}))
    with pytest.raises(FailedPrecondition, match="KeyError"):
        AlfworldGame(no_problem)


# --- the pool, with real worker processes -----------------------------------------------------

# Game refs are absolute paths: the engine's data root is not read when playing.
ROOTS = {"alfworld": Path("var/envs/alfworld")}


def _ref(path: Path) -> TaskRecord:
    return TaskRecord(task_id="t", task_type="pick_and_place_simple", split="s", ref=str(path))


async def _play(pool: GamePool, session_id: str, record: GameRecord) -> None:
    instruction, first = await pool.open(session_id, "alfworld", record.task_record())
    states = [await pool.step(session_id, a) for a in read_walkthrough(record.path)]
    await pool.close(session_id)
    _check_walkthrough_episode(record, instruction, first, states)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool2() -> AsyncIterator[GamePool]:
    """One GamePool(2) for the module: starting worker processes costs seconds."""
    pool = GamePool(workers=2, data_roots=ROOTS)
    await pool.start()
    yield pool
    await pool.shutdown()


# Two games at a time, one per worker, a slow loader with a quick one: each test stays short.
POOL_PAIRS = [
    ("pick_clean_then_place_in_recep", "pick_two_obj_and_place"),
    ("pick_cool_then_place_in_recep", "look_at_obj_in_light"),
    ("pick_heat_then_place_in_recep", "pick_and_place_simple"),
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("pair", POOL_PAIRS, ids=["clean+two", "cool+look", "heat+simple"])
async def test_walkthroughs_win_through_pool_of_2(
    pool2: GamePool, sample: dict[str, GameRecord], pair: tuple[str, str]
) -> None:
    await asyncio.gather(*(_play(pool2, f"s-{t}", sample[t]) for t in pair))
    assert pool2.session_count() == 0


@pytest.mark.asyncio(loop_scope="module")
async def test_pool_sessions_on_one_game_are_independent(
    pool2: GamePool, sample: dict[str, GameRecord]
) -> None:
    record = sample["pick_two_obj_and_place"]
    walkthrough = read_walkthrough(record.path)
    (_, a0), (_, b0) = await asyncio.gather(
        pool2.open("a", "alfworld", record.task_record()),
        pool2.open("b", "alfworld", record.task_record()),
    )
    try:
        assert a0 == b0
        a1 = await pool2.step("a", walkthrough[0])
        b1 = await pool2.step("b", "fly")
        assert a1.observation.startswith("You arrive at")
        assert b1 == GameState("Nothing happens.", b0.admissible, 0.0, False, False)
        assert (await pool2.reset("a")) == (await pool2.reset("b"))
    finally:
        await asyncio.gather(pool2.close("a"), pool2.close("b"))


@pytest.mark.asyncio(loop_scope="module")
async def test_pool_returns_worker_errors_with_their_type(
    pool2: GamePool, sample: dict[str, GameRecord], tmp_path: Path
) -> None:
    record = sample["pick_and_place_simple"]
    with pytest.raises(NotFound, match="does not exist"):
        await pool2.open("missing", "alfworld", _ref(record.path.parent / "missing.tw-pddl"))
    broken = tmp_path / "broken.tw-pddl"
    broken.write_text("{not json")
    with pytest.raises(FailedPrecondition, match="not a playable game"):
        await pool2.open("broken", "alfworld", _ref(broken))
    assert pool2.session_count() == 0

    _, first = await pool2.open("s", "alfworld", record.task_record())
    try:
        with pytest.raises(A3tError, match="AttributeError") as info:
            await pool2.step("s", None)  # type: ignore[arg-type]  # the engine calls .strip()
        assert type(info.value) is A3tError
        # The session survives an error and plays on.
        assert await pool2.step("s", "fly") == GameState(
            "Nothing happens.", first.admissible, 0.0, False, False
        )
    finally:
        await pool2.close("s")


async def test_dead_worker_fails_its_sessions_and_is_replaced(
    sample: dict[str, GameRecord],
) -> None:
    record = sample["pick_cool_then_place_in_recep"]
    pool = GamePool(workers=1, data_roots=ROOTS)
    await pool.start()
    try:
        await pool.open("doomed", "alfworld", record.task_record())
        pid = pool._session_worker["doomed"].process.pid
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(Unavailable, match="died"):
            await pool.step("doomed", "look")
        with pytest.raises(Aborted, match="lost"):  # not retryable: the session is gone
            await pool.step("doomed", "look")
        await pool.close("doomed")  # a lost session closes quietly

        deadline = time.monotonic() + 60
        while True:  # the replacement accepts work once its process runs
            try:
                await _play(pool, "fresh", record)
                break
            except Unavailable:
                assert time.monotonic() < deadline, "no replacement worker within 60 s"
                await asyncio.sleep(0.2)
        assert pool._workers[0].process.pid != pid
    finally:
        await pool.shutdown()


# All 140 valid_seen games are played through the gRPC service in the slow tier:
# tests/e2e/test_env_process.py::test_all_valid_seen_games_won_through_the_service.
