"""EnvCore's opens with a fake runner whose loads wait on the test: the bound on opens pending at
once (refused at once with a retry hint), max_sessions (refused at once, no hint), and
idempotent opens by request_id (AIP-155)."""

import asyncio

import pytest

from a3t.envs.base import GameState
from a3t.errors import InvalidArgument, ResourceExhausted
from a3t_env import metrics
from a3t_env.config import EnvSettings
from a3t_env.core import EnvCore

TASKS = [
    "look_at_obj_in_light-Book-None-DeskLamp-1/trial_a",
    "pick_and_place_simple-Mug-None-Desk-2/trial_b",
]


class GatedRunner:
    """Each open waits until the test releases it; it answers with the session's own number."""

    def __init__(self):
        self.release = asyncio.Event()
        self.opened: list[str] = []
        self.closed: list[str] = []

    async def open(self, session_id, env, task, root):
        self.opened.append(session_id)
        await self.release.wait()
        first = GameState(f"room {len(self.opened)}", ("look",), 0.0, False, False)
        return "find the book.", first

    async def step(self, session_id, action):
        return GameState("Nothing happens.", ("look",), 0.0, False, False)

    async def close(self, session_id):
        self.closed.append(session_id)


@pytest.fixture
def data_root(tmp_path):
    for task in TASKS:
        d = tmp_path / "alfworld" / "json_2.1.1" / "train" / task
        d.mkdir(parents=True)
        (d / "game.tw-pddl").write_text("{}")
    return tmp_path


def make_core(data_root, **settings):
    runner = GatedRunner()
    settings = EnvSettings(data_root=data_root, workers=1, **settings)
    return EnvCore(settings, runner), runner


async def test_opens_past_the_bound_are_refused_at_once_with_a_retry_hint(data_root):
    core, runner = make_core(data_root, max_opens_per_worker=2)
    pending = [asyncio.create_task(core.create_session("alfworld", "train", index=0))]
    pending.append(asyncio.create_task(core.create_session("alfworld", "train", index=1)))
    await asyncio.sleep(0)  # both are loading now
    assert len(runner.opened) == 2
    assert metrics.OPENS_PENDING._value.get() == 2
    with pytest.raises(ResourceExhausted, match=r"2 opens are pending.*= 2\); retry in 1\.00s"):
        await core.create_session("alfworld", "train", index=0)
    try:
        await core.create_session("alfworld", "train", index=0)
    except ResourceExhausted as exc:
        assert exc.retry_after_seconds == 1.0  # no open has finished yet: the 1 s prior
    assert len(runner.opened) == 2 and core.open_sessions == 2  # refused ones left no trace
    runner.release.set()
    starts = await asyncio.gather(*pending)
    assert [s.observation for s in starts] == ["room 2", "room 2"]
    assert metrics.OPENS_PENDING._value.get() == 0
    # A slot is free again, and the hint now follows how long opens took (well under 1 s).
    third = await core.create_session("alfworld", "train", index=0)
    assert third.session_id not in {s.session_id for s in starts}
    assert core._open_seconds < 0.9


async def test_max_sessions_is_an_immediate_answer_without_a_hint(data_root):
    core, runner = make_core(data_root, max_sessions=1)
    runner.release.set()
    await core.create_session("alfworld", "train", index=0)
    with pytest.raises(ResourceExhausted, match="max_sessions") as info:
        await core.create_session("alfworld", "train", index=1)
    assert info.value.retry_after_seconds is None


async def test_a_repeated_request_id_gets_the_first_session(data_root):
    core, runner = make_core(data_root)
    first = asyncio.create_task(core.create_session("alfworld", "train", index=0, request_id="r1"))
    await asyncio.sleep(0)
    # The repeat arrives while the first is still loading, then again after: one load in all.
    repeat = asyncio.create_task(core.create_session("alfworld", "train", index=0, request_id="r1"))
    runner.release.set()
    a, b = await asyncio.gather(first, repeat)
    c = await core.create_session("alfworld", "train", index=0, request_id="r1")
    assert a == b == c and len(runner.opened) == 1 and core.open_sessions == 1
    other = await core.create_session("alfworld", "train", index=0, request_id="r2")
    plain = await core.create_session("alfworld", "train", index=0)
    assert len({a.session_id, other.session_id, plain.session_id}) == 3


