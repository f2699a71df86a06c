"""Monthly settlement statements for 500 partners over 5 million commission ledger entries on
PostgreSQL (`gateway.ledger.statements.statements_of_month(container, "2026-10")`, what
`GET /v1/settlements?month=` serves: the month's closing looked up, one GROUP BY over
partner, kind, direction, currency and lateness (`LedgerRepository.totals`), then a pydantic
`Statement` for every registry partner), against the bare
`SELECT partner_id, sum(amount) FROM ledger_entries WHERE effective_month = $1 GROUP BY
partner_id` over the same month in the same run. Both sides go through the same driver and
connection kind: the container's SQLAlchemy AsyncEngine on asyncpg (the bare statement as
`text()` on a pooled connection); the bare statement on a plain asyncpg connection is timed
too, in a note, to show what SQLAlchemy adds.
The database is fresh, migrated to head (`pgw db upgrade`) and filled with set-based
`INSERT ... SELECT ... FROM generate_series` (the table is append-only: INSERT only, its
indexes and constraints in place). All 5 M entries settle in the measured month, so the
aggregation over them dominates: one or two order entries per order, of the kinds and
directions each partner's agreement gives (`gateway.ledger.rules.order_effects` on a
prototype order: commission, revenue_share, resale_cost + resale_margin,
subscription_cost), about 3 % late (occurred in 2026-08 or 2026-09, both closed), SLA credits
(1 %), the month's platform and outcome base fees (`monthly_effects`), and 2 % reversals
(negated amounts, `reverses_id` the reversed entry, whole orders); then VACUUM ANALYZE.
The 500 partners' agreements are the 8 sample agreements of `partners/` copied round-robin
(ids `p000`..`p499`, as `scorecard`); those on a platform-fee or outcome-based plan have no
order entries. Loading is timed in a note, not measured. After a warm-up run of each side,
the sides alternate (order rotated every round), in one process, timed with
`time.perf_counter`; medians are compared. Target: the statements cost at most 2x the bare
aggregation. A check compares every partner's statement totals with the bare sums and the
month's receivable, payable, retained, net, entry and late-entry totals with SQL; a
mismatch fails the benchmark. When the target is missed, the notes give EXPLAIN ANALYZE of
the totals statement and of the bare one. `--quick` loads 1/20 of the entries. Needs
PostgreSQL (`PGW_BENCH_POSTGRES_URL`, as `webhooks`); no Redis in the measured path.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text

from bench.bench_scorecard import (
    _explain,
    _why,
    capture,
    is_quick,
    migrate,
    plan_text,
    server_settings,
    settings_for,
    timed,
    write_partners,
)
from bench.bench_webhooks import Stage, stage
from bench.context import Context
from bench.figures import Figure
from contracts import EventType, Money, PartnerAgreement
from contracts.commission import MarkupPlan, MarkupUnit, PercentagePlan, RevenueSharePlan
from gateway.bootstrap import Container, build_container
from gateway.ledger.rules import Completion, Effect, monthly_effects, order_effects
from gateway.ledger.schemas import Statement
from gateway.ledger.statements import statements_of_month
from gateway.scorecards.months import month_bounds

MONTH: Final = "2026-10"
LATE_MONTHS: Final = ("2026-08", "2026-09")
"""Closed months whose late effects settle in MONTH (`occurred_month < effective_month`)."""
PARTNERS: Final = 500
ENTRIES: Final = 5_000_000
QUICK_SHARE: Final = 20
"""`--quick` loads 1/QUICK_SHARE of the entries."""
TARGET_RATIO: Final = 2.0
GAP = """
At the small scale of --quick (250 k entries) the planner misjudges the number of groups
and runs the statement in one process; statistics on (partner_id, kind, direction) are
the proposed fix. Decision 0011.
"""
LATE_SHARE: Final = 0.03
"""Share of orders whose entries are late (occurred in a closed month)."""
REVERSAL_SHARE: Final = 0.02
"""Share of all entries that are reversals."""
CREDIT_SHARE: Final = 0.01
"""Share of all entries that are SLA credits."""
_REVERSED_ORDERS_PER_10K: Final = 230
"""Orders picked (by hash) for reversal, a little over REVERSAL_SHARE; LIMIT cuts to size."""
CURRENCY: Final = "CNY"
SUBJECT: Final = "statements_of_month"
BASELINE: Final = "bare SUM ... GROUP BY partner_id"
BARE_SQL: Final = (
    "SELECT partner_id, sum(amount) AS amount FROM ledger_entries "
    "WHERE effective_month = :month GROUP BY partner_id"
)
BARE_ASYNCPG: Final = BARE_SQL.replace(":month", "$1")
_BASIS: Final = {
    "percentage": (2_000, 28_000),  # order value 20..300 CNY
    "revenue_share": (200_000, 600_000),  # premium 2,000..8,000 CNY
    "subscription_covered": (2_000, 18_000),  # benefit value 20..200 CNY
}
"""Random basis (fen) of an order's entry: lowest value and span, by plan kind."""


