"""One partner call under its agreement's terms: timeouts, retries, and the circuit breaker.

Built with tenacity from the agreement's ``api`` section:

- each attempt has the budget ``timeouts.connect + timeouts.read`` (enforced
  with ``asyncio.timeout`` too, so a partner that trickles bytes or an
  in-process transport without socket timeouts cannot hold a request longer),
  and never more than what is left of the request's overall deadline;
- a failed attempt is retried, with exponential backoff and full jitter
  (``retry.initial_backoff_s`` doubling up to ``retry.max_backoff_s``), only
  when the failure is retryable (unavailable, rate limited) **and** repeating
  the call is safe: the adapter says the operation is idempotent at that
  partner, or the request never left (connection refused);
- a 429 waits at least the partner's ``Retry-After``;
- no retry starts if its pause would overrun the deadline;
- every attempt asks the partner's circuit breaker first, and unavailability
  and timeouts count against it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from adapters import (
    OutboundCall,
    PartnerAdapter,
    PartnerAuthFailed,
    PartnerCallError,
    PartnerRateLimited,
    PartnerRejected,
    PartnerUnavailable,
)
from contracts import PartnerAgreement, ServiceResult
from gateway.dispatch.breaker import CircuitBreakers
from gateway.metrics import GatewayMetrics

__all__ = ["Deadline", "ResilientCaller"]

T = TypeVar("T")

# An attempt is not worth starting with less than this left of the deadline.
_MIN_ATTEMPT_SECONDS: Final = 0.05


@dataclass(frozen=True, slots=True)
class Deadline:
    """An absolute point on the monotonic clock by which the request must be answered."""

    at: float

    @classmethod
    def within(cls, seconds: float) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left (0 when passed)."""
        return max(0.0, self.at - time.monotonic())


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    if isinstance(exc, PartnerUnavailable):
        return "timed_out" if exc.timed_out else "unavailable"
    if isinstance(exc, PartnerRateLimited):
        return "rate_limited"
    if isinstance(exc, PartnerAuthFailed):
        return "auth_failed"
    if isinstance(exc, PartnerRejected):
        return "rejected"
    return "error"


class ResilientCaller:
    """Calls partners through their adapters under each agreement's resilience terms."""

    def __init__(
        self,
        breakers: CircuitBreakers,
        metrics: GatewayMetrics,
        on_attempt: Callable[[str, str, float, str], None] | None = None,
    ) -> None:
        self.breakers = breakers
        self._metrics = metrics
        self._on_attempt = on_attempt
        """Told of every attempt: partner, operation, seconds, outcome (availability)."""

    async def call(
        self,
        agreement: PartnerAgreement,
        adapter: PartnerAdapter,
        http: httpx.AsyncClient,
        call: OutboundCall,
        deadline: Deadline,
    ) -> ServiceResult:
        """The partner's result; raises ``PartnerCallError`` or ``CircuitOpen``."""
        return await self.run(
            agreement,
            call.operation.value,
            lambda: adapter.call(http, call),
            safe=adapter.retry_safe(call.operation),
            deadline=deadline,
        )

    async def run(
        self,
        agreement: PartnerAgreement,
        label: str,
        action: Callable[[], Awaitable[T]],
        *,
        safe: bool,
        deadline: Deadline,
    ) -> T:
        """Run ``action`` (one partner call) under the agreement's resilience terms."""
        api = agreement.api
        jitter = wait_random_exponential(
            multiplier=api.retry.initial_backoff_s, max=api.retry.max_backoff_s
        )

        def may_repeat(exc: BaseException) -> bool:
            if not isinstance(exc, PartnerCallError) or not exc.retryable:
                return False
            return safe or (isinstance(exc, PartnerUnavailable) and not exc.sent)

        def pause(state: RetryCallState) -> float:
            seconds = float(jitter(state))
            failure = state.outcome.exception() if state.outcome else None
            if isinstance(failure, PartnerRateLimited) and failure.retry_after is not None:
                seconds = max(seconds, failure.retry_after)
            return seconds

        def give_up(state: RetryCallState) -> bool:
            if state.attempt_number >= api.retry.max_attempts:
                return True
            return deadline.remaining() - state.upcoming_sleep < _MIN_ATTEMPT_SECONDS

        retrying = AsyncRetrying(
            retry=retry_if_exception(may_repeat), wait=pause, stop=give_up, reraise=True
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(agreement, label, action, deadline)
        raise AssertionError("unreachable: tenacity reraises the last failure")  # pragma: no cover

    async def _attempt(
        self,
        agreement: PartnerAgreement,
        label: str,
        action: Callable[[], Awaitable[T]],
        deadline: Deadline,
    ) -> T:
        api = agreement.api
        budget = min(api.timeouts.connect + api.timeouts.read, deadline.remaining())
        if budget < _MIN_ATTEMPT_SECONDS:
            raise PartnerUnavailable("the request's deadline has passed", sent=False)
        admission = await self.breakers.admit(agreement.id, api.circuit_breaker)
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            try:
                async with asyncio.timeout(budget):
                    result = await action()
            except TimeoutError as exc:
                raise PartnerUnavailable(
                    f"no answer within {budget:.2f} s", timed_out=True
                ) from exc
        except PartnerCallError as exc:
            failure = exc
            if isinstance(exc, PartnerUnavailable):
                await self.breakers.record_failure(admission, api.circuit_breaker)
            elif admission.probe:
                # Anything but unavailability proves the partner answers.
                await self.breakers.record_success(admission)
            raise
        finally:
            seconds, outcome = time.perf_counter() - started, _outcome(failure)
            self._metrics.partner_call_latency.labels(agreement.id, label).observe(seconds)
            self._metrics.partner_calls.labels(agreement.id, label, outcome).inc()
            if self._on_attempt is not None:
                self._on_attempt(agreement.id, label, seconds, outcome)
        await self.breakers.record_success(admission)
        return result
