"""Dispatch: a canonical service request becomes an order served by a partner.

One request, start to finish::

    routing plan  ->  order stored (status requested, first partner)
                  ->  for each candidate: breaker, masking choke point, adapter
                      call under the resilience policy; on failure, the next
                  ->  order updated (partner, reference, result, routing,
                      status) together with the answer kept for replays

The order is committed *before* the partner is called, with the partner that
is about to be called, so a partner's webhook that overtakes our own answer
finds its order. Quotes and station searches fan out to every eligible
partner in parallel under ``PGW_FAN_OUT_DEADLINE_SECONDS``, and the answers
that arrived in time are merged side by side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from adapters import (
    OutboundCall,
    PartnerAdapter,
    PartnerCallError,
    PartnerRejected,
    PartnerUnavailable,
)
from contracts import (
    DISPATCHED,
    OPERATION_CATEGORY,
    OPERATION_PURPOSE,
    TERMINAL_STATUSES,
    BenefitRedemption,
    CancelReason,
    ChargingSession,
    ChargingStation,
    CourtesyCarBooking,
    InsurancePolicy,
    InsuranceQuotes,
    Operation,
    OrderCancelled,
    OrderStatus,
    PartnerAgreement,
    PartnerTier,
    PointsExchange,
    RoutingDecision,
    ServiceRequest,
    ServiceResult,
    SkippedPartner,
    SkipReason,
    StationList,
    TransitionDecision,
    decide_transition,
    new_event_id,
    new_order_id,
)
from gateway.bootstrap import Container
from gateway.dispatch.breaker import CircuitOpen
from gateway.dispatch.clients import PartnerClients
from gateway.dispatch.disclosure import consent_refusals, customer_id_of, disclose
from gateway.dispatch.idempotency import Answer
from gateway.dispatch.resilience import Deadline, ResilientCaller
from gateway.dispatch.routing import MonthVolume, RoutePlan, plan_route
from gateway.dispatch.views import OrderView
from gateway.ledger import record_answer
from gateway.logs import get_logger
from gateway.persistence.tables import OrderEventRow, OrderRow
from gateway.privacy.consents import ConsentRequired
from gateway.privacy.relays import release_relays
from gateway.problems import NotFound, Problem, problem_body
from gateway.slo.clocks import start_clocks

__all__ = ["FAN_OUT_OPERATIONS", "Dispatcher", "KeyAlreadyPlaced", "Placement"]

_log = get_logger("gateway.dispatch")
_SHANGHAI: Final = ZoneInfo("Asia/Shanghai")

FAN_OUT_OPERATIONS: Final = frozenset({Operation.INSURANCE_QUOTE, Operation.CHARGING_SEARCH})
"""Operations asked of every eligible partner at once, answers merged."""

# Where an order stands once its partner has answered the call.
_ANSWERED_STATUS: Final = {
    Operation.COURTESY_CAR_BOOK: OrderStatus.DISPATCHED,
    Operation.INSURANCE_QUOTE: OrderStatus.COMPLETED,
    Operation.INSURANCE_BIND: OrderStatus.COMPLETED,
    Operation.CHARGING_SEARCH: OrderStatus.COMPLETED,
    Operation.CHARGING_START: OrderStatus.ACCEPTED,
    Operation.CHARGING_STOP: OrderStatus.COMPLETED,
    Operation.LIFESTYLE_LINK: OrderStatus.COMPLETED,
    Operation.LIFESTYLE_REDEEM: OrderStatus.COMPLETED,
    Operation.LIFESTYLE_EXCHANGE_POINTS: OrderStatus.COMPLETED,
}

# Nothing to call off: the answer was the whole service.
_NOT_CANCELLABLE: Final = frozenset(
    {Operation.INSURANCE_QUOTE, Operation.CHARGING_SEARCH, Operation.CHARGING_STOP}
)
# A delivered courtesy car is returned (rental.completed), not cancelled.
_TOO_LATE: Final = {
    Operation.COURTESY_CAR_BOOK: frozenset({OrderStatus.DELIVERED, OrderStatus.COMPLETED}),
}


def _reference(result: ServiceResult) -> str | None:
    """The partner's id of the order, where the result carries one per order."""
    if isinstance(result, CourtesyCarBooking):
        return result.partner_reference
    if isinstance(result, InsurancePolicy):
        return result.policy_number
    if isinstance(result, ChargingSession) and result.operation is Operation.CHARGING_START:
        return result.session_id
    if isinstance(result, BenefitRedemption):
        return result.redemption_id
    if isinstance(result, PointsExchange):
        return result.exchange_id
    return None