@dataclass(frozen=True)
class Volumes:
    """Entries to load, by what makes them."""

    total: int
    reversals: int
    credits: int

    @classmethod
    def for_run(cls, quick: bool) -> Volumes:
        """The full volumes, or 1/QUICK_SHARE with `--quick`."""
        total = ENTRIES // (QUICK_SHARE if quick else 1)
        return cls(
            total=total,
            reversals=round(total * REVERSAL_SHARE),
            credits=round(total * CREDIT_SHARE),
        )


# -- staging --------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One entry a partner's completed order produces (a markup plan makes two)."""

    partner_id: str
    kind: str
    direction: str
    component: str
    plan_kind: str | None
    plan: dict[str, Any]
    rate: str | None
    min_amount: int | None
    max_amount: int | None
    unit_amount: int | None
    """Amount per unit of a fixed-amount entry (resale cost or margin, subscription cost)."""
    unit_basis: int | None
    """Basis per unit of a markup entry (the sale price)."""
    units: int | None
    per_day: bool
    basis_low: int
    basis_span: int
    reason: str
    """`{basis}` stands for the order's basis."""


def components_of(agreement: PartnerAgreement) -> list[Component]:
    """The entries a prototype completed order of 100.00 CNY makes under the agreement's plans
    (`order_effects`); amounts and bases are drawn per order when loading."""
    plans = agreement.commission.plans
    product = next((p.product for p in plans if isinstance(p, RevenueSharePlan)), None)
    value = Money(amount=10_000, currency=CURRENCY)
    completion = Completion(EventType.RENTAL_COMPLETED, value, units=1, product=product)
    effects = order_effects(agreement.commission, completion, date(2026, 10, 15), agreement.tier)
    return [_component(agreement.id, plans[int(e.plan["index"])], e) for e in effects]


def _component(partner_id: str, plan: Any, effect: Effect) -> Component:
    rated = effect.rate is not None
    low, span = _BASIS.get(effect.plan_kind or "", (2_000, 28_000))

    def bound(money: Money | None) -> int | None:
        return money.amount if money is not None and money.currency == CURRENCY else None

    markup = isinstance(plan, MarkupPlan)
    return Component(
        partner_id=partner_id,
        kind=effect.kind.value,
        direction=effect.direction.value,
        component=effect.component,
        plan_kind=effect.plan_kind,
        plan=effect.plan,
        rate=None if effect.rate is None else format(effect.rate, "f"),
        min_amount=bound(plan.min) if isinstance(plan, PercentagePlan) else None,
        max_amount=bound(plan.max) if isinstance(plan, PercentagePlan) else None,
        unit_amount=None if rated else effect.amount.amount,
        unit_basis=plan.sell.amount if markup else None,
        units=effect.units,
        per_day=markup and plan.unit is MarkupUnit.DAY,
        basis_low=low,
        basis_span=span,
        reason=effect.reason.replace(str(effect.basis), "{basis}") if rated else effect.reason,
    )


