"""Queries over dead letters: deliveries kept with the reason they could not be applied."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.persistence.tables import DeadLetterRow

__all__ = ["DeadLetterRepository"]


class DeadLetterRepository:
    """Dead letters, replayable until resolved; never deleted."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, letter: DeadLetterRow) -> None:
        """Stage a dead letter for insertion at commit."""
        self._session.add(letter)

    async def get(self, letter_id: int) -> DeadLetterRow | None:
        """The dead letter with this id, or None."""
        return await self._session.get(DeadLetterRow, letter_id)

    async def unresolved(
        self,
        *,
        partner_id: str | None = None,
        since: datetime | None = None,
        limit: int = 500,
    ) -> Sequence[DeadLetterRow]:
        """Unresolved letters, oldest first."""
        # No row locks: replaying a letter twice is harmless, since an order records
        # each event id once.
        statement = select(DeadLetterRow).where(DeadLetterRow.resolved_at.is_(None))
        if partner_id is not None:
            statement = statement.where(DeadLetterRow.partner_id == partner_id)
        if since is not None:
            statement = statement.where(DeadLetterRow.created_at >= since)
        statement = statement.order_by(DeadLetterRow.created_at, DeadLetterRow.id).limit(limit)
        return (await self._session.scalars(statement)).all()

    async def record_replay(self, letter_id: int, *, at: datetime, resolved: bool) -> None:
        """Count a replay attempt; a successful one resolves the letter."""
        await self._session.execute(
            update(DeadLetterRow)
            .where(DeadLetterRow.id == letter_id)
            .values(
                replay_count=DeadLetterRow.replay_count + 1,
                last_replayed_at=at,
                resolved_at=at if resolved else None,
            )
        )
