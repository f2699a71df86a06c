"""Issuing, rotating and revoking OAuth client credentials (used by the CLI and the console).

Exception tree::

    CredentialsError              a credentials operation cannot be done as asked
    ├── CredentialsExist          the partner already has active credentials (rotate them)
    ├── NoCredentials             the partner has no active credentials
    └── InvalidClientRequest      bad client name or scopes (unknown, or reserved to partners)

An unknown partner raises the registry's `UnknownPartner`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gateway.oauth.hashing import hash_secret, new_client_secret, new_webhook_secret
from gateway.oauth.scopes import PARTNER_SCOPES, UnknownScope, check_scopes
from gateway.persistence.tables import ClientRow
from gateway.registry import UnknownPartner

if TYPE_CHECKING:
    from gateway.bootstrap import Container

__all__ = [
    "CredentialsError",
    "CredentialsExist",
    "InvalidClientRequest",
    "IssuedCredentials",
    "NoCredentials",
    "create_client",
    "create_partner_credentials",
    "revoke_partner_credentials",
    "rotate_partner_credentials",
    "webhook_secrets",
]


class CredentialsError(Exception):
    """A credentials operation cannot be done as asked; the message says what to do."""


class CredentialsExist(CredentialsError):
    """The partner already has active credentials."""


class NoCredentials(CredentialsError):
    """The partner has no active credentials."""


class InvalidClientRequest(CredentialsError):
    """The client's name or scopes are not acceptable."""


@dataclass(frozen=True)
class IssuedCredentials:
    """Credentials as issued: the secrets are shown this once and stored only hashed."""

    client_id: str
    client_secret: str = field(repr=False)
    webhook_secret: str | None = field(repr=False)
    scopes: tuple[str, ...] = ()
    partner_id: str | None = None
    previous_valid_until: datetime | None = None

    def as_json(self) -> dict[str, str | None]:
        """Exactly `client_id`, `client_secret`, `webhook_secret` (what `--json` prints)."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "webhook_secret": self.webhook_secret,
        }


def _client_id(partner_id: str | None) -> str:
    return f"pgw_{partner_id or 'app'}_{secrets.token_hex(8)}"


async def _hash(secret: str) -> str:
    # scrypt takes tens of milliseconds of CPU; keep it off the event loop.
    return await asyncio.to_thread(hash_secret, secret)


def _require_partner(container: Container, partner_id: str) -> None:
    if partner_id not in container.registry:
        raise UnknownPartner(partner_id)


async def create_partner_credentials(container: Container, partner_id: str) -> IssuedCredentials:
    """A partner's first client (scope `events:write`) and its webhook signing secret."""
    _require_partner(container, partner_id)
    now = container.clock()
    secret, webhook_secret = new_client_secret(), new_webhook_secret()
    scopes = check_scopes(PARTNER_SCOPES)
    secret_hash = await _hash(secret)
    async with container.uow() as uow:
        if await uow.clients.active_for_partner(partner_id):
            raise CredentialsExist(
                f"partner '{partner_id}' already has active credentials; rotate them "
                "(`pgw partners credentials rotate`) or revoke them first"
            )
        client = ClientRow(
            client_id=_client_id(partner_id),
            name=container.registry.get(partner_id).name,
            kind="partner",
            partner_id=partner_id,
            scopes=list(scopes),
            secret_hash=secret_hash,
            webhook_secret=webhook_secret,
            status="active",
            created_at=now,
        )
        uow.clients.add(client)
        await uow.commit()
    return IssuedCredentials(client.client_id, secret, webhook_secret, scopes, partner_id)


async def rotate_partner_credentials(container: Container, partner_id: str) -> IssuedCredentials:
    """New client and webhook secrets; the previous ones stay valid for the rotation overlap."""
    _require_partner(container, partner_id)
    now = container.clock()
    overlap = timedelta(hours=container.settings.secret_rotation_overlap_hours)
    secret, webhook_secret = new_client_secret(), new_webhook_secret()
    secret_hash = await _hash(secret)
    async with container.uow() as uow:
        active = await uow.clients.active_for_partner(partner_id)
        if not active:
            raise NoCredentials(
                f"partner '{partner_id}' has no active credentials; create them "
                "(`pgw partners credentials create`)"
            )
        client = active[0]
        client.previous_secret_hash = client.secret_hash
        client.previous_webhook_secret = client.webhook_secret
        client.previous_secret_valid_until = now + overlap
        client.secret_hash = secret_hash
        client.webhook_secret = webhook_secret
        client.rotated_at = now
        await uow.commit()
    return IssuedCredentials(
        client.client_id,
        secret,
        webhook_secret,
        tuple(client.scopes),
        partner_id,
        previous_valid_until=client.previous_secret_valid_until,
    )


async def revoke_partner_credentials(container: Container, partner_id: str) -> list[str]:
    """Revoke every client of the partner; their tokens are refused from then on."""
    _require_partner(container, partner_id)
    now = container.clock()
    async with container.uow() as uow:
        active = await uow.clients.active_for_partner(partner_id)
        for client in active:
            client.status = "revoked"
            client.revoked_at = now
        await uow.commit()
    revoked = [client.client_id for client in active]
    for client_id in revoked:
        container.tokens.client_status.forget(client_id)
    return revoked


async def create_client(
    container: Container, name: str, scopes: Iterable[str]
) -> IssuedCredentials:
    """A client for the OEM app or a manager's tool (no partner, no webhook secret)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidClientRequest("the client name must be 1 to 200 characters")
    try:
        granted = check_scopes(scopes)
    except UnknownScope as exc:
        raise InvalidClientRequest(str(exc)) from exc
    if not granted:
        raise InvalidClientRequest("give the client at least one scope")
    reserved = sorted(PARTNER_SCOPES.intersection(granted))
    if reserved:
        raise InvalidClientRequest(
            f"{', '.join(reserved)} is granted to partner credentials only "
            "(`pgw partners credentials create PARTNER`)"
        )
    secret = new_client_secret()
    secret_hash = await _hash(secret)
    client = ClientRow(
        client_id=_client_id(None),
        name=name,
        kind="app",
        partner_id=None,
        scopes=list(granted),
        secret_hash=secret_hash,
        status="active",
        created_at=container.clock(),
    )
    async with container.uow() as uow:
        uow.clients.add(client)
        await uow.commit()
    return IssuedCredentials(client.client_id, secret, None, granted, None)


async def webhook_secrets(container: Container, partner_id: str, now: datetime) -> list[str]:
    """The partner's webhook secrets valid at `now`: current ones, and previous within overlap."""
    async with container.uow() as uow:
        clients = await uow.clients.active_for_partner(partner_id)
    found: list[str] = []
    for client in clients:
        if client.webhook_secret:
            found.append(client.webhook_secret)
        valid_until = client.previous_secret_valid_until
        if client.previous_webhook_secret and valid_until is not None and now < valid_until:
            found.append(client.previous_webhook_secret)
    return found