_COMPONENTS = """
CREATE TEMP TABLE bench_component (
    a int NOT NULL, partner_id text NOT NULL, kind text NOT NULL, direction text NOT NULL,
    component text NOT NULL, plan_kind text, plan jsonb NOT NULL, rate numeric, rate_text text,
    min_amount bigint, max_amount bigint, unit_amount bigint, unit_basis bigint, units int,
    per_day bool NOT NULL, basis_low bigint NOT NULL, basis_span bigint NOT NULL,
    reason text NOT NULL
)
"""
_CREDITORS = """
CREATE TEMP TABLE bench_creditor (
    m int PRIMARY KEY, a int NOT NULL, partner_id text NOT NULL, rate numeric NOT NULL,
    percent text NOT NULL
)
"""
_COLUMNS = """
INSERT INTO ledger_entries (entry_key, partner_id, order_id, event_id, kind, plan_kind, plan,
    basis_amount, rate, units, amount, currency, direction, occurred_at, occurred_month,
    effective_month, created_at, reason, reverses_id)
"""
_OCCURRED_MONTH = "to_char({at} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"
# Order o (1..$1) is served by active partner o % $3; late orders occurred in a closed month
# ($6..$9: bounds of LATE_MONTHS), the others evenly over MONTH ($4, $5).
_ORDER_ENTRIES = f"""
{_COLUMNS}
SELECT 'order:' || s.order_id || ':completed:' || c.component, c.partner_id, s.order_id,
    'evt_bench_' || s.o, c.kind, c.plan_kind, c.plan, b.basis, c.rate_text, u.units, m.amount,
    '{CURRENCY}', c.direction, s.at, {_OCCURRED_MONTH.format(at="s.at")}, $10,
    CASE WHEN s.late THEN $4::timestamptz + s.r * interval '20 days'
         ELSE s.at + interval '1 second' END,
    replace(c.reason, '{{basis}}', to_char(b.basis / 100.0, 'FM999999990.00') || ' {CURRENCY}'),
    NULL
FROM (
    SELECT o, 'ord_bench_' || lpad(o::text, 8, '0') AS order_id, r, late,
        CASE WHEN NOT late THEN $4::timestamptz + (o - 0.5) / $1::int * ($5::timestamptz - $4)
             WHEN o % 2 = 0 THEN $6::timestamptz + r * ($7::timestamptz - $6)
             ELSE $8::timestamptz + r * ($9::timestamptz - $8) END AS at
    FROM (SELECT o, random() AS r, random() < $11 AS late FROM generate_series(1, $1::int) AS o)
        AS g
) AS s
JOIN bench_component AS c ON c.a = s.o % $3::int
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.per_day THEN 1 + s.o % 7 ELSE c.units END AS units
) AS u
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.unit_basis IS NOT NULL THEN c.unit_basis * coalesce(u.units, 1)
                ELSE c.basis_low + floor(s.r * c.basis_span)::bigint END AS basis
) AS b
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.rate IS NULL THEN c.unit_amount * coalesce(u.units, 1)
                ELSE least(greatest(round(b.basis * c.rate)::bigint, coalesce(c.min_amount, 0)),
                           coalesce(c.max_amount, b.basis)) END AS amount
) AS m
LIMIT $2
"""
# Credit c goes to creditor c % M, for an order that creditor served ((c / M + 1) * A + a).
_CREDITS = f"""
{_COLUMNS}
SELECT 'sla_credit:' || o.order_id, p.partner_id, o.order_id, 'evt_bench_sla_' || s.c,
    'sla_credit', NULL, '{{}}'::jsonb, s.basis, p.rate::text, NULL,
    round(s.basis * p.rate)::bigint, '{CURRENCY}', 'receivable', s.at,
    {_OCCURRED_MONTH.format(at="s.at")}, $5, s.at + interval '1 minute',
    'SLA breached: ' || p.percent || ' % of the order''s ' ||
        to_char(s.basis / 100.0, 'FM999999990.00') || ' {CURRENCY} is credited to the OEM',
    NULL
FROM (
    SELECT c, 2000 + floor(random() * 28000)::bigint AS basis,
        $3::timestamptz + random() * ($4::timestamptz - $3::timestamptz - interval '1 hour')
            AS at
    FROM generate_series(1, $1::int) AS c
) AS s
JOIN bench_creditor AS p ON p.m = s.c % $2::int
CROSS JOIN LATERAL (
    SELECT 'ord_bench_' || lpad(((s.c / $2::int + 1) * $6::int + p.a)::text, 8, '0') AS order_id
) AS o
"""
# Whole orders picked by the hash of their id; each of their entries reversed once, in MONTH.
_REVERSALS = f"""
{_COLUMNS}
SELECT 'reversal:' || e.id, e.partner_id, e.order_id, 'evt_bench_cancel_' || e.order_id, e.kind,
    e.plan_kind, e.plan, e.basis_amount, e.rate, e.units, -e.amount, e.currency, e.direction,
    r.at, {_OCCURRED_MONTH.format(at="r.at")}, $2, r.at + interval '1 second',
    'reverses entry ' || e.id || ': order cancelled after completion (event evt_bench_cancel_'
        || e.order_id || ')',
    e.id
FROM ledger_entries AS e
CROSS JOIN LATERAL (
    SELECT least(greatest(e.occurred_at, $3::timestamptz) + interval '6 hours',
                 $4::timestamptz - interval '1 second') AS at
) AS r
WHERE e.order_id IS NOT NULL AND e.kind <> 'sla_credit' AND e.reverses_id IS NULL
    AND abs(hashtext(e.order_id)::bigint) % 10000 < {_REVERSED_ORDERS_PER_10K}
LIMIT $1
"""


