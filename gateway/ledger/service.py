"""The ledger's writers: every monetary effect becomes entries exactly once.

Sources and their entry keys (unique in the table, so a replayed or doubly
delivered source inserts nothing the second time):

- an order completing: ``order:{order}:completed:{plan}:{kind}``;
- an order cancelled: a reversal of each of its live entries, ``reversal:{entry}``;
- an SLA breach of a completed order: ``sla_credit:{order}``, once per order;
- a month's fixed fees: ``month:{partner}:{month}:{plan}:{kind}``;
- a KPI value: ``kpi:{partner}:{month}:{plan}:{value id}`` (a newer value reverses it);
- a correction: the reversal, and ``correction:{entry}`` for the corrected amount.

Each entry settles in the month its effect occurred in (Asia/Shanghai), or,
when that month's statements are already closed, in the first open month
after it, where the statement shows it as an opening adjustment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from contracts import CanonicalEvent, Money, OrderStatus, PartnerAgreement, PartnerTier
from contracts.commission import Attribution, OutcomeBasedPlan
from gateway.bootstrap import Container
from gateway.ledger.rules import (
    Completion,
    Effect,
    completion_of,
    completion_of_answer,
    kpi_bonus,
    monthly_effects,
    order_effects,
    sla_credit,
)
from gateway.logs import get_logger
from gateway.persistence.repositories import credit_key
from gateway.persistence.tables import KpiValueRow, LedgerEntryRow
from gateway.persistence.uow import UnitOfWork
from gateway.problems import FieldError, NotFound, Problem
from gateway.registry import Registry
from gateway.scorecards.months import (
    SHANGHAI,
    month_bounds,
    month_of,
    next_month,
    previous_month,
)

__all__ = [
    "EntryAlreadyReversed",
    "KpiRecorded",
    "SettlementMonthClosed",
    "accrue_month",
    "accrue_open_months",
    "correct_entry",
    "credit_breached_orders",
    "ensure_sla_credit",
    "record_answer",
    "record_kpi",
    "record_order_event",
    "reverse_order",
    "run_accrual",
    "settling_month",
]

_log = get_logger("gateway.ledger")
_INSTANT = timedelta(microseconds=1)


class SettlementMonthClosed(Problem):
    """The month's statements are closed: nothing more may be recorded for it."""

    slug = "month-closed"
    title = "Month already closed"
    status = 409


class EntryAlreadyReversed(Problem):
    """The ledger entry was already reversed (or corrected) once."""

    slug = "entry-already-reversed"
    title = "Ledger entry already reversed"
    status = 409


@dataclass(frozen=True, slots=True)
class KpiRecorded:
    """A KPI value as recorded, the bonus entry it earned and the one it superseded."""

    value: KpiValueRow
    bonus: LedgerEntryRow | None
    superseded: LedgerEntryRow | None


async def settling_month(uow: UnitOfWork, month: str) -> str:
    """The month an effect of ``month`` settles in: itself, or the first open month after it.

    The chosen month's settlement lock is held (shared) until the transaction
    ends, so a month being closed never receives an entry after its totals.
    """
    candidate = month
    while True:
        await uow.ledger.hold_month(candidate)
        if await uow.ledger.closed_month(candidate) is None:
            return candidate
        candidate = next_month(candidate)


def _row(
    effect: Effect,
    *,
    key: str,
    partner_id: str,
    order_id: str | None,
    event_id: str | None,
    occurred_at: datetime,
    effective_month: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "entry_key": key,
        "partner_id": partner_id,
        "order_id": order_id,
        "event_id": event_id,
        "kind": effect.kind.value,
        "plan_kind": effect.plan_kind,
        "plan": effect.plan,
        "basis_amount": None if effect.basis is None else effect.basis.amount,
        "rate": None if effect.rate is None else format(effect.rate, "f"),
        "units": effect.units,
        "amount": effect.amount.amount,
        "currency": effect.amount.currency,
        "direction": effect.direction.value,
        "occurred_at": occurred_at,
        "occurred_month": month_of(occurred_at),
        "effective_month": effective_month,
        "created_at": now,
        "reason": effect.reason,
        "reverses_id": None,
    }


def _reversal(
    entry: LedgerEntryRow,
    *,
    why: str,
    occurred_at: datetime,
    effective_month: str,
    event_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "entry_key": f"reversal:{entry.id}",
        "partner_id": entry.partner_id,
        "order_id": entry.order_id,
        "event_id": event_id,
        "kind": entry.kind,
        "plan_kind": entry.plan_kind,
        "plan": entry.plan,
        "basis_amount": entry.basis_amount,
        "rate": entry.rate,
        "units": entry.units,
        "amount": -entry.amount,
        "currency": entry.currency,
        "direction": entry.direction,
        "occurred_at": occurred_at,
        "occurred_month": month_of(occurred_at),
        "effective_month": effective_month,
        "created_at": now,
        "reason": f"reverses entry {entry.id}: {why}",
        "reverses_id": entry.id,
    }


