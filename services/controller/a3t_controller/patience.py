"""How the controller waits for a service that is down or restarting (DESIGN.md, Deployment).

A service restarting is normal in a cluster (a new image, a preempted node, a swapped policy
server). Every idempotent call the controller makes goes through `Patience.call`: UNAVAILABLE and
DEADLINE_EXCEEDED are retried with capped exponential backoff until the call succeeds or the
wait budget (`service_wait_seconds`, minutes by default) is spent; only then does the call raise
`Unavailable`, which fails the experiment (resumable: `a3t resume`). While it waits, the service
is named in the log, in `a3t_controller_waiting_for_service{service}` and, through `on_change`,
on the experiment (`a3t status`); when the service answers again that is cleared. A service that
is busy for a moment says so with RESOURCE_EXHAUSTED and a google.rpc.RetryInfo (the env when
its open queue is full): that is retried too, after the delay it asked for (stretched by a random
0-50% so that the callers it turned away do not all come back at once), within the same budget.
A RESOURCE_EXHAUSTED without that hint (the env's max_sessions) is an answer, raised at once.

A call that must not run twice (an env Step) is sent once: if it fails, or the env has lost the
session (restarted, or the session's TTL ran out during a long wait), the episode is
`EpisodeInterrupted` and the round loop plays it again from the start. Episodes are stored only
when they end, so a replayed episode is neither lost nor stored twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import grpc
from grpc import aio

from a3t.errors import A3tError, Unavailable, quote
from a3t.rpc.client import RETRYABLE, backoff_seconds
from a3t.rpc.retry_info import retry_delay
from a3t_controller import metrics
from a3t_controller.episode import EpisodeInterrupted

__all__ = ["DEFAULT_WAIT_SECONDS", "EpisodeInterrupted", "Patience", "ServiceFailed"]

log = logging.getLogger(__name__)

Response = TypeVar("Response")
DEFAULT_WAIT_SECONDS = 600.0


class ServiceFailed(A3tError):
    """A service answered a call with an error that waiting cannot fix. The message names the
    service and its address (what a failed experiment shows: `a3t status`, GetExperiment);
    `status` is the gRPC code it answered, and the code this error maps to."""

    def __init__(self, service: str, target: str, status: grpc.StatusCode, details: str):
        self.service, self.status, self.details = service, status, details
        self.code_name = status.name
        where = f" at {target}" if target else ""
        super().__init__(
            f"the {service} service{where} answered {status.name}: {quote(details, 500)} "
            "(its log has the details; once fixed, `a3t resume` continues the experiment)"
        )


class Patience:
    """Retries a service's idempotent calls while it is unreachable, up to `seconds` per call.

    `on_change(service, message)`: called with a message when a wait for `service` starts and
    with "" when the service answers again (the wiring shows it on running experiments).
    `targets`: each service's address, named in errors.
    """

    def __init__(
        self,
        seconds: float = DEFAULT_WAIT_SECONDS,
        on_change: Callable[[str, str], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        targets: Mapping[str, str] | None = None,
    ):
        if not seconds >= 0:
            raise ValueError(f"service_wait_seconds must be >= 0, got {seconds}")
        self.seconds = seconds
        self._on_change = on_change or (lambda service, message: None)
        self._sleep = sleep
        self._clock = clock
        self._waiting: dict[str, int] = {}  # service -> calls waiting for it now
        self.targets = dict(targets or {})

    def failed(self, service: str, exc: aio.AioRpcError) -> ServiceFailed:
        """The error to raise for `service`'s answer `exc`, naming the service and address."""
        return ServiceFailed(
            service, self.targets.get(service, ""), exc.code(), exc.details() or ""
        )

    async def call(
        self,
        service: str,
        method: Callable[..., Awaitable[Response]],
        request: Any,
        *,
        timeout: float,
    ) -> Response:
        """`method(request, timeout=timeout)`, retried while `service` is unreachable or busy."""
        start = self._clock()
        attempt = 0
        waiting = False
        try:
            while True:
                try:
                    return await method(request, timeout=timeout)
                except aio.AioRpcError as exc:
                    hinted = None
                    if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        hinted = retry_delay(exc)
                    if exc.code() not in RETRYABLE and hinted is None:
                        raise self.failed(service, exc) from exc
                    waited = self._clock() - start
                    if waited >= self.seconds:
                        target = self.targets.get(service)
                        raise Unavailable(
                            f"the {service} service{f' at {target}' if target else ''} did not "
                            f"answer for {waited:.0f}s "
                            f"({exc.code().name}: {exc.details()}); the wait budget is "
                            f"service_wait_seconds={self.seconds:g}: start the service, then "
                            "`a3t resume` the experiment"
                        ) from exc
                    if not waiting:
                        waiting = True
                        self._start_wait(service, exc)
                    # At least 50 ms between tries, never past the budget.
                    if hinted is not None:
                        delay = max(hinted * random.uniform(1.0, 1.5), 0.05)
                    else:
                        delay = max(backoff_seconds(attempt, base=0.5, cap=10.0), 0.05)
                    attempt += 1
                    await self._sleep(min(delay, self.seconds - waited))
        finally:
            if waiting:
                self._end_wait(service)

    def _start_wait(self, service: str, exc: aio.AioRpcError) -> None:
        self._waiting[service] = self._waiting.get(service, 0) + 1
        if self._waiting[service] == 1:
            details = (exc.details() or "")[:200]
            message = (
                f"waiting for the {service} service ({exc.code().name}: {details}), "
                f"up to {self.seconds:g}s"
            )
            log.warning("%s", message)
            metrics.WAITING.labels(service=service).set(1)
            self._on_change(service, message)

    def _end_wait(self, service: str) -> None:
        self._waiting[service] -= 1
        if self._waiting[service] == 0:
            del self._waiting[service]
            log.warning("the %s service answers again", service)
            metrics.WAITING.labels(service=service).set(0)
            self._on_change(service, "")