def _component_rows(active: Sequence[Sequence[Component]]) -> list[tuple[Any, ...]]:
    rows = []
    for a, components in enumerate(active):
        for c in components:
            rows.append(
                (
                    a, c.partner_id, c.kind, c.direction, c.component, c.plan_kind,
                    json.dumps(c.plan), None if c.rate is None else Decimal(c.rate), c.rate,
                    c.min_amount, c.max_amount, c.unit_amount, c.unit_basis, c.units,
                    c.per_day, c.basis_low, c.basis_span, c.reason,
                )
            )  # fmt: skip
    return rows


def _fee_rows(agreements: Sequence[PartnerAgreement]) -> list[tuple[Any, ...]]:
    """The month's fixed fees (`monthly_effects`), accrued at its start."""
    start = month_bounds(MONTH)[0]
    rows = []
    for agreement in agreements:
        for e in monthly_effects(agreement.commission, MONTH):
            rows.append(
                (
                    f"month:{agreement.id}:{MONTH}:{e.component}", agreement.id, None, None,
                    e.kind.value, e.plan_kind, json.dumps(e.plan), None, None, None,
                    e.amount.amount, e.amount.currency, e.direction.value, start, MONTH, MONTH,
                    start + timedelta(minutes=5), e.reason, None,
                )
            )  # fmt: skip
    return rows


@dataclass(frozen=True)
class Loaded:
    """What the load put in, and how long it took."""

    plan_entries: int
    credits: int
    fees: int
    reversals: int
    active_partners: int
    seconds: float
    vacuum_seconds: float

    @property
    def total(self) -> int:
        return self.plan_entries + self.credits + self.fees + self.reversals


def _inserted(status: str) -> int:
    """Rows an INSERT's command status ("INSERT 0 n") reports."""
    return int(status.split()[-1])


