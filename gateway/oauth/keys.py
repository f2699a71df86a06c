"""Signing keys: ES256 keys kept in the database, cached in each process, rotated on demand.

Every gateway process reads the same `signing_keys` table and keeps what it read
for `refresh_seconds`; a token signed with a key this process has not seen yet
(another process rotated) makes it re-read at once, at most once a second.
A retired key stays published until every token it may have signed has
expired: its retirement, plus the token lifetime, plus one refresh interval
(a process that has not yet seen the rotation keeps signing with it), plus the
verification leeway.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, KeySet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.persistence.tables import SigningKeyRow
from gateway.persistence.uow import UnitOfWork

__all__ = ["ALGORITHM", "KeyRotation", "KeyStore", "SigningKey"]

ALGORITHM = "ES256"
_CURVE = "P-256"
_MIN_FORCED_REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class SigningKey:
    """One key as this process knows it."""

    kid: str
    private: ECKey
    public_jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class KeyRotation:
    """The outcome of `pgw keys rotate`."""

    new_kid: str
    retired_kids: list[str]
    published_until: datetime


def _new_row(now: datetime) -> SigningKeyRow:
    key = ECKey.generate_key(_CURVE, parameters={"alg": ALGORITHM, "use": "sig"}, auto_kid=True)
    assert key.kid is not None
    return SigningKeyRow(
        kid=key.kid,
        algorithm=ALGORITHM,
        private_jwk=json.dumps(key.as_dict(private=True)),
        public_jwk=dict(key.as_dict(private=False)),
        created_at=now,
        retired_at=None,
    )


def _load(row: SigningKeyRow) -> SigningKey:
    private = ECKey.import_key(json.loads(row.private_jwk))
    return SigningKey(row.kid, private, dict(row.public_jwk), row.created_at, row.retired_at)


class KeyStore:
    """The signing keys of this deployment, as one process sees them."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        token_lifetime_seconds: int,
        leeway_seconds: int,
        clock: Callable[[], datetime],
        refresh_seconds: float = 30.0,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self.refresh_seconds = refresh_seconds
        self.publication_window = timedelta(
            seconds=token_lifetime_seconds + refresh_seconds + leeway_seconds
        )
        self._keys: Sequence[SigningKey] = ()
        self._verification = KeySet([])
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def signing_key(self) -> SigningKey:
        """The key new tokens are signed with; creates the first key when there is none."""
        await self._refresh_if_stale()
        active = [k for k in self._keys if k.retired_at is None]
        if not active:
            async with self._lock:
                await self._create_first_key()
            active = [k for k in self._keys if k.retired_at is None]
        # With two active keys (two processes created the first key at once), every
        # process picks the same one: the newest.
        return active[0]

    async def verification_keys(self, kid: str | None = None) -> KeySet:
        """The public keys tokens are checked against; re-read first when `kid` is unknown."""
        await self._refresh_if_stale()
        if kid is not None and all(k.kid != kid for k in self._keys):
            loaded_at = self._loaded_at or 0.0
            if time.monotonic() - loaded_at >= _MIN_FORCED_REFRESH_SECONDS:
                await self.refresh()
        return self._verification

    async def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set published at `/.well-known/jwks.json` (never empty)."""
        await self.signing_key()
        return {"keys": [dict(k.public_jwk) for k in self._keys]}

    async def refresh(self) -> None:
        """Re-read the published keys from the database now."""
        async with self._lock:
            await self._read()

    async def rotate(self) -> KeyRotation:
        """A new key signs from now; the old ones stay published while their tokens live."""
        now = self._clock()
        async with UnitOfWork(self._session_factory) as uow:
            retired = await uow.signing_keys.retire_active(now)
            await uow.signing_keys.delete_retired_before(now - self.publication_window)
            row = _new_row(now)
            uow.signing_keys.add(row)
            await uow.commit()
        await self.refresh()
        return KeyRotation(row.kid, retired, now + self.publication_window)

    async def _refresh_if_stale(self) -> None:
        loaded_at = self._loaded_at
        if loaded_at is not None and time.monotonic() - loaded_at < self.refresh_seconds:
            return
        async with self._lock:
            # Another task may have refreshed while this one waited for the lock.
            loaded_at = self._loaded_at
            if loaded_at is None or time.monotonic() - loaded_at >= self.refresh_seconds:
                await self._read()

    async def _read(self) -> None:
        now = self._clock()
        async with UnitOfWork(self._session_factory) as uow:
            rows = await uow.signing_keys.published(now - self.publication_window)
        keys = [_load(row) for row in rows]
        self._keys = keys
        self._verification = KeySet([ECKey.import_key(k.public_jwk) for k in keys])
        self._loaded_at = time.monotonic()

    async def _create_first_key(self) -> None:
        await self._read()
        if any(k.retired_at is None for k in self._keys):
            return
        # Two processes may both get here; both keys are then published, and the
        # newest signs everywhere once each process has re-read the table.
        async with UnitOfWork(self._session_factory) as uow:
            uow.signing_keys.add(_new_row(self._clock()))
            await uow.commit()
        await self._read()