async def _tier(uow: UnitOfWork, agreement: PartnerAgreement, month: str) -> PartnerTier:
    changed = await uow.scorecards.tier_in_force(agreement.id, month)
    return PartnerTier(changed) if changed is not None else agreement.tier


async def record_order_event(
    uow: UnitOfWork,
    registry: Registry,
    *,
    order_id: str,
    partner_id: str,
    event: CanonicalEvent,
    previous: OrderStatus,
    moved_to: OrderStatus | None,
    status: OrderStatus,
    now: datetime,
) -> list[LedgerEntryRow]:
    """The ledger entries an applied order event creates, in the caller's transaction.

    Completion writes what the plans in force say the order is worth (and its
    SLA credit if a term was breached); cancellation reverses every live entry
    of the order; any later event of a completed order credits a breach it
    revealed. Called once per newly recorded event, with the order locked.
    """
    if partner_id not in registry:
        return []
    agreement = registry.get(partner_id)
    if moved_to is OrderStatus.CANCELLED:
        why = f"order cancelled (event {event.event_id})"
        if previous is OrderStatus.COMPLETED:
            why = f"order cancelled after completion (event {event.event_id})"
        return await reverse_order(
            uow, order_id, why=why, occurred_at=event.occurred_at, event_id=event.event_id, now=now
        )
    written: list[LedgerEntryRow] = []
    if moved_to is OrderStatus.COMPLETED:
        written = await _complete(uow, agreement, order_id, event, now)
    if status is OrderStatus.COMPLETED:
        credit = await ensure_sla_credit(uow, agreement, order_id, now=now)
        if credit is not None:
            written.append(credit)
    return written


async def _complete(
    uow: UnitOfWork,
    agreement: PartnerAgreement,
    order_id: str,
    event: CanonicalEvent,
    now: datetime,
) -> list[LedgerEntryRow]:
    completion = completion_of(event)
    if completion is None:
        return []
    return await _write_completion(
        uow, agreement, order_id, completion, event_id=event.event_id, at=event.occurred_at, now=now
    )


async def _write_completion(
    uow: UnitOfWork,
    agreement: PartnerAgreement,
    order_id: str,
    completion: Completion,
    *,
    event_id: str | None,
    at: datetime,
    now: datetime,
) -> list[LedgerEntryRow]:
    month = month_of(at)
    tier = await _tier(uow, agreement, month)
    effects = order_effects(agreement.commission, completion, at.astimezone(SHANGHAI).date(), tier)
    if not effects:
        return []
    effective = await settling_month(uow, month)
    rows = [
        _row(
            effect,
            key=f"order:{order_id}:completed:{effect.component}",
            partner_id=agreement.id,
            order_id=order_id,
            event_id=event_id,
            occurred_at=at,
            effective_month=effective,
            now=now,
        )
        for effect in effects
    ]
    return await uow.ledger.add(rows)


async def record_answer(
    uow: UnitOfWork,
    agreement: PartnerAgreement,
    *,
    order_id: str,
    result: object,
    at: datetime,
    now: datetime,
) -> list[LedgerEntryRow]:
    """The entries of an order the partner's answer completed (a policy bound, a benefit
    redeemed), in the dispatch's transaction. Same keys as a completing event, so the
    order is priced once whichever comes first."""
    completion = completion_of_answer(result)
    if completion is None:
        return []
    return await _write_completion(
        uow, agreement, order_id, completion, event_id=None, at=at, now=now
    )


async def reverse_order(
    uow: UnitOfWork,
    order_id: str,
    *,
    why: str,
    occurred_at: datetime,
    event_id: str | None,
    now: datetime,
) -> list[LedgerEntryRow]:
    """Reverse every live entry of the order (a cancellation or refund); the reversals."""
    live = await uow.ledger.live_of_order(order_id)
    if not live:
        return []
    effective = await settling_month(uow, month_of(occurred_at))
    rows = [
        _reversal(
            entry,
            why=why,
            occurred_at=occurred_at,
            effective_month=effective,
            event_id=event_id,
            now=now,
        )
        for entry in live
    ]
    return await uow.ledger.add(rows)