async def load(dsn: str, agreements: Sequence[PartnerAgreement], volumes: Volumes) -> Loaded:
    """Fill MONTH with set-based INSERTs (and the closed LATE_MONTHS), then VACUUM ANALYZE."""
    started = time.monotonic()
    by_partner = [components_of(a) for a in agreements]
    active = [c for c in by_partner if c]
    fees = _fee_rows(agreements)
    plan_entries = volumes.total - volumes.reversals - volumes.credits - len(fees)
    per_order = sum(len(c) for c in active) / len(active)
    orders = math.ceil(plan_entries / per_order) + len(active)
    by_id = {a.id: a for a in agreements}
    percents = [(a, by_id[c[0].partner_id].sla.breach_credit_percent) for a, c in enumerate(active)]
    creditors = [
        (m, a, active[a][0].partner_id, percent)
        for m, (a, percent) in enumerate((a, p) for a, p in percents if p)
    ]
    if volumes.credits // len(creditors) + 2 > orders // len(active):
        raise ValueError("more SLA credits than orders")
    start, end = month_bounds(MONTH)
    late_bounds = [bound for month in LATE_MONTHS for bound in month_bounds(month)]
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(_COMPONENTS)
        await conn.executemany(
            "INSERT INTO bench_component VALUES "
            "($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
            "$17, $18)",
            _component_rows(active),
        )
        await conn.execute(_CREDITORS)
        await conn.executemany(
            "INSERT INTO bench_creditor VALUES ($1, $2, $3, $4, $5)",
            [(m, a, pid, Decimal(p) / 100, format(p, "f")) for m, a, pid, p in creditors],
        )
        await conn.executemany(
            "INSERT INTO settlement_months (month, closed_at, closed_by) VALUES ($1, $2, $3)",
            [(m, month_bounds(m)[1] + timedelta(days=1), "bench") for m in LATE_MONTHS],
        )
        await conn.execute("SELECT setseed(0.42)")
        made = _inserted(
            await conn.execute(
                _ORDER_ENTRIES, orders, plan_entries, len(active), start, end, *late_bounds,
                MONTH, LATE_SHARE,
            )
        )  # fmt: skip
        credits = _inserted(
            await conn.execute(
                _CREDITS, volumes.credits, len(creditors), start, end, MONTH, len(active)
            )
        )
        await conn.executemany(
            f"{_COLUMNS} VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, "
            "$14, $15, $16, $17, $18, $19)",
            fees,
        )
        reversals = _inserted(await conn.execute(_REVERSALS, volumes.reversals, MONTH, start, end))
        loaded = time.monotonic() - started
        await conn.execute("VACUUM (ANALYZE) ledger_entries, settlement_months")
    finally:
        await conn.close()
    return Loaded(
        plan_entries=made,
        credits=credits,
        fees=len(fees),
        reversals=reversals,
        active_partners=len(active),
        seconds=loaded,
        vacuum_seconds=time.monotonic() - started - loaded,
    )


_MIX = """
SELECT kind, direction, count(*) AS entries, count(reverses_id) AS reversals,
    count(*) FILTER (WHERE occurred_month < effective_month) AS late,
    count(DISTINCT partner_id) AS partners
FROM ledger_entries WHERE effective_month = $1 GROUP BY kind, direction ORDER BY kind, direction
"""
_SQL_TOTALS = """
SELECT direction, currency, count(*) AS entries, sum(amount) AS amount,
    count(*) FILTER (WHERE occurred_month < effective_month) AS late
FROM ledger_entries WHERE effective_month = $1 GROUP BY direction, currency
"""


