"""Queries over the inbox of raw webhook deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.persistence.repositories._dialect import prebuilt
from gateway.persistence.tables import InboxRow

__all__ = ["Delivery", "InboxRepository", "StoredDelivery"]

_INBOX = cast(Table, InboxRow.__table__)

_STORE = prebuilt(
    lambda insert: (
        insert(_INBOX)
        .values(
            partner_id=bindparam("partner_id"),
            webhook_id=bindparam("webhook_id"),
            headers=bindparam("headers"),
            body=bindparam("body"),
            received_at=bindparam("received_at"),
            status="received",
        )
        .on_conflict_do_nothing(index_elements=["partner_id", "webhook_id"])
        .returning(_INBOX.c.id)
    )
)

_CLAIM = (
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("inbox_id"), _INBOX.c.status == "received")
    .values(status="processing")
    .returning(_INBOX.c.id, _INBOX.c.partner_id, _INBOX.c.webhook_id, _INBOX.c.body)
)

_RECORD_OUTCOME = (
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("inbox_id"))
    .values(
        status=bindparam("status"),
        response_status=bindparam("response_status"),
        response_body=bindparam("response_body"),
        processed_at=bindparam("processed_at"),
    )
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The parts of a stored delivery that applying it needs."""

    id: int
    partner_id: str
    webhook_id: str
    body: bytes


@dataclass(frozen=True)
class StoredDelivery:
    """The outcome of storing a delivery: the row, and whether this call created it."""

    row: InboxRow
    created: bool


class InboxRepository:
    """Raw deliveries, unique per partner and webhook id, written before any 2xx."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _core(self, statement: Any, params: dict[str, Any]) -> Any:
        # Hot-path statements are Core: run them on the session's connection (same
        # transaction), skipping the ORM execution layer they do not need.
        connection = await self._session.connection()
        return await connection.execute(statement, params)

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
        new_id = (
            await self._core(
                _STORE(self._session),
                {
                    "partner_id": partner_id,
                    "webhook_id": webhook_id,
                    "headers": headers,
                    "body": body,
                    "received_at": received_at,
                },
            )
        ).scalar_one_or_none()
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
        await self._core(
            _RECORD_OUTCOME,
            {
                "inbox_id": inbox_id,
                "status": status,
                "response_status": response_status,
                "response_body": response_body,
                "processed_at": processed_at,
            },
        )

    async def set_status(self, inbox_id: int, status: str, *, processed_at: datetime) -> None:
        """Change the status only, keeping the recorded first answer (dead-letter replays)."""
        await self._session.execute(
            update(InboxRow)
            .where(InboxRow.id == inbox_id)
            .values(status=status, processed_at=processed_at)
        )

    async def claim(self, inbox_id: int) -> Delivery | None:
        """Take a stored delivery for applying; None when it is already taken or done.

        The conditional UPDATE is the lock: on PostgreSQL a second claimer waits
        for the first transaction and then matches no row; on SQLite the write
        lock serialises them the same way. A crash rolls the claim back.
        """
        row = (await self._core(_CLAIM, {"inbox_id": inbox_id})).one_or_none()
        return None if row is None else Delivery(row.id, row.partner_id, row.webhook_id, row.body)

    async def unprocessed(self, *, received_before: datetime, limit: int) -> Sequence[int]:
        """Ids of deliveries stored but never applied (e.g. the process died in between)."""
        result = await self._session.scalars(
            select(InboxRow.id)
            .where(InboxRow.status == "received", InboxRow.received_at < received_before)
            .order_by(InboxRow.id)
            .limit(limit)
        )
        return result.all()