async def ensure_sla_credit(
    uow: UnitOfWork, agreement: PartnerAgreement, order_id: str, *, now: datetime
) -> LedgerEntryRow | None:
    """The order's SLA credit, written if a term is breached and none exists yet.

    It occurs when both are known: the first breach and the order's plan
    entries (the later of the two). The caller holds the order's lock.
    """
    percent = agreement.sla.breach_credit_percent
    if not percent or await uow.ledger.has_key(credit_key(order_id)):
        return None
    breached_at = await uow.ledger.first_breach(order_id)
    if breached_at is None:
        return None
    entries = await uow.ledger.of_order(order_id)
    effect = sla_credit(
        percent, [(e.kind, Money(amount=e.amount, currency=e.currency)) for e in entries]
    )
    if effect is None:
        return None
    occurred_at = max([breached_at, *(e.occurred_at for e in entries)])
    effective = await settling_month(uow, month_of(occurred_at))
    written = await uow.ledger.add(
        [
            _row(
                effect,
                key=credit_key(order_id),
                partner_id=agreement.id,
                order_id=order_id,
                event_id=None,
                occurred_at=occurred_at,
                effective_month=effective,
                now=now,
            )
        ]
    )
    return written[0] if written else None


async def credit_breached_orders(container: Container, order_ids: Sequence[str]) -> int:
    """SLA credits for orders the deadline sweep just breached; the number written.

    Each order is locked in its own transaction, after the sweep committed, so
    the sweep never waits on an order a webhook is applying.
    """
    written = 0
    for order_id in dict.fromkeys(order_ids):
        async with container.uow() as uow:
            order = await uow.orders.lock_for_event(order_id)
            if order is None or order.status != OrderStatus.COMPLETED:
                continue
            if order.partner_id not in container.registry:
                continue
            agreement = container.registry.get(order.partner_id)
            credit = await ensure_sla_credit(uow, agreement, order_id, now=container.clock())
            await uow.commit()
        written += credit is not None
    return written


async def accrue_month(
    uow: UnitOfWork, registry: Registry, month: str, now: datetime
) -> list[LedgerEntryRow]:
    """Write the month's fixed fees (platform fees, outcome base fees) of every partner.

    Idempotent: a fee already written is not written again. A month already
    closed is left alone (closing accrued its fees).
    """
    await uow.ledger.hold_month(month)
    if await uow.ledger.closed_month(month) is not None:
        return []
    start = month_bounds(month)[0]
    rows = [
        _row(
            effect,
            key=f"month:{agreement.id}:{month}:{effect.component}",
            partner_id=agreement.id,
            order_id=None,
            event_id=None,
            occurred_at=start,
            effective_month=month,
            now=now,
        )
        for agreement in registry.all()
        for effect in monthly_effects(agreement.commission, month)
    ]
    return await uow.ledger.add(rows)


async def accrue_open_months(container: Container) -> int:
    """Accrue the fixed fees of this month and, until it is closed, the last; the number
    of entries written."""
    this = month_of(container.clock())
    written = 0
    for month in (previous_month(this), this):
        async with container.uow() as uow:
            written += len(await accrue_month(uow, container.registry, month, container.clock()))
            await uow.commit()
    return written


async def run_accrual(container: Container, *, interval_seconds: float) -> None:
    """Accrue fixed fees forever; a failed round is logged and retried at the next interval."""
    while True:
        try:
            if written := await accrue_open_months(container):
                _log.info("ledger.fees_accrued", entries=written)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("ledger.accrual_failed")
        await asyncio.sleep(interval_seconds)


def _outcome_plan(
    agreement: PartnerAgreement, month: str, kpi: str
) -> tuple[int, OutcomeBasedPlan]:
    start, end = month_bounds(month)
    first, last = start.astimezone(SHANGHAI).date(), end.astimezone(SHANGHAI).date()
    for index, plan in enumerate(agreement.commission.plans):
        if (
            isinstance(plan, OutcomeBasedPlan)
            and plan.kpi == kpi
            and plan.valid_from < last
            and (plan.valid_to is None or plan.valid_to >= first)
        ):
            return index, plan
    kpis = sorted({p.kpi for p in agreement.commission.plans if isinstance(p, OutcomeBasedPlan)})
    raise Problem(
        f"{agreement.id} has no outcome-based plan for KPI {kpi!r} in force in {month}"
        + (f"; its plans measure: {', '.join(kpis)}." if kpis else "; it has none."),
        slug="no-outcome-plan",
        title="No outcome-based plan for this KPI",
        status=422,
        errors=[FieldError(field="kpi", reason="no outcome-based plan measures it", type="value")],
    )


