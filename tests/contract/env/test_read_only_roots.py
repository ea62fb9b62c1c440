"""An env served from its data root and a read-only root, through a real server on a loopback
port with the real ALFWorld engine in a worker process: a split of the read-only root is listed
and played next to a generated split of the data root; GenerateTasks never writes a split of the
read-only root; a split in both roots, and a link out of the read-only root, are refused.

The read-only root is made here with the generator (tiny games, no ../shared/data)."""

import json

import grpc
import pytest
import pytest_asyncio
from grpc import aio

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.envs.alfworld.engine import discover_games
from a3t.envs.alfworld.gen.generate import generate_games
from a3t_env.config import EnvSettings
from tests.contract.env.server import serving_env

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory):
    """own/: the data root (GenerateTasks writes gen_a there; a split dup made offline);
    real/json_2.1.1/: valid_unseen (2 games), dup, and to_own, a link to own's split."""
    own, real = tmp_path_factory.mktemp("own"), tmp_path_factory.mktemp("real")
    generate_games(real, "valid_unseen", level=1, seed=11, count=2)
    generate_games(real, "dup", level=1, seed=12, count=1)
    generate_games(own, "dup", level=1, seed=13, count=1)
    settings = EnvSettings(
        envs=("alfworld",),
        env_data_roots=(f"alfworld={own}",),
        env_read_only_roots=(f"alfworld={real}",),
        workers=1,
    )
    async with serving_env(settings, cache_size=2) as (chan, _):
        stub = env_pb2_grpc.EnvServiceStub(chan)
        generated = await stub.GenerateTasks(
            env_pb2.GenerateTasksRequest(env="alfworld", split="gen_a", level=1, seed=7, count=1),
            timeout=120,
        )
        assert generated.total_size == 1
        (real / "json_2.1.1" / "to_own").symlink_to(
            own / "json_2.1.1" / "gen_a", target_is_directory=True
        )
        yield stub, own, real


async def _error(coro):
    with pytest.raises(aio.AioRpcError) as info:
        await coro
    return info.value.code(), info.value.details()


async def _win(stub, split, game):
    start = await stub.CreateSession(
        env_pb2.CreateSessionRequest(env="alfworld", split=split, task_id=game.task_id),
        timeout=60,
    )
    assert start.task.split == split
    assert start.observation.startswith("-= Welcome to TextWorld, ALFRED! =-")
    for action in json.loads(game.path.read_text())["walkthrough"]:
        step = await stub.Step(env_pb2.StepRequest(session_id=start.session_id, action=action))
    await stub.CloseSession(env_pb2.CloseSessionRequest(session_id=start.session_id))
    return step.won


async def test_splits_of_both_roots_are_listed_and_played(served):
    stub, own, real = served
    unseen = discover_games(real, "valid_unseen")
    listed = await stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split="valid_unseen"))
    assert [t.task_id for t in listed.tasks] == [g.task_id for g in unseen]
    assert listed.total_size == 2
    generated = await stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split="gen_a"))
    assert [t.task_id for t in generated.tasks] == [g.task_id for g in discover_games(own, "gen_a")]
    assert await _win(stub, "valid_unseen", unseen[1])
    assert await _win(stub, "gen_a", discover_games(own, "gen_a")[0])


async def test_generation_never_writes_a_split_of_the_read_only_root(served):
    stub, _, real = served
    before = sorted(p.relative_to(real) for p in real.rglob("*"))
    request = env_pb2.GenerateTasksRequest(
        env="alfworld", split="valid_unseen", level=1, seed=11, count=2
    )
    code, details = await _error(stub.GenerateTasks(request, timeout=60))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert details == (
        f"split 'valid_unseen' of alfworld is in the read-only root {real}; GenerateTasks writes "
        "only to the env's data root and never a split of a read-only one: pick another split "
        "name"
    )
    assert sorted(p.relative_to(real) for p in real.rglob("*")) == before


async def test_a_split_in_both_roots_is_refused_naming_both(served):
    stub, own, real = served
    code, details = await _error(
        stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split="dup"))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert details == (
        f"split 'dup' of alfworld is in more than one data root: {own} (its data root) and "
        f"{real} (read-only); the server does not pick one: its operator must rename or remove "
        "all but one"
    )
    code, _ = await _error(
        stub.CreateSession(env_pb2.CreateSessionRequest(env="alfworld", split="dup", index=0))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION


async def test_links_out_of_the_read_only_root_are_refused(served):
    """real/json_2.1.1/to_own leads into the env's own root: inside one of its roots, but not
    inside the root it is served from."""
    stub, _, _ = served
    refused = (
        "split 'to_own' of alfworld leads outside the env's data root (a symbolic link); the "
        "server refuses it: ask its operator to replace the link by a copy"
    )
    for call in (
        stub.ListTasks(env_pb2.ListTasksRequest(env="alfworld", split="to_own")),
        stub.CreateSession(env_pb2.CreateSessionRequest(env="alfworld", split="to_own", index=0)),
    ):
        assert await _error(call) == (grpc.StatusCode.INVALID_ARGUMENT, refused)
