"""Server interceptor shared by every service: per-RPC metrics, the error mapping, and the gate
that answers UNAVAILABLE while the service is not SERVING.

Core code raises `a3t.errors.A3tError` subclasses; this is the one place that turns them into gRPC
statuses (AIP-193: the message names the field and the fix). Anything else is a bug: it is logged
with its traceback and answered INTERNAL, so a client never sees a hang or a success payload that
carries an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from a3t.errors import A3tError, Unavailable
from a3t.metrics import RpcMetrics

log = logging.getLogger(__name__)


def status_code(exc: A3tError) -> grpc.StatusCode:
    return grpc.StatusCode[exc.code_name]


class ServingGate:
    """Open while the service is SERVING. The port listens before the model, simulator or run
    records have loaded (health says NOT_SERVING meanwhile), and again while it drains on SIGTERM;
    an RPC in those windows would see a half-started service (seen: a restarted trainer answered
    NOT_FOUND for a run it had on disk but had not read yet). Closed, every RPC but health and
    reflection answers UNAVAILABLE, which clients retry."""

    def __init__(self, service: str):
        self.service = service
        self.open = False


# Always answered: they say whether the service is ready, and what it serves.
_UNGATED = ("/grpc.health.", "/grpc.reflection.")


class ServerInterceptor(aio.ServerInterceptor):
    """Wraps unary-unary and unary-stream handlers with the serving gate, error mapping and
    metrics."""

    def __init__(self, metrics: RpcMetrics, gate: ServingGate | None = None):
        self._metrics = metrics
        self._gate = gate

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method.rsplit("/", 1)[-1]
        gated = self._gate is not None and not details.method.startswith(_UNGATED)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary, gated),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream, gated),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client-streaming RPCs: none in a3t's protos

    def _check_gate(self) -> None:
        if self._gate is not None and not self._gate.open:
            raise Unavailable(
                f"the {self._gate.service} service is not SERVING (starting or shutting down); "
                "retry shortly"
            )

    def _wrap_unary(self, method: str, behavior: Callable[..., Awaitable[Any]], gated: bool):
        async def wrapped(request: Any, context: aio.ServicerContext) -> Any:
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                if gated:
                    self._check_gate()
                return await behavior(request, context)
            except A3tError as exc:
                code = status_code(exc)
                await context.abort(code, str(exc))
            except aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except NotImplementedError:  # what generated base servicers raise
                code = grpc.StatusCode.UNIMPLEMENTED
                await context.abort(code, f"{method} is not implemented by this server")
            except Exception as exc:  # a bug: keep the server alive and say so
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in %s", method)
                await context.abort(
                    code, f"internal error in {method}: {type(exc).__name__}: {exc}"
                )
            finally:
                self._metrics.observe(method, code.name, time.perf_counter() - start)

        return wrapped

    def _wrap_stream(self, method: str, behavior: Callable[..., AsyncIterator[Any]], gated: bool):
        async def wrapped(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                if gated:
                    self._check_gate()
                async for item in behavior(request, context):
                    yield item
            except A3tError as exc:
                code = status_code(exc)
                await context.abort(code, str(exc))
            except aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except NotImplementedError:  # what generated base servicers raise
                code = grpc.StatusCode.UNIMPLEMENTED
                await context.abort(code, f"{method} is not implemented by this server")
            except Exception as exc:
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in %s", method)
                await context.abort(
                    code, f"internal error in {method}: {type(exc).__name__}: {exc}"
                )
            finally:
                self._metrics.observe(method, code.name, time.perf_counter() - start)

        return wrapped