async def record_kpi(
    container: Container,
    *,
    partner_id: str,
    month: str,
    kpi: str,
    value: Decimal,
    source: str,
    attribution: Attribution,
    recorded_by: str,
) -> KpiRecorded:
    """Record a month's KPI value and the bonus it earns, before the month closes.

    A newer value of the same KPI and month supersedes the earlier one: the
    earlier bonus is reversed and the new one written. Raises ``UnknownPartner``,
    a 422 for a KPI no plan measures, another attribution or a month not begun,
    and ``SettlementMonthClosed`` once the month is closed.
    """
    agreement = container.registry.get(partner_id)
    now = container.clock()
    if month > month_of(now):
        raise Problem(
            f"{month} has not begun (Asia/Shanghai); record its KPI once it is measured.",
            slug="month-not-begun",
            title="Month not begun",
            status=422,
            errors=[FieldError(field="month", reason="is in the future", type="value")],
        )
    index, plan = _outcome_plan(agreement, month, kpi)
    if attribution is not plan.attribution:
        raise Problem(
            f"the agreement with {partner_id} attributes {kpi} by {plan.attribution.value}; "
            f"a value attributed by {attribution.value} cannot be used.",
            slug="attribution-mismatch",
            title="Attribution differs from the agreement",
            status=422,
            errors=[
                FieldError(
                    field="attribution",
                    reason=f"must be {plan.attribution.value}, as agreed",
                    type="value",
                )
            ],
        )
    async with container.uow() as uow:
        await uow.ledger.hold_month(month)
        if await uow.ledger.closed_month(month) is not None:
            raise SettlementMonthClosed(
                f"{month} is closed; its KPI values and statements are frozen. "
                "A correction now is a ledger correction in an open month."
            )
        row = KpiValueRow(
            partner_id=partner_id,
            month=month,
            kpi=kpi,
            value=format(value, "f"),
            source=source,
            attribution=attribution.value,
            recorded_at=now,
            recorded_by=recorded_by[:64],
        )
        uow.ledger.add_kpi(row)
        await uow.flush()
        # Recorded during the month, or at its last instant when recorded after it.
        at = now if month_of(now) == month else month_bounds(month)[1] - _INSTANT
        prefix = f"kpi:{partner_id}:{month}:{index}:"
        earlier = await uow.ledger.live_by_prefix(prefix)
        superseded = None
        for entry in earlier:
            (superseded,) = await uow.ledger.add(
                [
                    _reversal(
                        entry,
                        why=f"superseded by KPI value {row.id} ({kpi} = {row.value})",
                        occurred_at=at,
                        effective_month=month,
                        event_id=None,
                        now=now,
                    )
                ]
            )
        bonus = None
        effect = kpi_bonus(plan, index, month, value)
        if effect is not None:
            (bonus,) = await uow.ledger.add(
                [
                    _row(
                        effect,
                        key=f"{prefix}{row.id}",
                        partner_id=partner_id,
                        order_id=None,
                        event_id=None,
                        occurred_at=at,
                        effective_month=month,
                        now=now,
                    )
                ]
            )
        await uow.commit()
    _log.info("ledger.kpi_recorded", partner_id=partner_id, month=month, kpi=kpi)
    return KpiRecorded(row, bonus, superseded)


async def correct_entry(
    container: Container,
    entry_id: int,
    *,
    reason: str,
    amount: int | None,
    corrected_by: str,
) -> tuple[LedgerEntryRow, LedgerEntryRow | None]:
    """Reverse an entry and, when ``amount`` is given, write the corrected amount in its
    place (same order, plan and direction). Both settle in the current open month."""
    now = container.clock()
    async with container.uow() as uow:
        entry = await uow.ledger.get(entry_id)
        if entry is None:
            raise NotFound(
                f"No ledger entry {entry_id}; GET /v1/ledger/entries lists them.",
                slug="unknown-ledger-entry",
                title="Unknown ledger entry",
            )
        if entry.reverses_id is not None:
            raise EntryAlreadyReversed(
                f"entry {entry_id} is itself the reversal of entry {entry.reverses_id}; "
                f"correct entry {entry.reverses_id}'s replacement instead.",
                slug="entry-is-reversal",
                title="A reversal cannot be corrected",
            )
        effective = await settling_month(uow, month_of(now))
        why = f"corrected by {corrected_by[:64]}: {reason}"
        reversal = _reversal(
            entry, why=why, occurred_at=now, effective_month=effective, event_id=None, now=now
        )
        reversed_ = await uow.ledger.add([reversal])
        if not reversed_:
            raise EntryAlreadyReversed(
                f"entry {entry_id} was already reversed; correct its replacement, if any."
            )
        replacement = None
        if amount is not None:
            corrected = reversal | {
                "entry_key": f"correction:{entry.id}",
                "amount": amount,
                "reverses_id": None,
                "reason": f"replaces entry {entry.id}, {why}",
            }
            (replacement,) = await uow.ledger.add([corrected])
        await uow.commit()
    _log.info("ledger.corrected", entry_id=entry_id, by=corrected_by, replaced=amount is not None)
    return reversed_[0], replacement
