"""Monthly settlement statements: drafts computed from the ledger, frozen when closed.

A statement is the partner's entries settling in the month, summed by one
GROUP BY (``LedgerRepository.totals``) into sections: opening adjustments
(late effects of months already closed), the month's plan entries, SLA
credits and the platform fee; then the totals each way per currency.
Closing a month accrues its fixed fees, freezes every partner's statement and
sends whatever comes later to the next month.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Final

from contracts import Money
from gateway.bootstrap import Container
from gateway.ledger.rules import PLAN_KINDS, EntryDirection, EntryKind
from gateway.ledger.schemas import (
    CSV_COLUMNS,
    LedgerEntry,
    Section,
    Statement,
    StatementLine,
    StatementTotal,
    csv_row,
)
from gateway.ledger.service import SettlementMonthClosed, accrue_month, credit_breached_orders
from gateway.logs import get_logger
from gateway.persistence.repositories import LedgerTotal
from gateway.persistence.tables import SettlementStatementRow
from gateway.scorecards.months import month_bounds, next_month, parse_month
from gateway.scorecards.service import MonthNotOver

__all__ = [
    "build_statement",
    "close_settlement_month",
    "statement_csv",
    "statement_entries",
    "statement_of",
    "statements_of_month",
]

_log = get_logger("gateway.ledger")

_SECTION_ORDER: Final[tuple[Section, ...]] = (
    "opening_adjustments",
    "plans",
    "sla_credits",
    "platform_fee",
)
_KIND_ORDER: Final = {kind.value: rank for rank, kind in enumerate(EntryKind)}
_DIRECTION_ORDER: Final = {d.value: rank for rank, d in enumerate(EntryDirection)}


def _section(total: LedgerTotal) -> Section:
    if total.late:
        return "opening_adjustments"
    if total.kind == EntryKind.SLA_CREDIT:
        return "sla_credits"
    if total.kind == EntryKind.PLATFORM_FEE:
        return "platform_fee"
    return "plans"


def build_statement(
    partner_id: str,
    month: str,
    totals: Iterable[LedgerTotal],
    *,
    closed_at: datetime | None = None,
    closed_by: str | None = None,
) -> Statement:
    """The statement of the partner's sums of the month (draft unless ``closed_at``)."""
    lines: list[StatementLine] = []
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[str, int] = defaultdict(int)
    for total in sorted(
        totals,
        key=lambda t: (
            _SECTION_ORDER.index(_section(t)),
            _KIND_ORDER.get(t.kind, len(_KIND_ORDER)),
            _DIRECTION_ORDER.get(t.direction, 9),
            t.currency,
        ),
    ):
        lines.append(
            StatementLine(
                section=_section(total),
                kind=total.kind,
                direction=total.direction,
                entries=total.entries,
                amount=Money(amount=total.amount, currency=total.currency),
            )
        )
        sums[total.currency][total.direction] += total.amount
        counts[total.currency] += total.entries
    currency_totals = []
    for currency in sorted(sums):
        by = sums[currency]
        receivable = by[EntryDirection.RECEIVABLE.value]
        payable = by[EntryDirection.PAYABLE.value]
        net = receivable - payable
        currency_totals.append(
            StatementTotal(
                currency=currency,
                receivable=Money(amount=receivable, currency=currency),
                payable=Money(amount=payable, currency=currency),
                net=Money(amount=net, currency=currency),
                owed_by="partner" if net > 0 else "oem" if net < 0 else "nobody",
                retained=Money(amount=by[EntryDirection.RETAINED.value], currency=currency),
                entries=counts[currency],
            )
        )
    return Statement(
        partner_id=partner_id,
        month=month,
        state="closed" if closed_at is not None else "draft",
        closed_at=closed_at,
        closed_by=closed_by,
        entry_count=sum(counts.values()),
        totals=currency_totals,
        lines=lines,
    )


def _by_partner(totals: Sequence[LedgerTotal]) -> dict[str, list[LedgerTotal]]:
    grouped: dict[str, list[LedgerTotal]] = defaultdict(list)
    for total in totals:
        grouped[total.partner_id].append(total)
    return grouped


