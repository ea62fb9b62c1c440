"""Unit tests of the ALFWorld engine layer that need no engine: game discovery on a temporary
layout, instruction parsing, and the game pool's bookkeeping with a fake game (workers=0)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

import pytest

from a3t.envs.alfworld.engine import (
    GameRecord,
    discover_games,
    list_splits,
    parse_instruction,
    read_walkthrough,
)
from a3t.envs.base import GameState, TaskRecord
from a3t.errors import A3tError, AlreadyExists, FailedPrecondition, NotFound, Unavailable
from a3t_env import pool as pool_mod
from a3t_env.pool import GamePool, _GameHost, _wire_error


def _write_game(root: Path, split: str, task: str, trial: str, walkthrough=None) -> Path:
    path = root / "json_2.1.1" / split / task / trial / "game.tw-pddl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"walkthrough": walkthrough}))
    return path


# --- discovery --------------------------------------------------------------------------------


def test_discover_games_sorted_with_task_type_and_relative_id(tmp_path: Path) -> None:
    _write_game(tmp_path, "valid_seen", "pick_two_obj_and_place-Book-None-Desk-302", "trial_B")
    _write_game(tmp_path, "valid_seen", "pick_two_obj_and_place-Book-None-Desk-302", "trial_A")
    p = _write_game(tmp_path, "valid_seen", "look_at_obj_in_light-CD-None-DeskLamp-302", "trial_C")
    _write_game(tmp_path, "train", "pick_and_place_simple-Pen-None-Desk-1", "trial_D")

    games = discover_games(tmp_path, "valid_seen")

    assert [g.task_id for g in games] == [
        "look_at_obj_in_light-CD-None-DeskLamp-302/trial_C",
        "pick_two_obj_and_place-Book-None-Desk-302/trial_A",
        "pick_two_obj_and_place-Book-None-Desk-302/trial_B",
    ]
    assert games[0] == GameRecord(
        task_id="look_at_obj_in_light-CD-None-DeskLamp-302/trial_C",
        task_type="look_at_obj_in_light",
        split="valid_seen",
        path=p,
    )
    assert {g.task_type for g in games} == {"look_at_obj_in_light", "pick_two_obj_and_place"}


def test_discover_games_skips_unknown_task_types_and_folders_without_game(tmp_path: Path) -> None:
    _write_game(tmp_path, "s", "pick_and_place_simple-Pen-None-Desk-1", "t1")
    _write_game(tmp_path, "s", "make_coffee-Mug-None-Desk-1", "t1")
    (tmp_path / "json_2.1.1" / "s" / "pick_and_place_simple-Pen-None-Desk-1" / "t2").mkdir()

    games = discover_games(tmp_path, "s")

    assert [g.task_id for g in games] == ["pick_and_place_simple-Pen-None-Desk-1/t1"]


def test_list_splits_sorted_dirs_only(tmp_path: Path) -> None:
    for split in ("valid_unseen", "train", "valid_seen"):
        (tmp_path / "json_2.1.1" / split).mkdir(parents=True)
    (tmp_path / "json_2.1.1" / "README").write_text("not a split")

    assert list_splits(tmp_path) == ["train", "valid_seen", "valid_unseen"]
    assert list_splits(tmp_path / "nothing-here") == []


def test_unknown_split_names_it_and_lists_available(tmp_path: Path) -> None:
    (tmp_path / "json_2.1.1" / "train").mkdir(parents=True)
    (tmp_path / "json_2.1.1" / "valid_seen").mkdir()

    with pytest.raises(NotFound) as info:
        discover_games(tmp_path, "valid_sen")

    assert "'valid_sen'" in str(info.value)
    assert "['train', 'valid_seen']" in str(info.value)


def test_split_cannot_escape_data_root(tmp_path: Path) -> None:
    _write_game(tmp_path, "train", "pick_and_place_simple-Pen-None-Desk-1", "t1")
    with pytest.raises(NotFound):
        discover_games(tmp_path / "json_2.1.1" / "train", "..")


def test_data_root_without_games_says_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as info:
        discover_games(tmp_path, "train")
    assert "alfworld-download" in str(info.value)


def test_read_walkthrough(tmp_path: Path) -> None:
    p = _write_game(tmp_path, "s", "pick_and_place_simple-a", "t", walkthrough=["go to desk 1"])
    q = _write_game(tmp_path, "s", "pick_and_place_simple-b", "t")
    assert read_walkthrough(p) == ["go to desk 1"]
    assert read_walkthrough(q) == []


def test_parse_instruction() -> None:
    obs = (
        "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room.\n\n"
        "Your task is to: put a clean mug in coffeemachine."
    )
    assert parse_instruction(obs) == "put a clean mug in coffeemachine"
    with pytest.raises(FailedPrecondition):
        parse_instruction("You are in the middle of a room.")


# --- worker bookkeeping with a fake game ------------------------------------------------------


class FakeGame:
    """Stands in for AlfworldGame: wins on "win", says "Nothing happens." otherwise."""

    loads: ClassVar[list[str]] = []

    def __init__(self, path: Path):
        if "missing" in str(path):
            raise NotFound(f"game file {path} does not exist")
        FakeGame.loads.append(str(path))
        self.path = str(path)
        self.steps = 0

    def reset(self) -> tuple[str, GameState]:
        self.steps = 0
        return f"play {self.path}", GameState("intro", ("win",), 0.0, False, False)

    def step(self, action: str) -> GameState:
        if action == "crash":
            raise ZeroDivisionError("engine bug")
        self.steps += 1
        won = action == "win"
        obs = "You won." if won else "Nothing happens."
        return GameState(f"{obs} #{self.steps}", ("win",), float(won), won, won)


class FakeEnvironment:
    """Stands in for an env plugin's engine: loads a FakeGame per task ref."""

    def load(self, task: TaskRecord) -> FakeGame:
        return FakeGame(Path(task.ref))

    def warm_up(self) -> None:
        pass


