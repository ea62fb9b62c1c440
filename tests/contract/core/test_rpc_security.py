"""The shared token and TLS (a3t.rpc.security) through a real loopback server, configured as a
deployment configures it: environment variables naming files."""

import subprocess
from pathlib import Path

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import REGISTRY

from a3t.env.v1 import env_pb2, env_pb2_grpc
from a3t.rpc.client import channel
from a3t.rpc.server import Registration, start_server
from a3t.trainer.v1 import trainer_pb2, trainer_pb2_grpc

TOKEN = "s3cret-token_0123456789"


class Env(env_pb2_grpc.EnvServiceServicer):
    async def Step(self, request, context):
        return env_pb2.StepResponse(observation=f"did {request.action}")


class Trainer(trainer_pb2_grpc.TrainerServiceServicer):
    async def WatchTrainingRun(self, request, context):
        yield trainer_pb2.TrainingRun(run_id=request.run_id)


async def start(service: str):
    running = await start_server(
        service,
        [
            Registration(env_pb2_grpc.add_EnvServiceServicer_to_server, Env(), "a3t.env.v1.E"),
            Registration(
                trainer_pb2_grpc.add_TrainerServiceServicer_to_server, Trainer(), "a3t.t.v1.T"
            ),
        ],
        metrics_port=None,
    )
    await running.set_serving(True)
    return running


@pytest.fixture
async def token_server(tmp_path, monkeypatch):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")  # as a Secret written with echo has it
    monkeypatch.setenv("A3T_AUTH_TOKEN_FILE", str(token_file))
    running = await start("rpcauth")
    yield running
    await running.server.stop(0)


def counted(service: str, method: str, code: str) -> float:
    labels = {"method": method, "code": code}
    return REGISTRY.get_sample_value(f"a3t_{service}_rpc_requests_total", labels) or 0.0


async def test_channel_sends_the_token_on_unary_and_streaming_calls(token_server):
    async with channel(f"127.0.0.1:{token_server.port}") as chan:
        resp = await env_pb2_grpc.EnvServiceStub(chan).Step(env_pb2.StepRequest(action="a"))
        assert resp.observation == "did a"
        watch = trainer_pb2_grpc.TrainerServiceStub(chan).WatchTrainingRun(
            trainer_pb2.WatchTrainingRunRequest(run_id="r7")
        )
        assert [run.run_id async for run in watch] == ["r7"]


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ((), "requires the metadata 'authorization: Bearer <token>'"),
        ((("authorization", "Bearer wrong"),), "does not carry this server's token"),
        ((("authorization", TOKEN),), "does not carry this server's token"),  # no "Bearer "
    ],
)
async def test_a_call_without_the_token_is_unauthenticated_and_counted(
    token_server, metadata, message
):
    before = counted("rpcauth", "Step", "UNAUTHENTICATED")
    async with aio.insecure_channel(f"127.0.0.1:{token_server.port}") as chan:
        with pytest.raises(aio.AioRpcError) as info:
            await env_pb2_grpc.EnvServiceStub(chan).Step(
                env_pb2.StepRequest(action="a"), metadata=metadata, timeout=5
            )
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert message in info.value.details()
    assert counted("rpcauth", "Step", "UNAUTHENTICATED") == before + 1


async def test_reflection_needs_the_token_too(token_server):
    async def requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    before = counted("rpcauth", "ServerReflectionInfo", "UNAUTHENTICATED")
    async with aio.insecure_channel(f"127.0.0.1:{token_server.port}") as chan:
        stream = reflection_pb2_grpc.ServerReflectionStub(chan).ServerReflectionInfo(requests())
        with pytest.raises(aio.AioRpcError) as info:
            [resp async for resp in stream]
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert counted("rpcauth", "ServerReflectionInfo", "UNAUTHENTICATED") == before + 1
    async with channel(f"127.0.0.1:{token_server.port}") as chan:
        stream = reflection_pb2_grpc.ServerReflectionStub(chan).ServerReflectionInfo(requests())
        async for resp in stream:
            names = {s.name for s in resp.list_services_response.service}
            break
    assert "a3t.env.v1.E" in names  # the name start() registers


async def test_health_answers_without_the_token(token_server):
    # Kubernetes' native gRPC probes send no metadata.
    async with aio.insecure_channel(f"127.0.0.1:{token_server.port}") as chan:
        resp = await health_pb2_grpc.HealthStub(chan).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, made with the openssl CLI."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=a3t-test",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_tls_server_answers_a_tls_client_and_refuses_plaintext(tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("A3T_TLS_CERT_FILE", str(cert))
    monkeypatch.setenv("A3T_TLS_KEY_FILE", str(key))
    monkeypatch.setenv("A3T_TLS_CA_FILE", str(cert))
    running = await start("rpctls")
    target = f"127.0.0.1:{running.port}"
    try:
        async with channel(target) as chan:  # TLS, verified against the CA file
            resp = await env_pb2_grpc.EnvServiceStub(chan).Step(env_pb2.StepRequest(action="t"))
            assert resp.observation == "did t"
        async with aio.insecure_channel(target) as chan:
            with pytest.raises(aio.AioRpcError) as info:
                await env_pb2_grpc.EnvServiceStub(chan).Step(
                    env_pb2.StepRequest(action="t"), timeout=5
                )
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        # A client that trusts another CA refuses the server's certificate.
        (tmp_path / "other").mkdir()
        other, _ = self_signed(tmp_path / "other")
        monkeypatch.setenv("A3T_TLS_CA_FILE", str(other))
        async with channel(target) as chan:
            with pytest.raises(aio.AioRpcError) as info:
                await env_pb2_grpc.EnvServiceStub(chan).Step(
                    env_pb2.StepRequest(action="t"), timeout=5
                )
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await running.server.stop(0)
