"""Queries over consents, the disclosure audit and relay number bindings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.persistence.repositories._dialect import insert_for
from gateway.persistence.tables import (
    ConsentEventRow,
    ConsentRow,
    DisclosureRow,
    RelayBindingRow,
)

__all__ = ["ConsentRepository", "DisclosureRepository", "RelayRepository"]

_RELAYS = cast(Table, RelayBindingRow.__table__)


class ConsentRepository:
    """Customers' consents (active, withdrawn, withdrawn contract defaults) and their events."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, consent: ConsentRow) -> None:
        """Stage a consent row for insertion at commit."""
        self._session.add(consent)

    def add_event(self, event: ConsentEventRow) -> None:
        """Stage a grant or withdrawal event for insertion at commit."""
        self._session.add(event)

    async def of_purpose(self, customer_id: str, purpose: str) -> Sequence[ConsentRow]:
        """Every consent row of the customer for the purpose, withdrawn ones included."""
        result = await self._session.scalars(
            select(ConsentRow)
            .where(ConsentRow.customer_id == customer_id, ConsentRow.purpose == purpose)
            .order_by(ConsentRow.granted_at, ConsentRow.id)
        )
        return result.all()

    async def active(self, customer_id: str) -> Sequence[ConsentRow]:
        """The customer's consents not withdrawn, oldest grant first."""
        result = await self._session.scalars(
            select(ConsentRow)
            .where(ConsentRow.customer_id == customer_id, ConsentRow.withdrawn_at.is_(None))
            .order_by(ConsentRow.granted_at, ConsentRow.id)
        )
        return result.all()

    async def withdrawn_defaults(self, customer_id: str, source: str) -> set[str]:
        """The purposes whose contract default (rows of `source`) the customer withdrew."""
        result = await self._session.scalars(
            select(ConsentRow.purpose).where(
                ConsentRow.customer_id == customer_id,
                ConsentRow.source == source,
                ConsentRow.withdrawn_at.is_not(None),
            )
        )
        return set(result.all())

    async def withdraw_active(
        self, customer_id: str, purpose: str, at: datetime
    ) -> Sequence[ConsentRow]:
        """Withdraw every active consent of the customer for the purpose; the rows withdrawn."""
        ids = (
            await self._session.scalars(
                update(ConsentRow)
                .where(
                    ConsentRow.customer_id == customer_id,
                    ConsentRow.purpose == purpose,
                    ConsentRow.withdrawn_at.is_(None),
                )
                .values(withdrawn_at=at)
                .returning(ConsentRow.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
        if not ids:
            return []
        result = await self._session.scalars(
            select(ConsentRow)
            .where(ConsentRow.id.in_(ids))
            .order_by(ConsentRow.granted_at, ConsentRow.id)
            .execution_options(populate_existing=True)
        )
        return result.all()

    async def events(self, customer_id: str) -> Sequence[ConsentEventRow]:
        """The customer's consent events, oldest first."""
        result = await self._session.scalars(
            select(ConsentEventRow)
            .where(ConsentEventRow.customer_id == customer_id)
            .order_by(ConsentEventRow.at, ConsentEventRow.id)
        )
        return result.all()


class DisclosureRepository:
    """The disclosure audit: which fields (never values) went to which partner, and why."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, disclosure: DisclosureRow) -> None:
        """Stage a disclosure record for insertion at commit."""
        self._session.add(disclosure)

    async def of_customer(
        self, customer_id: str, *, limit: int, before: int | None = None
    ) -> Sequence[DisclosureRow]:
        """The customer's disclosures, newest first, after the `before` cursor (a row id).

        Keyset pagination on (created_at, id): the cursor row's time is looked up
        in the same statement, so pages neither skip nor repeat rows.
        """
        statement = select(DisclosureRow).where(DisclosureRow.customer_id == customer_id)
        if before is not None:
            at = (
                select(DisclosureRow.created_at).where(DisclosureRow.id == before).scalar_subquery()
            )
            statement = statement.where(
                or_(
                    DisclosureRow.created_at < at,
                    and_(DisclosureRow.created_at == at, DisclosureRow.id < before),
                )
            )
        statement = statement.order_by(
            DisclosureRow.created_at.desc(), DisclosureRow.id.desc()
        ).limit(limit)
        return (await self._session.scalars(statement)).all()


class RelayRepository:
    """Virtual numbers bound to an order and a customer's number until released."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open_for(self, order_id: str, real_number: str) -> RelayBindingRow | None:
        """The open binding of this order for this customer number."""
        return (
            await self._session.scalars(
                select(RelayBindingRow).where(
                    RelayBindingRow.order_id == order_id,
                    RelayBindingRow.real_number == real_number,
                    RelayBindingRow.released_at.is_(None),
                )
            )
        ).one_or_none()

    async def open_by_number(self, virtual_number: str) -> RelayBindingRow | None:
        """The open binding of a virtual number."""
        return (
            await self._session.scalars(
                select(RelayBindingRow).where(
                    RelayBindingRow.virtual_number == virtual_number,
                    RelayBindingRow.released_at.is_(None),
                )
            )
        ).one_or_none()

    async def try_bind(
        self,
        *,
        virtual_number: str,
        order_id: str,
        partner_id: str,
        real_number: str,
        now: datetime,
    ) -> bool:
        """Bind the virtual number unless an open binding holds it (or this order's number).

        `INSERT ... ON CONFLICT DO NOTHING` against the partial unique indexes: a
        conflict leaves the caller's transaction intact, so no savepoint is needed.
        On PostgreSQL a concurrent binder of the same number waits for the other
        transaction, then inserts (it rolled back) or does nothing (it committed).
        """
        values: dict[str, Any] = {
            "virtual_number": virtual_number,
            "order_id": order_id,
            "partner_id": partner_id,
            "real_number": real_number,
            "bound_at": now,
        }
        statement = (
            insert_for(self._session, _RELAYS)
            .values(values)
            .on_conflict_do_nothing()
            .returning(_RELAYS.c.id)
        )
        connection = await self._session.connection()
        return (await connection.execute(statement)).scalar_one_or_none() is not None

    async def open_virtual_numbers(self) -> set[str]:
        """Every virtual number held by an open binding (bounded by the orders still open)."""
        result = await self._session.scalars(
            select(RelayBindingRow.virtual_number).where(RelayBindingRow.released_at.is_(None))
        )
        return set(result.all())

    async def release_order(self, order_id: str, at: datetime) -> int:
        """Release every open binding of the order; how many were released."""
        result = await self._session.execute(
            update(RelayBindingRow)
            .where(RelayBindingRow.order_id == order_id, RelayBindingRow.released_at.is_(None))
            .values(released_at=at)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def of_order(self, order_id: str) -> Sequence[RelayBindingRow]:
        """Every binding of the order, open or released, oldest first."""
        result = await self._session.scalars(
            select(RelayBindingRow)
            .where(RelayBindingRow.order_id == order_id)
            .order_by(RelayBindingRow.bound_at, RelayBindingRow.id)
        )
        return result.all()
