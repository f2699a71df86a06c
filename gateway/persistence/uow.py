"""Unit of work: one transaction, the repositories bound to it, an explicit commit."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.persistence.repositories import (
    ClientRepository,
    ConsentRepository,
    DeadLetterRepository,
    DisclosureRepository,
    InboxRepository,
    LedgerRepository,
    OrderRepository,
    RelayRepository,
    ScorecardRepository,
    SigningKeyRepository,
    SlaRepository,
)

__all__ = ["UnitOfWork"]


class UnitOfWork:
    """Scope of one business transaction; anything not committed is rolled back on exit."""

    clients: ClientRepository
    orders: OrderRepository
    inbox: InboxRepository
    dead_letters: DeadLetterRepository
    signing_keys: SigningKeyRepository
    sla: SlaRepository
    consents: ConsentRepository
    disclosures: DisclosureRepository
    relays: RelayRepository
    scorecards: ScorecardRepository
    ledger: LedgerRepository

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> UnitOfWork:
        self._session = session = self._session_factory()
        self.clients = ClientRepository(session)
        self.orders = OrderRepository(session)
        self.inbox = InboxRepository(session)
        self.dead_letters = DeadLetterRepository(session)
        self.signing_keys = SigningKeyRepository(session)
        self.sla = SlaRepository(session)
        self.consents = ConsentRepository(session)
        self.disclosures = DisclosureRepository(session)
        self.relays = RelayRepository(session)
        self.scorecards = ScorecardRepository(session)
        self.ledger = LedgerRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._session is not None
        # close() rolls back whatever was not committed and detaches loaded rows
        # without expiring them, so callers may read what they loaded after exit.
        await self._session.close()
        self._session = None

    async def commit(self) -> None:
        """Make every staged change durable."""
        assert self._session is not None, "commit outside the unit of work"
        await self._session.commit()

    async def flush(self) -> None:
        """Send staged changes to the database (assigning ids) without committing."""
        assert self._session is not None, "flush outside the unit of work"
        await self._session.flush()

    async def rollback(self) -> None:
        """Discard every staged change."""
        assert self._session is not None, "rollback outside the unit of work"
        await self._session.rollback()
