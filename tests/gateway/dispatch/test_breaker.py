"""The circuit breaker's state lives in Redis: what one process opens, another sees."""

from __future__ import annotations

import pytest

from contracts import CircuitBreakerPolicy
from gateway.dispatch.breaker import BreakerState, CircuitBreakers, CircuitOpen
from gateway.hotstate import Keyspace, MemoryHotState, RedisHotState
from gateway.metrics import GatewayMetrics

POLICY = CircuitBreakerPolicy(failure_threshold=3, window_s=60, cooldown_s=30)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def pair(redis_url: str, redis_prefix: str):  # type: ignore[no-untyped-def]
    """Two breakers on two Redis connections: two gateway processes."""
    clock = Clock()
    states = [RedisHotState.from_url(redis_url) for _ in range(2)]
    keys = Keyspace(redis_prefix)
    yield [CircuitBreakers(s, keys, GatewayMetrics(), clock) for s in states], clock
    for state in states:
        await state.close()


async def test_opens_after_threshold_and_is_seen_by_another_process(pair) -> None:  # type: ignore[no-untyped-def]
    (first, second), _clock = pair
    for _ in range(POLICY.failure_threshold):
        admission = await first.admit("swiftrent", POLICY)
        await first.record_failure(admission, POLICY)
    state, remaining = await second.state("swiftrent")
    assert state is BreakerState.OPEN and remaining == pytest.approx(30)
    with pytest.raises(CircuitOpen):
        await second.admit("swiftrent", POLICY)
    # Other partners are untouched.
    assert (await second.admit("citycar", POLICY)).probe is False


async def test_half_open_lets_one_trial_through_then_closes(pair) -> None:  # type: ignore[no-untyped-def]
    (first, second), clock = pair
    for _ in range(POLICY.failure_threshold):
        await first.record_failure(await first.admit("pingsure", POLICY), POLICY)
    clock.now += POLICY.cooldown_s + 1
    probe = await first.admit("pingsure", POLICY)
    assert probe.probe is True
    with pytest.raises(CircuitOpen):
        await second.admit("pingsure", POLICY)  # the trial is in flight elsewhere
    await first.record_success(probe)
    assert (await second.state("pingsure"))[0] is BreakerState.CLOSED
    assert (await second.admit("pingsure", POLICY)).probe is False


async def test_failed_trial_reopens(pair) -> None:  # type: ignore[no-untyped-def]
    (first, second), clock = pair
    for _ in range(POLICY.failure_threshold):
        await first.record_failure(await first.admit("voltgrid", POLICY), POLICY)
    clock.now += POLICY.cooldown_s + 1
    probe = await second.admit("voltgrid", POLICY)
    await second.record_failure(probe, POLICY)
    state, remaining = await first.state("voltgrid")
    assert state is BreakerState.OPEN and remaining == pytest.approx(30)


async def test_failures_in_an_old_window_do_not_count() -> None:
    clock = Clock()
    breakers = CircuitBreakers(MemoryHotState(), Keyspace("t:"), GatewayMetrics(), clock)
    for _ in range(POLICY.failure_threshold - 1):
        await breakers.record_failure(await breakers.admit("meilife", POLICY), POLICY)
    clock.now += POLICY.window_s
    await breakers.record_failure(await breakers.admit("meilife", POLICY), POLICY)
    assert (await breakers.state("meilife"))[0] is BreakerState.CLOSED