async def statement_of(container: Container, partner_id: str, month: str) -> Statement:
    """The partner's statement of the month: frozen once closed, else a draft computed now."""
    month = parse_month(month)
    async with container.uow() as uow:
        closing = await uow.ledger.closed_month(month)
        if closing is not None:
            frozen = await uow.ledger.statement(partner_id, month)
            if frozen is not None:
                return Statement.model_validate(frozen.statement)
        totals = await uow.ledger.totals(month, partner_id)
    if closing is not None:
        # A partner without a frozen statement had no entries when the month closed,
        # and no entry lands in a closed month afterwards.
        return build_statement(
            partner_id, month, totals, closed_at=closing.closed_at, closed_by=closing.closed_by
        )
    return build_statement(partner_id, month, totals)


async def statements_of_month(container: Container, month: str) -> tuple[bool, list[Statement]]:
    """Whether the month is closed, and every partner's statement of it (registry partners
    and any other partner with entries), by partner id."""
    month = parse_month(month)
    async with container.uow() as uow:
        closing = await uow.ledger.closed_month(month)
        if closing is not None:
            frozen = {
                row.partner_id: Statement.model_validate(row.statement)
                for row in await uow.ledger.statements(month)
            }
            for agreement in container.registry.all():
                frozen.setdefault(
                    agreement.id,
                    build_statement(
                        agreement.id,
                        month,
                        (),
                        closed_at=closing.closed_at,
                        closed_by=closing.closed_by,
                    ),
                )
            return True, [frozen[key] for key in sorted(frozen)]
        totals = _by_partner(await uow.ledger.totals(month))
    ids = sorted({a.id for a in container.registry.all()} | set(totals))
    return False, [build_statement(pid, month, totals.get(pid, ())) for pid in ids]


async def statement_entries(
    container: Container, partner_id: str, month: str
) -> AsyncIterator[LedgerEntry]:
    """The partner's entries settling in the month, oldest first, streamed."""
    async with container.uow() as uow:
        async for row in uow.ledger.stream(partner_id, parse_month(month)):
            yield LedgerEntry.from_row(row)


async def statement_csv(container: Container, partner_id: str, month: str) -> AsyncIterator[str]:
    """The partner's entries of the month as CSV (``CSV_COLUMNS``), in chunks of ~64 KB."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    async for entry in statement_entries(container, partner_id, month):
        writer.writerow(csv_row(entry))
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


async def close_settlement_month(
    container: Container, month: str, *, closed_by: str = "system"
) -> list[Statement]:
    """Close the month's statements: accrue its fixed fees, credit breaches not yet
    credited, freeze every partner's statement. Only after the month has ended
    (``MonthNotOver``) and only once (``SettlementMonthClosed``)."""
    month = parse_month(month)
    now = container.clock()
    end = month_bounds(month)[1]
    if now < end:
        raise MonthNotOver(
            f"{month} ends at {next_month(month)}-01 00:00 Asia/Shanghai "
            f"({end.isoformat()}); close it after that."
        )
    crediting = [a.id for a in container.registry.all() if a.sla.breach_credit_percent]
    async with container.uow() as uow:
        if await uow.ledger.closed_month(month) is not None:
            raise SettlementMonthClosed(f"{month} is already closed; its statements are frozen.")
        missing = await uow.ledger.uncredited_breaches(
            crediting, shared_kinds=PLAN_KINDS, until_month=month
        )
    # Credits the sweep left (a crash between its two steps), each in its own transaction
    # before the month is locked: they lock their order first, as webhooks do.
    await credit_breached_orders(container, missing)
    closed_by = closed_by[:64]
    async with container.uow() as uow:
        await uow.ledger.hold_month(month, exclusive=True)
        if await uow.ledger.closed_month(month) is not None:
            raise SettlementMonthClosed(f"{month} is already closed; its statements are frozen.")
        await accrue_month(uow, container.registry, month, now)
        totals = _by_partner(await uow.ledger.totals(month))
        ids = sorted({a.id for a in container.registry.all()} | set(totals))
        statements = [
            build_statement(pid, month, totals.get(pid, ()), closed_at=now, closed_by=closed_by)
            for pid in ids
        ]
        await uow.ledger.close_month(month, at=now, by=closed_by)
        uow.ledger.add_statements(
            SettlementStatementRow(
                partner_id=s.partner_id,
                month=month,
                statement=s.model_dump(mode="json"),
                entry_count=s.entry_count,
                closed_at=now,
            )
            for s in statements
        )
        await uow.commit()
    _log.info("settlement.closed", month=month, partners=len(statements), by=closed_by)
    return statements
