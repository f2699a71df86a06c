"""Whether an OAuth client is still active, cached per process for at most a second.

Revoking a partner's credentials must also stop the tokens it already holds.
Tokens are not stored, so each token check asks whether its client is still
active; the answer comes from the database and is kept for `max_age_seconds`
(default 1 s), so a revocation made by any process (the CLI included) is
honoured everywhere within a second, at the cost of one indexed query per
client per second per process. Concurrent checks of the same client share one
query.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.persistence.uow import UnitOfWork

__all__ = ["ClientStatus"]


class ClientStatus:
    """Active or not, per client id, from the database through a short per-process cache."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, max_age_seconds: float = 1.0
    ) -> None:
        self._session_factory = session_factory
        self.max_age_seconds = max_age_seconds
        self._known: dict[str, tuple[bool, float]] = {}
        self._pending: dict[str, asyncio.Task[tuple[bool, float]]] = {}

    async def is_active(self, client_id: str) -> bool:
        """True while the client exists and is not revoked."""
        known = self._known.get(client_id)
        if known is not None and time.monotonic() - known[1] < self.max_age_seconds:
            return known[0]
        task = self._pending.get(client_id)
        if task is None:
            # Stamped with the time the read starts: a read that began before a revocation
            # committed must not keep the old answer for longer than max_age_seconds.
            task = asyncio.create_task(self._read(client_id, time.monotonic()))
            self._pending[client_id] = task
            task.add_done_callback(lambda done: self._settle(client_id, done))
        # Shielded: a cancelled request must not cancel the read other requests wait for.
        active, _ = await asyncio.shield(task)
        return active

    def forget(self, client_id: str | None = None) -> None:
        """Drop what this process knows (one client, or all), e.g. right after revoking."""
        if client_id is None:
            self._known.clear()
        else:
            self._known.pop(client_id, None)

    def _settle(self, client_id: str, done: asyncio.Task[tuple[bool, float]]) -> None:
        self._pending.pop(client_id, None)
        if not done.cancelled() and done.exception() is None:
            self._known[client_id] = done.result()

    async def _read(self, client_id: str, started: float) -> tuple[bool, float]:
        async with UnitOfWork(self._session_factory) as uow:
            client = await uow.clients.get(client_id)
        return client is not None and client.status == "active", started
