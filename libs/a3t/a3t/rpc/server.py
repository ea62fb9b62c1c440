"""`serve()`: the one way every a3t service runs its gRPC server.

It gives each service the same behaviour (vLLM's grpc_server.py shape):
- a grpc.aio server with the error-mapping/metrics interceptor, health and reflection, message
  limits, and the optional shared token and TLS of a3t.rpc.security;
- health NOT_SERVING until the service's `start` hook (model or simulator load) has finished;
- Prometheus /metrics on its own port;
- SIGTERM/SIGINT: health NOT_SERVING, stop with a grace period, run the `stop` hook;
- a failed start is logged and raised, so `__main__` exits non-zero (2, in one line, for a
  --host that cannot be listened on).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from a3t.errors import ConfigError
from a3t.metrics import rpc_metrics, start_metrics_server
from a3t.rpc.interceptors import ServerInterceptor, ServingGate
from a3t.rpc.security import TokenCheck, load_security
from a3t.settings import ServiceSettings, describe, load_settings

log = logging.getLogger(__name__)

# The largest message a server or a channel() sends or accepts, both ways. Datasets, adapters and
# checkpoints travel as URIs on the shared volume; the largest message is one episode's
# trajectory (a Score request), well under 1 MiB at 50 steps. A bigger one is refused with
# RESOURCE_EXHAUSTED rather than held in memory.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

Hook = Callable[[], Awaitable[None]]
S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class Registration:
    """One gRPC service to add: the generated `add_XServicer_to_server`, the servicer, and the
    full service name (e.g. `a3t.env.v1.EnvService`) for health and reflection."""

    add_to_server: Callable[[Any, aio.Server], None]
    servicer: Any
    full_name: str


@dataclass
class RunningServer:
    """A started server; `port` and `metrics_port` are the bound ones (0 in config picks free)."""

    server: aio.Server
    health: health.aio.HealthServicer
    port: int
    metrics_port: int
    service_names: list[str] = field(default_factory=list)
    gate: ServingGate | None = None

    async def set_serving(self, serving: bool) -> None:
        if self.gate is not None:
            self.gate.open = serving
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ["", *self.service_names]:
            await self.health.set(name, status)


async def start_server(
    service: str,
    registrations: Sequence[Registration],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    metrics_port: int | None = 0,
) -> RunningServer:
    """Starts the gRPC server NOT_SERVING; the caller flips it to SERVING once ready.

    `metrics_port=None` skips the /metrics HTTP server (in-process contract tests).
    """
    security = load_security()
    _check_host(host)
    gate = ServingGate(service)
    token_check = None if security.token is None else TokenCheck(security.token)
    server = aio.server(
        interceptors=[ServerInterceptor(rpc_metrics(service), gate, token_check)],
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            # gRPC sets SO_REUSEPORT by default: a second service started on a busy port then
            # starts silently and the kernel splits new connections between the two (seen: 12
            # of 20 went to the wrong server). Without it the second bind fails, as it should.
            ("grpc.so_reuseport", 0),
        ],
    )
    names = []
    for reg in registrations:
        reg.add_to_server(reg.servicer, server)
        names.append(reg.full_name)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    address = f"{host}:{port}"
    try:
        if security.cert_chain is not None:
            assert security.private_key is not None  # load_security refuses one without the other
            credentials = grpc.ssl_server_credentials([(security.private_key, security.cert_chain)])
            bound = server.add_secure_port(address, credentials)
        else:
            bound = server.add_insecure_port(address)
    except RuntimeError:  # grpcio raises where older versions returned 0
        bound = 0
    if bound == 0:
        raise OSError(
            f"{service}: cannot listen on {host}:{port}: the port is in use (another service?) "
            "or the host is not an address of this machine; choose another --port / --host"
        )
    bound_metrics = -1 if metrics_port is None else start_metrics_server(metrics_port, host)
    running = RunningServer(server, health_servicer, bound, bound_metrics, names, gate)
    await running.set_serving(False)
    await server.start()
    log.info(
        "%s gRPC listening on %s:%d (NOT_SERVING until ready; %s, %s)",
        service,
        host,
        bound,
        "TLS" if security.cert_chain is not None else "plaintext",
        "token required" if token_check is not None else "no token",
    )
    return running


def _check_host(host: str) -> None:
    """Raises ConfigError naming --host unless `host` is an address this machine can listen on
    (gRPC's own failure says neither which part was wrong nor why)."""
    name = host.removeprefix("[").removesuffix("]")  # "[::1]" is how gRPC spells IPv6
    try:
        infos = socket.getaddrinfo(name, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(
            [
                f"--host {host!r} is neither an IP address nor a name that resolves ({exc}); "
                "use 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces)"
            ]
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind((address[0], 0))
        except OSError as exc:
            raise ConfigError(
                [
                    f"--host {host!r} ({address[0]}) is not an address of this machine ({exc}); "
                    "use 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces)"
                ]
            ) from None


async def serve(
    service: str,
    registrations: Sequence[Registration],
    *,
    host: str,
    port: int,
    metrics_port: int,
    grace_seconds: float = 10.0,
    start: Hook | None = None,
    stop: Hook | None = None,
) -> None:
    """Runs a service until SIGTERM/SIGINT. Raises if `start` fails (the process exits non-zero)."""
    running = await start_server(
        service, registrations, host=host, port=port, metrics_port=metrics_port
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        if start is not None:
            await start()
        await running.set_serving(True)
        # The e2e tests and operators wait for this line (or for health SERVING).
        log.info(
            "%s SERVING on %s:%d (metrics %d)", service, host, running.port, running.metrics_port
        )
        await stopping.wait()
        log.info("%s stopping: NOT_SERVING, grace %.1fs", service, grace_seconds)
    finally:
        await running.set_serving(False)
        await running.server.stop(grace_seconds)
        if stop is not None:
            await stop()
        log.info("%s stopped", service)


def run_service(
    service: str,
    settings_cls: type[S],
    run: Callable[[S], Coroutine[Any, Any, None]],
    argv: Sequence[str] | None = None,
) -> int:
    """The body of every service's `main()`: load and validate settings (exit 2 with every
    problem), configure logging, log the settings once, run until SIGTERM (exit 0), exit 1 on a
    failed start."""
    problems = []
    try:
        settings = load_settings(settings_cls, service, sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        load_security()  # read again by start_server; checked here to report it with the rest
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        print(f"a3t-{service}: {ConfigError(problems)}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log.info("%s settings: %s", service, describe(settings))
    try:
        asyncio.run(run(settings))
    except ConfigError as exc:  # found while starting (a --host that cannot be listened on)
        print(f"a3t-{service}: {'; '.join(exc.problems)}", file=sys.stderr)
        return 2
    except Exception:
        log.exception("%s service failed", service)
        return 1
    return 0