def rec(ref: str) -> TaskRecord:
    return TaskRecord(task_id=ref, task_type="pick", split="s", ref=ref)


ROOTS = {"alfworld": Path("unused")}
HOST_ROOTS = {"alfworld": ("unused",)}


@pytest.fixture
def fake_game(monkeypatch: pytest.MonkeyPatch) -> type[FakeGame]:
    FakeGame.loads = []
    monkeypatch.setattr(
        pool_mod._GameHost, "environment", lambda self, env, root: FakeEnvironment()
    )
    return FakeGame


def test_host_reuses_an_idle_game_and_loads_a_second_for_a_concurrent_session(
    fake_game: type[FakeGame],
) -> None:
    host = _GameHost(cache_size=4, roots=HOST_ROOTS)
    host.op_open("a", "alfworld", rec("g1"), "unused")
    host.op_open("b", "alfworld", rec("g1"), "unused")  # "a" still plays g1: needs its own instance
    assert fake_game.loads == ["g1", "g1"]

    host.op_close("a")
    host.op_close("b")
    host.op_open("c", "alfworld", rec("g1"), "unused")
    host.op_open("d", "alfworld", rec("g1"), "unused")
    host.op_open("e", "alfworld", rec("g1"), "unused")
    assert fake_game.loads == ["g1", "g1", "g1"]  # two reused, one more loaded


def test_host_cache_evicts_least_recently_used(fake_game: type[FakeGame]) -> None:
    host = _GameHost(cache_size=2, roots=HOST_ROOTS)
    for i, path in enumerate(["g1", "g2", "g3"]):
        host.op_open(f"s{i}", "alfworld", rec(path), "unused")
    for i in range(3):
        host.op_close(f"s{i}")  # idle now: g1 (evicted), g2, g3
    host.op_open("x", "alfworld", rec("g2"), "unused")
    host.op_open("y", "alfworld", rec("g3"), "unused")
    host.op_open("z", "alfworld", rec("g1"), "unused")
    assert fake_game.loads == ["g1", "g2", "g3", "g1"]


def test_host_cache_size_zero_never_reuses(fake_game: type[FakeGame]) -> None:
    host = _GameHost(cache_size=0, roots=HOST_ROOTS)
    host.op_open("a", "alfworld", rec("g1"), "unused")
    host.op_close("a")
    host.op_open("b", "alfworld", rec("g1"), "unused")
    assert fake_game.loads == ["g1", "g1"]


