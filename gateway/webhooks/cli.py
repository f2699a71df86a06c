"""`pgw events replay`: re-apply dead letters once their cause is fixed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

from gateway.bootstrap import build_container
from gateway.logs import configure_logging
from gateway.persistence.migrate import upgrade
from gateway.settings import Settings
from gateway.webhooks.replay import ReplayReport, replay_dead_letters

__all__ = ["events_app"]

events_app = typer.Typer(help="Inbound partner events.", no_args_is_help=True)


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("use an ISO 8601 date or time, e.g. 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def _replay(partner: str | None, since: datetime | None) -> ReplayReport:
    settings = Settings()
    container = build_container(settings)
    try:
        if settings.uses_embedded_database:
            await upgrade(container.engine)
        return await replay_dead_letters(container, partner_id=partner, since=since)
    finally:
        await container.aclose()


@events_app.command("replay")
def replay(
    partner: Annotated[str | None, typer.Option(help="Only this partner's dead letters.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only letters kept since this ISO 8601 date or time.")
    ] = None,
) -> None:
    """Re-apply unresolved dead letters; print what was resolved and what still fails."""
    configure_logging(level="warning")
    report = asyncio.run(_replay(partner, _parse_since(since)))
    for letter_id, detail in report.resolved:
        typer.echo(f"resolved  #{letter_id}: {detail}")
    for letter_id, detail in report.still_failing:
        typer.echo(f"failing   #{letter_id}: {detail}")
    typer.echo(f"{len(report.resolved)} resolved, {len(report.still_failing)} still failing")
    if report.still_failing:
        raise typer.Exit(1)
