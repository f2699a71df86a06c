"""Retries only when safe, Retry-After honoured, the deadline respected, failures counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from adapters import (
    OutboundCall,
    PartnerCallError,
    PartnerRateLimited,
    PartnerRejected,
    PartnerUnavailable,
)
from contracts import (
    EXAMPLE_REQUESTS,
    Operation,
    PartnerAgreement,
    ServiceResult,
)
from gateway.dispatch.breaker import BreakerState, CircuitBreakers, CircuitOpen
from gateway.dispatch.resilience import Deadline, ResilientCaller
from gateway.hotstate import Keyspace, MemoryHotState
from gateway.metrics import GatewayMetrics
from gateway.registry import load_registry

PARTNERS = Path(__file__).resolve().parents[3] / "partners"
BOOKING = {
    "operation": "courtesy_car.book",
    "partner_reference": "SR-1",
    "eta": "2030-05-20T09:40:00+08:00",
    "daily_price": {"amount": 12000, "currency": "CNY"},
    "vehicle_class": "compact",
}


class Scripted:
    """An adapter whose calls fail or succeed as scripted."""

    dialect = "scripted"

    def __init__(self, outcomes: Sequence[Exception | float | None], *, safe: bool) -> None:
        self.outcomes = list(outcomes)
        self.safe = safe
        self.calls = 0

    def operations(self) -> frozenset[Operation]:
        return frozenset(Operation)

    def retry_safe(self, operation: Operation) -> bool:
        return self.safe

    async def call(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        if isinstance(outcome, Exception):
            raise outcome
        if isinstance(outcome, float):
            await asyncio.sleep(outcome)
        from contracts import CourtesyCarBooking

        return CourtesyCarBooking.model_validate(BOOKING)

    async def cancel(
        self, http: httpx.AsyncClient, *, order_id: str, partner_reference: str | None
    ) -> None:
        return None


@pytest.fixture(scope="module")
def swiftrent() -> PartnerAgreement:
    agreement = load_registry(PARTNERS).get("swiftrent")
    api = agreement.api.model_dump() | {
        "retry": {"max_attempts": 3, "initial_backoff_s": 0.01, "max_backoff_s": 0.02},
        "timeouts": {"connect": 0.1, "read": 0.2},
        "circuit_breaker": {"failure_threshold": 4, "window_s": 60, "cooldown_s": 30},
    }
    return PartnerAgreement.model_validate(agreement.model_dump() | {"api": api})


@pytest.fixture
def caller() -> ResilientCaller:
    metrics = GatewayMetrics()
    return ResilientCaller(CircuitBreakers(MemoryHotState(), Keyspace("t:"), metrics), metrics)


def _call(agreement: PartnerAgreement) -> OutboundCall:
    order_id = "ord_01jq3v8y0a1b2c3d4e5f6g7h8j"
    request = EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK]
    return OutboundCall(
        agreement.id, order_id, request.operation, request.model_dump(mode="json"), order_id
    )


async def _run(
    caller: ResilientCaller, agreement: PartnerAgreement, adapter: Scripted, seconds: float = 5
) -> ServiceResult:
    async with httpx.AsyncClient() as http:
        return await caller.call(
            agreement, adapter, http, _call(agreement), Deadline.within(seconds)
        )


async def test_retries_a_safe_call_until_it_succeeds(caller, swiftrent) -> None:  # type: ignore[no-untyped-def]
    adapter = Scripted([PartnerUnavailable("503"), PartnerUnavailable("503"), None], safe=True)
    result = await _run(caller, swiftrent, adapter)
    assert result.operation is Operation.COURTESY_CAR_BOOK and adapter.calls == 3


async def test_gives_up_after_max_attempts(caller, swiftrent) -> None:  # type: ignore[no-untyped-def]
    adapter = Scripted([PartnerUnavailable("503")], safe=True)
    with pytest.raises(PartnerUnavailable):
        await _run(caller, swiftrent, adapter)
    assert adapter.calls == 3


async def test_does_not_repeat_an_unsafe_call_that_may_have_acted(caller, swiftrent) -> None:  # type: ignore[no-untyped-def]
    adapter = Scripted([PartnerUnavailable("read timeout", timed_out=True), None], safe=False)
    with pytest.raises(PartnerUnavailable):
        await _run(caller, swiftrent, adapter)
    assert adapter.calls == 1


async def test_repeats_an_unsafe_call_that_never_left(caller, swiftrent) -> None:  # type: ignore[no-untyped-def]
    adapter = Scripted([PartnerUnavailable("refused", sent=False), None], safe=False)
    await _run(caller, swiftrent, adapter)
    assert adapter.calls == 2


@pytest.mark.parametrize(
    "error", [PartnerRejected("no cars", code="sr4001"), PartnerCallError("auth")]
)
async def test_never_retries_a_refusal(caller, swiftrent, error: Exception) -> None:  # type: ignore[no-untyped-def]
    adapter = Scripted([error, None], safe=True)
    with pytest.raises(type(error)):
        await _run(caller, swiftrent, adapter)
    assert adapter.calls == 1


async def test_waits_at_least_retry_after(caller, swiftrent) -> None:  # type: ignore[no-untyped-def]
    adapter = Scripted([PartnerRateLimited("429", retry_after=0.3), None], safe=True)
    started = time.monotonic()
    await _run(caller, swiftrent, adapter)
    assert time.monotonic() - started >= 0.3 and adapter.calls == 2


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for(caller, swiftrent) -> None:  # type: ignore[no-untyped-def]
    adapter = Scripted([PartnerRateLimited("429", retry_after=30), None], safe=True)
    started = time.monotonic()
    with pytest.raises(PartnerRateLimited):
        await _run(caller, swiftrent, adapter, seconds=1)
    assert time.monotonic() - started < 0.5 and adapter.calls == 1


async def test_each_attempt_is_cut_at_the_agreements_timeout(caller, swiftrent) -> None:  # type: ignore[no-untyped-def]
    adapter = Scripted([5.0], safe=False)  # hangs far beyond connect + read = 0.3 s
    started = time.monotonic()
    with pytest.raises(PartnerUnavailable) as caught:
        await _run(caller, swiftrent, adapter)
    assert caught.value.timed_out and time.monotonic() - started < 1.0


async def test_the_overall_deadline_bounds_all_attempts(caller, swiftrent) -> None:  # type: ignore[no-untyped-def]
    adapter = Scripted([5.0], safe=True)
    started = time.monotonic()
    with pytest.raises(PartnerUnavailable):
        await _run(caller, swiftrent, adapter, seconds=0.45)
    assert time.monotonic() - started < 0.7


async def test_failures_open_the_breaker_then_calls_stop(caller, swiftrent) -> None:  # type: ignore[no-untyped-def]
    adapter = Scripted([PartnerUnavailable("503")], safe=True)
    with pytest.raises(PartnerUnavailable):
        await _run(caller, swiftrent, adapter)  # 3 failures
    with pytest.raises(CircuitOpen):
        await _run(caller, swiftrent, adapter)  # the 4th opens the circuit; the 5th finds it open
    assert (await caller.breakers.state("swiftrent"))[0] is BreakerState.OPEN
    calls = adapter.calls
    with pytest.raises(CircuitOpen):
        await _run(caller, swiftrent, adapter)
    assert adapter.calls == calls
