"""`pgw partners credentials ...`, `pgw clients create`, `pgw keys rotate`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from gateway.bootstrap import Container, build_container
from gateway.logs import configure_logging
from gateway.oauth.credentials import (
    CredentialsError,
    IssuedCredentials,
    create_client,
    create_partner_credentials,
    revoke_partner_credentials,
    rotate_partner_credentials,
)
from gateway.oauth.scopes import SCOPES
from gateway.persistence.migrate import current_revision, head_revision, upgrade
from gateway.registry import UnknownPartner
from gateway.settings import Settings

__all__ = ["clients_app", "credentials_app", "keys_app"]

credentials_app = typer.Typer(
    help="OAuth credentials and webhook secret of a partner's system.", no_args_is_help=True
)
clients_app = typer.Typer(
    help="OAuth clients of the OEM app and managers' tools.", no_args_is_help=True
)
keys_app = typer.Typer(help="Access token signing keys.", no_args_is_help=True)

_T = TypeVar("_T")
_Partner = Annotated[str, typer.Argument(help="Partner id, as in the registry.")]
_Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(1)


async def _ready(container: Container) -> None:
    if container.settings.uses_embedded_database:
        await upgrade(container.engine)
        return
    current = await current_revision(container.engine)
    if current != head_revision():
        raise _fail(f"the database schema is at {current or 'nothing'}: run `pgw db upgrade`")


def _run(work: Callable[[Container], Awaitable[_T]]) -> _T:
    settings = Settings()
    configure_logging(level="warning", json=settings.log_json)

    async def main() -> _T:
        container = build_container(settings)
        try:
            await _ready(container)
            return await work(container)
        finally:
            await container.aclose()

    try:
        return asyncio.run(main())
    except UnknownPartner as exc:
        raise _fail(f"{exc}; `pgw partners list` shows the registry") from exc
    except CredentialsError as exc:
        raise _fail(str(exc)) from exc


def _show(issued: IssuedCredentials, as_json: bool, heading: str, note: str = "") -> None:
    if as_json:
        typer.echo(json.dumps(issued.as_json()))
        return
    typer.echo(heading)
    rows = [("client_id", issued.client_id), ("client_secret", issued.client_secret)]
    if issued.webhook_secret is not None:
        rows.append(("webhook_secret", issued.webhook_secret))
    rows.append(("scopes", " ".join(issued.scopes)))
    for name, value in rows:
        typer.echo(f"  {name:<15} {value}")
    secrets = "secret and webhook secret are" if issued.webhook_secret else "secret is"
    typer.echo(
        f"\nThe client {secrets} shown once and cannot be retrieved again: "
        "store them in a secret manager now."
    )
    if note:
        typer.echo(note)


@credentials_app.command("create")
def credentials_create(partner_id: _Partner, as_json: _Json = False) -> None:
    """Issue a partner's client credentials (scope events:write) and webhook secret."""
    issued = _run(lambda c: create_partner_credentials(c, partner_id))
    _show(issued, as_json, f"Credentials of partner {partner_id}:")


@credentials_app.command("rotate")
def credentials_rotate(partner_id: _Partner, as_json: _Json = False) -> None:
    """New client and webhook secrets; the previous ones stay valid for the overlap."""
    issued = _run(lambda c: rotate_partner_credentials(c, partner_id))
    until = issued.previous_valid_until
    note = f"The previous secrets stay valid until {until:%Y-%m-%d %H:%M} UTC." if until else ""
    _show(issued, as_json, f"New credentials of partner {partner_id}:", note)


@credentials_app.command("revoke")
def credentials_revoke(partner_id: _Partner, as_json: _Json = False) -> None:
    """Revoke every client of the partner; tokens already issued are refused within a second."""
    revoked = _run(lambda c: revoke_partner_credentials(c, partner_id))
    if as_json:
        typer.echo(json.dumps({"partner_id": partner_id, "revoked": revoked}))
    elif revoked:
        typer.echo(
            f"Revoked {len(revoked)} client(s) of partner {partner_id}: {', '.join(revoked)}"
        )
    else:
        typer.echo(f"Partner {partner_id} had no active credentials; nothing revoked.")


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Argument(help="Who uses it, e.g. 'OEM app (production)'.")],
    scopes: Annotated[
        str, typer.Option("--scopes", help=f"Space-separated, from: {' '.join(SCOPES)}.")
    ],
    as_json: _Json = False,
) -> None:
    """Issue client credentials for the OEM app or a manager's tool."""
    issued = _run(lambda c: create_client(c, name, scopes.replace(",", " ").split()))
    _show(issued, as_json, f"Credentials of client '{name}':")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Sign with a new key from now; the old key stays published until its tokens expire."""
    rotation = _run(lambda c: c.tokens.keys.rotate())
    typer.echo(f"New signing key {rotation.new_kid} signs every token from now.")
    if rotation.retired_kids:
        until = rotation.published_until.isoformat(timespec="seconds")
        typer.echo(f"Retired {', '.join(rotation.retired_kids)}: published until {until}.")
