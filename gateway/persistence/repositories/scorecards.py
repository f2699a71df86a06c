"""Queries behind the monthly scorecards: a month's aggregates, scorecards, tiers, closed months.

The aggregates are computed by the database, one GROUP BY statement per source
table (orders, SLA clocks, partner calls, ratings, complaints), never by
looping over rows in Python. Medians and 95th percentiles are continuous
percentiles (linear interpolation between the two nearest ranks):
PostgreSQL computes them with ``percentile_cont(p) WITHIN GROUP (ORDER BY v)``;
SQLite has no ordered-set aggregates, so there the same statement numbers the
rows of each group with window functions (``row_number()`` and ``count(v)``
``OVER (PARTITION BY ...)``, NULL values last) and interpolates between the
rows at ranks ``floor(1 + p (n - 1))`` and the next one, which is exactly the
definition of ``percentile_cont``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Table,
    and_,
    case,
    extract,
    func,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.persistence.repositories._dialect import insert_for, is_postgresql
from gateway.persistence.tables import (
    ClosedMonthRow,
    ComplaintRow,
    OrderRow,
    PartnerCallRow,
    RatingRow,
    ScorecardRow,
    SlaClockRow,
    TierChangeRow,
)

__all__ = [
    "PartnerAggregates",
    "ScorecardRepository",
    "TermAggregates",
    "order_price",
]

_SCORECARDS = cast(Table, ScorecardRow.__table__)
_TIER_CHANGES = cast(Table, TierChangeRow.__table__)
_CLOSED = cast(Table, ClosedMonthRow.__table__)
_MEDIAN, _P95 = 0.5, 0.95


def order_price() -> ColumnElement[Any]:
    """The order's price in fen from its stored result, NULL when the result has none.

    A courtesy car costs ``daily_price.amount`` times the ``days`` asked for; a
    policy its ``premium.amount``; a charging session or a redeemed benefit its
    ``amount.amount``. Extracted with the database's JSON functions (``#>>`` on
    PostgreSQL, ``json_extract`` on SQLite).
    """
    daily = OrderRow.result[("daily_price", "amount")].as_float()
    days = OrderRow.request[("days",)].as_float()
    return func.coalesce(
        daily * days,
        OrderRow.result[("premium", "amount")].as_float(),
        OrderRow.result[("amount", "amount")].as_float(),
    )


@dataclass(frozen=True, slots=True)
class TermAggregates:
    """One SLA term of one operation of a partner in a month (resolved clocks only)."""

    operation: str
    term: str
    met: int
    breached: int
    median_ms: float | None
    p95_ms: float | None

    @property
    def compliance(self) -> float | None:
        """Share of the resolved clocks that were met; None when none was resolved."""
        resolved = self.met + self.breached
        return self.met / resolved if resolved else None


@dataclass(slots=True)
class PartnerAggregates:
    """A partner's month as the database sums it up."""

    partner_id: str
    orders: int = 0
    priced_orders: int = 0
    average_price: float | None = None
    """Mean price in fen of the month's orders whose result has a price."""
    terms: list[TermAggregates] = field(default_factory=list)
    calls: int = 0
    ok_calls: int = 0
    p95_call_ms: float | None = None
    ratings: int = 0
    rating_average: float | None = None
    complaints: int = 0
    complaints_resolved: int = 0
    median_resolution_hours: float | None = None

    @property
    def sla_met(self) -> int:
        """Clocks met, every term together."""
        return sum(t.met for t in self.terms)

    @property
    def sla_breached(self) -> int:
        """Clocks breached (the breaches), every term together."""
        return sum(t.breached for t in self.terms)

    @property
    def sla_compliance(self) -> float | None:
        """Share of the resolved clocks met, every term together; None without any."""
        resolved = self.sla_met + self.sla_breached
        return self.sla_met / resolved if resolved else None

    @property
    def availability(self) -> float | None:
        """Share of call attempts that succeeded; None without calls."""
        return self.ok_calls / self.calls if self.calls else None

    @property
    def complaint_rate(self) -> float:
        """Complaints / orders; a month with complaints but no orders counts each as one order."""
        return self.complaints / max(self.orders, 1)

    @property
    def complaints_resolved_rate(self) -> float | None:
        """Share of the month's complaints resolved; None without complaints."""
        return self.complaints_resolved / self.complaints if self.complaints else None


def _number(value: Any) -> float | None:
    # PostgreSQL answers avg() of integers as Decimal.
    return None if value is None else float(value)


