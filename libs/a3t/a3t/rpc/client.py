"""Client helpers: channels, a deadline on every call, retries with backoff, health waiting.

Only UNAVAILABLE and DEADLINE_EXCEEDED are retried (the server may be starting or overloaded);
every other status is the server's answer and is raised at once. A call that must not run twice
(an env Step) passes `attempts=1`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from a3t.rpc.security import load_security, token_interceptors
from a3t.rpc.server import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
DEFAULT_TIMEOUT_SECONDS = 30.0

Response = TypeVar("Response")


def channel(target: str) -> aio.Channel:
    """An aio channel to `host:port` with a3t's message limits and its transport security
    (a3t.rpc.security): TLS when `A3T_TLS_CA_FILE` is set, the shared token on every call when
    `A3T_AUTH_TOKEN_FILE` is. Every client a3t makes goes through here. Raises ConfigError when
    a configured file is unusable."""
    security = load_security()
    options = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    interceptors = token_interceptors(security.token) if security.token else None
    if security.root_certificates is not None:
        credentials = grpc.ssl_channel_credentials(root_certificates=security.root_certificates)
        return aio.secure_channel(target, credentials, options, interceptors=interceptors)
    return aio.insecure_channel(target, options, interceptors=interceptors)


def backoff_seconds(attempt: int, base: float = 0.1, cap: float = 5.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2**attempt))


async def call(
    method: Callable[..., Awaitable[Response]],
    request: Any,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    attempts: int = 4,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Response:
    """Calls a unary stub method with a per-attempt deadline; retries only retryable codes."""
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    for attempt in range(attempts):
        try:
            return await method(request, timeout=timeout)
        except aio.AioRpcError as exc:
            if exc.code() not in RETRYABLE or attempt == attempts - 1:
                raise
            delay = backoff_seconds(attempt)
            log.warning(
                "%s: %s (%s); retry %d/%d in %.2fs",
                getattr(method, "_method", method),
                exc.code().name,
                exc.details(),
                attempt + 1,
                attempts - 1,
                delay,
            )
            await sleep(delay)
    raise AssertionError("unreachable")


async def wait_for_serving(target: str, timeout: float = 120.0, service: str = "") -> None:
    """Polls grpc.health.v1 until the server reports SERVING; raises TimeoutError with the last
    status seen otherwise."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    async with channel(target) as chan:
        stub = health_pb2_grpc.HealthStub(chan)
        while time.monotonic() < deadline:
            try:
                # types-grpcio-health-checking's HealthStub omits the methods grpc generates.
                request = health_pb2.HealthCheckRequest(service=service)
                resp = await stub.Check(request, timeout=2)  # type: ignore[attr-defined]
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            except aio.AioRpcError as exc:
                last = f"{exc.code().name}: {exc.details()}"
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{target} not SERVING after {timeout:.0f}s (last: {last})")
