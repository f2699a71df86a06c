"""`pgw settlement --month YYYY-MM` and `pgw settlement close --month YYYY-MM`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated

import typer

from gateway.bootstrap import build_container
from gateway.ledger.schemas import Statement
from gateway.ledger.statements import close_settlement_month, statements_of_month
from gateway.logs import configure_logging
from gateway.persistence.migrate import upgrade
from gateway.problems import Problem
from gateway.scorecards.months import current_month
from gateway.settings import Settings

__all__ = ["settlement_app"]

settlement_app = typer.Typer(
    help="Commission ledger and monthly settlement statements.", invoke_without_command=True
)


async def _statements(month: str | None, *, close: bool) -> tuple[str, bool, list[Statement]]:
    settings = Settings()
    container = build_container(settings)
    try:
        if settings.uses_embedded_database:
            await upgrade(container.engine)
        month = month or current_month(container.clock())
        if close:
            return month, True, await close_settlement_month(container, month, closed_by="cli")
        closed, statements = await statements_of_month(container, month)
        return month, closed, statements
    finally:
        await container.aclose()


def table(month: str, closed: bool, statements: Sequence[Statement]) -> list[str]:
    """The month's statements as text lines: one row per partner and currency."""
    cells = [("PARTNER", "ENTRIES", "RECEIVABLE", "PAYABLE", "NET", "OWED BY", "RETAINED")]
    for statement in statements:
        for total in statement.totals or []:
            cells.append(
                (
                    statement.partner_id,
                    str(total.entries),
                    str(total.receivable),
                    str(total.payable),
                    str(total.net),
                    total.owed_by,
                    str(total.retained),
                )
            )
        if not statement.totals:
            cells.append((statement.partner_id, "0", "-", "-", "-", "nobody", "-"))
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    state = "closed" if closed else "draft: the month is not closed"
    lines = [f"settlement statements of {month} ({state})"]
    lines.extend(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
    return lines


def _run(month: str | None, *, close: bool) -> None:
    configure_logging(level="warning")
    try:
        month, closed, statements = asyncio.run(_statements(month, close=close))
    except Problem as problem:
        typer.secho(problem.detail, err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    for line in table(month, closed, statements):
        typer.echo(line)
    if close:
        typer.echo(f"{month} closed; later effects settle in the next open month")


@settlement_app.callback()
def settlement(
    ctx: typer.Context,
    month: Annotated[
        str | None, typer.Option("--month", help="YYYY-MM (Asia/Shanghai); default: this month.")
    ] = None,
) -> None:
    """Print every partner's statement totals of the month."""
    if ctx.invoked_subcommand is None:
        _run(month, close=False)


@settlement_app.command("close")
def close(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (Asia/Shanghai), ended.")],
) -> None:
    """Close a month: accrue its fees, freeze every partner's statement."""
    _run(month, close=True)