def _skip_of(agreement: PartnerAgreement, exc: Exception) -> SkippedPartner:
    if isinstance(exc, CircuitOpen):
        return SkippedPartner(
            partner_id=agreement.id, reason=SkipReason.CIRCUIT_OPEN, detail=str(exc)
        )
    if isinstance(exc, PartnerUnavailable) and exc.timed_out:
        return SkippedPartner(partner_id=agreement.id, reason=SkipReason.TIMED_OUT, detail=str(exc))
    return SkippedPartner(
        partner_id=agreement.id, reason=SkipReason.FAILED, detail=f"{type(exc).__name__}: {exc}"
    )


class TierSource(Protocol):
    """The tiers in force in a month, from the closed scorecards."""

    async def tiers(self, month: str) -> Mapping[str, PartnerTier]:
        """Partner id -> tier in force in ``month`` (partners without a change: absent)."""
        ...


class KeyAlreadyPlaced(Exception):
    """The client's Idempotency-Key already has an order (found by the database)."""

    def __init__(self, row: OrderRow) -> None:
        super().__init__(f"order {row.id} was placed under this key")
        self.row = row


@dataclass(frozen=True, slots=True)
class Placement:
    """Who asked, and under which key: stored on the order."""

    client_id: str
    idempotency_key: str | None = None
    request_hash: str | None = None
    repair_order_id: str | None = None
    resume_order_id: str | None = None


def _routing_json(chosen: str | None, skipped: Sequence[SkippedPartner]) -> dict[str, Any]:
    return RoutingDecision(chosen=chosen, skipped=tuple(skipped)).model_dump(mode="json")


