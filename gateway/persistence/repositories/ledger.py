"""Queries over the commission ledger, settlement months and statements, and KPI values.

Ledger entries are only ever inserted (``ON CONFLICT DO NOTHING`` on the entry
key, so a replayed source adds nothing); the database refuses UPDATE and
DELETE. A month's statement totals are one GROUP BY over the month's entries.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Table, and_, exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.persistence.repositories._dialect import insert_for, is_postgresql
from gateway.persistence.tables import (
    KpiValueRow,
    LedgerEntryRow,
    OrderRow,
    SettlementMonthRow,
    SettlementStatementRow,
    SlaClockRow,
)

__all__ = ["LedgerRepository", "LedgerTotal", "credit_key"]

_ENTRIES = cast(Table, LedgerEntryRow.__table__)
_MONTHS = cast(Table, SettlementMonthRow.__table__)
_LOCK_SPACE: Final = 0x5E77
"""High bits of the advisory lock keys of settlement months (low bits: a month's hash)."""
_CREDIT: Final = "sla_credit:"


def credit_key(order_id: str) -> str:
    """The entry key of an order's SLA credit: at most one per order."""
    return _CREDIT + order_id


@dataclass(frozen=True, slots=True)
class LedgerTotal:
    """The sum of one partner's entries of one kind, direction and currency in a month."""

    partner_id: str
    kind: str
    direction: str
    currency: str
    late: bool
    """Entries of an earlier, already closed month that settle in this one."""
    entries: int
    amount: int


def _lock_key(month: str) -> int:
    return (_LOCK_SPACE << 32) | zlib.crc32(month.encode())


class LedgerRepository:
    """The append-only ledger and what is settled from it."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, rows: Sequence[Mapping[str, Any]]) -> list[LedgerEntryRow]:
        """Insert entries; one whose key (or reversed entry) is already there is skipped.

        Returns the entries inserted, in the order given.
        """
        if not rows:
            return []
        statement = (
            insert_for(self._session, _ENTRIES)
            .values(list(rows))
            .on_conflict_do_nothing()
            .returning(*_ENTRIES.c)
        )
        result = (await self._session.execute(statement)).mappings().all()
        by_key = {row["entry_key"]: LedgerEntryRow(**row) for row in result}
        return [by_key[row["entry_key"]] for row in rows if row["entry_key"] in by_key]

    async def get(self, entry_id: int) -> LedgerEntryRow | None:
        """One entry by id."""
        return await self._session.get(LedgerEntryRow, entry_id)

    async def reversal_of(self, entry_id: int) -> LedgerEntryRow | None:
        """The entry reversing ``entry_id``, if any."""
        result = await self._session.scalars(
            select(LedgerEntryRow).where(LedgerEntryRow.reverses_id == entry_id)
        )
        return result.one_or_none()

    async def has_key(self, entry_key: str) -> bool:
        """Whether an entry with this key exists."""
        found = await self._session.scalar(
            select(LedgerEntryRow.id).where(LedgerEntryRow.entry_key == entry_key)
        )
        return found is not None

    async def of_order(self, order_id: str) -> Sequence[LedgerEntryRow]:
        """Every entry of the order, reversals included, oldest first."""
        result = await self._session.scalars(
            select(LedgerEntryRow)
            .where(LedgerEntryRow.order_id == order_id)
            .order_by(LedgerEntryRow.id)
        )
        return result.all()

    async def live_of_order(self, order_id: str) -> Sequence[LedgerEntryRow]:
        """The order's entries that are not reversals and have not been reversed."""
        reversal = aliased(LedgerEntryRow)
        result = await self._session.scalars(
            select(LedgerEntryRow)
            .where(
                LedgerEntryRow.order_id == order_id,
                LedgerEntryRow.reverses_id.is_(None),
                ~exists().where(reversal.reverses_id == LedgerEntryRow.id),
            )
            .order_by(LedgerEntryRow.id)
        )
        return result.all()

    async def page(
        self,
        *,
        partner_id: str | None = None,
        month: str | None = None,
        order_id: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> Sequence[LedgerEntryRow]:
        """Entries by id after ``after_id``, filtered by partner, settlement month and order."""
        statement = select(LedgerEntryRow).where(LedgerEntryRow.id > after_id)
        if partner_id is not None:
            statement = statement.where(LedgerEntryRow.partner_id == partner_id)
        if month is not None:
            statement = statement.where(LedgerEntryRow.effective_month == month)
        if order_id is not None:
            statement = statement.where(LedgerEntryRow.order_id == order_id)
        result = await self._session.scalars(statement.order_by(LedgerEntryRow.id).limit(limit))
        return result.all()

    async def stream(self, partner_id: str, month: str) -> AsyncIterator[LedgerEntryRow]:
        """The partner's entries settling in ``month``, oldest first, without loading them all."""
        result = await self._session.stream_scalars(
            select(LedgerEntryRow)
            .where(LedgerEntryRow.effective_month == month, LedgerEntryRow.partner_id == partner_id)
            .order_by(LedgerEntryRow.id)
            .execution_options(yield_per=1000)
        )
        async for row in result:
            yield row

    async def totals(self, month: str, partner_id: str | None = None) -> list[LedgerTotal]:
        """The month's sums by partner, kind, direction, currency and lateness: one GROUP BY."""
        late = (LedgerEntryRow.occurred_month < LedgerEntryRow.effective_month).label("late")
        statement = select(
            LedgerEntryRow.partner_id,
            LedgerEntryRow.kind,
            LedgerEntryRow.direction,
            LedgerEntryRow.currency,
            late,
            func.count().label("entries"),
            func.sum(LedgerEntryRow.amount).label("amount"),
        ).where(LedgerEntryRow.effective_month == month)
        if partner_id is not None:
            statement = statement.where(LedgerEntryRow.partner_id == partner_id)
        statement = statement.group_by(
            LedgerEntryRow.partner_id,
            LedgerEntryRow.kind,
            LedgerEntryRow.direction,
            LedgerEntryRow.currency,
            late,
        )
        rows = (await self._session.execute(statement)).all()
        return [
            LedgerTotal(
                r.partner_id,
                r.kind,
                r.direction,
                r.currency,
                bool(r.late),
                r.entries,
                int(r.amount),
            )
            for r in rows
        ]

    # Settlement months -------------------------------------------------------------

    async def hold_month(self, month: str, *, exclusive: bool = False) -> None:
        """Hold the month's settlement lock until the transaction ends (PostgreSQL).

        Writers hold it shared while they decide that an entry settles in the
        month; closing holds it exclusively, so no entry lands in a month while
        it is being closed. SQLite runs one writing transaction at a time.
        """
        if not is_postgresql(self._session):
            return
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await self._session.execute(text(f"SELECT {function}(:key)"), {"key": _lock_key(month)})

    async def closed_month(self, month: str) -> SettlementMonthRow | None:
        """The month's closing, if it is closed."""
        return await self._session.get(SettlementMonthRow, month)

    async def closed_months_from(self, month: str) -> set[str]:
        """Closed months from ``month`` on."""
        result = await self._session.scalars(
            select(SettlementMonthRow.month).where(SettlementMonthRow.month >= month)
        )
        return set(result.all())

    async def close_month(self, month: str, *, at: datetime, by: str) -> bool:
        """Record the month as closed; False when it already was."""
        statement = (
            insert_for(self._session, _MONTHS)
            .values(month=month, closed_at=at, closed_by=by)
            .on_conflict_do_nothing()
            .returning(_MONTHS.c.month)
        )
        return (await self._session.execute(statement)).scalar_one_or_none() is not None

    def add_statements(self, rows: Iterable[SettlementStatementRow]) -> None:
        """Stage frozen statements."""
        self._session.add_all(list(rows))

    async def statement(self, partner_id: str, month: str) -> SettlementStatementRow | None:
        """The partner's frozen statement of a closed month."""
        return await self._session.get(SettlementStatementRow, (partner_id, month))

    async def statements(self, month: str) -> Sequence[SettlementStatementRow]:
        """Every frozen statement of a closed month, by partner."""
        result = await self._session.scalars(
            select(SettlementStatementRow)
            .where(SettlementStatementRow.month == month)
            .order_by(SettlementStatementRow.partner_id)
        )
        return result.all()

    # KPI values and SLA credits ---------------------------------------------------

    def add_kpi(self, row: KpiValueRow) -> None:
        """Stage a KPI value."""
        self._session.add(row)

    async def kpis(self, partner_id: str, month: str | None = None) -> Sequence[KpiValueRow]:
        """The partner's KPI values (of a month), oldest first."""
        statement = select(KpiValueRow).where(KpiValueRow.partner_id == partner_id)
        if month is not None:
            statement = statement.where(KpiValueRow.month == month)
        result = await self._session.scalars(statement.order_by(KpiValueRow.id))
        return result.all()

    async def entry_by_key(self, entry_key: str) -> LedgerEntryRow | None:
        """The entry with this key, if any."""
        result = await self._session.scalars(
            select(LedgerEntryRow).where(LedgerEntryRow.entry_key == entry_key)
        )
        return result.one_or_none()

    async def uncredited_breaches(
        self,
        partner_ids: Sequence[str],
        *,
        shared_kinds: Iterable[str],
        until_month: str,
        limit: int = 1000,
    ) -> list[str]:
        """Completed orders of these partners with a breached SLA clock (started up to
        ``until_month``), an entry of a kind a credit shares, and no SLA credit yet."""
        if not partner_ids:
            return []
        priced = aliased(LedgerEntryRow)
        statement = (
            select(SlaClockRow.order_id)
            .join(OrderRow, OrderRow.id == SlaClockRow.order_id)
            .where(
                SlaClockRow.status == "breached",
                SlaClockRow.partner_id.in_(partner_ids),
                SlaClockRow.month <= until_month,
                OrderRow.status == "completed",
                ~exists().where(and_(LedgerEntryRow.entry_key == _CREDIT + SlaClockRow.order_id)),
                # Orders with something to share: the others never get a credit.
                exists().where(
                    and_(
                        priced.order_id == SlaClockRow.order_id,
                        priced.kind.in_(list(shared_kinds)),
                        priced.amount != 0,
                    )
                ),
            )
            .distinct()
            .limit(limit)
        )
        return list((await self._session.scalars(statement)).all())

    async def first_breach(self, order_id: str) -> datetime | None:
        """The earliest deadline the order's breached SLA clocks missed, if any."""
        return await self._session.scalar(
            select(func.min(SlaClockRow.deadline_at)).where(
                SlaClockRow.order_id == order_id, SlaClockRow.status == "breached"
            )
        )

    async def live_by_prefix(self, prefix: str) -> Sequence[LedgerEntryRow]:
        """Entries whose key starts with ``prefix``, not reversals and not reversed."""
        reversal = aliased(LedgerEntryRow)
        result = await self._session.scalars(
            select(LedgerEntryRow)
            .where(
                LedgerEntryRow.entry_key.startswith(prefix, autoescape=True),
                LedgerEntryRow.reverses_id.is_(None),
                ~exists().where(reversal.reverses_id == LedgerEntryRow.id),
            )
            .order_by(LedgerEntryRow.id)
        )
        return result.all()
