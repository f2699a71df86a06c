"""Turn one stored delivery into a canonical event and apply it to its order, once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from adapters import TranslationError, UnknownDialect, translator_for
from contracts import (
    CANONICAL_DIALECT,
    CanonicalEvent,
    IllegalTransition,
    Operation,
    OrderStatus,
    TransitionDecision,
    decide_transition,
)
from gateway.ledger import record_order_event
from gateway.logs import get_logger
from gateway.persistence.repositories import Delivery
from gateway.persistence.tables import DeadLetterRow, OrderEventRow
from gateway.persistence.uow import UnitOfWork
from gateway.privacy.relays import release_relays
from gateway.problems import FieldError
from gateway.registry import Registry
from gateway.slo.clocks import start_clocks, stop_clocks
from gateway.webhooks.outcomes import DeliveryOutcome, Outcome

__all__ = ["apply_delivery", "dead_letter", "parse_event"]

_log = get_logger("gateway.webhooks")
_security = get_logger("gateway.security")

# Statuses after which nobody needs to call the customer through a relay number.
_CLOSING = frozenset(
    {OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.FAILED, OrderStatus.REJECTED}
)


class _DeadLetter(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class _Rejected(Exception):
    def __init__(self, outcome: DeliveryOutcome) -> None:
        super().__init__(outcome.body.get("detail"))
        self.outcome = outcome


def _field(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def parse_event(registry: Registry, partner_id: str, body: bytes) -> CanonicalEvent:
    """The canonical event of a delivery, by the partner's webhook dialect.

    Raises `_Rejected` for a canonical payload that breaks the published schema
    (the partner must fix it) and `_DeadLetter` when the partner's own dialect
    cannot be translated (fixable on our side, then replayed).
    """
    if partner_id not in registry:
        raise _DeadLetter("unknown_partner", f"{partner_id} is no longer in the partner registry")
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _DeadLetter("malformed_payload", f"stored body is not JSON: {exc}") from exc
    dialect = registry.get(partner_id).webhook.dialect
    if dialect == CANONICAL_DIALECT:
        try:
            return CanonicalEvent.model_validate(payload)
        except ValidationError as exc:
            errors = [
                FieldError(field=_field(tuple(e["loc"])) or "body", reason=e["msg"], type=e["type"])
                for e in exc.errors()
            ]
            raise _Rejected(
                DeliveryOutcome.rejected(
                    status=422,
                    slug="invalid-event",
                    title="Event does not match the published schema",
                    detail="; ".join(f"{e.field}: {e.reason}" for e in errors[:5])
                    + " (see GET /v1/events/catalog)",
                    errors=errors,
                )
            ) from exc
    try:
        return translator_for(dialect).translate(payload, partner_id=partner_id)
    except (TranslationError, UnknownDialect) as exc:
        raise _DeadLetter("translation_failed", f"{dialect}: {exc}") from exc


async def apply_delivery(
    uow: UnitOfWork,
    registry: Registry,
    row: Delivery,
    now: datetime,
    *,
    existing_letter_id: int | None = None,
) -> DeliveryOutcome:
    """Apply the delivery in `row` inside the caller's transaction; never raises for bad input.

    What cannot be applied becomes a dead letter, unless it is one already
    (`existing_letter_id`, when a dead letter is replayed).
    """
    try:
        event = parse_event(registry, row.partner_id, row.body)
        return await _apply_event(uow, registry, row, event, now)
    except _Rejected as rejected:
        return rejected.outcome
    except _DeadLetter as letter:
        if existing_letter_id is not None:
            return DeliveryOutcome.dead_lettered(
                reason=letter.reason, detail=letter.detail, dead_letter_id=existing_letter_id
            )
        return await dead_letter(uow, row, letter.reason, letter.detail, now)


async def _apply_event(
    uow: UnitOfWork, registry: Registry, row: Delivery, event: CanonicalEvent, now: datetime
) -> DeliveryOutcome:
    if event.partner_id != row.partner_id:
        _security.warning(
            "security.partner_mismatch", partner_id=row.partner_id, claimed=event.partner_id
        )
        raise _Rejected(
            DeliveryOutcome.rejected(
                status=403,
                slug="partner-mismatch",
                title="Event names another partner",
                detail=f"partner_id in the event is {event.partner_id!r}; "
                f"this endpoint and token belong to {row.partner_id!r}",
            )
        )
    order = await uow.orders.lock_for_event(event.order_id)
    if order is None:
        raise _DeadLetter("unknown_order", f"no order {event.order_id}")
    if order.partner_id != row.partner_id:
        _security.warning(
            "security.foreign_order",
            partner_id=row.partner_id,
            order_id=order.id,
            owner=order.partner_id,
        )
        raise _Rejected(
            DeliveryOutcome.rejected(
                status=403,
                slug="foreign-order",
                title="Order belongs to another partner",
                detail=f"order {event.order_id} was not placed with {row.partner_id}",
            )
        )
    current = OrderStatus(order.status)
    target = event.moves_to
    decision = None
    if target is not None:
        try:
            decision = decide_transition(current, target)
        except IllegalTransition as exc:
            raise _Rejected(
                DeliveryOutcome.rejected(
                    status=409,
                    slug="illegal-transition",
                    title="Event does not fit the order's state",
                    detail=f"{event.type} for order {order.id}: {exc}",
                )
            ) from exc
    moves = decision is TransitionDecision.APPLY
    if moves and event.partner_reference and order.partner_reference is None:
        holder = await uow.orders.by_partner_reference(row.partner_id, event.partner_reference)
        if holder is not None and holder.id != order.id:
            raise _Rejected(
                DeliveryOutcome.rejected(
                    status=409,
                    slug="partner-reference-in-use",
                    title="Partner reference already names another order",
                    detail=f"partner_reference {event.partner_reference!r} already names order "
                    f"{holder.id}; send order {order.id}'s own reference",
                )
            )
    inserted = await uow.orders.add_event(
        OrderEventRow(
            order_id=order.id,
            event_id=event.event_id,
            event_type=event.type.value,
            occurred_at=event.occurred_at,
            sequence=event.sequence,
            source="webhook",
            inbox_id=row.id,
            data=event.data.model_dump(mode="json"),
            moved_state=moves,
            recorded_at=now,
        )
    )
    final_status = order.status
    if not inserted:
        outcome, detail = Outcome.DUPLICATE_EVENT, "this event id was already recorded"
    elif moves:
        assert target is not None
        await uow.orders.move_status(
            order.id,
            status=target.value,
            occurred_at=event.occurred_at,
            sequence=event.sequence,
            partner_reference=event.partner_reference,
            now=now,
        )
        final_status = target.value
        if target in _CLOSING:
            # The order is over: its relay numbers stop reaching the customer, in this
            # same transaction, and go back to the pool.
            await release_relays(uow, order_id=order.id, now=now)
        outcome, detail = Outcome.APPLIED, f"order moved from {current} to {target}"
    elif decision is None:
        outcome, detail = Outcome.RECORDED, "recorded in the order's history"
    else:
        outcome, detail = Outcome.STALE, f"recorded; the order is already {current}"
    if inserted:
        await _measure(uow, registry, order.id, row.partner_id, event, now)
        await record_order_event(
            uow,
            registry,
            order_id=order.id,
            partner_id=row.partner_id,
            event=event,
            previous=current,
            moved_to=target if moves else None,
            status=OrderStatus(final_status),
            now=now,
        )
    _log.info(
        "webhook.applied",
        partner_id=row.partner_id,
        order_id=order.id,
        event_type=event.type.value,
        effect=outcome.value,
    )
    return DeliveryOutcome.applied(
        outcome,
        event_id=event.event_id,
        order_id=order.id,
        order_status=final_status,
        detail=detail,
    )


async def _measure(
    uow: UnitOfWork,
    registry: Registry,
    order_id: str,
    partner_id: str,
    event: CanonicalEvent,
    now: datetime,
) -> None:
    """The event stops the order's SLA clocks waiting for it, and starts those it begins."""
    await stop_clocks(
        uow, order_id=order_id, event_type=event.type.value, occurred_at=event.occurred_at, now=now
    )
    if partner_id not in registry:
        return
    agreement = registry.get(partner_id)
    if not any(term.start == event.type.value for term in agreement.sla.terms):
        return
    order = await uow.orders.get(order_id)
    if order is not None:
        await start_clocks(
            uow,
            agreement,
            order_id=order_id,
            operation=Operation(order.operation),
            start=event.type.value,
            started_at=event.occurred_at,
            now=now,
        )


async def dead_letter(
    uow: UnitOfWork, row: Delivery, reason: str, detail: str, now: datetime
) -> DeliveryOutcome:
    """Keep the delivery as a dead letter with its reason; the partner gets a 202."""
    letter = DeadLetterRow(
        inbox_id=row.id,
        partner_id=row.partner_id,
        reason=reason,
        detail=detail,
        payload=row.body,
        created_at=now,
        replay_count=0,
    )
    uow.dead_letters.add(letter)
    await uow.flush()
    _log.warning("webhook.dead_lettered", partner_id=row.partner_id, reason=reason)
    return DeliveryOutcome.dead_lettered(reason=reason, detail=detail, dead_letter_id=letter.id)
