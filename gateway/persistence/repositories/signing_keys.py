"""Queries over the OAuth server's signing keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.persistence.tables import SigningKeyRow

__all__ = ["SigningKeyRepository"]


class SigningKeyRepository:
    """Signing keys, shared by every gateway process through the database."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, key: SigningKeyRow) -> None:
        """Stage a new key for insertion at commit."""
        self._session.add(key)

    async def published(self, retired_after: datetime) -> Sequence[SigningKeyRow]:
        """Active keys and keys retired after `retired_after`, newest first."""
        result = await self._session.scalars(
            select(SigningKeyRow)
            .where(
                or_(SigningKeyRow.retired_at.is_(None), SigningKeyRow.retired_at > retired_after)
            )
            .order_by(SigningKeyRow.created_at.desc(), SigningKeyRow.kid.desc())
        )
        return result.all()

    async def retire_active(self, at: datetime) -> list[str]:
        """Mark every active key retired at `at`; the kids of the keys retired."""
        result = await self._session.execute(
            update(SigningKeyRow)
            .where(SigningKeyRow.retired_at.is_(None))
            .values(retired_at=at)
            .returning(SigningKeyRow.kid)
        )
        return sorted(result.scalars().all())

    async def delete_retired_before(self, before: datetime) -> int:
        """Remove keys retired before `before` (no token they signed is still alive)."""
        result = await self._session.execute(
            delete(SigningKeyRow).where(SigningKeyRow.retired_at < before)
        )
        return int(getattr(result, "rowcount", 0) or 0)
