"""Server interceptor shared by every service: per-RPC metrics, the error mapping, the gate
that answers UNAVAILABLE while the service is not SERVING, and the shared-token check
(a3t.rpc.security).

Every call is counted in `a3t_<service>_rpc_requests_total{method,code}` with the code the client
sees: a refused token (UNAUTHENTICATED), undecodable request bytes (INVALID_ARGUMENT), a client
that went away (CANCELLED) and a passed deadline (DEADLINE_EXCEEDED) included. A request larger
than the message limit is refused by gRPC before any handler exists and is not counted here.

Core code raises `a3t.errors.A3tError` subclasses; this is the one place that turns them into gRPC
statuses (AIP-193: the message names the field and the fix). Anything else is a bug: it is logged
with its traceback and answered INTERNAL, so a client never sees a hang or a success payload that
carries an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import grpc
from google.protobuf.message import DecodeError
from grpc import aio

from a3t.errors import A3tError, InvalidArgument, Unauthenticated, Unavailable
from a3t.metrics import RpcMetrics
from a3t.rpc.retry_info import trailers
from a3t.rpc.security import TokenCheck

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
# Answered without the token: Kubernetes' native gRPC probes cannot send metadata.
_UNAUTHENTICATED_OK = "/grpc.health.v1."
# A server-streaming handler on an aio server: (request, context) -> async iterator of responses.
StreamBehavior = Callable[..., AsyncIterator[Any]]


@dataclass(frozen=True)
class _Call:
    """What the wrapper of one RPC needs to know before it runs the handler."""

    method: str
    gated: bool
    # Set when the call lacks the shared token: raised before anything else runs.
    denied: Unauthenticated | None
    # The generated `Message.FromString`; None where the handler takes bytes.
    deserialize: Callable[[bytes], Any] | None


def _decode(call: _Call, raw: Any) -> Any:
    """The request message from its bytes. Decoding happens here, inside the wrapper, rather than
    in gRPC's deserializer, so that undecodable bytes answer INVALID_ARGUMENT and are counted
    (gRPC itself would answer UNKNOWN before the interceptor saw the call)."""
    if call.deserialize is None:
        return raw
    try:
        return call.deserialize(raw)
    except DecodeError as exc:
        name = call.deserialize.__qualname__.removesuffix(".FromString")
        raise InvalidArgument(
            f"request is not a valid {name}: {exc}; send a serialized {name} message"
        ) from None


def _cancelled_code(context: aio.ServicerContext) -> grpc.StatusCode:
    """What ended a handler that was cancelled: its deadline, or the client going away."""
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.CANCELLED


class ServerInterceptor(aio.ServerInterceptor):
    """Wraps unary-unary and unary-stream handlers with the token check, the serving gate,
    request decoding, error mapping and metrics."""

    def __init__(
        self,
        metrics: RpcMetrics,
        gate: ServingGate | None = None,
        token_check: TokenCheck | None = None,
    ):
        self._metrics = metrics
        self._gate = gate
        self._token_check = token_check

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None:
            return handler
        call = _Call(
            method=details.method.rsplit("/", 1)[-1],
            gated=self._gate is not None and not details.method.startswith(_UNGATED),
            denied=self._denied(details),
            deserialize=handler.request_deserializer,
        )
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(call, handler.unary_unary),
                request_deserializer=None,  # _decode does it
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                # grpc's stubs type handlers as the sync API's; an aio server's unary_stream
                # handler is an async generator function.
                self._wrap_stream(call, cast(StreamBehavior, handler.unary_stream)),
                request_deserializer=None,
                response_serializer=handler.response_serializer,
            )
        if call.denied is not None:  # client-streaming (reflection): refused, and counted
            return grpc.stream_stream_rpc_method_handler(
                self._refuse(call), request_deserializer=None, response_serializer=None
            )
        return handler  # client-streaming RPCs: none in a3t's protos (reflection's pass as is)

    def _refuse(self, call: _Call):
        async def refused(requests: AsyncIterator[Any], context: aio.ServicerContext):
            self._metrics.observe(call.method, grpc.StatusCode.UNAUTHENTICATED.name, 0.0)
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(call.denied))
            yield  # never reached: makes this the async generator a streaming handler is

        return refused

    def _denied(self, details: grpc.HandlerCallDetails) -> Unauthenticated | None:
        if self._token_check is None or details.method.startswith(_UNAUTHENTICATED_OK):
            return None
        try:
            self._token_check.check(details.invocation_metadata)
        except Unauthenticated as exc:
            return exc
        return None

    def _admit(self, call: _Call, raw: Any) -> Any:
        """Token, gate, then decoding: the checks every RPC passes before its handler runs."""
        if call.denied is not None:
            raise call.denied
        if call.gated and self._gate is not None and not self._gate.open:
            raise Unavailable(
                f"the {self._gate.service} service is not SERVING (starting or shutting down); "
                "retry shortly"
            )
        return _decode(call, raw)

    def _wrap_unary(self, call: _Call, behavior: Callable[..., Awaitable[Any]]):
        method = call.method

        async def wrapped(raw: Any, context: aio.ServicerContext) -> Any:
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                return await behavior(self._admit(call, raw), context)
            except A3tError as exc:
                code = status_code(exc)
                await context.abort(code, str(exc), trailers(exc, code))
            except aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except asyncio.CancelledError:  # the client cancelled, or the deadline passed
                code = _cancelled_code(context)
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

    def _wrap_stream(self, call: _Call, behavior: StreamBehavior):
        method = call.method

        async def wrapped(raw: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                async for item in behavior(self._admit(call, raw), context):
                    yield item
            except A3tError as exc:
                code = status_code(exc)
                await context.abort(code, str(exc), trailers(exc, code))
            except aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            # Cancelled while the handler awaited (CancelledError) or while its last item was
            # being sent (gRPC closes the generator: GeneratorExit).
            except (asyncio.CancelledError, GeneratorExit):
                code = _cancelled_code(context)
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
