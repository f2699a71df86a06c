"""Queries over OAuth clients."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.persistence.tables import ClientRow

__all__ = ["ClientRepository"]


class ClientRepository:
    """OAuth clients: partners' systems, the OEM app, managers' tools."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, client: ClientRow) -> None:
        """Stage a new client for insertion at commit."""
        self._session.add(client)

    async def get(self, client_id: str) -> ClientRow | None:
        """The client with this id, or None."""
        return await self._session.get(ClientRow, client_id)

    async def for_partner(self, partner_id: str) -> Sequence[ClientRow]:
        """Every client of a partner, newest first."""
        result = await self._session.scalars(
            select(ClientRow)
            .where(ClientRow.partner_id == partner_id)
            .order_by(ClientRow.created_at.desc(), ClientRow.client_id)
        )
        return result.all()

    async def active_for_partner(self, partner_id: str) -> Sequence[ClientRow]:
        """The partner's clients that are not revoked."""
        result = await self._session.scalars(
            select(ClientRow)
            .where(ClientRow.partner_id == partner_id, ClientRow.status == "active")
            .order_by(ClientRow.created_at.desc(), ClientRow.client_id)
        )
        return result.all()