class Dispatcher:
    """Places service requests with partners and cancels orders."""

    def __init__(
        self,
        container: Container,
        clients: PartnerClients,
        caller: ResilientCaller,
        adapters: Mapping[str, PartnerAdapter],
        *,
        demoted: Callable[[], Collection[str]] = frozenset,
        tiers: TierSource | None = None,
    ) -> None:
        self._c = container
        self._clients = clients
        self._caller = caller
        self._adapters = adapters
        self._demoted = demoted
        self._tiers = tiers

    # -- routing ------------------------------------------------------------------------

    async def plan(self, request: ServiceRequest) -> RoutePlan:
        """The partners to try for ``request`` today."""
        category = OPERATION_CATEGORY[request.operation]
        now = self._c.clock()
        local = now.astimezone(_SHANGHAI)
        agreements = [
            a for a in self._c.registry.by_category(category) if a.api.dialect in self._adapters
        ]
        tiers = await self._tiers.tiers(local.strftime("%Y-%m")) if self._tiers else {}
        volume = MonthVolume()
        if any(tiers.get(a.id, a.tier) is PartnerTier.BRONZE for a in agreements):
            start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            end = (start + timedelta(days=32)).replace(day=1)
            async with self._c.uow() as uow:
                total, by_partner = await uow.orders.month_volume(
                    category.value, start.astimezone(UTC), end.astimezone(UTC)
                )
            volume = MonthVolume(total=total, by_partner=by_partner)
        return plan_route(
            agreements,
            category=category,
            city=request.city,
            today=local.date(),
            pinned=request.partner_id,
            volume=volume,
            tiers=tiers,
            demoted=self._demoted(),
            bronze_cap=self._c.settings.bronze_volume_cap_share,
        )

    # -- placing ------------------------------------------------------------------------

    async def place(self, request: ServiceRequest, placement: Placement) -> Answer:
        """Route, call and record; the answer to give (201 order, or a problem)."""
        plan = await self._consented(request, await self.plan(request))
        if not plan.candidates:
            raise _no_partner(request, plan)
        fan_out = request.operation in FAN_OUT_OPERATIONS and request.partner_id is None
        targets = plan.candidates if fan_out else plan.candidates[:1]
        order_id = placement.resume_order_id or new_order_id()
        if placement.resume_order_id is None:
            try:
                calls = await self._open(order_id, request, plan, targets, placement, fan_out)
            except IntegrityError:
                # The database's twin of the Idempotency-Key: this key already has an order.
                if placement.idempotency_key is None:
                    raise
                async with self._c.uow() as uow:
                    existing = await uow.orders.by_idempotency_key(
                        placement.client_id, placement.idempotency_key
                    )
                if existing is None:
                    raise
                raise KeyAlreadyPlaced(existing) from None
        else:
            calls = await self._redisclose(order_id, request, targets)
        if fan_out:
            return await self._fan_out(order_id, request, plan, calls)
        return await self._one_by_one(order_id, request, plan, calls[0])

    async def _consented(self, request: ServiceRequest, plan: RoutePlan) -> RoutePlan:
        """The plan without partners the customer has not consented to; a 403 when none is left."""
        if customer_id_of(request) is None or not plan.candidates:
            return plan
        async with self._c.uow() as uow:
            refusals = await consent_refusals(uow, self._c, plan.candidates, request)
        if not refusals:
            return plan
        kept = [a for a in plan.candidates if a.id not in refusals]
        skipped = list(plan.skipped)
        purpose = OPERATION_PURPOSE[request.operation].value
        skipped.extend(
            SkippedPartner(
                partner_id=partner_id,
                reason=SkipReason.NO_CONSENT,
                detail=f"no consent for {purpose}",
            )
            for partner_id in refusals
        )
        if not kept:
            raise next(iter(refusals.values()))
        return RoutePlan(candidates=tuple(kept), skipped=tuple(skipped))

    async def _open(
        self,
        order_id: str,
        request: ServiceRequest,
        plan: RoutePlan,
        targets: Sequence[PartnerAgreement],
        placement: Placement,
        fan_out: bool,
    ) -> list[OutboundCall]:
        """Consent checked, order stored, first disclosures made: one transaction."""
        now = self._c.clock()
        async with self._c.uow() as uow:
            uow.orders.add(
                OrderRow(
                    id=order_id,
                    category=OPERATION_CATEGORY[request.operation].value,
                    operation=request.operation.value,
                    partner_id=None if fan_out else targets[0].id,
                    partner_reference=None,
                    customer_id=customer_id_of(request),
                    status=OrderStatus.REQUESTED.value,
                    status_sequence=0,
                    request=request.model_dump(mode="json"),
                    result=None,
                    routing=_routing_json(None, plan.skipped),
                    created_at=now,
                    updated_at=now,
                    client_id=placement.client_id,
                    idempotency_key=placement.idempotency_key,
                    request_hash=placement.request_hash,
                    repair_order_id=placement.repair_order_id,
                )
            )
            await uow.flush()
            calls = [await disclose(uow, self._c, a, order_id, request, now) for a in targets]
            await uow.commit()
        return calls

    async def _redisclose(
        self, order_id: str, request: ServiceRequest, targets: Sequence[PartnerAgreement]
    ) -> list[OutboundCall]:
        now = self._c.clock()
        async with self._c.uow() as uow:
            calls = [await disclose(uow, self._c, a, order_id, request, now) for a in targets]
            await uow.commit()
        return calls

    async def _one_by_one(
        self, order_id: str, request: ServiceRequest, plan: RoutePlan, first: OutboundCall
    ) -> Answer:
        deadline = Deadline.within(self._c.settings.dispatch_deadline_seconds)
        skipped = list(plan.skipped)
        pinned = request.partner_id is not None
        for index, agreement in enumerate(plan.candidates):
            if index == 0:
                call = first
            else:
                try:
                    call = await self._reassign(order_id, agreement, request)
                except ConsentRequired:
                    skipped.append(
                        SkippedPartner(
                            partner_id=agreement.id,
                            reason=SkipReason.NO_CONSENT,
                            detail="consent withdrawn while the order was placed",
                        )
                    )
                    continue
            dispatched_at = self._c.clock()
            try:
                result = await self._caller.call(
                    agreement,
                    self._adapters[agreement.api.dialect],
                    self._clients.get(agreement.id),
                    call,
                    deadline,
                )
            except (PartnerCallError, CircuitOpen) as exc:
                skip = _skip_of(agreement, exc)
                skipped.append(skip)
                self._c.metrics.failovers.labels(agreement.id, skip.reason.value).inc()
                _log.warning(
                    "dispatch.partner_failed",
                    order_id=order_id,
                    partner_id=agreement.id,
                    reason=skip.reason.value,
                    detail=skip.detail,
                )
                if pinned or deadline.remaining() <= 0:
                    break
                continue
            return await self._record_success(
                order_id, agreement, result, skipped, dispatched_at=dispatched_at
            )
        return await self._record_failure(order_id, skipped)

    async def _fan_out(
        self,
        order_id: str,
        request: ServiceRequest,
        plan: RoutePlan,
        calls: Sequence[OutboundCall],
    ) -> Answer:
        settings = self._c.settings
        deadline = Deadline.within(
            min(settings.fan_out_deadline_seconds, settings.dispatch_deadline_seconds)
        )

        async def ask(agreement: PartnerAgreement, call: OutboundCall) -> ServiceResult:
            return await self._caller.call(
                agreement,
                self._adapters[agreement.api.dialect],
                self._clients.get(agreement.id),
                call,
                deadline,
            )

        outcomes = await asyncio.gather(
            *(ask(a, c) for a, c in zip(plan.candidates, calls, strict=True)),
            return_exceptions=True,
        )
        skipped = list(plan.skipped)
        answered: list[tuple[PartnerAgreement, ServiceResult]] = []
        for agreement, outcome in zip(plan.candidates, outcomes, strict=True):
            if isinstance(outcome, PartnerCallError | CircuitOpen):
                skipped.append(_skip_of(agreement, outcome))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                answered.append((agreement, outcome))
        if not answered:
            return await self._record_failure(order_id, skipped)
        merged = _merge(request, answered)
        return await self._record_success(order_id, None, merged, skipped, dispatched_at=None)

    async def _reassign(
        self, order_id: str, agreement: PartnerAgreement, request: ServiceRequest
    ) -> OutboundCall:
        """The order moves to the next partner, which gets its own view: one transaction."""
        now = self._c.clock()
        async with self._c.uow() as uow:
            row = await uow.orders.get(order_id, for_update=True)
            assert row is not None
            row.partner_id = agreement.id
            row.updated_at = now
            call = await disclose(uow, self._c, agreement, order_id, request, now)
            await uow.commit()
        return call

    async def _record_success(
        self,
        order_id: str,
        agreement: PartnerAgreement | None,
        result: ServiceResult,
        skipped: Sequence[SkippedPartner],
        *,
        dispatched_at: datetime | None,
    ) -> Answer:
        reference = _reference(result)
        try:
            return await self._store_success(
                order_id, agreement, result, skipped, reference, dispatched_at
            )
        except IntegrityError:
            # The partner reused a reference another order holds: keep the order and its
            # result (the reference stays in the result) rather than lose the booking.
            _log.warning(
                "dispatch.reference_clash",
                order_id=order_id,
                partner_id=agreement.id if agreement else None,
            )
            return await self._store_success(
                order_id, agreement, result, skipped, None, dispatched_at
            )

    async def _store_success(
        self,
        order_id: str,
        agreement: PartnerAgreement | None,
        result: ServiceResult,
        skipped: Sequence[SkippedPartner],
        reference: str | None,
        dispatched_at: datetime | None,
    ) -> Answer:
        now = self._c.clock()
        partner_id = agreement.id if agreement is not None else None
        async with self._c.uow() as uow:
            row = await uow.orders.get(order_id, for_update=True)
            assert row is not None
            target = _ANSWERED_STATUS[Operation(row.operation)]
            current = OrderStatus(row.status)
            # A webhook may have overtaken our answer; never move the order back.
            completes = decide_transition_safe(current, target) and target is OrderStatus.COMPLETED
            if decide_transition_safe(current, target):
                row.status = target.value
            row.partner_id = partner_id
            row.partner_reference = row.partner_reference or reference
            row.result = result.model_dump(mode="json")
            row.routing = _routing_json(partner_id, skipped)
            row.dispatched_at = dispatched_at or now
            row.updated_at = now
            answer = Answer(status=201, body=OrderView.of(row).model_dump(mode="json"))
            row.answer_status, row.answer = answer.status, answer.body
            if agreement is not None and completes:
                # The answer itself completed the order (a bound policy, a redeemed benefit).
                await record_answer(
                    uow, agreement, order_id=order_id, result=result, at=now, now=now
                )
            if agreement is not None:
                # The SLA clocks of this order start at the moment it was handed over.
                await start_clocks(
                    uow,
                    agreement,
                    order_id=order_id,
                    operation=Operation(row.operation),
                    start=DISPATCHED,
                    started_at=dispatched_at or now,
                    now=now,
                )
            await uow.commit()
        _log.info("dispatch.placed", order_id=order_id, partner_id=partner_id, status=row.status)
        return answer

    async def _record_failure(self, order_id: str, skipped: Sequence[SkippedPartner]) -> Answer:
        now = self._c.clock()
        reasons = "; ".join(f"{s.partner_id}: {s.reason.value}" for s in skipped) or "none"
        async with self._c.uow() as uow:
            row = await uow.orders.get(order_id, for_update=True)
            assert row is not None
            if decide_transition_safe(OrderStatus(row.status), OrderStatus.FAILED):
                row.status = OrderStatus.FAILED.value
            row.failure_reason = f"no partner could take the order ({reasons})"
            row.routing = _routing_json(None, skipped)
            row.partner_id = None
            row.updated_at = now
            problem = Problem(
                f"No partner could take order {order_id}: {reasons}. Nothing was booked; "
                "send the request again with a new Idempotency-Key to retry.",
                slug="partners-unavailable",
                title="No partner could serve the request",
                status=502,
                extensions={
                    "order_id": order_id,
                    "skipped": [s.model_dump(mode="json") for s in skipped],
                },
            )
            answer = Answer(status=502, body=problem_body(problem))
            row.answer_status, row.answer = answer.status, answer.body
            await release_relays(uow, order_id=order_id, now=now)  # the order is over
            await uow.commit()
        _log.warning("dispatch.failed", order_id=order_id, reasons=reasons)
        return answer

    # -- reading and cancelling ---------------------------------------------------------

    async def get(self, order_id: str) -> OrderView:
        """The order, or a 404 problem."""
        async with self._c.uow() as uow:
            row = await uow.orders.get(order_id)
        if row is None:
            raise NotFound(f"No order {order_id}.")
        return OrderView.of(row)

    async def cancel(self, order_id: str) -> OrderView:
        """Ask the partner to cancel; the cancelled order, or a 409/503 problem."""
        async with self._c.uow() as uow:
            row = await uow.orders.get(order_id)
        if row is None:
            raise NotFound(f"No order {order_id}.")
        operation, status = Operation(row.operation), OrderStatus(row.status)
        if status is OrderStatus.CANCELLED:
            return OrderView.of(row)
        if operation in _NOT_CANCELLABLE:
            raise _not_cancellable(order_id, f"a {operation.value} has nothing to cancel")
        if status in TERMINAL_STATUSES or status in _TOO_LATE.get(operation, frozenset()):
            raise _not_cancellable(order_id, f"the order is already {status.value}")
        if row.partner_id is None or row.answer_status is None:
            raise Problem(
                f"Order {order_id} is still being placed with a partner; retry in a moment.",
                slug="order-in-flight",
                title="Order is still being placed",
                status=409,
                headers={"Retry-After": "1"},
            )
        agreement = self._c.registry.get(row.partner_id)
        adapter = self._adapters[agreement.api.dialect]
        http = self._clients.get(agreement.id)
        reference = row.partner_reference
        try:
            await self._caller.run(
                agreement,
                "cancel",
                lambda: adapter.cancel(http, order_id=order_id, partner_reference=reference),
                safe=True,
                deadline=Deadline.within(self._c.settings.dispatch_deadline_seconds),
            )
        except PartnerRejected as exc:
            raise _not_cancellable(order_id, f"{agreement.id} refused: {exc.reason}") from exc
        except (PartnerCallError, CircuitOpen) as exc:
            raise Problem(
                f"{agreement.id} could not be reached to cancel order {order_id} ({exc}); "
                "the order stands. Retry later.",
                slug="partner-unavailable",
                title="Partner unavailable",
                status=503,
                headers={"Retry-After": "5"},
            ) from exc
        return await self._record_cancel(order_id)

    async def _record_cancel(self, order_id: str) -> OrderView:
        now = self._c.clock()
        async with self._c.uow() as uow:
            state = await uow.orders.lock_for_event(order_id)
            assert state is not None
            if decide_transition_safe(OrderStatus(state.status), OrderStatus.CANCELLED):
                await uow.orders.add_event(
                    OrderEventRow(
                        order_id=order_id,
                        event_id=new_event_id(),
                        event_type="order.cancelled",
                        occurred_at=now,
                        sequence=0,
                        source="gateway",
                        inbox_id=None,
                        data=OrderCancelled(reason=CancelReason.CUSTOMER_REQUEST).model_dump(
                            mode="json"
                        ),
                        moved_state=True,
                        recorded_at=now,
                    )
                )
                await uow.orders.move_status(
                    order_id,
                    status=OrderStatus.CANCELLED.value,
                    occurred_at=now,
                    sequence=0,
                    partner_reference=None,
                    now=now,
                )
            await release_relays(uow, order_id=order_id, now=now)  # the order is over
            await uow.commit()
        _log.info("dispatch.cancelled", order_id=order_id)
        return await self.get(order_id)


