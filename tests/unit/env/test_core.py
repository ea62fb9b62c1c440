"""EnvCore with a fake game runner: listing, paging, session lifecycle, TTL, limits, errors."""

import asyncio
from pathlib import Path

import pytest

from a3t.envs.base import GameState
from a3t.errors import FailedPrecondition, InvalidArgument, NotFound, OutOfRange, ResourceExhausted
from a3t_env.config import EnvSettings
from a3t_env.core import EnvCore

TASKS = [
    "pick_and_place_simple-Mug-None-Desk-1/trial_a",
    "pick_and_place_simple-Pen-None-Desk-2/trial_b",
    "look_at_obj_in_light-Book-None-DeskLamp-3/trial_c",
]


class FakeRunner:
    """Wins when the action is 'win'; everything else answers 'Nothing happens.'."""

    def __init__(self):
        self.open_sessions: dict[str, Path] = {}
        self.closed: list[str] = []

    async def open(self, session_id, env, task, root):
        assert env == "alfworld"
        self.open_sessions[session_id] = task.ref
        return "put a mug in desk.", GameState(
            "You are in a room.", ("look", "win"), 0.0, False, False
        )

    async def step(self, session_id, action):
        assert session_id in self.open_sessions
        won = action == "win"
        obs = "You won." if won else "Nothing happens."
        return GameState(obs, ("look", "win"), 1.0 if won else 0.0, won, won)

    async def close(self, session_id):
        self.open_sessions.pop(session_id)
        self.closed.append(session_id)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def data_root(tmp_path):
    for task in TASKS:
        d = tmp_path / "alfworld" / "json_2.1.1" / "train" / task
        d.mkdir(parents=True)
        (d / "game.tw-pddl").write_text("{}")
    return tmp_path


@pytest.fixture
def setup(data_root):
    runner, clock = FakeRunner(), Clock()
    settings = EnvSettings(data_root=data_root, max_sessions=2, max_steps=3, session_ttl_seconds=60)
    return EnvCore(settings, runner, clock=clock), runner, clock


def test_list_tasks_sorted_and_paged(setup):
    core, _, _ = setup
    page = core.list_tasks("alfworld", "train", page_size=2)
    assert [t.task_id for t in page.tasks] == sorted(TASKS)[:2]
    assert page.total_size == 3
    rest = core.list_tasks("alfworld", "train", page_size=2, page_token=page.next_page_token)
    assert [t.task_id for t in rest.tasks] == sorted(TASKS)[2:]
    assert rest.next_page_token == ""
    assert rest.tasks[0].task_type == "pick_and_place_simple"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"env": "textcraft", "split": "train"},
            InvalidArgument,
            "serves alfworld, apibank, webshop",
        ),
        ({"env": "alfworld", "split": "../train"}, InvalidArgument, "names a directory"),
        ({"env": "alfworld", "split": "train\n"}, InvalidArgument, "names a directory"),
        ({"env": "alfworld", "split": "x" * 5000}, InvalidArgument, r"\(5000 characters\)"),
        ({"env": "alfworld", "split": ""}, InvalidArgument, "split must be set"),
        ({"env": "alfworld", "split": "nope"}, NotFound, "available splits"),
        ({"env": "alfworld", "split": "train", "page_token": "x"}, InvalidArgument, "page_token"),
        ({"env": "alfworld", "split": "train", "page_size": -1}, InvalidArgument, "page_size"),
    ],
)
def test_list_tasks_errors(setup, kwargs, error, message):
    core, _, _ = setup
    with pytest.raises(error, match=message):
        core.list_tasks(**kwargs)


async def test_episode_won(setup):
    core, runner, _ = setup
    start = await core.create_session("alfworld", "train", index=0)
    assert start.task.instruction == "put a mug in desk."
    assert start.admissible == ("look", "win")
    first = await core.step(start.session_id, "  jump  ")
    assert (first.observation, first.done, first.step_index, first.admissible_before) == (
        "Nothing happens.",
        False,
        1,
        False,
    )
    last = await core.step(start.session_id, "win")
    assert (last.won, last.done, last.reward, last.admissible_before) == (True, True, 1.0, True)
    with pytest.raises(FailedPrecondition, match="is done"):
        await core.step(start.session_id, "look")
    assert await core.close_session(start.session_id) == (2, True)
    assert runner.closed == [start.session_id]
    with pytest.raises(NotFound):
        await core.close_session(start.session_id)


async def test_max_steps_ends_episode(setup):
    core, _, _ = setup
    start = await core.create_session("alfworld", "train", task_id=sorted(TASKS)[1])
    outs = [await core.step(start.session_id, "look") for _ in range(3)]
    assert [o.done for o in outs] == [False, False, True]
    assert not outs[-1].won


async def test_session_errors(setup):
    core, _, _ = setup
    with pytest.raises(InvalidArgument, match="exactly one"):
        await core.create_session("alfworld", "train")
    with pytest.raises(InvalidArgument, match="exactly one"):
        await core.create_session("alfworld", "train", task_id="x", index=0)
    with pytest.raises(OutOfRange, match="has 3 tasks"):
        await core.create_session("alfworld", "train", index=3)
    with pytest.raises(NotFound, match="not in split"):
        await core.create_session("alfworld", "train", task_id="nope")
    with pytest.raises(NotFound, match="does not exist or expired"):
        await core.step("0000", "look")
    start = await core.create_session("alfworld", "train", index=0)
    with pytest.raises(InvalidArgument, match="must not be empty"):
        await core.step(start.session_id, "   ")
    with pytest.raises(
        InvalidArgument, match=r"alfworld limit \(256, setting env_max_action_chars"
    ):
        await core.step(start.session_id, "x" * 1000)


async def test_max_sessions(setup):
    core, _, _ = setup
    a = await core.create_session("alfworld", "train", index=0)
    await core.create_session("alfworld", "train", index=0)
    with pytest.raises(ResourceExhausted, match="max_sessions"):
        await core.create_session("alfworld", "train", index=1)
    await core.close_session(a.session_id)
    await core.create_session("alfworld", "train", index=1)


async def test_idle_sessions_expire(setup):
    core, runner, clock = setup
    start = await core.create_session("alfworld", "train", index=0)
    clock.now += 30
    await core.step(start.session_id, "look")  # activity resets the idle timer
    clock.now += 59
    assert core.expire_idle() == 0
    clock.now += 2
    assert core.expire_idle() == 1
    with pytest.raises(NotFound, match="expired"):
        await core.step(start.session_id, "look")
    assert core.open_sessions == 0
    await asyncio.sleep(0)  # the worker-side close runs as a background task
    assert runner.closed == [start.session_id]
