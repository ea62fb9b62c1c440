"""Every ActReService RPC through the real servicer on a loopback port, with the local engine on
the tiny random model: Explain, adapters, model info, error codes."""

from __future__ import annotations

import grpc
import pytest
import pytest_asyncio

from a3t.actre.v1 import actre_pb2, actre_pb2_grpc
from a3t.common.v1 import types_pb2 as pb
from a3t.convert import step_to_pb, task_to_pb
from a3t.inference.local import LocalEngine, LocalEngineConfig
from a3t.rpc.client import channel
from a3t.trajectory import Step, Task
from a3t_actre.config import ActReSettings
from a3t_actre.core import ActReCore, trim_rationale
from a3t_actre.server import ActReServicer
from tests.contract.model_checks import (
    check_adapter_rpcs,
    check_model_info,
    metrics_text,
    rpc_error,
    start_model_server,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TASK = Task(env="alfworld", task_id="t1", instruction="Your task is to: put some pen on desk.")
OBS = "You are in the middle of a room. Your task is to: put some pen on desk."
HISTORY = [step_to_pb(Step(action="go to desk 1", observation="You arrive at desk 1."))]


def explain_request(**fields) -> actre_pb2.ExplainRequest:
    base = {
        "task": task_to_pb(TASK),
        "initial_observation": OBS,
        "history": HISTORY,
        "action": "open drawer 1",
        "params": pb.GenerationParams(max_new_tokens=16),
    }
    return actre_pb2.ExplainRequest(**{**base, **fields})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def actre(tiny_model_dir):
    engine = LocalEngine(LocalEngineConfig(model=str(tiny_model_dir), threads=1))
    running, model = await start_model_server(
        "actre",
        engine,
        lambda m: ActReServicer(ActReCore(m, ActReSettings())),
        actre_pb2_grpc.add_ActReServiceServicer_to_server,
        "a3t.actre.v1.ActReService",
    )
    async with channel(f"127.0.0.1:{running.port}") as chan:
        yield actre_pb2_grpc.ActReServiceStub(chan), running
    await running.server.stop(0)
    await model.close()


async def test_explain(actre) -> None:
    stub, running = actre
    out = await stub.Explain(explain_request(), timeout=60)
    assert out.raw_text  # a random model still writes something
    assert out.rationale == trim_rationale(out.raw_text)
    assert not out.rationale.lower().startswith("think:")
    assert out.usage.prompt_tokens > 0 and 1 <= out.usage.completion_tokens <= 16
    again = await stub.Explain(explain_request(), timeout=60)
    assert again.raw_text == out.raw_text  # greedy by default
    other = await stub.Explain(explain_request(action="go to sidetable 1"), timeout=60)
    assert other.usage.prompt_tokens != out.usage.prompt_tokens  # the action is in the prompt
    text = metrics_text(running)
    assert 'a3t_actre_rpc_requests_total{code="OK",method="Explain"}' in text
    assert 'a3t_actre_rationales_total{env="alfworld"}' in text


async def test_episode_cache_and_end_episode(actre) -> None:
    stub, _ = actre
    plain = await stub.Explain(explain_request(), timeout=60)
    first = await stub.Explain(explain_request(episode_id="ep-a"), timeout=60)
    assert first.usage.cached_prompt_tokens == 0
    # The next step of the same episode: its transcript head is served from the episode's cache,
    # and the rationale is the one an uncached call writes.
    longer = [*HISTORY, step_to_pb(Step(action="open drawer 1", observation="You open it."))]
    second = await stub.Explain(
        explain_request(episode_id="ep-a", history=longer, action="look"), timeout=60
    )
    assert second.usage.cached_prompt_tokens > 0
    uncached = await stub.Explain(explain_request(history=longer, action="look"), timeout=60)
    assert second.raw_text == uncached.raw_text and uncached.usage.cached_prompt_tokens == 0
    assert first.raw_text == plain.raw_text
    released = await stub.EndEpisode(actre_pb2.EndEpisodeRequest(episode_id="ep-a"), timeout=30)
    assert released.released is True
    again = await stub.EndEpisode(actre_pb2.EndEpisodeRequest(episode_id="ep-a"), timeout=30)
    assert again.released is False


async def test_explain_errors(actre) -> None:
    stub, _ = actre
    code, details = await rpc_error(stub.Explain(explain_request(action="  "), timeout=30))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "action must be" in details
    code, details = await rpc_error(
        stub.Explain(actre_pb2.ExplainRequest(action="look"), timeout=30)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "task must be set" in details
    code, details = await rpc_error(stub.Explain(explain_request(adapter="r9"), timeout=30))
    assert code == grpc.StatusCode.NOT_FOUND and "r9" in details
    bad = pb.GenerationParams(max_new_tokens=-3)
    code, details = await rpc_error(stub.Explain(explain_request(params=bad), timeout=30))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "max_new_tokens" in details


async def test_model_info_and_adapters(actre, lora_adapters, tiny_model_dir) -> None:
    stub, _ = actre
    await check_model_info(stub, str(tiny_model_dir))
    ref = pb.AdapterRef(name="r1", uri=lora_adapters["r1"])
    await stub.LoadAdapter(pb.LoadAdapterRequest(adapter=ref), timeout=60)
    base = await stub.Explain(explain_request(), timeout=60)
    tuned = await stub.Explain(explain_request(adapter="r1"), timeout=60)
    assert tuned.raw_text != base.raw_text  # self-ActRe with the policy's adapter changes it
    await stub.UnloadAdapter(pb.UnloadAdapterRequest(name="r1"), timeout=60)
    await check_adapter_rpcs(stub, lora_adapters, str(tiny_model_dir))
