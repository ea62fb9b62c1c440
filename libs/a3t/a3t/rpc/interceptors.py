"""Server interceptor shared by every service: per-RPC metrics and the error mapping.

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

from a3t.errors import A3tError
from a3t.metrics import RpcMetrics

log = logging.getLogger(__name__)


def status_code(exc: A3tError) -> grpc.StatusCode:
    return grpc.StatusCode[exc.code_name]


class ServerInterceptor(aio.ServerInterceptor):
    """Wraps unary-unary and unary-stream handlers with error mapping and metrics."""

    def __init__(self, metrics: RpcMetrics):
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method.rsplit("/", 1)[-1]
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client-streaming RPCs: none in a3t's protos

    def _wrap_unary(self, method: str, behavior: Callable[..., Awaitable[Any]]):
        async def wrapped(request: Any, context: aio.ServicerContext) -> Any:
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
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

    def _wrap_stream(self, method: str, behavior: Callable[..., AsyncIterator[Any]]):
        async def wrapped(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
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
