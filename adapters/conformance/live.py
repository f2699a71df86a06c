"""The live checks: a partner's endpoint (or its sandbox) answers the operations it claims."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import httpx
from pydantic import ValidationError

from adapters.conformance.findings import Finding
from adapters.conformance.rules import example_request, served_operations
from adapters.conformance.views import Masker
from adapters.errors import (
    PartnerAuthFailed,
    PartnerCallError,
    PartnerRateLimited,
    PartnerRejected,
    PartnerUnavailable,
)
from adapters.protocol import OutboundCall, PartnerAdapter
from adapters.registry import adapter_for
from contracts import (
    SERVICE_RESULT_ADAPTER,
    Operation,
    PartnerAgreement,
    ServiceResult,
    new_order_id,
)

__all__ = ["live_checks"]

_NOT_CANCELLABLE: Final = "not_cancellable"


async def live_checks(
    agreement: PartnerAgreement,
    base_url: str,
    http: httpx.AsyncClient,
    *,
    masker: Masker,
    adapter: PartnerAdapter | None = None,
    operations: Iterable[Operation] | None = None,
) -> list[Finding]:
    """Call the partner at ``base_url`` for each operation its adapter claims; one finding each.

    ``http`` is the client to the partner: its base URL is ``base_url`` and the
    agreement's auth is attached (``gateway.onboarding.kit.partner_client``).
    Each call carries the operation's published example request, addressed to
    this partner and masked as the gateway would (``masker``), under a fresh
    order id. A call passes when the adapter reads the answer into the
    operation's contract result; the finding records the latency, or the
    error class and reason. A booking that returned a partner reference is
    then cancelled (``not_cancellable`` counts as an answer too), and the
    slowest answer is compared with the agreement's p95 latency target.
    """
    adapter = adapter or adapter_for(agreement.api.dialect)
    partner_id = agreement.id
    chosen = list(operations) if operations is not None else served_operations(agreement, adapter)
    findings: list[Finding] = []
    latencies: list[float] = []
    references: list[tuple[str, str]] = []
    sent: list[httpx.Request] = []

    async def note(request: httpx.Request) -> None:
        sent.append(request)

    hooks = http.event_hooks
    http.event_hooks = {**hooks, "request": [*hooks.get("request", []), note]}
    try:
        for operation in chosen:
            outcome = await _operation(agreement, adapter, http, masker, operation, sent)
            findings.append(_finding(partner_id, operation, outcome, base_url))
            if outcome.latency_ms is not None:
                latencies.append(outcome.latency_ms)
            if outcome.reference is not None:
                references.append((outcome.order_id, outcome.reference))
        if references:
            findings.append(await _cancel(adapter, http, partner_id, *references[0], base_url))
    finally:
        http.event_hooks = hooks
    if latencies:
        slowest, target = max(latencies), agreement.sla.api_latency_p95_ms
        findings.append(
            Finding(
                partner_id,
                "live:latency",
                slowest <= target,
                f"slowest answer {slowest:.0f} ms; the agreement's p95 target is {target} ms",
            )
        )
    return findings


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One operation's call: its result or error, and whether anything was sent."""

    order_id: str
    result: ServiceResult | None = None
    error: Exception | None = None
    latency_ms: float | None = None
    sent: bool = True

    @property
    def reference(self) -> str | None:
        """The partner's reference of a booking, to cancel it afterwards."""
        reference = getattr(self.result, "partner_reference", None)
        return reference if isinstance(reference, str) else None


async def _operation(
    agreement: PartnerAgreement,
    adapter: PartnerAdapter,
    http: httpx.AsyncClient,
    masker: Masker,
    operation: Operation,
    sent: list[httpx.Request],
) -> _Outcome:
    view = masker(agreement, example_request(agreement, operation))
    order_id = new_order_id()
    call = OutboundCall(
        partner_id=agreement.id,
        order_id=order_id,
        operation=operation,
        payload=view.payload,
        idempotency_key=f"{order_id}:{agreement.id}",
    )
    before = len(sent)
    started = time.perf_counter()
    try:
        result = await adapter.call(http, call)
    except Exception as exc:  # every failure is reported, with its reason
        return _Outcome(order_id, error=exc, sent=len(sent) > before)
    return _Outcome(order_id, result, latency_ms=(time.perf_counter() - started) * 1000)


def _finding(partner_id: str, operation: Operation, outcome: _Outcome, base_url: str) -> Finding:
    check = f"live:{operation}"
    if outcome.error is not None:
        detail = _explain(outcome.error, base_url)
        if isinstance(outcome.error, PartnerRejected) and not outcome.sent:
            detail = (
                f"{type(outcome.error).__name__}: {outcome.error} (the adapter sent nothing: "
                f"the partner's masked view lacks what it needs, see disclosure:{operation})"
            )
        return Finding(partner_id, check, False, detail)
    assert outcome.result is not None and outcome.latency_ms is not None
    problem = _result_problem(operation, outcome.result)
    detail = f"answered in {outcome.latency_ms:.0f} ms: {type(outcome.result).__name__}"
    return Finding(partner_id, check, problem is None, problem or detail)


def _result_problem(operation: Operation, result: ServiceResult) -> str | None:
    if result.operation is not operation:
        return f"answered with a {result.operation} result"
    try:
        SERVICE_RESULT_ADAPTER.validate_json(result.model_dump_json())
    except ValidationError as exc:
        return f"the result does not validate: {exc.errors()[0]['msg']}"
    return None


async def _cancel(
    adapter: PartnerAdapter,
    http: httpx.AsyncClient,
    partner_id: str,
    order_id: str,
    reference: str,
    base_url: str,
) -> Finding:
    try:
        await adapter.cancel(http, order_id=order_id, partner_reference=reference)
    except PartnerRejected as exc:
        if exc.code == _NOT_CANCELLABLE:
            return Finding(partner_id, "live:cancel", True, f"too late to cancel {reference}")
        return Finding(partner_id, "live:cancel", False, _explain(exc, base_url))
    except Exception as exc:  # reported like the operations
        return Finding(partner_id, "live:cancel", False, _explain(exc, base_url))
    return Finding(partner_id, "live:cancel", True, f"cancelled {reference}")


def _explain(exc: Exception, base_url: str) -> str:
    """The error class, its reason, and what usually causes it."""
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, PartnerAuthFailed):
        return f"{reason} (check the secret and the auth the agreement names)"
    if isinstance(exc, PartnerRateLimited):
        return f"{reason} (the endpoint throttled the kit; retry later)"
    if isinstance(exc, PartnerUnavailable) and not exc.sent:
        return f"{reason} (nothing answers at {base_url})"
    if isinstance(exc, PartnerUnavailable) and "HTTP 404" in reason:
        return f"{reason} (nothing is served at that path: check the base URL {base_url})"
    if isinstance(exc, PartnerUnavailable):
        return f"{reason} (the answer is not what the dialect defines)"
    if isinstance(exc, PartnerRejected):
        return f"{reason} (refused the published example request)"
    if isinstance(exc, PartnerCallError):
        return reason
    return f"{reason} (the adapter failed, not the partner)"
