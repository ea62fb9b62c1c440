import grpc
import pytest
from grpc import aio

from a3t.rpc.client import backoff_seconds, call


class FakeError(aio.AioRpcError):
    def __init__(self, code):
        super().__init__(code, None, None, details=f"fake {code.name}")


def _flaky(codes, result="ok"):
    calls = []

    async def method(request, timeout):
        calls.append(timeout)
        if len(calls) <= len(codes):
            raise FakeError(codes[len(calls) - 1])
        return result

    return method, calls


async def _no_sleep(_):
    return None


async def test_retries_unavailable_then_succeeds():
    method, calls = _flaky([grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED])
    assert await call(method, "req", timeout=3, attempts=3, sleep=_no_sleep) == "ok"
    assert calls == [3, 3, 3]  # every attempt has its own deadline


async def test_does_not_retry_other_codes():
    method, calls = _flaky([grpc.StatusCode.INVALID_ARGUMENT])
    with pytest.raises(aio.AioRpcError) as info:
        await call(method, "req", attempts=5, sleep=_no_sleep)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(calls) == 1


async def test_gives_up_after_attempts():
    method, calls = _flaky([grpc.StatusCode.UNAVAILABLE] * 5)
    with pytest.raises(aio.AioRpcError):
        await call(method, "req", attempts=2, sleep=_no_sleep)
    assert len(calls) == 2


def test_backoff_is_capped_and_grows():
    assert all(0 <= backoff_seconds(a, base=0.1, cap=1.0) <= 1.0 for a in range(20))
    assert max(backoff_seconds(0, base=0.1) for _ in range(200)) <= 0.1
