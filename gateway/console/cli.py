"""`pgw users create NAME --role manager|admin [--password-stdin]`: console accounts."""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import Annotated

import typer

from gateway.bootstrap import build_container
from gateway.console.auth import Role, UserExists, create_user
from gateway.logs import configure_logging
from gateway.persistence.migrate import upgrade
from gateway.settings import Settings

__all__ = ["users_app"]

users_app = typer.Typer(help="Console accounts of partnership managers.", no_args_is_help=True)


async def _create(name: str, role: Role, password: str) -> None:
    settings = Settings()
    container = build_container(settings)
    try:
        if settings.uses_embedded_database:
            await upgrade(container.engine)
        await create_user(container, name, role, password)
    finally:
        await container.aclose()


@users_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Sign-in name: lowercase letters, digits, . - _")],
    role: Annotated[Role, typer.Option("--role", help="manager reads; admin also closes months.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a console account (the password is stored as a scrypt hash only)."""
    configure_logging(level="warning")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            typer.secho("the passwords differ", err=True, fg=typer.colors.RED)
            raise typer.Exit(1)
    try:
        asyncio.run(_create(name, role, password))
    except (UserExists, ValueError) as exc:
        typer.secho(str(exc), err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    typer.echo(f"console user {name} created ({role.value})")
