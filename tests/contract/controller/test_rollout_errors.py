"""The controller's gRPC clients tell a refused rollout from a broken service: a model service
that refuses one rollout's request (INVALID_ARGUMENT: the prompt cannot be fitted; INTERNAL: an
engine error on this input) raises `RolloutFailed`, which the round loop retries and then drops;
a refusal about the setup (FAILED_PRECONDITION) stays a gRPC error and fails the experiment."""

from __future__ import annotations

import grpc
import pytest
from grpc import aio

from a3t.actre.v1 import actre_pb2_grpc
from a3t.policy.v1 import policy_pb2_grpc
from a3t.rpc.client import channel
from a3t.trajectory import Task
from a3t_controller.clients import GrpcActRe, GrpcPolicy
from a3t_controller.episode import RolloutFailed
from a3t_controller.patience import Patience

TASK = Task("alfworld", "t1", "train", "pick")


class Refusing(policy_pb2_grpc.PolicyServiceServicer, actre_pb2_grpc.ActReServiceServicer):
    """Answers every Act and Explain with the status it is given."""

    def __init__(self):
        self.code = grpc.StatusCode.INVALID_ARGUMENT

    async def Act(self, request, context):
        await context.abort(self.code, "prompt of 9000 tokens does not fit the context (2048)")

    async def Explain(self, request, context):
        await context.abort(self.code, "engine error")


@pytest.fixture
async def refusing():
    servicer = Refusing()
    server = aio.server()
    policy_pb2_grpc.add_PolicyServiceServicer_to_server(servicer, server)
    actre_pb2_grpc.add_ActReServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with channel(f"127.0.0.1:{port}") as chan:
        yield servicer, chan
    await server.stop(None)


async def act(chan) -> None:
    policy = GrpcPolicy(chan, patience=Patience(seconds=0))
    await policy.act("e1", TASK, "obs", [], ["look"], temperature=0.0, seed=1, adapter="")


async def explain(chan) -> None:
    await GrpcActRe(chan, patience=Patience(seconds=0)).explain("e1", TASK, "obs", [], "look")


@pytest.mark.parametrize("call", [act, explain])
@pytest.mark.parametrize(
    "code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN]
)
async def test_a_refused_rollout_request_is_a_rollout_failure_naming_the_service(
    refusing, call, code
):
    servicer, chan = refusing
    servicer.code = code
    with pytest.raises(RolloutFailed, match=rf"^(policy|actre): {code.name}: "):
        await call(chan)


@pytest.mark.parametrize("call", [act, explain])
async def test_a_refusal_about_the_setup_is_not_a_rollout_failure(refusing, call):
    servicer, chan = refusing
    servicer.code = grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(aio.AioRpcError) as info:
        await call(chan)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
