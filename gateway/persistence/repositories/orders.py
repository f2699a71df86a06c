"""Queries over orders and their event history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.persistence.repositories._dialect import is_postgresql, prebuilt
from gateway.persistence.tables import OrderEventRow, OrderRow

__all__ = ["OrderRepository", "OrderState"]

_ORDERS = cast(Table, OrderRow.__table__)
_EVENTS = cast(Table, OrderEventRow.__table__)
_EVENT_COLUMNS = [c for c in _EVENTS.columns if c.key != "id"]

_LOCK = select(
    _ORDERS.c.id, _ORDERS.c.partner_id, _ORDERS.c.status, _ORDERS.c.partner_reference
).where(_ORDERS.c.id == bindparam("order_id"))
_LOCK_PG = _LOCK.with_for_update()

_MOVE_STATUS = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("order_id"))
    .values(
        status=bindparam("status"),
        status_occurred_at=bindparam("occurred_at"),
        status_sequence=bindparam("sequence"),
        partner_reference=func.coalesce(_ORDERS.c.partner_reference, bindparam("reference")),
        updated_at=bindparam("now"),
    )
)

_ADD_EVENT = prebuilt(
    lambda insert: (
        insert(_EVENTS)
        .values({c.key: bindparam(c.key) for c in _EVENT_COLUMNS})
        .on_conflict_do_nothing(index_elements=["order_id", "event_id"])
        .returning(_EVENTS.c.id)
    )
)


@dataclass(frozen=True, slots=True)
class OrderState:
    """What applying an event needs to know about its order."""

    id: str
    partner_id: str
    status: str
    partner_reference: str | None


class OrderRepository:
    """Orders placed with partners and the canonical events applied to them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _core(self, statement: Any, params: dict[str, Any]) -> Any:
        # Hot-path statements are Core: run them on the session's connection (same
        # transaction), skipping the ORM execution layer they do not need.
        connection = await self._session.connection()
        return await connection.execute(statement, params)

    def add(self, order: OrderRow) -> None:
        """Stage a new order for insertion at commit."""
        self._session.add(order)

    async def get(self, order_id: str, *, for_update: bool = False) -> OrderRow | None:
        """The order with this id; `for_update` locks its row until commit (PostgreSQL)."""
        statement = select(OrderRow).where(OrderRow.id == order_id)
        if for_update and is_postgresql(self._session):
            statement = statement.with_for_update()
        return (await self._session.scalars(statement)).one_or_none()

    async def by_partner_reference(self, partner_id: str, reference: str) -> OrderRow | None:
        """The order a partner knows under its own reference."""
        return (
            await self._session.scalars(
                select(OrderRow).where(
                    OrderRow.partner_id == partner_id, OrderRow.partner_reference == reference
                )
            )
        ).one_or_none()

    async def lock_for_event(self, order_id: str) -> OrderState | None:
        """The order's owner and state, its row locked until commit (PostgreSQL)."""
        statement = _LOCK_PG if is_postgresql(self._session) else _LOCK
        row = (await self._core(statement, {"order_id": order_id})).one_or_none()
        if row is None:
            return None
        return OrderState(row.id, row.partner_id, row.status, row.partner_reference)

    async def move_status(
        self,
        order_id: str,
        *,
        status: str,
        occurred_at: datetime,
        sequence: int,
        partner_reference: str | None,
        now: datetime,
    ) -> None:
        """Set the order's status from an event (and the partner's reference if still unset)."""
        await self._core(
            _MOVE_STATUS,
            {
                "order_id": order_id,
                "status": status,
                "occurred_at": occurred_at,
                "sequence": sequence,
                "reference": partner_reference,
                "now": now,
            },
        )

    async def add_event(self, event: OrderEventRow) -> bool:
        """Insert an event once; False when this event id is already recorded for the order."""
        values = {column.key: getattr(event, column.key) for column in _EVENT_COLUMNS}
        inserted = (await self._core(_ADD_EVENT(self._session), values)).scalar_one_or_none()
        return inserted is not None

    async def events(self, order_id: str) -> Sequence[OrderEventRow]:
        """The order's events in their own time order (then sequence, then arrival)."""
        result = await self._session.scalars(
            select(OrderEventRow)
            .where(OrderEventRow.order_id == order_id)
            .order_by(OrderEventRow.occurred_at, OrderEventRow.sequence, OrderEventRow.id)
        )
        return result.all()

    async def by_idempotency_key(self, client_id: str, key: str) -> OrderRow | None:
        """The order a client placed under an Idempotency-Key."""
        return (
            await self._session.scalars(
                select(OrderRow).where(
                    OrderRow.client_id == client_id, OrderRow.idempotency_key == key
                )
            )
        ).one_or_none()

    async def by_repair_order(self, repair_order_id: str) -> OrderRow | None:
        """The courtesy-car order placed for a repair order."""
        return (
            await self._session.scalars(
                select(OrderRow).where(OrderRow.repair_order_id == repair_order_id)
            )
        ).one_or_none()

    async def month_volume(
        self, category: str, start: datetime, end: datetime
    ) -> tuple[int, dict[str, int]]:
        """Orders of a category created in [start, end): in all, and per partner."""
        rows = (
            await self._session.execute(
                select(OrderRow.partner_id, func.count())
                .where(
                    OrderRow.category == category,
                    OrderRow.created_at >= start,
                    OrderRow.created_at < end,
                )
                .group_by(OrderRow.partner_id)
            )
        ).all()
        by_partner = {partner: int(count) for partner, count in rows if partner is not None}
        return sum(int(count) for _, count in rows), by_partner

    async def for_partner_between(
        self, partner_id: str, start: datetime, end: datetime
    ) -> Sequence[OrderRow]:
        """A partner's orders created in [start, end)."""
        result = await self._session.scalars(
            select(OrderRow)
            .where(
                OrderRow.partner_id == partner_id,
                OrderRow.created_at >= start,
                OrderRow.created_at < end,
            )
            .order_by(OrderRow.created_at, OrderRow.id)
        )
        return result.all()