def test_host_reuses_a_game_only_for_the_same_root_split_and_ref(
    fake_game: type[FakeGame],
) -> None:
    """A ref alone does not name a game (WebShop's is a goal index, the same in every split and
    root): an idle game is handed only to a session on the same root, split and ref."""
    host = _GameHost(cache_size=4, roots={"alfworld": ("own", "real")})
    opens = [("a", "train", "own"), ("b", "test", "own"), ("c", "train", "real")]
    for session, split, root in opens:
        host.op_open(session, "alfworld", TaskRecord("7", "pick", split, "7"), root)
        host.op_close(session)
    assert fake_game.loads == ["7", "7", "7"]
    host.op_open("d", "alfworld", TaskRecord("7", "pick", "test", "7"), "own")
    assert fake_game.loads == ["7", "7", "7"]  # b's game, reused


def test_host_builds_engines_only_on_its_roots() -> None:
    host = _GameHost(cache_size=1, roots={"alfworld": ("own", "real")})
    with pytest.raises(NotFound, match=r"^elsewhere is not a data root of env 'alfworld'"):
        host.environment("alfworld", "elsewhere")
    with pytest.raises(NotFound, match=r"^env 'webshop' is not served by this pool"):
        host.environment("webshop", "own")


def test_wire_error_keeps_a3t_types_and_wraps_others() -> None:
    kept = _wire_error(FailedPrecondition("reset first"))
    wrapped = _wire_error(ZeroDivisionError("engine bug"))
    assert type(kept) is FailedPrecondition
    assert str(kept) == "reset first"
    assert type(wrapped) is A3tError
    assert str(wrapped) == "env engine error: ZeroDivisionError: engine bug"


async def test_inprocess_pool_plays_and_maps_errors(fake_game: type[FakeGame]) -> None:
    pool = GamePool(workers=0, data_roots=ROOTS)
    await pool.start()
    try:
        instruction, first = await pool.open("s1", "alfworld", rec("g1"))
        assert instruction == "play g1"
        assert first.observation == "intro"
        assert (await pool.step("s1", "jump")).observation == "Nothing happens. #1"
        state = await pool.step("s1", "win")
        assert (state.won, state.reward, state.done) == (True, 1.0, True)
        assert await pool.reset("s1") == ("play g1", first)

        with pytest.raises(AlreadyExists):
            await pool.open("s1", "alfworld", rec("g1"))
        with pytest.raises(A3tError, match="ZeroDivisionError: engine bug") as info:
            await pool.step("s1", "crash")
        assert type(info.value) is A3tError
        with pytest.raises(NotFound, match="missing"):
            await pool.open("s2", "alfworld", rec("missing"))
        assert pool.session_count() == 1  # the failed open left nothing behind

        await pool.close("s1")
        with pytest.raises(NotFound, match="session s1"):
            await pool.step("s1", "look")
        with pytest.raises(NotFound):
            await pool.close("s1")
    finally:
        await pool.shutdown()
    with pytest.raises(Unavailable):
        await pool.open("s3", "alfworld", rec("g1"))


async def test_inprocess_pool_runs_concurrent_sessions(fake_game: type[FakeGame]) -> None:
    pool = GamePool(workers=0, data_roots=ROOTS)
    await pool.start()
    try:
        await asyncio.gather(*(pool.open(f"s{i}", "alfworld", rec("g1")) for i in range(3)))
        states = await asyncio.gather(*(pool.step(f"s{i}", "jump") for i in range(3)))
        assert [s.observation for s in states] == ["Nothing happens. #1"] * 3
        assert pool.session_count() == 3
        assert len(fake_game.loads) == 3
    finally:
        await pool.shutdown()


def test_pool_rejects_negative_sizes() -> None:
    with pytest.raises(ValueError, match="workers"):
        GamePool(workers=-1, data_roots=ROOTS)
    with pytest.raises(ValueError, match="cache_size"):
        GamePool(workers=1, data_roots=ROOTS, cache_size=-1)
