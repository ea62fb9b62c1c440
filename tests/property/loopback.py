"""Plumbing for property tests against real servicers: an event loop in a background thread (the
aio servers live there) and one check for every RPC answer.

Hypothesis drives synchronous test functions, so the tests call the servers through blocking
`grpc` stubs from the test thread while the servers run on their own loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import grpc
from hypothesis import event

T = TypeVar("T")

# What a client may be told about a bad request (a3t.errors' client-side classes). INTERNAL and
# UNKNOWN mean a bug (an exception the interceptor did not expect); ABORTED means work was lost;
# UNAVAILABLE and DEADLINE_EXCEEDED mean the server did not answer in time.
CLIENT_ERRORS = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
ANSWER_SECONDS = 5.0  # "each answer under a few seconds"


class LoopThread:
    """An asyncio loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 300) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def enter(self, manager: AbstractAsyncContextManager[T]) -> T:
        return self.run(manager.__aenter__())

    def exit(self, manager: AbstractAsyncContextManager[Any]) -> None:
        self.run(manager.__aexit__(None, None, None))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def answer(
    method: Callable[..., Any], request: Any, *, stream: bool = False
) -> tuple[grpc.StatusCode, Any, str]:
    """Calls `method` (a blocking stub method) with a deadline and returns (code, response or the
    list of streamed messages, details). Fails unless the code is OK or a client error and the
    answer came within ANSWER_SECONDS."""
    start = time.monotonic()
    try:
        if stream:
            response = list(method(request, timeout=ANSWER_SECONDS))
        else:
            response = method(request, timeout=ANSWER_SECONDS)
        code, details = grpc.StatusCode.OK, ""
    except grpc.RpcError as exc:
        response, code, details = None, exc.code(), exc.details() or ""
    took = time.monotonic() - start
    # --hypothesis-show-statistics: how often a request got past validation, and why not
    event(f"{code.name} {details[:48]}")
    assert code == grpc.StatusCode.OK or code in CLIENT_ERRORS, (code, details, str(request)[:300])
    assert took < ANSWER_SECONDS, (took, str(request)[:300])
    # grpc's own RESOURCE_EXHAUSTED for a status message over the metadata limit: the server
    # echoed a huge client field instead of cutting it short (a3t.errors.quote).
    assert "metadata size exceeds" not in details, (details, str(request)[:300])
    if code != grpc.StatusCode.OK:
        assert details.strip(), (code, "an error status without a message", str(request)[:300])
    return code, response, details
