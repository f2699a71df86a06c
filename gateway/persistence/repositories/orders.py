"""Queries over orders and their event history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.persistence.repositories._dialect import insert_for, is_postgresql
from gateway.persistence.tables import OrderEventRow, OrderRow

__all__ = ["OrderRepository"]


class OrderRepository:
    """Orders placed with partners and the canonical events applied to them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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

    async def add_event(self, event: OrderEventRow) -> bool:
        """Insert an event once; False when this event id is already recorded for the order."""
        values = {
            column.key: getattr(event, column.key)
            for column in OrderEventRow.__table__.columns
            if column.key != "id"
        }
        statement = (
            insert_for(self._session, OrderEventRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["order_id", "event_id"])
            .returning(OrderEventRow.id)
        )
        inserted = (await self._session.execute(statement)).scalar_one_or_none()
        return inserted is not None

    async def events(self, order_id: str) -> Sequence[OrderEventRow]:
        """The order's events in their own time order (then sequence, then arrival)."""
        result = await self._session.scalars(
            select(OrderEventRow)
            .where(OrderEventRow.order_id == order_id)
            .order_by(OrderEventRow.occurred_at, OrderEventRow.sequence, OrderEventRow.id)
        )
        return result.all()

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
