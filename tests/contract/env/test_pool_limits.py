"""The env service's limits through the real servicer on a loopback port, with real engines in
real worker processes: a worker recycled after N game loads while the sessions it holds play on
to the end (WebShop: its loads are fast), bounded opens answered RESOURCE_EXHAUSTED with a
RetryInfo that the controller's env client waits out (ALFWorld, ../shared/data/alfworld: its
loads take a second or two, long enough to be caught in flight), idempotent opens by request_id,
and split names that would leave the data root."""

import asyncio
import multiprocessing
import time
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from grpc import aio

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs.webshop.catalog import Goal
from a3t.envs.webshop.engine import WebShopEnvironment
from a3t.envs.webshop.oracle import ScriptedShopper
from a3t.metrics import rpc_metrics
from a3t.rpc.retry_info import retry_delay
from a3t_controller.clients import GrpcEnv
from a3t_controller.patience import Patience
from a3t_env import metrics
from a3t_env.config import EnvSettings
from tests.contract.env.server import serving_env
from tests.contract.env.test_env_service import SPLIT, sample_games

pytestmark = pytest.mark.asyncio(loop_scope="module")


def worker_processes() -> int:
    return sum(p.name.startswith("a3t-env-worker") for p in multiprocessing.active_children())


def recycles(reason: str) -> float:
    return metrics.WORKER_RECYCLES.labels(reason=reason)._value.get()


async def open_game(stub, game, **fields) -> env_pb2.CreateSessionResponse:
    request = env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, task_id=game.task_id)
    request.MergeFrom(env_pb2.CreateSessionRequest(**fields))
    return await stub.CreateSession(request, timeout=60)


@pytest.fixture(scope="module")
def shop_goals(tmp_path_factory) -> tuple[Path, dict[str, Goal]]:
    """A generated WebShop split (fast to load, unlike ALFWorld's games): data root, goals."""
    root = tmp_path_factory.mktemp("envs")
    engine = WebShopEnvironment(root / "webshop")
    engine.generate("shop", level=1, seed=3, count=4, task_types=())
    return root, {t.task_id: engine.goal(t) for t in engine.list_tasks("shop")}


async def shop_to_the_end(stub, start: env_pb2.CreateSessionResponse, goal: Goal):
    shopper, step = ScriptedShopper(goal), None
    observation, admissible = start.observation, start.admissible_actions
    while step is None or not step.done:
        action = shopper.next_action(observation, admissible)
        step = await stub.Step(env_pb2.StepRequest(session_id=start.session_id, action=action))
        observation, admissible = step.observation, step.admissible_actions
    return step


async def test_a_worker_is_recycled_after_n_loads_and_its_sessions_play_on(shop_goals):
    root, goals = shop_goals
    settings = EnvSettings(
        envs=("webshop",),
        data_root=root,
        workers=1,
        recycle_after_loads=2,
        recycle_above_rss_mib=0,
    )
    (a_id, a_goal), (b_id, _), (c_id, c_goal), _ = goals.items()
    before = recycles("loads")
    async with serving_env(settings) as (chan, _):
        stub = env_pb2_grpc.EnvServiceStub(chan)

        async def open_task(task_id):
            request = env_pb2.CreateSessionRequest(env="webshop", split="shop", task_id=task_id)
            return await stub.CreateSession(request, timeout=30)

        assert worker_processes() == 1
        a = await open_task(a_id)
        assert recycles("loads") == before and metrics.WORKERS_DRAINING._value.get() == 0
        b = await open_task(b_id)  # the worker's 2nd load: it is recycled now
        assert recycles("loads") == before + 1
        assert metrics.WORKERS_DRAINING._value.get() == 1 and worker_processes() == 2
        # The worker reported its memory with each open (a WebShop worker: ~100 MiB).
        largest = metrics.WORKER_RSS_MAX_BYTES._value.get()
        assert largest > 30 * 2**20 and metrics.WORKERS_RSS_BYTES._value.get() >= largest
        c = await open_task(c_id)  # taken by the fresh process
        # The session opened before the limit plays to its end on the old process.
        last = await shop_to_the_end(stub, a, a_goal)
        assert (last.won, last.done) == (True, True)
        await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=a.session_id))
        assert worker_processes() == 2  # b still plays there: never stopped under a session
        step = await stub.Step(env_pb2.StepRequest(session_id=b.session_id, action="search[x]"))
        assert step.step_index == 1
        await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=b.session_id))
        deadline = time.monotonic() + 10
        while worker_processes() > 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert worker_processes() == 1 and metrics.WORKERS_DRAINING._value.get() == 0
        last = await shop_to_the_end(stub, c, c_goal)
        assert last.won
        assert recycles("loads") == before + 1  # the fresh process has loaded one game
        assert recycles("rss") == 0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def busy_env(alfworld_data):
    settings = EnvSettings(
        env_data_roots=(f"alfworld={alfworld_data}",), workers=1, max_opens_per_worker=1
    )
    async with serving_env(settings) as (chan, _):
        yield chan


