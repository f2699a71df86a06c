"""`pgw scorecard --month YYYY-MM` and `pgw scorecard close --month YYYY-MM`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated

import typer

from gateway.bootstrap import build_container
from gateway.logs import configure_logging
from gateway.persistence.migrate import upgrade
from gateway.persistence.tables import ScorecardRow
from gateway.problems import Problem
from gateway.scorecards.months import current_month, next_month
from gateway.scorecards.schemas import Scorecard
from gateway.scorecards.service import compute_month
from gateway.settings import Settings

__all__ = ["scorecard_app"]

scorecard_app = typer.Typer(
    help="Monthly partner scorecards and tiers.", invoke_without_command=True
)

MonthOption = Annotated[
    str | None, typer.Option("--month", help="YYYY-MM (Asia/Shanghai); default: this month.")
]


async def _compute(month: str | None, *, close: bool) -> tuple[str, list[ScorecardRow]]:
    settings = Settings()
    container = build_container(settings)
    try:
        if settings.uses_embedded_database:
            await upgrade(container.engine)
        month = month or current_month(container.clock())
        return month, await compute_month(container, month, close=close, closed_by="cli")
    finally:
        await container.aclose()


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _table(month: str, rows: Sequence[ScorecardRow]) -> list[str]:
    cards = sorted(
        (Scorecard.from_row(row) for row in rows),
        key=lambda c: (c.score is None, -(c.score or 0.0), c.partner_id),
    )
    provisional = any(card.provisional for card in cards)
    heading = f"scorecards of {month}" + (
        " (provisional: * marks scorecards of a month not closed yet)" if provisional else ""
    )
    cells = [
        (
            "PARTNER",
            "TIER",
            f"NEXT ({next_month(month)})",
            "SCORE",
            "SLA",
            "RATINGS",
            "COMPLAINTS",
            "ORDERS",
        )
    ]
    for card in cards:
        m = card.metrics
        rating = "-" if m.rating_average is None else f"{m.rating_average:.2f}"
        cells.append(
            (
                card.partner_id + (" *" if card.provisional else ""),
                card.tier_in_force.value,
                card.tier.value,
                "-" if card.score is None else f"{card.score:.2f}",
                _percent(m.sla_compliance),
                f"{rating} ({m.ratings})",
                _percent(m.complaint_rate),
                str(m.orders),
            )
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = [heading]
    lines.extend(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
    return lines


def _run(month: str | None, *, close: bool) -> None:
    configure_logging(level="warning")
    try:
        month, rows = asyncio.run(_compute(month, close=close))
    except Problem as problem:
        typer.secho(problem.detail, err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    for line in _table(month, rows):
        typer.echo(line)
    if close:
        changed = [row for row in rows if row.tier != Scorecard.from_row(row).tier_in_force.value]
        typer.echo(f"{month} closed; {len(changed)} tier change(s) from {next_month(month)}")
        for row in changed:
            typer.echo(f"  {row.partner_id}: {row.tier_reason}")


@scorecard_app.callback()
def scorecard(ctx: typer.Context, month: MonthOption = None) -> None:
    """Print the month's scorecards (provisional ones are stored as computed)."""
    if ctx.invoked_subcommand is None:
        _run(month, close=False)


@scorecard_app.command("close")
def close(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (Asia/Shanghai), ended.")],
) -> None:
    """Close a month: freeze its scorecards and set the tiers of the next month."""
    _run(month, close=True)