async def describe(conn: Any, loaded: Loaded) -> str:
    """The loaded mix as one sentence; raises unless MONTH holds every entry loaded."""
    mix = list(await conn.fetch(_MIX, MONTH))
    entries = sum(int(r["entries"]) for r in mix)
    table = int(await conn.fetchval("SELECT count(*) FROM ledger_entries"))
    if entries != loaded.total or table != loaded.total:
        raise RuntimeError(f"loaded {table} entries ({entries} in {MONTH}), meant {loaded.total}")
    size = int(await conn.fetchval("SELECT pg_total_relation_size('ledger_entries')"))
    late = sum(int(r["late"]) for r in mix)
    kinds = ", ".join(
        f"{r['kind']}/{r['direction']} {int(r['entries']):,} ({int(r['partners'])} partners)"
        for r in mix
    )
    return (
        f"{entries:,} entries, all settling in {MONTH} ({size / 2**20:,.0f} MiB with indexes): "
        f"{kinds}; {loaded.reversals:,} reversals, {late:,} late "
        f"(occurred in {' or '.join(LATE_MONTHS)}, both closed); "
        f"{loaded.active_partners} of {PARTNERS} partners have order entries"
    )


# -- measuring ------------------------------------------------------------------------

SIDES: Final = (SUBJECT, BASELINE, "bare, plain asyncpg")


@dataclass
class Timings:
    """Seconds of every run of every side, round by round."""

    runs: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in SIDES})

    def ms(self, side: str) -> float:
        return statistics.median(self.runs[side]) * 1000

    @property
    def ratio(self) -> float:
        return self.ms(SUBJECT) / self.ms(BASELINE)

    def paired_ratios(self) -> list[float]:
        return [s / b for s, b in zip(self.runs[SUBJECT], self.runs[BASELINE], strict=True) if b]

    def per_round(self, side: str) -> str:
        return ", ".join(f"{s * 1000:,.0f}" for s in self.runs[side])


@dataclass
class Bench:
    """The sides on one event loop: the container's engine for both the subject and the
    baseline, a plain asyncpg connection for the bare statement once more."""

    ctx: Context
    conn: Any
    container: Container
    bare: list[Any] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    closed: bool = True

    async def subject(self) -> None:
        self.closed, self.statements = await statements_of_month(self.container, MONTH)

    async def baseline(self) -> None:
        async with self.container.engine.connect() as conn:
            self.bare = list((await conn.execute(text(BARE_SQL), {"month": MONTH})).all())

    async def plain(self) -> None:
        await self.conn.fetch(BARE_ASYNCPG, MONTH)

    async def measure(self, rounds: int) -> Timings:
        """One warm-up run each, then `rounds` rounds, the order rotated every round."""
        calls: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            (SUBJECT, self.subject), (BASELINE, self.baseline), (SIDES[2], self.plain),
        ]  # fmt: skip
        for _, call in calls:
            await timed(call)
        timings = Timings()
        for round_no in range(rounds):
            shift = round_no % len(calls)
            for side, call in calls[shift:] + calls[:shift]:
                seconds, _ = await timed(call)
                timings.runs[side].append(seconds)
            self.ctx.log(
                f"round {round_no + 1}/{rounds}: "
                + ", ".join(f"{s} {timings.runs[s][-1] * 1000:,.0f} ms" for s in SIDES)
            )
        return timings


# -- the check: the statements against SQL --------------------------------------------


@dataclass(frozen=True)
class SumCheck:
    """The statements' totals against the bare sums (per partner) and SQL (the month)."""

    statements: int
    statement_sums: dict[str, int]
    sql_sums: dict[str, int]
    mismatched_partners: tuple[str, ...]
    closed: bool

    @property
    def differing(self) -> list[str]:
        return [k for k in self.sql_sums if self.statement_sums.get(k) != self.sql_sums.get(k)]

    @property
    def passed(self) -> bool:
        return (
            self.statements == PARTNERS
            and not self.closed
            and not self.mismatched_partners
            and not self.differing
        )

    def reading(self) -> str:
        if self.passed:
            return (
                f"check passes: {self.statements} draft statements; every partner's total "
                "equals its bare sum; receivable, payable, retained, net, entries and late "
                "entries over all statements equal SQL's"
            )
        parts = [f"check FAILS: {self.statements} statements (closed: {self.closed})"]
        if self.mismatched_partners:
            parts.append(f"partners differing: {', '.join(self.mismatched_partners[:5])}")
        for key in self.differing:
            parts.append(
                f"{key}: statements {self.statement_sums.get(key)}, SQL {self.sql_sums.get(key)}"
            )
        return "; ".join(parts)


