"""When to retry a busy server: google.rpc.RetryInfo in a status's details, both ways.

A server that is busy for a moment (the env's open queue is full) raises
`ResourceExhausted(..., retry_after_seconds=s)`; the interceptor sends the status with
`trailers(exc, code)`, which carry a google.rpc.Status holding a RetryInfo (the standard
`grpc-status-details-bin` trailer that any gRPC client library can read). a3t's clients read it
back with `retry_delay(exc)` and retry after that delay instead of failing.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc import aio
from grpc_status import rpc_status

from a3t.errors import A3tError, ResourceExhausted


def trailers(exc: A3tError, code: grpc.StatusCode) -> tuple[tuple[str, str | bytes], ...]:
    """The trailing metadata of an error status: a RetryInfo when the error carries a delay."""
    if not isinstance(exc, ResourceExhausted) or exc.retry_after_seconds is None:
        return ()
    delay = duration_pb2.Duration()
    delay.FromMilliseconds(round(exc.retry_after_seconds * 1000))
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    status = status_pb2.Status(code=code.value[0], message=str(exc), details=[detail])
    return tuple(rpc_status.to_status(status).trailing_metadata)


def retry_delay(exc: aio.AioRpcError) -> float | None:
    """Seconds the server asked the client to wait before retrying (its RetryInfo), or None."""
    try:
        # from_call reads only code(), details() and trailing_metadata(), which an AioRpcError
        # has; grpc-status's stubs ask for a sync grpc.Call.
        status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    except ValueError:  # details that do not match the status: not a hint to trust
        return None
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToTimedelta().total_seconds()
    return None