def _interpolated(columns: Any, p: float) -> ColumnElement[Any]:
    """``percentile_cont(p)`` over the rows numbered by `_grouped` (SQLite)."""
    position = 1 + p * (columns.n - 1)
    low = sql_cast(position, Integer)
    low_value = func.max(case((columns.rn == low, columns.v)))
    high_value = func.max(case((columns.rn == low + 1, columns.v)))
    fraction = func.max(position - low)
    return low_value + fraction * (func.coalesce(high_value, low_value) - low_value)


def _grouped(
    pg: bool,
    *,
    keys: Mapping[str, Any],
    value: Any,
    columns: Mapping[str, Any],
    where: Sequence[ColumnElement[bool]],
    aggregates: Callable[[Any], Sequence[ColumnElement[Any]]],
    quantiles: Mapping[str, float],
) -> Any:
    """One GROUP BY statement over `keys` with `aggregates` and continuous percentiles of `value`.

    The source rows are selected in a subquery (`keys`, `value` as ``v``,
    `columns`); on SQLite it also numbers them per group (``rn``, NULL values
    last) and counts the non-NULL values (``n``) for `_interpolated`.
    """
    selected: list[Any] = [e.label(name) for name, e in keys.items()]
    selected.append(value.label("v"))
    selected.extend(e.label(name) for name, e in columns.items())
    if not pg:
        partition = list(keys.values())
        nulls_last = case((value.is_(None), 1), else_=0)
        selected.append(
            func.row_number().over(partition_by=partition, order_by=(nulls_last, value)).label("rn")
        )
        selected.append(func.count(value).over(partition_by=partition).label("n"))
    inner = select(*selected).where(*where).subquery()
    c = inner.c
    percentiles = [
        (func.percentile_cont(p).within_group(c.v) if pg else _interpolated(c, p)).label(name)
        for name, p in quantiles.items()
    ]
    group = [c[name] for name in keys]
    return select(*group, *aggregates(c), *percentiles).group_by(*group)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class ScorecardRepository:
    """A month's aggregates per partner, stored scorecards, tier history and closed months."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- the month's aggregates -------------------------------------------------

    async def month_aggregates(
        self, month: str, start: datetime, end: datetime
    ) -> dict[str, PartnerAggregates]:
        """Every partner with anything in the month, by id: five GROUP BY statements.

        `month` (``YYYY-MM``) selects clocks, calls, ratings and complaints by
        their month column; orders by ``created_at`` in [`start`, `end`).
        """
        found: dict[str, PartnerAggregates] = {}

        def of(partner_id: str) -> PartnerAggregates:
            return found.setdefault(partner_id, PartnerAggregates(partner_id))

        for row in await self._orders(start, end):
            entry = of(row.partner_id)
            entry.orders = int(row.orders)
            entry.priced_orders = int(row.priced)
            entry.average_price = _number(row.average_price)
        for row in await self._clocks(month):
            of(row.partner_id).terms.append(
                TermAggregates(
                    operation=row.operation,
                    term=row.term,
                    met=int(row.met),
                    breached=int(row.breached),
                    median_ms=_number(row.median),
                    p95_ms=_number(row.p95),
                )
            )
        for row in await self._calls(month):
            entry = of(row.partner_id)
            entry.calls = int(row.calls)
            entry.ok_calls = int(row.ok_calls)
            entry.p95_call_ms = _number(row.p95)
        for row in await self._ratings(month):
            entry = of(row.partner_id)
            entry.ratings = int(row.ratings)
            entry.rating_average = _number(row.average)
        for row in await self._complaints(month):
            entry = of(row.partner_id)
            entry.complaints = int(row.complaints)
            entry.complaints_resolved = int(row.resolved)
            entry.median_resolution_hours = _number(row.median)
        for entry in found.values():
            entry.terms.sort(key=lambda t: (t.operation, t.term))
        return found

    async def _orders(self, start: datetime, end: datetime) -> Sequence[Any]:
        price = order_price()
        statement = (
            select(
                OrderRow.partner_id,
                func.count().label("orders"),
                func.count(price).label("priced"),
                func.avg(price).label("average_price"),
            )
            .where(
                OrderRow.partner_id.is_not(None),
                OrderRow.created_at >= start,
                OrderRow.created_at < end,
            )
            .group_by(OrderRow.partner_id)
        )
        return (await self._session.execute(statement)).all()

    async def _clocks(self, month: str) -> Sequence[Any]:
        statement = _grouped(
            is_postgresql(self._session),
            keys={
                "partner_id": SlaClockRow.partner_id,
                "operation": SlaClockRow.operation,
                "term": SlaClockRow.term,
            },
            value=SlaClockRow.elapsed_ms,
            columns={"status": SlaClockRow.status},
            where=[
                SlaClockRow.month == month,
                SlaClockRow.status.in_(("met", "breached")),
                # Resolved after the month closed: reported, never folded into it.
                SlaClockRow.late.is_(False),
            ],
            aggregates=lambda c: [
                _count_if(c.status == "met").label("met"),
                _count_if(c.status == "breached").label("breached"),
            ],
            quantiles={"median": _MEDIAN, "p95": _P95},
        )
        return (await self._session.execute(statement)).all()

    async def _calls(self, month: str) -> Sequence[Any]:
        statement = _grouped(
            is_postgresql(self._session),
            keys={"partner_id": PartnerCallRow.partner_id},
            value=PartnerCallRow.duration_ms,
            columns={"ok": PartnerCallRow.ok},
            where=[PartnerCallRow.month == month],
            aggregates=lambda c: [
                func.count().label("calls"),
                _count_if(c.ok.is_(True)).label("ok_calls"),
            ],
            quantiles={"p95": _P95},
        )
        return (await self._session.execute(statement)).all()

    async def _ratings(self, month: str) -> Sequence[Any]:
        statement = (
            select(
                RatingRow.partner_id,
                func.count().label("ratings"),
                func.avg(sql_cast(RatingRow.stars, Float)).label("average"),
            )
            .where(RatingRow.month == month)
            .group_by(RatingRow.partner_id)
        )
        return (await self._session.execute(statement)).all()

    async def _complaints(self, month: str) -> Sequence[Any]:
        pg = is_postgresql(self._session)
        resolved, created = ComplaintRow.resolved_at, ComplaintRow.created_at
        hours = (
            extract("epoch", resolved - created) / 3600.0
            if pg
            else (func.julianday(resolved) - func.julianday(created)) * 24.0
        )
        statement = _grouped(
            pg,
            keys={"partner_id": ComplaintRow.partner_id},
            value=hours,
            columns={"resolved_at": resolved},
            where=[ComplaintRow.month == month],
            aggregates=lambda c: [
                func.count().label("complaints"),
                func.count(c.resolved_at).label("resolved"),
            ],
            quantiles={"median": _MEDIAN},
        )
        return (await self._session.execute(statement)).all()

    # -- scorecards ----------------------------------------------------------------

    async def of_month(self, month: str) -> Sequence[ScorecardRow]:
        """The stored scorecards of a month, by partner id."""
        result = await self._session.scalars(
            select(ScorecardRow)
            .where(ScorecardRow.month == month)
            .order_by(ScorecardRow.partner_id)
            .execution_options(populate_existing=True)
        )
        return result.all()

    async def month_stamp(self, month: str) -> tuple[int, datetime | None, datetime | None]:
        """How many scorecards the month has stored and when they were last computed and
        closed: changes whenever the stored scorecards do."""
        row = (
            await self._session.execute(
                select(
                    func.count(),
                    func.max(ScorecardRow.computed_at),
                    func.max(ScorecardRow.closed_at),
                ).where(ScorecardRow.month == month)
            )
        ).one()
        return int(row[0]), row[1], row[2]

    async def of_partner(
        self, partner_id: str, *, until: str, limit: int
    ) -> Sequence[ScorecardRow]:
        """A partner's last `limit` stored scorecards up to month `until`, newest last."""
        result = await self._session.scalars(
            select(ScorecardRow)
            .where(ScorecardRow.partner_id == partner_id, ScorecardRow.month <= until)
            .order_by(ScorecardRow.month.desc())
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        return list(reversed(result.all()))

    async def of_partner_months(
        self, partner_id: str, months: Iterable[str]
    ) -> dict[str, ScorecardRow]:
        """A partner's stored scorecards of the given months, by month."""
        result = await self._session.scalars(
            select(ScorecardRow)
            .where(ScorecardRow.partner_id == partner_id, ScorecardRow.month.in_(list(months)))
            .execution_options(populate_existing=True)
        )
        return {row.month: row for row in result.all()}

    async def upsert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace scorecards, in one statement; a closed scorecard is never replaced.

        Rows go in partner order, so concurrent writers of the same month lock
        them in the same order (no deadlock on PostgreSQL).
        """
        if not rows:
            return
        ordered = sorted(rows, key=lambda r: (r["month"], r["partner_id"]))
        statement = insert_for(self._session, _SCORECARDS).values(ordered)
        replaced = (
            "category",
            "metrics",
            "score",
            "tier",
            "tier_reason",
            "provisional",
            "computed_at",
            "closed_at",
        )
        statement = statement.on_conflict_do_update(
            index_elements=["partner_id", "month"],
            set_={name: statement.excluded[name] for name in replaced},
            where=_SCORECARDS.c.closed_at.is_(None),
        )
        await self._session.execute(statement)

    # -- tiers ---------------------------------------------------------------------

    async def tier_in_force(self, partner_id: str, month: str) -> str | None:
        """The tier of the partner's latest change effective by `month`; None without any."""
        return (
            await self._session.scalars(
                select(TierChangeRow.tier)
                .where(
                    TierChangeRow.partner_id == partner_id,
                    TierChangeRow.effective_month <= month,
                )
                .order_by(TierChangeRow.effective_month.desc())
                .limit(1)
            )
        ).one_or_none()

    async def tiers_in_force(self, month: str) -> dict[str, str]:
        """Every partner's tier from its latest change effective by `month` (one statement)."""
        latest = (
            select(
                TierChangeRow.partner_id,
                func.max(TierChangeRow.effective_month).label("effective_month"),
            )
            .where(TierChangeRow.effective_month <= month)
            .group_by(TierChangeRow.partner_id)
            .subquery()
        )
        rows = await self._session.execute(
            select(TierChangeRow.partner_id, TierChangeRow.tier).join(
                latest,
                and_(
                    TierChangeRow.partner_id == latest.c.partner_id,
                    TierChangeRow.effective_month == latest.c.effective_month,
                ),
            )
        )
        return {partner_id: tier for partner_id, tier in rows.all()}

    async def yellow_months_before(
        self, month: str, previous_months: Sequence[str], tier: str
    ) -> dict[str, int]:
        """Per partner: consecutive closed months right before `month` that decided `tier`.

        `previous_months` are the months before `month`, newest first (the
        caller's calendar arithmetic; as many as worth counting). A month that
        is not closed, or whose closed scorecard decided another tier, ends the
        run. One statement over the closed scorecards of those months.
        """
        if not previous_months:
            return {}
        rows = await self._session.execute(
            select(ScorecardRow.partner_id, ScorecardRow.month, ScorecardRow.tier).where(
                ScorecardRow.month.in_(list(previous_months)),
                ScorecardRow.closed_at.is_not(None),
            )
        )
        decided: dict[str, dict[str, str]] = {}
        for partner_id, scored_month, decided_tier in rows.all():
            decided.setdefault(partner_id, {})[scored_month] = decided_tier
        runs: dict[str, int] = {}
        for partner_id, by_month in decided.items():
            run = 0
            for previous in previous_months:
                if by_month.get(previous) != tier:
                    break
                run += 1
            runs[partner_id] = run
        return runs

    async def record_tier_change(
        self,
        *,
        partner_id: str,
        effective_month: str,
        tier: str,
        previous_tier: str,
        reason: str,
        decided_at: datetime,
    ) -> None:
        """Set the partner's tier from `effective_month` on (replacing one set for that month)."""
        statement = insert_for(self._session, _TIER_CHANGES).values(
            partner_id=partner_id,
            effective_month=effective_month,
            tier=tier,
            previous_tier=previous_tier,
            reason=reason,
            decided_at=decided_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["partner_id", "effective_month"],
            set_={
                name: statement.excluded[name]
                for name in ("tier", "previous_tier", "reason", "decided_at")
            },
        )
        await self._session.execute(statement)

    async def tier_changes(
        self, *, partner_id: str | None = None, effective_month: str | None = None
    ) -> Sequence[TierChangeRow]:
        """Tier changes, of a partner and/or effective in a month, oldest first."""
        statement = select(TierChangeRow).order_by(
            TierChangeRow.effective_month, TierChangeRow.partner_id
        )
        if partner_id is not None:
            statement = statement.where(TierChangeRow.partner_id == partner_id)
        if effective_month is not None:
            statement = statement.where(TierChangeRow.effective_month == effective_month)
        return (await self._session.scalars(statement)).all()

    # -- closed months -----------------------------------------------------------

    async def closed_month(self, month: str) -> ClosedMonthRow | None:
        """The month's close record, if it is closed."""
        return (
            await self._session.scalars(select(ClosedMonthRow).where(ClosedMonthRow.month == month))
        ).one_or_none()

    async def closed_months(self, months: Iterable[str] | None = None) -> Sequence[ClosedMonthRow]:
        """Closed months (only among `months` when given), oldest first."""
        statement = select(ClosedMonthRow).order_by(ClosedMonthRow.month)
        if months is not None:
            statement = statement.where(ClosedMonthRow.month.in_(list(months)))
        return (await self._session.scalars(statement)).all()

    async def close_month(self, month: str, *, at: datetime, by: str) -> bool:
        """Record the month as closed; False when it already was (a concurrent closer waits)."""
        statement = (
            insert_for(self._session, _CLOSED)
            .values(month=month, closed_at=at, closed_by=by)
            .on_conflict_do_nothing(index_elements=["month"])
            .returning(_CLOSED.c.month)
        )
        return (await self._session.execute(statement)).scalar_one_or_none() is not None
