"""The `pgw` command line: serve, migrate, and inspect the partner registry."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.console.cli import users_app
from gateway.ledger.cli import settlement_app
from gateway.logs import configure_logging
from gateway.metrics import MULTIPROCESS_ENV, prepare_multiprocess
from gateway.oauth.cli import clients_app, credentials_app, keys_app
from gateway.onboarding.cli import conformance, partners_new
from gateway.partners.candidates import rank as partners_rank
from gateway.persistence.db import create_engine
from gateway.persistence.migrate import current_revision, head_revision, upgrade
from gateway.privacy.cli import masking_app
from gateway.registry import RegistryError, load_registry, validate_directory
from gateway.scorecards.cli import scorecard_app
from gateway.scorecards.review import review
from gateway.settings import Settings
from gateway.webhooks.cli import events_app

__all__ = ["app", "main"]

app = typer.Typer(help="Partner gateway of the OEM.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
partners_app = typer.Typer(help="The partner registry (agreements in YAML).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(partners_app, name="partners")
partners_app.add_typer(credentials_app, name="credentials")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
app.add_typer(events_app, name="events")
app.add_typer(masking_app, name="masking")
app.add_typer(scorecard_app, name="scorecard")
app.add_typer(settlement_app, name="settlement")
app.add_typer(users_app, name="users")
partners_app.command("rank")(partners_rank)
app.command("review")(review)
partners_app.command("new")(partners_new)
app.command("conformance")(conformance)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


async def _upgrade(url: str) -> tuple[str | None, str]:
    engine = create_engine(url)
    try:
        before = await current_revision(engine)
        await upgrade(engine)
        return before, head_revision()
    finally:
        await engine.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database (PGW_DATABASE_URL, or the embedded SQLite file) to the newest schema."""
    settings = Settings()
    configure_logging(level="warning", json=settings.log_json)
    before, after = asyncio.run(_upgrade(settings.effective_database_url))
    where = "embedded SQLite" if settings.uses_embedded_database else "PostgreSQL"
    if before == after:
        typer.echo(f"{where} database already at {after}")
    else:
        typer.echo(f"{where} database upgraded from {before or 'empty'} to {after}")


_WORKER_HEALTHCHECK_SECONDS = 60


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (PGW_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (PGW_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (PGW_WORKERS); >1 needs PGW_REDIS_URL.")
    ] = None,
) -> None:
    """Start the gateway (migrating the embedded SQLite file on first run)."""
    import uvicorn

    settings = Settings()
    configure_logging(
        level=settings.log_level, json=settings.log_json, environment=settings.environment
    )
    workers = workers or settings.workers
    if workers > 1 and settings.uses_embedded_hot_state:
        raise _fail(
            f"refusing to start {workers} workers with in-process hot state: idempotency keys, "
            "webhook dedupe, rate limits and circuit breakers must be shared between processes. "
            "Set PGW_REDIS_URL, or run with --workers 1."
        )
    problems = validate_directory(settings.partners_dir)
    if problems:
        for problem in problems:
            typer.echo(f"{problem.file}: {problem.path}: {problem.reason}", err=True)
        raise _fail(
            f"refusing to start: the partner registry in {settings.partners_dir} has "
            f"{len(problems)} problem(s); fix them or run `pgw partners validate`",
            code=2,
        )
    if settings.uses_embedded_database:
        asyncio.run(_upgrade(settings.effective_database_url))
    port = port or settings.port
    if workers > 1 and not os.environ.get(MULTIPROCESS_ENV):
        # one directory per port: two gateways on one host never share (or wipe) counters
        shared = prepare_multiprocess(settings.data_dir / "metrics" / str(port))
        typer.echo(f"{workers} workers: metrics summed over all of them through {shared}")
    uvicorn.run(
        "gateway.main:app_factory",
        factory=True,
        host=host or settings.host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        # A new worker imports the whole gateway before it answers the supervisor's health
        # check; on a busy host that takes longer than uvicorn's 5 s default, and workers
        # killed for it are started again, endlessly.
        timeout_worker_healthcheck=_WORKER_HEALTHCHECK_SECONDS,
    )


@partners_app.command("validate")
def partners_validate(
    directory: Annotated[
        Path | None, typer.Argument(help="Registry directory (default PGW_PARTNERS_DIR).")
    ] = None,
) -> None:
    """Check every agreement file; print every problem as `file: field: reason`."""
    directory = directory or Settings().partners_dir
    problems = validate_directory(directory)
    for problem in problems:
        typer.echo(f"{problem.file}: {problem.path}: {problem.reason}")
    if problems:
        raise _fail(f"{len(problems)} problem(s) in {directory}")
    count = len(load_registry(directory))
    typer.echo(f"{directory}: {count} agreement(s), all valid")


@partners_app.command("list")
def partners_list(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Registry directory (default PGW_PARTNERS_DIR).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Print the registry as a table."""
    directory = directory or Settings().partners_dir
    try:
        registry = load_registry(directory)
    except RegistryError as exc:
        raise _fail(str(exc)) from exc
    rows = [
        {
            "id": a.id,
            "name": a.name,
            "category": str(a.category),
            "tier": str(a.tier),
            "status": str(a.status),
            "data_tier": str(a.data.tier),
            "dialect": a.webhook.dialect,
            "auth": a.api.auth.type,
            "cities": len(a.cities),
        }
        for a in registry.all()
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    _print_table(rows)


def _print_table(rows: list[dict[str, object]]) -> None:
    if not rows:
        typer.echo("no partners")
        return
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    typer.echo("  ".join(h.upper().ljust(widths[h]) for h in headers))
    for row in rows:
        typer.echo("  ".join(str(row[h]).ljust(widths[h]) for h in headers))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except RegistryError as exc:
        typer.secho(str(exc), err=True, fg=typer.colors.RED)
        sys.exit(2)
