"""Circuit breakers per partner, their state in hot state so every gateway process sees it.

One key per partner holds the state: absent means closed; ``open:<until>``
means open until the epoch second ``until``; past ``until`` it is half-open,
and exactly one process wins the probe key and sends one trial call. The
trial's success closes the circuit (the key is deleted); its failure opens it
for another cool-down. Failures are counted in fixed windows of the policy's
``window_s``; reaching ``failure_threshold`` in a window opens the circuit.

The closed path costs one read of hot state per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from contracts import CircuitBreakerPolicy
from gateway.hotstate import HotState, Keyspace
from gateway.logs import get_logger
from gateway.metrics import GatewayMetrics

__all__ = ["Admission", "BreakerState", "CircuitBreakers", "CircuitOpen"]

_log = get_logger("gateway.dispatch")
# How long an opened circuit's state outlives its cool-down before it is forgotten.
_STATE_TTL_SECONDS: Final = 86_400.0


class BreakerState(StrEnum):
    """Where a partner's circuit stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """The partner's circuit is open (or its one half-open trial is in flight)."""

    def __init__(self, partner_id: str, retry_in: float) -> None:
        super().__init__(f"circuit of {partner_id} is open; next trial in {retry_in:.0f} s")
        self.partner_id = partner_id
        self.retry_in = retry_in


@dataclass(frozen=True, slots=True)
class Admission:
    """Permission for one call; ``probe`` marks the half-open trial."""

    partner_id: str
    probe: bool


class CircuitBreakers:
    """All partners' breakers, over the shared hot state."""

    def __init__(
        self,
        hot_state: HotState,
        keys: Keyspace,
        metrics: GatewayMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._hot = hot_state
        self._keys = keys
        self._metrics = metrics
        self._clock = clock

    async def state(self, partner_id: str) -> tuple[BreakerState, float]:
        """The circuit's state and, when open, the seconds until its half-open trial."""
        raw = await self._hot.get(self._keys.breaker_state(partner_id, _STATE_TTL_SECONDS))
        if raw is None:
            return BreakerState.CLOSED, 0.0
        until = float(raw.decode().partition(":")[2] or 0)
        remaining = until - self._clock()
        if remaining > 0:
            return BreakerState.OPEN, remaining
        return BreakerState.HALF_OPEN, 0.0

    async def admit(self, partner_id: str, policy: CircuitBreakerPolicy) -> Admission:
        """Allow one call or raise ``CircuitOpen``."""
        state, remaining = await self.state(partner_id)
        if state is BreakerState.CLOSED:
            return Admission(partner_id, probe=False)
        if state is BreakerState.OPEN:
            raise CircuitOpen(partner_id, remaining)
        probe = self._keys.breaker_probe(partner_id, policy.cooldown_s)
        if await self._hot.set_if_absent(probe, b"1"):
            self._metrics.circuit_transitions.labels(partner_id, BreakerState.HALF_OPEN).inc()
            return Admission(partner_id, probe=True)
        raise CircuitOpen(partner_id, policy.cooldown_s)

    async def record_success(self, admission: Admission) -> None:
        """A call succeeded: a half-open trial closes the circuit."""
        if not admission.probe:
            return
        partner_id = admission.partner_id
        await self._hot.delete(self._keys.breaker_state(partner_id, _STATE_TTL_SECONDS))
        await self._hot.delete(self._keys.breaker_probe(partner_id, 1))
        self._metrics.circuit_transitions.labels(partner_id, BreakerState.CLOSED).inc()
        _log.info("circuit.closed", partner_id=partner_id)

    async def record_failure(self, admission: Admission, policy: CircuitBreakerPolicy) -> None:
        """A call failed in a way that counts (unavailable, timed out)."""
        partner_id = admission.partner_id
        now = self._clock()
        if admission.probe:
            await self._open(partner_id, policy, now)
            await self._hot.delete(self._keys.breaker_probe(partner_id, 1))
            return
        window = int(now // policy.window_s)
        failures = await self._hot.increment(
            self._keys.breaker_failures(partner_id, window, policy.window_s)
        )
        if failures == policy.failure_threshold:
            await self._open(partner_id, policy, now)

    async def reset(self, partner_id: str) -> None:
        """Close the circuit by hand (operators, tests)."""
        await self._hot.delete(self._keys.breaker_state(partner_id, _STATE_TTL_SECONDS))
        await self._hot.delete(self._keys.breaker_probe(partner_id, 1))

    async def _open(self, partner_id: str, policy: CircuitBreakerPolicy, now: float) -> None:
        until = now + policy.cooldown_s
        await self._hot.set(
            self._keys.breaker_state(partner_id, _STATE_TTL_SECONDS), f"open:{until}".encode()
        )
        self._metrics.circuit_transitions.labels(partner_id, BreakerState.OPEN).inc()
        _log.warning("circuit.opened", partner_id=partner_id, cooldown_s=policy.cooldown_s)
