"""Every CriticService RPC through the real servicer on a loopback port: Score with the local
engine on the tiny random model (whose answers never parse: UNPARSEABLE, no score), Score OK
and repaired through a scripted engine, adapters, model info, error codes."""

from __future__ import annotations

import grpc
import pytest
import pytest_asyncio

from a3t.common.v1 import types_pb2 as pb
from a3t.convert import trajectory_to_pb
from a3t.critic.v1 import critic_pb2, critic_pb2_grpc
from a3t.inference.local import LocalEngine, LocalEngineConfig
from a3t.prompts import RUBRICS
from a3t.rpc.client import channel
from a3t.trajectory import Step, Task, Trajectory
from a3t_critic.config import CriticSettings
from a3t_critic.core import CriticCore
from a3t_critic.server import CriticServicer
from tests.contract.model_checks import (
    check_adapter_rpcs,
    check_model_info,
    metrics_text,
    rpc_error,
    start_model_server,
)
from tests.unit.fake_engine import FakeEngine

pytestmark = pytest.mark.asyncio(loop_scope="module")

TRAJ = Trajectory(
    task=Task(env="alfworld", task_id="t1", instruction="put some pen on desk."),
    initial_observation="You are in the middle of a room.",
    steps=(
        Step(action="go to sidetable 1", observation="You arrive at sidetable 1."),
        Step(action="take pen 1 from sidetable 1", observation="You pick up the pen 1."),
    ),
)


def score_request(**fields) -> critic_pb2.ScoreRequest:
    base = {"trajectory": trajectory_to_pb(TRAJ), "params": pb.GenerationParams(max_new_tokens=12)}
    return critic_pb2.ScoreRequest(**{**base, **fields})


def make_servicer(model) -> CriticServicer:
    return CriticServicer(CriticCore(model, CriticSettings(), RUBRICS))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def critic(tiny_model_dir):
    engine = LocalEngine(LocalEngineConfig(model=str(tiny_model_dir), threads=1))
    running, model = await start_model_server(
        "critic",
        engine,
        make_servicer,
        critic_pb2_grpc.add_CriticServiceServicer_to_server,
        "a3t.critic.v1.CriticService",
    )
    async with channel(f"127.0.0.1:{running.port}") as chan:
        yield critic_pb2_grpc.CriticServiceStub(chan), running
    await running.server.stop(0)
    await model.close()


async def test_an_unreadable_answer_is_unparseable_with_no_score(critic) -> None:
    stub, running = critic
    out = await stub.Score(score_request(rubric="default"), timeout=60)
    assert out.status == critic_pb2.SCORE_STATUS_UNPARSEABLE
    assert not out.HasField("score")
    assert out.verdict == "" and list(out.reasons) == []
    assert out.raw_text
    # both the answer and its repair retry are counted: the retry's prompt holds the first
    assert out.usage.completion_tokens >= 2 and out.usage.prompt_tokens > 0
    text = metrics_text(running)
    assert 'a3t_critic_unparseable_total{env="alfworld"} 1.0' in text
    assert 'a3t_critic_repairs_total{env="alfworld"} 1.0' in text


async def test_score_errors(critic) -> None:
    stub, _ = critic
    code, details = await rpc_error(stub.Score(score_request(rubric="nope"), timeout=30))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "rubric 'nope'" in details
    empty = Trajectory(task=TRAJ.task, initial_observation="x")
    code, details = await rpc_error(
        stub.Score(score_request(trajectory=trajectory_to_pb(empty)), timeout=30)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "no steps" in details


async def test_model_info_and_adapters(critic, lora_adapters, tiny_model_dir) -> None:
    stub, _ = critic
    await check_model_info(stub, str(tiny_model_dir))
    await check_adapter_rpcs(stub, lora_adapters, str(tiny_model_dir))


async def test_score_ok_and_repaired_through_the_servicer() -> None:
    engine = FakeEngine().reply(
        '{"score": 7.5, "verdict": "partial", "reasons": ["took the pen", "not placed"]}',
        "nine out of ten",
        '{"score": 9, "verdict": "success", "reasons": []}',
    )
    running, _ = await start_model_server(
        "critic",
        engine,
        make_servicer,
        critic_pb2_grpc.add_CriticServiceServicer_to_server,
        "a3t.critic.v1.CriticService",
    )
    try:
        async with channel(f"127.0.0.1:{running.port}") as chan:
            stub = critic_pb2_grpc.CriticServiceStub(chan)
            ok = await stub.Score(score_request(), timeout=30)
            repaired = await stub.Score(score_request(rubric="tool_use"), timeout=30)
    finally:
        await running.server.stop(0)
    assert ok.status == critic_pb2.SCORE_STATUS_OK and ok.HasField("score")
    assert (ok.score, ok.verdict, list(ok.reasons)) == (
        7.5,
        "partial",
        ["took the pen", "not placed"],
    )
    assert repaired.status == critic_pb2.SCORE_STATUS_OK and repaired.score == 9.0
    assert repaired.raw_text.startswith('{"score": 9')
    assert RUBRICS["tool_use"] in engine.generate_calls[1].messages[-1].content
    assert engine.generate_calls[1].params.max_new_tokens == 12
