"""Every PolicyService RPC through the real servicer on a loopback port, with the local engine on
the tiny random model: happy paths, KV-cache reuse across an episode, grounding, error codes."""

from __future__ import annotations

import grpc
import pytest
import pytest_asyncio

from a3t.common.v1 import types_pb2 as pb
from a3t.convert import step_to_pb, task_to_pb
from a3t.inference.chat import format_step
from a3t.inference.local import LocalEngine, LocalEngineConfig
from a3t.policy.v1 import policy_pb2, policy_pb2_grpc
from a3t.prompts import policy_messages
from a3t.rpc.client import channel
from a3t.trajectory import Step, Task
from a3t_policy.config import PolicySettings
from a3t_policy.core import PolicyCore, parse_output
from a3t_policy.server import PolicyServicer
from tests.contract.model_checks import (
    check_adapter_rpcs,
    check_model_info,
    metrics_text,
    rpc_error,
    start_model_server,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TASK = Task(
    env="alfworld",
    task_id="t1",
    split="valid_seen",
    task_type="pick_and_place_simple",
    instruction="Your task is to: put some pen on desk.",
)
OBS = (
    "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly "
    "around you, you see a desk 1, a drawer 1, and a sidetable 1.\n\n"
    "Your task is to: put some pen on desk."
)
ADMISSIBLE = ["go to desk 1", "go to drawer 1", "go to sidetable 1", "inventory", "look"]


def act_request(**fields) -> policy_pb2.ActRequest:
    base = {
        "task": task_to_pb(TASK),
        "initial_observation": OBS,
        "params": pb.GenerationParams(max_new_tokens=12),
    }
    return policy_pb2.ActRequest(**{**base, **fields})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def policy(tiny_model_dir):
    engine = LocalEngine(LocalEngineConfig(model=str(tiny_model_dir), threads=1))
    running, model = await start_model_server(
        "policy",
        engine,
        lambda m: PolicyServicer(PolicyCore(m, PolicySettings())),
        policy_pb2_grpc.add_PolicyServiceServicer_to_server,
        "a3t.policy.v1.PolicyService",
    )
    async with channel(f"127.0.0.1:{running.port}") as chan:
        yield policy_pb2_grpc.PolicyServiceStub(chan), running, model
    await running.server.stop(0)
    await model.close()


async def test_act_and_the_episode_cache(policy) -> None:
    stub, running, _ = policy
    first = await stub.Act(act_request(episode_id="ep-1"), timeout=60)
    assert first.action  # never empty, whatever the model wrote
    parsed = parse_output(first.raw_text, 256)
    assert (first.thought, first.action) == (parsed.thought, parsed.action)
    assert first.source == pb.STEP_SOURCE_POLICY and first.replaced_action == ""
    assert first.usage.prompt_tokens > 100  # system prompt + 1-shot exemplar + observation
    assert 1 <= first.usage.completion_tokens <= 12
    assert first.usage.cached_prompt_tokens == 0 and first.adapter == ""

    step = Step(action=first.action, thought=first.thought, observation="Nothing happens.")
    second = await stub.Act(act_request(episode_id="ep-1", history=[step_to_pb(step)]), timeout=60)
    # the second step only encodes what is new: the episode's cache holds the rest
    assert second.usage.prompt_tokens > first.usage.prompt_tokens
    assert second.usage.cached_prompt_tokens >= first.usage.prompt_tokens - 1

    # greedy decoding is deterministic with or without the cache
    again = await stub.Act(act_request(), timeout=60)
    assert again.raw_text == first.raw_text and again.usage.cached_prompt_tokens == 0

    released = await stub.EndEpisode(policy_pb2.EndEpisodeRequest(episode_id="ep-1"))
    assert released.released is True
    unknown = await stub.EndEpisode(policy_pb2.EndEpisodeRequest(episode_id="ep-1"))
    assert unknown.released is False

    text = metrics_text(running)
    assert 'a3t_policy_rpc_requests_total{code="OK",method="Act"}' in text
    assert 'a3t_policy_steps_total{env="alfworld",task_type="pick_and_place_simple"}' in text
    assert "a3t_policy_cached_prompt_tokens_total" in text
    assert "a3t_policy_kv_cache_hit_ratio" in text


async def test_grounding_picks_the_admissible_action_the_model_scores_highest(policy) -> None:
    stub, _, model = policy
    plain = await stub.Act(act_request(admissible_actions=ADMISSIBLE), timeout=60)
    assert plain.action not in ADMISSIBLE  # a random model does not hit one by itself
    grounded = await stub.Act(
        act_request(admissible_actions=ADMISSIBLE, ground_actions=True), timeout=60
    )
    assert grounded.source == pb.STEP_SOURCE_GROUNDED
    assert grounded.replaced_action == plain.action
    assert grounded.thought == plain.thought
    scores = await model.score_continuations(
        policy_messages(TASK, OBS, ()),
        format_step(Step(action="", thought=plain.thought)),
        ADMISSIBLE,
    )
    assert grounded.action == ADMISSIBLE[scores.index(max(scores))]


async def test_act_errors(policy) -> None:
    stub, _, _ = policy
    code, details = await rpc_error(
        stub.Act(policy_pb2.ActRequest(initial_observation=OBS), timeout=30)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "task.env" in details
    code, details = await rpc_error(stub.Act(act_request(initial_observation=""), timeout=30))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "initial_observation" in details
    code, details = await rpc_error(stub.Act(act_request(adapter="r9"), timeout=30))
    assert code == grpc.StatusCode.NOT_FOUND and "r9" in details
    unknown = task_to_pb(Task(env="textcraft", task_id="x"))
    code, details = await rpc_error(stub.Act(act_request(task=unknown), timeout=30))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'textcraft' is not a registered" in details
    # Grounding with no admissible list (an env that takes free text there) keeps the text.
    free = await stub.Act(act_request(ground_actions=True), timeout=30)
    assert free.source == pb.STEP_SOURCE_POLICY and free.replaced_action == ""
    bad = pb.GenerationParams(temperature=-1)
    code, details = await rpc_error(stub.Act(act_request(params=bad), timeout=30))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "temperature" in details
    code, _ = await rpc_error(stub.Act(act_request(params=pb.GenerationParams(top_p=2))))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_model_info_and_adapters(policy, lora_adapters, tiny_model_dir) -> None:
    stub, _, _ = policy
    await check_model_info(stub, str(tiny_model_dir))
    base = await stub.Act(act_request(), timeout=60)
    ref = pb.AdapterRef(name="r1", uri=lora_adapters["r1"])
    await stub.LoadAdapter(pb.LoadAdapterRequest(adapter=ref), timeout=60)
    tuned = await stub.Act(act_request(adapter="r1"), timeout=60)
    assert tuned.adapter == "r1" and tuned.raw_text != base.raw_text
    await stub.UnloadAdapter(pb.UnloadAdapterRequest(name="r1"), timeout=60)
    await check_adapter_rpcs(stub, lora_adapters, str(tiny_model_dir))