def decide_transition_safe(current: OrderStatus, target: OrderStatus) -> bool:
    """Whether the order may move to ``target`` now (False for stale or illegal moves)."""
    try:
        return decide_transition(current, target) is TransitionDecision.APPLY
    except ValueError:
        return False


def _merge(
    request: ServiceRequest, answered: Sequence[tuple[PartnerAgreement, ServiceResult]]
) -> ServiceResult:
    if request.operation is Operation.INSURANCE_QUOTE:
        # Each insurer answers with its own quotes (one or several cover packages).
        quotes = [
            quote.model_copy(update={"partner_id": agreement.id})
            for agreement, result in answered
            if isinstance(result, InsuranceQuotes)
            for quote in result.quotes
        ]
        quotes.sort(key=lambda q: (q.premium.amount, q.partner_id or ""))
        return InsuranceQuotes(quotes=quotes)
    stations: list[ChargingStation] = [
        station.model_copy(update={"partner_id": agreement.id})
        for agreement, result in answered
        if isinstance(result, StationList)
        for station in result.stations
    ]
    stations.sort(key=lambda s: (s.distance_m is None, s.distance_m or 0, s.station_id))
    limit = getattr(request, "limit", len(stations))
    return StationList(stations=stations[:limit])


def _no_partner(request: ServiceRequest, plan: RoutePlan) -> Problem:
    category = OPERATION_CATEGORY[request.operation].value
    where = f" in {request.city}" if request.city else ""
    reasons = "; ".join(f"{s.partner_id}: {s.detail or s.reason.value}" for s in plan.skipped)
    field = "partner_id" if request.partner_id else "city"
    return Problem(
        f"No {category} partner can take this request{where}"
        + (f" ({reasons})" if reasons else "")
        + ".",
        slug="no-eligible-partner",
        title="No eligible partner",
        status=422,
        extensions={"skipped": [s.model_dump(mode="json") for s in plan.skipped], "field": field},
    )


def _not_cancellable(order_id: str, why: str) -> Problem:
    return Problem(
        f"Order {order_id} can no longer be cancelled: {why}.",
        slug="order-not-cancellable",
        title="Order cannot be cancelled",
        status=409,
    )
