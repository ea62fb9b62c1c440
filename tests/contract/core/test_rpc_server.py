"""The shared server bootstrap through a real loopback server: health, reflection, error mapping,
metrics. A tiny servicer built on the env stubs stands in for a service."""

import asyncio
import urllib.request

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.errors import InvalidArgument, NotFound, ResourceExhausted
from a3t.rpc.client import channel, wait_for_serving
from a3t.rpc.server import Registration, start_server


class Servicer(env_pb2_grpc.EnvServiceServicer):
    async def Step(self, request, context):
        if request.action == "bad":
            raise InvalidArgument("action 'bad' is bad; send 'good'")
        if request.action == "gone":
            raise NotFound("session 'x' does not exist")
        if request.action == "full":
            raise ResourceExhausted("too many sessions")
        if request.action == "bug":
            raise RuntimeError("boom")
        return env_pb2.StepResponse(observation=f"did {request.action}")


@pytest.fixture
async def server():
    running = await start_server(
        "rpctest",
        [
            Registration(
                env_pb2_grpc.add_EnvServiceServicer_to_server, Servicer(), "a3t.env.v1.EnvService"
            )
        ],
        metrics_port=0,
    )
    await running.set_serving(True)
    yield running
    await running.server.stop(0)


async def test_health_flips_to_serving(server):
    target = f"127.0.0.1:{server.port}"
    await server.set_serving(False)  # as a service starts: NOT_SERVING until it has loaded
    async with channel(target) as chan:
        stub = health_pb2_grpc.HealthStub(chan)
        resp = await stub.Check(health_pb2.HealthCheckRequest(service="a3t.env.v1.EnvService"))
        assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(TimeoutError, match="NOT_SERVING"):
            await wait_for_serving(target, timeout=0.5)
        await server.set_serving(True)
        await wait_for_serving(target, timeout=5)
        resp = await stub.Check(health_pb2.HealthCheckRequest(service=""))
        assert resp.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_service(server):
    async with channel(f"127.0.0.1:{server.port}") as chan:
        stub = reflection_pb2_grpc.ServerReflectionStub(chan)

        async def requests():
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        async for resp in stub.ServerReflectionInfo(requests()):
            names = {s.name for s in resp.list_services_response.service}
            break
    assert "a3t.env.v1.EnvService" in names
    assert "grpc.health.v1.Health" in names


@pytest.mark.parametrize(
    ("action", "code", "message"),
    [
        ("bad", grpc.StatusCode.INVALID_ARGUMENT, "send 'good'"),
        ("gone", grpc.StatusCode.NOT_FOUND, "does not exist"),
        ("full", grpc.StatusCode.RESOURCE_EXHAUSTED, "too many"),
        ("bug", grpc.StatusCode.INTERNAL, "RuntimeError: boom"),
    ],
)
async def test_errors_map_to_status_codes(server, action, code, message):
    async with channel(f"127.0.0.1:{server.port}") as chan:
        stub = env_pb2_grpc.EnvServiceStub(chan)
        with pytest.raises(aio.AioRpcError) as info:
            await stub.Step(env_pb2.StepRequest(action=action), timeout=5)
        assert info.value.code() == code
        assert message in info.value.details()
        # The server survives and answers the next call.
        ok = await stub.Step(env_pb2.StepRequest(action="look"), timeout=5)
        assert ok.observation == "did look"


async def test_unimplemented_rpc_is_unimplemented(server):
    async with channel(f"127.0.0.1:{server.port}") as chan:
        stub = env_pb2_grpc.EnvServiceStub(chan)
        with pytest.raises(aio.AioRpcError) as info:
            await stub.CloseSession(env_pb2.CloseSessionRequest(session_id="x"), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_metrics_count_rpcs_by_code(server):
    async with channel(f"127.0.0.1:{server.port}") as chan:
        stub = env_pb2_grpc.EnvServiceStub(chan)
        await stub.Step(env_pb2.StepRequest(action="look"), timeout=5)
        with pytest.raises(aio.AioRpcError):
            await stub.Step(env_pb2.StepRequest(action="bad"), timeout=5)
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    assert 'a3t_rpctest_rpc_requests_total{code="OK",method="Step"}' in text
    assert 'a3t_rpctest_rpc_requests_total{code="INVALID_ARGUMENT",method="Step"}' in text
    assert 'a3t_rpctest_rpc_duration_seconds_count{method="Step"}' in text
    assert "a3t_rpctest_build_info{" in text


async def test_a_second_server_on_a_busy_port_is_refused(server):
    with pytest.raises(OSError, match=r"cannot listen on 127\.0\.0\.1:\d+: the port is in use"):
        await start_server(
            "second",
            [
                Registration(
                    env_pb2_grpc.add_EnvServiceServicer_to_server,
                    Servicer(),
                    "a3t.env.v1.EnvService",
                )
            ],
            port=server.port,
            metrics_port=None,
        )
    # The first one still answers every call.
    async with channel(f"127.0.0.1:{server.port}") as chan:
        stub = env_pb2_grpc.EnvServiceStub(chan)
        for _ in range(5):
            resp = await stub.Step(env_pb2.StepRequest(action="x"), timeout=5)
            assert resp.observation == "did x"


async def test_rpcs_answer_unavailable_until_serving_but_health_answers(server):
    await server.set_serving(False)  # as while a service loads, or drains on SIGTERM
    async with channel(f"127.0.0.1:{server.port}") as chan:
        stub = env_pb2_grpc.EnvServiceStub(chan)
        with pytest.raises(aio.AioRpcError) as info:
            await stub.Step(env_pb2.StepRequest(action="x"), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "the rpctest service is not SERVING" in info.value.details()
        health = health_pb2_grpc.HealthStub(chan)
        resp = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING
        await server.set_serving(True)
        assert (await stub.Step(env_pb2.StepRequest(action="x"), timeout=5)).observation
