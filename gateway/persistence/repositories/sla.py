"""SLA clocks, partner call measurements, ratings and complaints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.persistence.repositories._dialect import is_postgresql
from gateway.persistence.tables import (
    ClosedMonthRow,
    ComplaintRow,
    OrderEventRow,
    PartnerCallRow,
    RatingRow,
    SlaClockRow,
)

__all__ = ["Breach", "SlaRepository", "WindowTotals"]

_OPEN, _MET, _BREACHED = "open", "met", "breached"


@dataclass(frozen=True, slots=True)
class Breach:
    """A clock the sweep found past its deadline."""

    clock_id: int
    order_id: str
    partner_id: str
    term: str
    deadline_at: datetime


@dataclass(frozen=True, slots=True)
class WindowTotals:
    """Bad and total events of one partner in one window ending now."""

    bad: int
    total: int


class SlaRepository:
    """Clocks started, stopped and swept; measurements and feedback stored."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add_clock(self, clock: SlaClockRow) -> None:
        """Stage a new clock."""
        self._session.add(clock)

    async def stop_clocks(
        self, order_id: str, event_type: str, occurred_at: datetime, now: datetime
    ) -> int:
        """Stop the order's clocks waiting for ``event_type``; the number stopped.

        An open clock becomes met or breached by its elapsed time; one the sweep
        already breached keeps its breach and learns when the event came.
        """
        clocks = (
            await self._session.scalars(
                select(SlaClockRow).where(
                    SlaClockRow.order_id == order_id,
                    SlaClockRow.stop_event == event_type,
                    SlaClockRow.stopped_at.is_(None),
                )
            )
        ).all()
        for clock in clocks:
            elapsed = max(0, int((occurred_at - clock.started_at).total_seconds() * 1000))
            clock.stopped_at = occurred_at
            clock.elapsed_ms = elapsed
            if clock.status == _OPEN:
                clock.status = _MET if elapsed <= clock.target_ms else _BREACHED
                clock.resolved_at = now
                # Its month's scorecard is frozen: reported as late, not folded in.
                clock.late = await self.month_closed(clock.month)
        return len(clocks)

    async def recorded_event_time(self, order_id: str, event_type: str) -> datetime | None:
        """When the order's first event of ``event_type`` occurred, if one is recorded."""
        return (
            await self._session.scalars(
                select(func.min(OrderEventRow.occurred_at)).where(
                    OrderEventRow.order_id == order_id, OrderEventRow.event_type == event_type
                )
            )
        ).one()

    async def sweep(self, now: datetime, limit: int) -> list[Breach]:
        """Breach up to ``limit`` open clocks past their deadline, each exactly once.

        On PostgreSQL the candidate rows are locked with SKIP LOCKED, so several
        gateway processes sweeping at once share the work; the status condition
        in the UPDATE makes a clock breached by one process invisible to another.
        """
        due = (
            select(SlaClockRow.id)
            .where(SlaClockRow.status == _OPEN, SlaClockRow.deadline_at <= now)
            .order_by(SlaClockRow.deadline_at)
            .limit(limit)
        )
        if is_postgresql(self._session):
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(SlaClockRow)
            .where(SlaClockRow.id.in_(due.scalar_subquery()), SlaClockRow.status == _OPEN)
            .values(status=_BREACHED, resolved_at=now)
            .returning(
                SlaClockRow.id,
                SlaClockRow.order_id,
                SlaClockRow.partner_id,
                SlaClockRow.term,
                SlaClockRow.deadline_at,
            )
            .execution_options(synchronize_session=False)
        )
        rows = (await self._session.execute(statement)).all()
        return [Breach(r.id, r.order_id, r.partner_id, r.term, r.deadline_at) for r in rows]

    async def clocks_of(self, order_id: str) -> Sequence[SlaClockRow]:
        """The order's clocks, by term."""
        return (
            await self._session.scalars(
                select(SlaClockRow)
                .where(SlaClockRow.order_id == order_id)
                .order_by(SlaClockRow.term)
            )
        ).all()

    async def record_calls(self, calls: Sequence[Mapping[str, Any]]) -> None:
        """Insert measured partner calls in one statement."""
        if calls:
            await self._session.execute(insert(PartnerCallRow), list(calls))

    async def clock_windows(
        self, now: datetime, windows: Sequence[timedelta]
    ) -> dict[str, dict[timedelta, WindowTotals]]:
        """Per partner and window: clocks breached and clocks resolved, in one query."""
        return await self._windows(
            SlaClockRow.partner_id,
            SlaClockRow.resolved_at,
            SlaClockRow.status == _BREACHED,
            SlaClockRow.resolved_at.is_not(None),
            now,
            windows,
        )

    async def call_windows(
        self, now: datetime, windows: Sequence[timedelta]
    ) -> dict[str, dict[timedelta, WindowTotals]]:
        """Per partner and window: failed calls and calls, in one query."""
        return await self._windows(
            PartnerCallRow.partner_id,
            PartnerCallRow.at,
            PartnerCallRow.ok.is_(False),
            PartnerCallRow.ok.is_not(None),
            now,
            windows,
        )

    async def _windows(
        self,
        partner: Any,
        moment: Any,
        bad: Any,
        counted: Any,
        now: datetime,
        windows: Sequence[timedelta],
    ) -> dict[str, dict[timedelta, WindowTotals]]:
        longest = max(windows)
        columns: list[Any] = [partner]
        for window in windows:
            inside = moment > now - window
            columns.append(func.sum(case((and_(inside, bad), 1), else_=0)))
            columns.append(func.sum(case((inside, 1), else_=0)))
        rows = (
            await self._session.execute(
                select(*columns)
                .where(counted, moment > now - longest, moment <= now)
                .group_by(partner)
            )
        ).all()
        result: dict[str, dict[timedelta, WindowTotals]] = {}
        for row in rows:
            values = list(row)[1:]
            result[row[0]] = {
                window: WindowTotals(int(values[2 * i] or 0), int(values[2 * i + 1] or 0))
                for i, window in enumerate(windows)
            }
        return result

    async def month_closed(self, month: str) -> bool:
        """Whether the month's scorecards are frozen."""
        return (await self._session.get(ClosedMonthRow, month)) is not None

    async def rating_of(self, order_id: str) -> RatingRow | None:
        """The order's rating, if given."""
        return await self._session.get(RatingRow, order_id)

    def add_rating(self, rating: RatingRow) -> None:
        """Stage a rating (the primary key keeps it to one per order)."""
        self._session.add(rating)

    def add_complaint(self, complaint: ComplaintRow) -> None:
        """Stage a complaint."""
        self._session.add(complaint)

    async def complaint(
        self, complaint_id: int, *, for_update: bool = False
    ) -> ComplaintRow | None:
        """A complaint by id."""
        statement = select(ComplaintRow).where(ComplaintRow.id == complaint_id)
        if for_update and is_postgresql(self._session):
            statement = statement.with_for_update()
        return (await self._session.scalars(statement)).one_or_none()

    async def breaches_between(
        self, partner_ids: Sequence[str], start: datetime, end: datetime
    ) -> int:
        """How many clocks of these partners were found breached in [start, end)
        (by the index on partner and resolution time)."""
        count = await self._session.scalar(
            select(func.count()).where(
                SlaClockRow.partner_id.in_(list(partner_ids)),
                SlaClockRow.status == _BREACHED,
                SlaClockRow.resolved_at >= start,
                SlaClockRow.resolved_at < end,
            )
        )
        return int(count or 0)

    async def recent_breaches(self, partner_id: str, limit: int) -> Sequence[SlaClockRow]:
        """The partner's latest breached clocks, newest first."""
        result = await self._session.scalars(
            select(SlaClockRow)
            .where(SlaClockRow.partner_id == partner_id, SlaClockRow.status == _BREACHED)
            .order_by(SlaClockRow.deadline_at.desc())
            .limit(limit)
        )
        return result.all()

    async def recent_complaints(self, partner_id: str, limit: int) -> Sequence[ComplaintRow]:
        """The partner's latest complaints, newest first."""
        result = await self._session.scalars(
            select(ComplaintRow)
            .where(ComplaintRow.partner_id == partner_id)
            .order_by(ComplaintRow.created_at.desc())
            .limit(limit)
        )
        return result.all()
