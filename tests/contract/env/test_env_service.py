"""Every EnvService RPC through a real server on a loopback port, with the real ALFWorld engine
playing real games (../shared/data/alfworld) in a worker process."""

import json
import urllib.request

import grpc
import pytest
import pytest_asyncio
from grpc import aio

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs.alfworld.engine import TASK_TYPES, discover_games
from a3t.rpc.retry_info import retry_delay
from a3t_env.config import EnvSettings
from tests.contract.env.server import serving_env

SPLIT = "valid_seen"


def sample_games(data_root, split=SPLIT):
    """The first game of each task type: a fixed sample covering all six types."""
    games = discover_games(data_root, split)
    return [next(g for g in games if g.task_type == t) for t in TASK_TYPES]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env_stub(alfworld_data):
    settings = EnvSettings(env_data_roots=(f"alfworld={alfworld_data}",), workers=1, max_sessions=4)
    async with serving_env(settings, cache_size=4, metrics_port=0) as (chan, running):
        yield env_pb2_grpc.EnvServiceStub(chan), running


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _code(coro):
    with pytest.raises(aio.AioRpcError) as info:
        await coro
    return info.value.code(), info.value.details()


async def test_list_tasks(env_stub):
    stub, _ = env_stub
    resp = await stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split=SPLIT), timeout=10)
    assert resp.total_size == 140 == len(resp.tasks)
    assert {t.task_type for t in resp.tasks} == set(TASK_TYPES)
    page = await stub.ListTasks(
        env_pb2.ListTasksRequest(env="alfworld", split=SPLIT, page_size=50), timeout=10
    )
    assert len(page.tasks) == 50 and page.next_page_token


async def test_list_tasks_errors(env_stub):
    stub, _ = env_stub
    code, details = await _code(stub.ListTasks(env_pb2.ListTasksRequest(env="x", split=SPLIT)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "serves alfworld" in details
    code, details = await _code(
        stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split="no"))
    )
    assert code == grpc.StatusCode.NOT_FOUND and "valid_seen" in details
    code, _ = await _code(
        stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split=SPLIT, page_token="zz"))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_walkthroughs_win(env_stub, alfworld_data):
    stub, running = env_stub
    for game in sample_games(alfworld_data):
        walkthrough = json.loads(game.path.read_text())["walkthrough"]
        start = await stub.CreateSession(
            env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, task_id=game.task_id),
            timeout=60,
        )
        assert start.task.task_type == game.task_type
        assert start.observation.startswith("-= Welcome to TextWorld, ALFRED! =-")
        assert start.task.instruction and start.task.instruction in start.observation
        assert "look" in start.admissible_actions
        for i, action in enumerate(walkthrough, 1):
            step = await stub.Step(env_pb2.StepRequest(session_id=start.session_id, action=action))
            assert step.step_index == i
            assert step.won == (i == len(walkthrough)), (game.task_id, i, step.observation)
        assert step.done and step.reward == 1.0
        closed = await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=start.session_id))
        assert (closed.steps_taken, closed.won) == (len(walkthrough), True)
    # The episodes show up in the env metrics.
    url = f"http://127.0.0.1:{running.metrics_port}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    for task_type in TASK_TYPES:
        line = f'a3t_env_episodes_total{{env="alfworld",outcome="won",task_type="{task_type}"}}'
        assert line in text


async def test_impossible_action_is_a_normal_step(env_stub):
    stub, _ = env_stub
    start = await stub.CreateSession(
        env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, index=0), timeout=60
    )
    step = await stub.Step(env_pb2.StepRequest(session_id=start.session_id, action="fly to moon"))
    assert step.observation == "Nothing happens."
    assert not step.done and not step.admissible
    ok = await stub.Step(env_pb2.StepRequest(session_id=start.session_id, action="look"))
    assert ok.admissible
    await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=start.session_id))


async def test_session_errors(env_stub):
    stub, _ = env_stub
    code, _ = await _code(stub.Step(env_pb2.StepRequest(session_id="nope", action="look")))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await _code(stub.CloseSession(env_pb2.CloseSessionRequest(session_id="nope")))
    assert code == grpc.StatusCode.NOT_FOUND
    code, details = await _code(
        stub.CreateSession(env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "task_id or index" in details
    code, _ = await _code(
        stub.CreateSession(env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, index=140))
    )
    assert code == grpc.StatusCode.OUT_OF_RANGE
    code, _ = await _code(
        stub.CreateSession(env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, task_id="x"))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    start = await stub.CreateSession(
        env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, index=1), timeout=60
    )
    for action in ["", "   ", "x" * 10_000]:
        code, _ = await _code(
            stub.Step(env_pb2.StepRequest(session_id=start.session_id, action=action))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT
    # The session survives bad input.
    ok = await stub.Step(env_pb2.StepRequest(session_id=start.session_id, action="look"))
    assert ok.step_index == 1
    await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=start.session_id))


async def test_max_sessions_is_resource_exhausted(env_stub):
    stub, _ = env_stub
    ids = []
    for i in range(4):
        start = await stub.CreateSession(
            env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, index=i), timeout=60
        )
        ids.append(start.session_id)
    with pytest.raises(aio.AioRpcError) as info:
        await stub.CreateSession(env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, index=5))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_sessions" in info.value.details()
    # Answered at once and final: no retry hint (sessions free up in minutes, not a moment).
    assert retry_delay(info.value) is None
    for sid in ids:
        await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=sid))


async def test_finished_episode_rejects_steps(env_stub, alfworld_data):
    stub, _ = env_stub
    game = sample_games(alfworld_data)[0]
    walkthrough = json.loads(game.path.read_text())["walkthrough"]
    start = await stub.CreateSession(
        env_pb2.CreateSessionRequest(env="alfworld", split=SPLIT, task_id=game.task_id), timeout=60
    )
    for action in walkthrough:
        await stub.Step(env_pb2.StepRequest(session_id=start.session_id, action=action))
    code, _ = await _code(
        stub.Step(env_pb2.StepRequest(session_id=start.session_id, action="look"))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=start.session_id))