async def test_an_open_whose_caller_went_away_is_kept_for_its_retry(data_root):
    core, runner = make_core(data_root)
    first = asyncio.create_task(core.create_session("alfworld", "train", index=1, request_id="r"))
    await asyncio.sleep(0)
    first.cancel()  # the client's deadline passed
    with pytest.raises(asyncio.CancelledError):
        await first
    runner.release.set()
    retry = await core.create_session("alfworld", "train", index=1, request_id="r")
    assert runner.opened == [retry.session_id] and retry.observation == "room 1"


async def test_request_id_errors(data_root):
    core, runner = make_core(data_root)
    runner.release.set()
    await core.create_session("alfworld", "train", task_id=TASKS[0], request_id="r1")
    reused = r"request_id 'r1' was already used .*task_id 'look_at"
    with pytest.raises(InvalidArgument, match=reused):
        await core.create_session("alfworld", "train", index=1, request_id="r1")
    with pytest.raises(InvalidArgument, match=r"request_id .* longer than 64 characters"):
        await core.create_session("alfworld", "train", index=1, request_id="x" * 65)


async def test_a_failed_open_is_not_remembered(data_root):
    core, runner = make_core(data_root)
    runner.release.set()

    async def broken(session_id, env, task, root):
        raise ResourceExhausted("the worker is out of memory")

    working = runner.open
    runner.open = broken
    with pytest.raises(ResourceExhausted, match="out of memory"):
        await core.create_session("alfworld", "train", index=0, request_id="r")
    runner.open = working
    start = await core.create_session("alfworld", "train", index=0, request_id="r")
    assert runner.opened == [start.session_id]


async def test_request_ids_are_forgotten_after_the_ttl_once_their_session_ended(data_root):
    now = [1000.0]
    runner = GatedRunner()
    runner.release.set()
    settings = EnvSettings(data_root=data_root, workers=1, session_ttl_seconds=60)
    core = EnvCore(settings, runner, clock=lambda: now[0])
    a = await core.create_session("alfworld", "train", index=0, request_id="r")
    now[0] += 61
    core.expire_idle()  # the session expires; its request id is older than the TTL too
    await asyncio.sleep(0)
    b = await core.create_session("alfworld", "train", index=1, request_id="r")
    assert b.session_id != a.session_id and b.task.task_id == TASKS[1]


async def test_a_retried_generation_waits_for_the_first_instead_of_overlapping(data_root):
    import threading

    core, _ = make_core(data_root)
    running, most, calls, gate = [0], [0], [], threading.Event()

    class SlowGenerator:
        def generate(self, split, level, seed, count, task_types):
            running[0] += 1
            most[0] = max(most[0], running[0])
            calls.append(split)
            gate.wait(5)
            running[0] -= 1
            return count

        def list_tasks(self, split):
            return []

    core._envs["alfworld", data_root / "alfworld"] = SlowGenerator()
    first = asyncio.create_task(core.generate_tasks("alfworld", "gen", 1, 0, 2))
    await asyncio.sleep(0.05)
    first.cancel()  # the client's deadline passed; its thread still writes the split
    retry = asyncio.create_task(core.generate_tasks("alfworld", "gen", 1, 0, 2))
    await asyncio.sleep(0.05)
    assert calls == ["gen"]  # the retry waits for the first run
    gate.set()
    assert await retry == 0 and calls == ["gen", "gen"] and most[0] == 1
    with pytest.raises(asyncio.CancelledError):
        await first