async def sum_check(conn: Any, bench: Bench) -> SumCheck:
    """Compare the last statements with the last bare sums and with SQL's month totals."""
    bare = {r.partner_id: int(r.amount) for r in bench.bare}
    found: dict[str, int] = defaultdict(int)
    sums: dict[str, int] = defaultdict(int)
    for s in bench.statements:
        for t in s.totals:
            if t.currency != CURRENCY:
                continue
            found[s.partner_id] += t.receivable.amount + t.payable.amount + t.retained.amount
            sums["receivable"] += t.receivable.amount
            sums["payable"] += t.payable.amount
            sums["retained"] += t.retained.amount
            sums["net"] += t.net.amount
        sums["entries"] += s.entry_count
        sums["late entries"] += sum(
            line.entries for line in s.lines if line.section == "opening_adjustments"
        )
    expected: dict[str, int] = defaultdict(int)
    for r in await conn.fetch(_SQL_TOTALS, MONTH):
        expected["entries"] += int(r["entries"])
        expected["late entries"] += int(r["late"])
        if r["currency"] == CURRENCY:
            expected[r["direction"]] += int(r["amount"])
    expected["net"] = expected["receivable"] - expected["payable"]
    partners = bare.keys() | found.keys()
    return SumCheck(
        statements=len(bench.statements),
        statement_sums=dict(sums),
        sql_sums=dict(expected),
        mismatched_partners=tuple(sorted(p for p in partners if bare.get(p, 0) != found[p])),
        closed=bench.closed,
    )


# -- where the time goes, and EXPLAIN ANALYZE when the target is missed -----------------


async def split_note(bench: Bench) -> tuple[str, list[Any]]:
    """One instrumented run: time in each statement, the rest in Python."""
    with capture(bench.container) as sent:
        started = time.perf_counter()
        await bench.subject()
        total = time.perf_counter() - started
    in_sql = sum(s.seconds for s in sent)
    parts = ", ".join(
        f"{s.statement.split(None, 1)[0]} on "
        f"{'ledger_entries' if 'ledger_entries' in s.statement else 'settlement_months'} "
        f"{s.seconds * 1000:,.1f} ms"
        for s in sent
    )
    note = (
        f"one instrumented {SUBJECT} took {total * 1000:,.0f} ms: {in_sql * 1000:,.0f} ms in "
        f"{len(sent)} statements ({parts}), {(total - in_sql) * 1000:,.0f} ms outside them "
        f"(session and transaction, rows to LedgerTotal, {len(bench.statements)} pydantic "
        "statements)"
    )
    return note, sent


async def explain_notes(conn: Any, sent: Sequence[Any]) -> list[str]:
    """EXPLAIN ANALYZE of the totals statement the subject sent and of the bare statement."""
    totals = max(
        (s for s in sent if "ledger_entries" in s.statement), key=lambda s: s.seconds, default=None
    )
    bare = await _explain(conn, BARE_ASYNCPG, [MONTH])
    notes = []
    if totals is not None:
        plan = await _explain(conn, totals.statement, totals.parameters)
        notes.append(
            f"EXPLAIN ANALYZE, LedgerRepository.totals, execution "
            f"{plan['Execution Time']:,.0f} ms: {plan_text(plan)}"
        )
        notes.append(f"why it costs more: {_why(plan, totals.statement, bare)}")
    notes.append(
        f"EXPLAIN ANALYZE, bare aggregation, execution {bare['Execution Time']:,.0f} ms: "
        f"{plan_text(bare)}"
    )
    return notes