async def test_opens_past_the_bound_are_refused_with_a_retry_hint(busy_env, alfworld_data):
    stub = env_pb2_grpc.EnvServiceStub(busy_env)
    games = sample_games(alfworld_data)[:2]  # different games: each open loads one (~1-2 s)
    exhausted = rpc_metrics("env").requests.labels(
        method="CreateSession", code="RESOURCE_EXHAUSTED"
    )
    refusals = exhausted._value.get()
    loading = asyncio.create_task(open_game(stub, games[0]))
    deadline = time.monotonic() + 10
    while metrics.OPENS_PENDING._value.get() < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    # One open loads (K = 1 x 1 worker): the next is refused at once, with a hint.
    with pytest.raises(aio.AioRpcError) as info:
        await open_game(stub, games[1])
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "opens are pending" in info.value.details()
    assert "(max_opens_per_worker x workers = 1)" in info.value.details()
    assert 0.05 <= retry_delay(info.value) <= 30
    # The controller's env client waits out the hint and opens once the first has loaded.
    view = await GrpcEnv(busy_env, Patience(seconds=60)).create("alfworld", SPLIT, games[1].task_id)
    assert view.task.task_id == games[1].task_id
    assert exhausted._value.get() >= refusals + 2  # the raw call's and the client's first try
    first = await loading
    assert first.session_id != view.session_id
    for session_id in (first.session_id, view.session_id):
        await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=session_id))


async def test_a_repeated_request_id_returns_the_first_session(busy_env, alfworld_data):
    stub = env_pb2_grpc.EnvServiceStub(busy_env)
    game, other = sample_games(alfworld_data)[:2]
    first = await open_game(stub, game, request_id="3f1c0d4e-open-1")
    again = await open_game(stub, game, request_id="3f1c0d4e-open-1")
    assert again == first  # same session id, task and first observation
    await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=first.session_id))
    plain = await open_game(stub, game)
    assert plain.session_id != first.session_id
    with pytest.raises(aio.AioRpcError) as info:
        await open_game(stub, other, request_id="3f1c0d4e-open-1")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request_id '3f1c0d4e-open-1' was already used" in info.value.details()
    await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=plain.session_id))


@pytest.mark.parametrize("split", ["../alfworld/json_2.1.1/valid_seen", "/etc"])
async def test_split_paths_are_invalid_argument(busy_env, split):
    stub = env_pb2_grpc.EnvServiceStub(busy_env)
    for call in (
        stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split=split)),
        stub.CreateSession(env_pb2.CreateSessionRequest(env="alfworld", split=split, index=0)),
        stub.GenerateTasks(
            env_pb2.GenerateTasksRequest(env="alfworld", split=split, level=1, count=1)
        ),
    ):
        with pytest.raises(aio.AioRpcError) as info:
            await call
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details().startswith(f"split {split!r} must be")
