"""RPC metrics count what the client saw, through a real loopback server: a client that cancels,
a deadline that passes, undecodable request bytes, and a request over the message limit."""

import asyncio

import grpc
import pytest
from grpc import aio
from prometheus_client import REGISTRY

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.rpc.client import channel
from a3t.rpc.server import MAX_MESSAGE_BYTES, Registration, start_server
from a3t.trainer.v1 import trainer_pb2, trainer_pb2_grpc

SERVICE = "rpccodes"


class Env(env_pb2_grpc.EnvServiceServicer):
    def __init__(self):
        self.started = asyncio.Event()

    async def Step(self, request, context):
        if request.action == "slow":
            self.started.set()
            await asyncio.sleep(30)
        return env_pb2.StepResponse(observation=f"did {request.action}")


class Trainer(trainer_pb2_grpc.TrainerServiceServicer):
    def __init__(self):
        self.started = asyncio.Event()

    async def WatchTrainingRun(self, request, context):
        yield trainer_pb2.TrainingRun(run_id=request.run_id)
        self.started.set()
        if request.run_id == "waits":  # cancelled while the handler awaits
            await asyncio.sleep(30)
        while True:  # cancelled while gRPC sends an item (flow control holds the sender back)
            yield trainer_pb2.TrainingRun(run_id=request.run_id, error_message="x" * 1_000_000)


@pytest.fixture
async def server():
    env, trainer = Env(), Trainer()
    running = await start_server(
        SERVICE,
        [
            Registration(env_pb2_grpc.add_EnvServiceServicer_to_server, env, "a3t.env.v1.Env"),
            Registration(
                trainer_pb2_grpc.add_TrainerServiceServicer_to_server, trainer, "a3t.trainer.v1.T"
            ),
        ],
        metrics_port=None,
    )
    await running.set_serving(True)
    yield running, env, trainer
    await running.server.stop(0)


def counted(method: str, code: str) -> float:
    value = REGISTRY.get_sample_value(
        f"a3t_{SERVICE}_rpc_requests_total", {"method": method, "code": code}
    )
    return value or 0.0


async def count_reaches(method: str, code: str, expected: float) -> None:
    """Waits (5 s at most) for the server's side of a call to end and be counted."""
    for _ in range(100):
        if counted(method, code) == expected:
            return
        await asyncio.sleep(0.05)
    assert counted(method, code) == expected


async def test_a_cancelled_call_is_counted_cancelled(server):
    running, env, _ = server
    before_cancelled, before_ok = counted("Step", "CANCELLED"), counted("Step", "OK")
    async with channel(f"127.0.0.1:{running.port}") as chan:
        call = env_pb2_grpc.EnvServiceStub(chan).Step(env_pb2.StepRequest(action="slow"))
        await asyncio.wait_for(env.started.wait(), 5)
        assert call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    await count_reaches("Step", "CANCELLED", before_cancelled + 1)
    assert counted("Step", "OK") == before_ok


async def test_a_passed_deadline_is_counted_deadline_exceeded(server):
    running, _, _ = server
    before = counted("Step", "DEADLINE_EXCEEDED")
    async with channel(f"127.0.0.1:{running.port}") as chan:
        with pytest.raises(aio.AioRpcError) as info:
            await env_pb2_grpc.EnvServiceStub(chan).Step(
                env_pb2.StepRequest(action="slow"), timeout=0.3
            )
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await count_reaches("Step", "DEADLINE_EXCEEDED", before + 1)


@pytest.mark.parametrize("run_id", ["waits", "floods"])
async def test_a_cancelled_stream_is_counted_cancelled(server, run_id):
    running, _, trainer = server
    before = {code: counted("WatchTrainingRun", code) for code in ("OK", "CANCELLED")}
    async with channel(f"127.0.0.1:{running.port}") as chan:
        call = trainer_pb2_grpc.TrainerServiceStub(chan).WatchTrainingRun(
            trainer_pb2.WatchTrainingRunRequest(run_id=run_id)
        )
        first = await call.read()
        assert first.run_id == run_id
        await asyncio.wait_for(trainer.started.wait(), 5)
        await asyncio.sleep(0.1)  # "floods": until the sender waits on flow control
        assert call.cancel()
    await count_reaches("WatchTrainingRun", "CANCELLED", before["CANCELLED"] + 1)
    assert counted("WatchTrainingRun", "OK") == before["OK"]


async def test_undecodable_request_bytes_answer_invalid_argument_and_are_counted(server):
    running, _, _ = server
    before = counted("Step", "INVALID_ARGUMENT")
    async with channel(f"127.0.0.1:{running.port}") as chan:
        raw = chan.unary_unary(
            "/a3t.env.v1.EnvService/Step", request_serializer=None, response_deserializer=None
        )
        with pytest.raises(aio.AioRpcError) as info:
            await raw(b"\xff\xff\xff", timeout=5)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details().startswith("request is not a valid StepRequest: ")
        # Valid bytes through the same raw method are decoded and answered.
        answer = await raw(env_pb2.StepRequest(action="look").SerializeToString(), timeout=5)
        assert env_pb2.StepResponse.FromString(answer).observation == "did look"
    assert counted("Step", "INVALID_ARGUMENT") == before + 1


async def test_a_request_over_the_limit_is_resource_exhausted_on_both_sides(server):
    running, _, _ = server
    target = f"127.0.0.1:{running.port}"
    big = env_pb2.StepRequest(action="x" * (MAX_MESSAGE_BYTES + 1))
    before = {code: counted("Step", code) for code in ("OK", "RESOURCE_EXHAUSTED")}
    # channel() refuses to send it: the server never sees the call.
    async with channel(target) as chan:
        with pytest.raises(aio.AioRpcError) as info:
            await env_pb2_grpc.EnvServiceStub(chan).Step(big, timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # A client without a3t's send limit reaches the server, whose receive limit refuses it.
    async with aio.insecure_channel(target) as chan:
        with pytest.raises(aio.AioRpcError) as info:
            await env_pb2_grpc.EnvServiceStub(chan).Step(big, timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max" in info.value.details()
        ok = await env_pb2_grpc.EnvServiceStub(chan).Step(env_pb2.StepRequest(action="a"))
        assert ok.observation == "did a"
    # gRPC refuses the oversized request before the interceptor's handler runs: not counted.
    assert counted("Step", "RESOURCE_EXHAUSTED") == before["RESOURCE_EXHAUSTED"]
    assert counted("Step", "OK") == before["OK"] + 1
