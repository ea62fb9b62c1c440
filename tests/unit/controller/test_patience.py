"""Waiting for a service that is down: retried up to the budget, shown while it lasts, cleared
when the service answers, and a clear error naming the service and the setting after it."""

import grpc
import pytest
from grpc import aio

from a3t.errors import Unavailable
from a3t_controller import metrics
from a3t_controller.patience import Patience, ServiceFailed


def rpc_error(code: grpc.StatusCode, details: str = "connection refused") -> aio.AioRpcError:
    return aio.AioRpcError(code, aio.Metadata(), aio.Metadata(), details)


class Clock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def failing(times: int, code=grpc.StatusCode.UNAVAILABLE):
    calls = []

    async def method(request, timeout):
        calls.append((request, timeout))
        if len(calls) <= times:
            raise rpc_error(code)
        return f"answer to {request}"

    return method, calls


def waiting_gauge(service: str) -> float:
    return metrics.WAITING.labels(service=service)._value.get()


async def test_waits_while_the_service_is_down_and_says_so():
    clock, changes = Clock(), []
    patience = Patience(60, lambda s, m: changes.append((s, m)), clock.sleep, clock.time)
    seen_during_wait = []

    async def method(request, timeout):
        seen_during_wait.append(waiting_gauge("policy"))
        if len(seen_during_wait) <= 5:
            raise rpc_error(grpc.StatusCode.UNAVAILABLE)
        return "ok"

    assert await patience.call("policy", method, "req", timeout=3) == "ok"
    assert len(seen_during_wait) == 6 and seen_during_wait[1:] == [1.0] * 5
    assert waiting_gauge("policy") == 0.0
    (service, message), back = changes
    assert service == "policy" and "waiting for the policy service (UNAVAILABLE" in message
    assert "up to 60s" in message
    assert back == ("policy", "")
    assert len(clock.slept) == 5 and sum(clock.slept) < 60


async def test_gives_up_after_the_budget_naming_service_and_setting():
    clock, changes = Clock(), []
    patience = Patience(30, lambda s, m: changes.append(m), clock.sleep, clock.time)
    method, _ = failing(10**6)
    with pytest.raises(Unavailable) as info:
        await patience.call("trainer", method, "req", timeout=3)
    assert "the trainer service did not answer for 30s" in str(info.value)
    assert "service_wait_seconds=30" in str(info.value) and "a3t resume" in str(info.value)
    assert clock.now == pytest.approx(30)  # never sleeps past the budget
    assert changes[-1] == "" and waiting_gauge("trainer") == 0.0


async def test_other_errors_are_answers_and_raise_at_once_naming_the_service():
    clock = Clock()
    patience = Patience(60, None, clock.sleep, clock.time, targets={"env": "10.0.0.7:50051"})
    method, calls = failing(1, grpc.StatusCode.INVALID_ARGUMENT)
    with pytest.raises(ServiceFailed) as info:
        await patience.call("env", method, "req", timeout=3)
    assert info.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.code_name == "INVALID_ARGUMENT"  # what the controller's own RPCs answer
    # What a failed experiment shows: the service, its address, the code, what to do.
    assert str(info.value).startswith(
        "the env service at 10.0.0.7:50051 answered INVALID_ARGUMENT: 'connection refused' "
    )
    assert "a3t resume" in str(info.value)
    assert len(calls) == 1 and clock.slept == []


async def test_the_spent_wait_budget_names_the_services_address():
    clock = Clock()
    patience = Patience(5, None, clock.sleep, clock.time, targets={"policy": "pol:50052"})
    method, _ = failing(10**6)
    with pytest.raises(Unavailable, match=r"^the policy service at pol:50052 did not answer"):
        await patience.call("policy", method, "req", timeout=3)


async def test_a_zero_budget_tries_once():
    clock = Clock()
    method, calls = failing(1)
    with pytest.raises(Unavailable):
        await Patience(0, None, clock.sleep, clock.time).call("env", method, "r", timeout=1)
    assert len(calls) == 1


async def test_two_calls_waiting_for_one_service_show_one_wait():
    clock, changes = Clock(), []
    patience = Patience(60, lambda s, m: changes.append(m), clock.sleep, clock.time)
    first, _ = failing(2)
    second, _ = failing(3)
    await patience.call("env", first, "a", timeout=1)
    await patience.call("env", second, "b", timeout=1)
    # One after the other here; each wait starts and ends once.
    assert [bool(m) for m in changes] == [True, False, True, False]


def test_a_negative_or_nan_budget_is_refused():
    for bad in (-1, float("nan")):
        with pytest.raises(ValueError, match="service_wait_seconds must be >= 0"):
            Patience(bad)


async def test_calls_that_hit_one_restart_share_one_adapter_reload():
    import asyncio

    from a3t_controller.clients import GrpcAdapters

    served: set[str] = set()
    loads = []

    async def load(request, timeout):
        loads.append(request.adapter.name)
        served.discard(request.adapter.name)  # a reload replaces the adapter: a short gap
        await asyncio.sleep(0.01)
        served.add(request.adapter.name)

    async def act(request, timeout):
        await asyncio.sleep(0.001)
        if request not in served:
            raise rpc_error(grpc.StatusCode.NOT_FOUND, f"adapter {request!r} is not loaded")
        return "acted"

    adapters = GrpcAdapters(load, "policy", Patience(5))
    await adapters.load_adapter("round-0", "/adapters/round-0")
    served.clear()  # the policy restarted and lost it
    results = await asyncio.gather(
        *(adapters.call_reloading(act, "round-0", "round-0") for _ in range(4))
    )
    assert results == ["acted"] * 4
    assert loads == ["round-0", "round-0"]  # the first load, then one reload for all four


async def test_a_busy_service_is_retried_after_the_delay_it_asks_for():
    from a3t.errors import ResourceExhausted
    from a3t.rpc.retry_info import trailers

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    busy = ResourceExhausted("2 opens are pending; retry in 2.00s", retry_after_seconds=2.0)
    full = ResourceExhausted("256 sessions are open, the limit (max_sessions)")
    clock = Clock()
    patience = Patience(60, None, clock.sleep, clock.time)
    answers = [busy, busy, "opened"]

    async def create(request, timeout):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise aio.AioRpcError(
                code, aio.Metadata(), aio.Metadata(*trailers(answer, code)), str(answer)
            )
        return answer

    assert await patience.call("env", create, "req", timeout=3) == "opened"
    assert len(clock.slept) == 2 and all(2.0 <= s <= 3.0 for s in clock.slept)
    # Without a hint RESOURCE_EXHAUSTED is an answer: raised at once.
    answers[:] = [full]
    with pytest.raises(ServiceFailed, match="max_sessions"):
        await patience.call("env", create, "req", timeout=3)
    assert len(clock.slept) == 2
