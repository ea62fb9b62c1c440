"""GenerateTasks through a real server: generated games are served by the same code path as real
ones and won by their walkthroughs; repeats are idempotent; bad input is refused clearly."""

import json

import grpc
import pytest
from grpc import aio

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs.alfworld.engine import discover_games
from a3t_env.config import EnvSettings
from tests.contract.env.server import serving_env


@pytest.fixture
async def stub(tmp_path):
    settings = EnvSettings(data_root=tmp_path, workers=1)
    async with serving_env(settings, cache_size=2) as (chan, _):
        yield env_pb2_grpc.EnvServiceStub(chan), settings.env_root("alfworld")


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
