"""GenerateTasks through a real server: generated games are served by the same code path as real
ones and won by their walkthroughs; repeats are idempotent; bad input is refused clearly."""

import json

import grpc
import pytest
from grpc import aio

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs.alfworld.engine import discover_games
from a3t.rpc.client import channel
from a3t.rpc.server import Registration, start_server
from a3t_env.config import EnvSettings
from a3t_env.core import EnvCore
from a3t_env.pool import GamePool
from a3t_env.server import EnvServicer


@pytest.fixture
async def stub(tmp_path):
    settings = EnvSettings(data_root=tmp_path, workers=1)
    pool = GamePool(1, {env: settings.env_root(env) for env in settings.envs}, cache_size=2)
    await pool.start()
    core = EnvCore(settings, pool)
    running = await start_server(
        "env",
        [
            Registration(
                env_pb2_grpc.add_EnvServiceServicer_to_server,
                EnvServicer(core),
                "a3t.env.v1.EnvService",
            )
        ],
        metrics_port=None,
    )
    async with channel(f"127.0.0.1:{running.port}") as chan:
        yield env_pb2_grpc.EnvServiceStub(chan), settings.env_root("alfworld")
    await core.close_all()
    await running.server.stop(0)
    await pool.shutdown()


def request(**kw):
    fields = {"env": "alfworld", "split": "gen_a", "level": 1, "seed": 7, "count": 3}
    return env_pb2.GenerateTasksRequest(**{**fields, **kw})


async def test_generate_list_and_win(stub):
    stub, root = stub
    resp = await stub.GenerateTasks(request(), timeout=120)
    assert (resp.split, resp.total_size) == ("gen_a", 3)
    tasks = await stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split="gen_a"))
    assert tasks.total_size == 3
    game = discover_games(root, "gen_a")[0]
    start = await stub.CreateSession(
        env_pb2.CreateSessionRequest(env="alfworld", split="gen_a", task_id=game.task_id),
        timeout=60,
    )
    assert start.observation.startswith("-= Welcome to TextWorld, ALFRED! =-")
    for action in json.loads(game.path.read_text())["walkthrough"]:
        step = await stub.Step(env_pb2.StepRequest(session_id=start.session_id, action=action))
    assert step.won and step.done
    # The same request again is idempotent.
    again = await stub.GenerateTasks(request(), timeout=120)
    assert again.total_size == 3


async def test_generate_errors(stub):
    stub, _ = stub
    await stub.GenerateTasks(request(), timeout=120)
    cases = [
        (request(seed=8), grpc.StatusCode.FAILED_PRECONDITION, "other games"),
        (request(level=99, split="x"), grpc.StatusCode.INVALID_ARGUMENT, "level"),
        (request(count=0, split="y"), grpc.StatusCode.INVALID_ARGUMENT, "count"),
        (request(split="../up"), grpc.StatusCode.INVALID_ARGUMENT, "split"),
        (request(env="textcraft"), grpc.StatusCode.INVALID_ARGUMENT, "serves alfworld"),
        (request(split="x" * 300), grpc.StatusCode.INVALID_ARGUMENT, "(300 characters)"),
    ]
    for req, code, text in cases:
        with pytest.raises(aio.AioRpcError) as info:
            await stub.GenerateTasks(req, timeout=60)
        assert info.value.code() == code, (req, info.value.details())
        assert text in info.value.details()
