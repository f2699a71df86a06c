"""Queries over the inbox of raw webhook deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.persistence.repositories._dialect import insert_for
from gateway.persistence.tables import InboxRow

__all__ = ["InboxRepository", "StoredDelivery"]


@dataclass(frozen=True)
class StoredDelivery:
    """The outcome of storing a delivery: the row, and whether this call created it."""

    row: InboxRow
    created: bool


class InboxRepository:
    """Raw deliveries, unique per partner and webhook id, written before any 2xx."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def store(
        self,
        *,
        partner_id: str,
        webhook_id: str,
        headers: dict[str, Any],
        body: bytes,
        received_at: datetime,
    ) -> StoredDelivery:
        """Insert the delivery unless this partner already sent this webhook id.

        Concurrent callers with the same id race on the unique constraint: exactly
        one gets `created=True`, the others get the stored row.
        """
        statement = (
            insert_for(self._session, InboxRow)
            .values(
                partner_id=partner_id,
                webhook_id=webhook_id,
                headers=headers,
                body=body,
                received_at=received_at,
                status="received",
            )
            .on_conflict_do_nothing(index_elements=["partner_id", "webhook_id"])
            .returning(InboxRow.id)
        )
        new_id = (await self._session.execute(statement)).scalar_one_or_none()
        if new_id is not None:
            row = InboxRow(
                id=new_id,
                partner_id=partner_id,
                webhook_id=webhook_id,
                headers=headers,
                body=body,
                received_at=received_at,
                status="received",
            )
            return StoredDelivery(row=row, created=True)
        existing = await self.by_webhook_id(partner_id, webhook_id)
        assert existing is not None, "the conflicting delivery is committed and visible"
        return StoredDelivery(row=existing, created=False)

    async def get(self, inbox_id: int) -> InboxRow | None:
        """The delivery with this id, or None."""
        return await self._session.get(InboxRow, inbox_id)

    async def by_webhook_id(self, partner_id: str, webhook_id: str) -> InboxRow | None:
        """The delivery a partner sent under this webhook id."""
        return (
            await self._session.scalars(
                select(InboxRow).where(
                    InboxRow.partner_id == partner_id, InboxRow.webhook_id == webhook_id
                )
            )
        ).one_or_none()

    async def record_outcome(
        self,
        inbox_id: int,
        *,
        status: str,
        response_status: int,
        response_body: dict[str, Any],
        processed_at: datetime,
    ) -> None:
        """Remember how the delivery was handled, so a replay gets the same answer."""
        await self._session.execute(
            update(InboxRow)
            .where(InboxRow.id == inbox_id)
            .values(
                status=status,
                response_status=response_status,
                response_body=response_body,
                processed_at=processed_at,
            )
        )

    async def set_status(self, inbox_id: int, status: str, *, processed_at: datetime) -> None:
        """Change the status only, keeping the recorded first answer (dead-letter replays)."""
        await self._session.execute(
            update(InboxRow)
            .where(InboxRow.id == inbox_id)
            .values(status=status, processed_at=processed_at)
        )

    async def claim(self, inbox_id: int) -> InboxRow | None:
        """Take a stored delivery for applying; None when it is already taken or done.

        The conditional UPDATE is the lock: on PostgreSQL a second claimer waits
        for the first transaction and then matches no row; on SQLite the write
        lock serialises them the same way. A crash rolls the claim back.
        """
        result = await self._session.scalars(
            update(InboxRow)
            .where(InboxRow.id == inbox_id, InboxRow.status == "received")
            .values(status="processing")
            .returning(InboxRow),
            execution_options={"synchronize_session": False},
        )
        return result.one_or_none()

    async def unprocessed(self, *, received_before: datetime, limit: int) -> Sequence[int]:
        """Ids of deliveries stored but never applied (e.g. the process died in between)."""
        result = await self._session.scalars(
            select(InboxRow.id)
            .where(InboxRow.status == "received", InboxRow.received_at < received_before)
            .order_by(InboxRow.id)
            .limit(limit)
        )
        return result.all()