# -- the benchmark ----------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def figures(timings: Timings, check: SumCheck, mix: str, quick: bool) -> list[Figure]:
    """The statements against the bare aggregation, and the sum check."""
    scale = f"1/{QUICK_SHARE} scale (--quick)" if quick else "full scale"
    ratio = timings.ratio
    return [
        Figure(
            f"{SUBJECT}, {PARTNERS} partners", timings.ms(SUBJECT), "ms", BASELINE,
            timings.ms(BASELINE), higher_is_better=False,
            reading=f"the month's statements cost {ratio:.2f}x the bare aggregation; "
            f"target <= {TARGET_RATIO:g}x: {_met(ratio <= TARGET_RATIO)}",
            note=f"{scale}; {mix}; both sides through the container's SQLAlchemy AsyncEngine "
            f"on asyncpg; medians of {len(timings.runs[SUBJECT])} rounds, warm cache",
        ),
        Figure(
            "net over all statements", check.statement_sums.get("net", 0), "fen",
            "net of the SQL sums", check.sql_sums.get("net", 0), reading=check.reading(),
        ),
    ]  # fmt: skip


async def _run(
    ctx: Context, staged: Stage, partners_dir: Path, loaded: Loaded, quick: bool
) -> list[Figure]:
    conn = await asyncpg.connect(staged.dsn, timeout=10)
    container = build_container(settings_for(staged, partners_dir))
    try:
        if len(container.registry) != PARTNERS:
            raise RuntimeError(f"the registry holds {len(container.registry)} partners")
        mix = await describe(conn, loaded)
        ctx.log(mix)
        bench = Bench(ctx, conn, container)
        timings = await bench.measure(ctx.settings.rounds)
        check = await sum_check(conn, bench)
        if not check.passed:
            raise RuntimeError(check.reading())
        ctx.note(f"PostgreSQL: {await server_settings(conn)}")
        for side in SIDES:
            ctx.note(f"{side} ms per round: {timings.per_round(side)}")
        paired = timings.paired_ratios()
        ctx.note(
            f"ratio per round: median {statistics.median(paired):.2f}, "
            f"range {min(paired):.2f}..{max(paired):.2f}; the bare statement on a plain "
            f"asyncpg connection: median {timings.ms(SIDES[2]):,.0f} ms "
            f"(SQLAlchemy's share of the baseline: "
            f"{timings.ms(BASELINE) - timings.ms(SIDES[2]):,.0f} ms)"
        )
        note, sent = await split_note(bench)
        ctx.note(note)
        if timings.ratio > TARGET_RATIO:
            for line in await explain_notes(conn, sent):
                ctx.note(line)
        return figures(timings, check, mix, quick)
    finally:
        await container.aclose()
        await conn.close()


def run(ctx: Context) -> list[Figure]:
    """Stage and fill the database, time the month's statements against the bare sums."""
    quick = is_quick(ctx)
    volumes = Volumes.for_run(quick)
    with stage(ctx) as staged, asyncio.Runner() as runner:
        partners_dir = staged.workdir / "ledger-partners"
        agreements = write_partners(ctx.root / "partners", partners_dir, PARTNERS)
        migrate(staged, partners_dir)
        ctx.log(f"loading {volumes.total:,} ledger entries into {MONTH}")
        loaded = runner.run(load(staged.dsn, agreements, volumes))
        ctx.note(
            f"loading {loaded.total:,} entries (INSERT ... SELECT FROM generate_series, the "
            f"table's indexes, unique keys and foreign key in place) took {loaded.seconds:.0f} s, "
            f"VACUUM ANALYZE {loaded.vacuum_seconds:.0f} s (not measured)"
        )
        return runner.run(_run(ctx, staged, partners_dir, loaded, quick))
