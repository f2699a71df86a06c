"""Computing a month's scorecards for 500 partners over 10 million SLA measurements on
PostgreSQL (`gateway.scorecards.service.compute_month(container, "2026-09", close=False)`:
five GROUP BY statements, scoring, tier decisions, an upsert of 500 provisional scorecards),
against a bare `GROUP BY partner_id` aggregation (count, breaches, mean elapsed time) over
the same `sla_clocks` rows (asyncpg, no ORM) in the same run, on the same database.
The database is fresh, migrated to head, and filled with set-based SQL
(`INSERT ... SELECT ... FROM generate_series`): 1 M orders of the month (10 SLA clocks each,
so 10 M resolved clocks, met or breached), 2 M partner calls, 500 k ratings and 20 k
complaints, spread over 500 partners whose agreements are the 8 sample agreements of
`partners/` copied round-robin (ids `p000`..`p499`); then VACUUM ANALYZE. Loading is not
timed. After a warm-up run of each, baseline and subject alternate (order swapped every
round), in one process, timed with `time.perf_counter`; medians are compared. Then one
`close=True` run (freezes the scorecards, records tier changes) is timed on its own.
Target: computing the month costs at most 2x the bare aggregation. When it costs more, the
notes give EXPLAIN ANALYZE of the statements the computation sent, the dominant one first.
`--quick` loads 1/20 of every table. Needs PostgreSQL (`PGW_BENCH_POSTGRES_URL`, as `webhooks`);
hot state stays in this process (no Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import yaml
from sqlalchemy import event

from bench.bench_webhooks import Stage, _pgw, stage
from bench.context import Context
from bench.figures import Figure
from contracts import PartnerAgreement
from gateway.bootstrap import Container, build_container
from gateway.persistence.tables import ScorecardRow
from gateway.scorecards.months import month_bounds
from gateway.scorecards.service import compute_month
from gateway.settings import Settings

MONTH: Final = "2026-09"
PARTNERS: Final = 500
TARGET_RATIO: Final = 2.0
GAP = """
Exact medians and p95 use percentile_cont, an ordered-set aggregate: PostgreSQL can
neither hash it nor run it in parallel workers, so all 10 million clocks are sorted and
streamed to one process, while the bare GROUP BY runs a parallel hash aggregate. Next:
percentiles read from logarithmic histogram buckets (about 2 % wide) that SQL can
hash-aggregate in parallel, with the bucket width stated on the scorecard. Decision 0010.
"""
QUICK_SHARE: Final = 20
"""`--quick` loads 1/QUICK_SHARE of every table."""
TERMS_PER_ORDER: Final = 10
"""SLA clocks per order: `sla_clocks` is unique on (order_id, term), so 10 M clocks over
1 M orders need 10 terms per order (`term_0`..`term_9`, targets 5..50 minutes)."""
SUBJECT: Final = "compute_month (close=False)"
BASELINE: Final = "bare GROUP BY partner_id"
BARE_SQL: Final = (
    "SELECT partner_id, count(*) AS clocks, "
    "sum(CASE WHEN status = 'breached' THEN 1 ELSE 0 END) AS breached, "
    "avg(elapsed_ms) AS average_ms "
    "FROM sla_clocks WHERE month = $1 GROUP BY partner_id"
)
TABLES: Final = ("orders", "sla_clocks", "partner_calls", "ratings", "complaints")
_PLAN_NODES: Final = 8
_AGGREGATES: Final = {
    "Sorted": "GroupAggregate",
    "Hashed": "HashAggregate",
    "Mixed": "MixedAggregate",
}
_ID_LINE: Final = re.compile(r"(?m)^id:[^\n]*$")
_EXCLUSIVE: Final = re.compile(r"(?m)^(\s*)exclusive_in_category:[^\n#]*")


@dataclass(frozen=True)
class Volumes:
    """Rows to load per table."""

    orders: int
    calls: int
    ratings: int
    complaints: int

    @property
    def clocks(self) -> int:
        """SLA clocks: TERMS_PER_ORDER per order."""
        return self.orders * TERMS_PER_ORDER

    @classmethod
    def for_run(cls, quick: bool) -> Volumes:
        """The full volumes, or 1/QUICK_SHARE of each with `--quick`."""
        share = QUICK_SHARE if quick else 1
        return cls(
            orders=1_000_000 // share,
            calls=2_000_000 // share,
            ratings=500_000 // share,
            complaints=20_000 // share,
        )


def is_quick(ctx: Context) -> bool:
    """`--quick` is visible only through the settings it sets (bench.run: 1 round of 1 s)."""
    s = ctx.settings
    return s.rounds == 1 and s.duration == 1.0 and s.warmup == 0.5


# -- staging --------------------------------------------------------------------------


def write_partners(source: Path, target: Path, count: int) -> list[PartnerAgreement]:
    """`count` agreements `p000`.. copied round-robin from the sample agreements of `source`,
    each checked with `PartnerAgreement` (id = file name, never exclusive in its category)."""
    samples = sorted(source.glob("*.yaml"))
    if not samples:
        raise RuntimeError(f"no sample agreements in {source}")
    target.mkdir(parents=True)
    agreements = []
    for n in range(count):
        partner_id = f"p{n:03d}"
        text = _ID_LINE.sub(f"id: {partner_id}", samples[n % len(samples)].read_text(), count=1)
        text = _EXCLUSIVE.sub(r"\1exclusive_in_category: false", text)
        agreement = PartnerAgreement.model_validate(yaml.safe_load(text))
        if agreement.id != partner_id or agreement.exclusivity.exclusive_in_category:
            raise RuntimeError(f"could not derive {partner_id} from {samples[n % len(samples)]}")
        (target / f"{partner_id}.yaml").write_text(text)
        agreements.append(agreement)
    return agreements


def migrate(staged: Stage, partners_dir: Path) -> None:
    """`pgw db upgrade` on the staged database (to head)."""
    env = {**staged.process_env(), "PGW_PARTNERS_DIR": str(partners_dir)}
    done = subprocess.run(
        [_pgw(), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"pgw db upgrade failed: {done.stderr[-2000:]}")


# Partner n serves orders, calls, ratings and complaints whose number g has g % 500 = n.
_PROFILES = """
CREATE TEMP TABLE bench_partner (
    n int PRIMARY KEY, partner_id text NOT NULL, category text NOT NULL,
    operation text NOT NULL, quality float8 NOT NULL
)
"""
# created_at of order g (1..N): evenly spread over the month, $2 = start, $3 = end.
_CREATED = "($2::timestamptz + (g - 0.5) / $1::int * ($3::timestamptz - $2::timestamptz))"
_ORDERS = f"""
INSERT INTO orders (id, category, operation, partner_id, partner_reference, customer_id,
    status, status_occurred_at, status_sequence, request, result, routing, created_at,
    updated_at, dispatched_at)
SELECT 'ord_bench_' || lpad(s.g::text, 8, '0'), p.category, p.operation, p.partner_id,
    'REF-' || s.g, 'cus_bench_' || (s.g % 200003), 'completed',
    s.at + interval '2 hours', 3,
    CASE WHEN p.category = 'rental' THEN jsonb_build_object('days', 1 + s.g % 7)
         ELSE '{{}}'::jsonb END,
    CASE WHEN s.g % 10 = 0 THEN NULL
         WHEN p.category = 'rental' THEN jsonb_build_object('daily_price',
             jsonb_build_object('amount', (15000 + s.r * 30000)::int, 'currency', 'CNY'))
         WHEN p.category = 'insurance' THEN jsonb_build_object('premium',
             jsonb_build_object('amount', (200000 + s.r * 600000)::int, 'currency', 'CNY'))
         ELSE jsonb_build_object('amount',
             jsonb_build_object('amount', (2000 + s.r * 15000)::int, 'currency', 'CNY'))
    END,
    NULL, s.at, s.at + interval '2 hours', s.at + interval '1 second'
FROM (SELECT g, random() AS r, {_CREATED} AS at FROM generate_series(1, $1::int) AS g) AS s
JOIN bench_partner AS p ON p.n = s.g % {PARTNERS}
"""
_CLOCKS = f"""
INSERT INTO sla_clocks (order_id, partner_id, operation, term, stop_event, target_ms,
    started_at, deadline_at, status, stopped_at, elapsed_ms, resolved_at, month, late)
SELECT 'ord_bench_' || lpad(s.g::text, 8, '0'), p.partner_id, p.operation, 'term_' || s.k,
    'bench.step_' || s.k, s.target_ms, s.at, s.at + s.target_ms * interval '1 millisecond',
    CASE WHEN e.elapsed_ms <= s.target_ms THEN 'met' ELSE 'breached' END,
    s.at + e.elapsed_ms * interval '1 millisecond', e.elapsed_ms,
    s.at + e.elapsed_ms * interval '1 millisecond', $4, false
FROM (
    SELECT g, k, random() AS r, (k + 1) * 300000 AS target_ms, {_CREATED} AS at
    FROM generate_series(1, $1::int) AS g CROSS JOIN generate_series(0, {TERMS_PER_ORDER - 1}) AS k
) AS s
JOIN bench_partner AS p ON p.n = s.g % {PARTNERS}
CROSS JOIN LATERAL (
    SELECT (s.target_ms * (0.3 + s.r * p.quality))::bigint AS elapsed_ms
) AS e
"""
_CALLS = f"""
INSERT INTO partner_calls (partner_id, operation, at, duration_ms, ok, outcome, month)
SELECT p.partner_id, p.operation, {_CREATED.replace("g - 0.5", "s.g - 0.5")},
    (40 + s.r * s.r * 1500)::int, s.f >= 0.005,
    CASE WHEN s.f >= 0.005 THEN 'ok' WHEN s.f >= 0.002 THEN 'timed_out' ELSE 'unavailable' END,
    $4
FROM (SELECT g, random() AS r, random() AS f FROM generate_series(1, $1::int) AS g) AS s
JOIN bench_partner AS p ON p.n = s.g % {PARTNERS}
"""
# Rating r is of order 2r, complaint c of order 50c: each order at most once.
_RATINGS = f"""
INSERT INTO ratings (order_id, partner_id, stars, comment, created_at, month)
SELECT 'ord_bench_' || lpad((2 * s.c)::text, 8, '0'), p.partner_id,
    greatest(1, least(5, round(1.5 + 4 * p.quality + 2 * s.r - 1)))::int, NULL,
    {_CREATED.replace("g - 0.5", "2 * s.c - 0.5")} + interval '3 hours', $4
FROM (SELECT c, random() AS r FROM generate_series(1, $5::int) AS c) AS s
JOIN bench_partner AS p ON p.n = (2 * s.c) % {PARTNERS}
"""
_COMPLAINTS = f"""
INSERT INTO complaints (order_id, partner_id, category, text, created_at, resolved_at,
    resolution, month)
SELECT 'ord_bench_' || lpad((50 * s.c)::text, 8, '0'), p.partner_id,
    (ARRAY['delay', 'service', 'billing'])[1 + s.c % 3], 'bench complaint', s.at,
    CASE WHEN s.r < 0.8 THEN s.at + s.r * interval '90 hours' END,
    CASE WHEN s.r < 0.8 THEN 'resolved' END, $4
FROM (
    SELECT c, random() AS r,
        {_CREATED.replace("g - 0.5", "50 * c - 0.5")} + interval '4 hours' AS at
    FROM generate_series(1, $5::int) AS c
) AS s
JOIN bench_partner AS p ON p.n = (50 * s.c) % {PARTNERS}
"""


async def load(dsn: str, agreements: Sequence[PartnerAgreement], volumes: Volumes) -> None:
    """Fill the month with set-based SQL, then VACUUM ANALYZE the tables."""
    if volumes.ratings * 2 > volumes.orders or volumes.complaints * 50 > volumes.orders:
        raise ValueError("ratings and complaints need orders of their own")
    start, end = month_bounds(MONTH)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(_PROFILES)
        await conn.executemany(
            "INSERT INTO bench_partner VALUES ($1, $2, $3, $4, $5)",
            [
                (n, a.id, a.category.value, a.sla.terms[0].operation.value, 0.72 + (n % 10) * 0.01)
                for n, a in enumerate(agreements)
            ],
        )
        await conn.execute("SELECT setseed(0.42)")
        await conn.execute(_ORDERS, volumes.orders, start, end)
        await conn.execute(_CLOCKS, volumes.orders, start, end, MONTH)
        await conn.execute(_CALLS, volumes.calls, start, end, MONTH)
        await conn.execute(_RATINGS, volumes.orders, start, end, MONTH, volumes.ratings)
        await conn.execute(_COMPLAINTS, volumes.orders, start, end, MONTH, volumes.complaints)
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
    finally:
        await conn.close()


async def row_counts(conn: Any) -> dict[str, int]:
    """Rows per loaded table."""
    return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in TABLES}


async def server_settings(conn: Any) -> str:
    """The PostgreSQL settings that shape these plans."""
    names = ("server_version", "work_mem", "max_parallel_workers_per_gather", "jit")
    values = [f"{n} {await conn.fetchval(f'SHOW {n}')}" for n in names]
    return ", ".join(values)


# -- measuring ------------------------------------------------------------------------


@dataclass
class Timings:
    """Seconds of every run, baseline and subject, round by round."""

    baseline: list[float] = field(default_factory=list)
    subject: list[float] = field(default_factory=list)

    @property
    def baseline_ms(self) -> float:
        return statistics.median(self.baseline) * 1000

    @property
    def subject_ms(self) -> float:
        return statistics.median(self.subject) * 1000

    @property
    def ratio(self) -> float:
        return self.subject_ms / self.baseline_ms

    def paired_ratios(self) -> list[float]:
        return [s / b for s, b in zip(self.subject, self.baseline, strict=True) if b]


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """Seconds the awaited call took, and its result."""
    started = time.perf_counter()
    result = await call()
    return time.perf_counter() - started, result


@dataclass
class Bench:
    """The two sides on one event loop: asyncpg for the baseline, the container for the subject."""

    ctx: Context
    conn: Any
    container: Container
    bare: list[Any] = field(default_factory=list)
    scorecards: list[ScorecardRow] = field(default_factory=list)

    async def baseline(self) -> None:
        self.bare = list(await self.conn.fetch(BARE_SQL, MONTH))

    async def subject(self) -> None:
        self.scorecards = await compute_month(self.container, MONTH, close=False)

    async def measure(self, rounds: int) -> Timings:
        """One warm-up run each, then `rounds` rounds, the order swapped every round."""
        for call in (self.baseline, self.subject):
            await timed(call)
        timings = Timings()
        for round_no in range(rounds):
            order = [(self.baseline, timings.baseline), (self.subject, timings.subject)]
            if round_no % 2:
                order.reverse()
            for call, results in order:
                seconds, _ = await timed(call)
                results.append(seconds)
            self.ctx.log(
                f"round {round_no + 1}/{rounds}: bare {timings.baseline[-1] * 1000:,.0f} ms, "
                f"compute_month {timings.subject[-1] * 1000:,.0f} ms"
            )
        return timings


@dataclass(frozen=True)
class CountCheck:
    """Met and breached clocks per partner: the scorecards against the bare aggregation."""

    partners: int
    scorecard_clocks: int
    bare_clocks: int
    mismatched: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.partners == PARTNERS and not self.mismatched

    def reading(self) -> str:
        verdict = "check passes" if self.passed else "check FAILS"
        detail = f", differing for {', '.join(self.mismatched[:5])}" if self.mismatched else ""
        return (
            f"{verdict}: {self.partners} scorecards; met and breached clocks agree with the "
            f"bare aggregation for every partner{detail}"
        )


def count_check(bare: Sequence[Any], scorecards: Sequence[ScorecardRow]) -> CountCheck:
    """Compare each scorecard's met/breached clocks with the bare aggregation's."""
    expected = {
        r["partner_id"]: (int(r["clocks"]) - int(r["breached"]), int(r["breached"])) for r in bare
    }
    found = {
        row.partner_id: (int(row.metrics["sla_met"]), int(row.metrics["sla_breached"]))
        for row in scorecards
    }
    mismatched = tuple(
        sorted(p for p in expected.keys() | found.keys() if expected.get(p) != found.get(p))
    )
    return CountCheck(
        partners=len(scorecards),
        scorecard_clocks=sum(met + breached for met, breached in found.values()),
        bare_clocks=sum(met + breached for met, breached in expected.values()),
        mismatched=mismatched,
    )


# -- when the target is missed: EXPLAIN ANALYZE of what compute_month sent ---------------


@dataclass(frozen=True)
class Sent:
    """One statement compute_month sent, its parameters and its wall time."""

    statement: str
    parameters: tuple[Any, ...]
    seconds: float


@contextlib.contextmanager
def capture(container: Container) -> Iterator[list[Sent]]:
    """Record the statements sent through the container's engine, with their times."""
    sent: list[Sent] = []
    engine = container.engine.sync_engine

    def before(*args: Any) -> None:
        args[4]._bench_started = time.perf_counter()  # args: conn, cursor, statement, ...

    def after(*args: Any) -> None:
        _conn, _cursor, statement, parameters, context, _many = args
        seconds = time.perf_counter() - context._bench_started
        sent.append(Sent(statement, tuple(parameters or ()), seconds))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def _label(statement: str) -> str:
    known = (*TABLES, "scorecards", "tier_changes", "closed_months")
    tables = [t for t in known if re.search(rf"\b{t}\b", statement)]
    kind = statement.lstrip().split(None, 1)[0].upper()
    extras = " with percentile_cont" if "percentile_cont" in statement else ""
    return f"{kind} on {'+'.join(tables) or '?'}{extras}"


def _nodes(plan: dict[str, Any], depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    yield depth, plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child, depth + 1)


def _node_text(node: dict[str, Any]) -> str:
    name = node["Node Type"]
    if name == "Aggregate":
        name = _AGGREGATES.get(node.get("Strategy", ""), name)
        if node.get("Partial Mode", "Simple") != "Simple":
            name = f"{node['Partial Mode']} {name}"
    if node.get("Relation Name"):
        name += f" on {node['Relation Name']}"
    rows = node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
    parts = [f"{name} {node.get('Actual Total Time', 0):,.0f} ms, {rows:,.0f} rows"]
    if "Group Key" in node:
        parts.append(f"by {', '.join(node['Group Key'])}")
    if "Sort Key" in node:
        parts.append(f"sort key {', '.join(node['Sort Key'])}")
    if "Sort Method" in node:
        parts.append(
            f"{node['Sort Method']} ({node.get('Sort Space Type', '?')} "
            f"{node.get('Sort Space Used', 0):,} kB)"
        )
    if "Workers Launched" in node:
        parts.append(f"{node['Workers Launched']} workers")
    if node.get("Disk Usage"):
        parts.append(f"disk {node['Disk Usage']:,} kB")
    return "; ".join(parts)


def plan_text(explained: dict[str, Any]) -> str:
    """The plan's first nodes, parent first, with the times and sorts EXPLAIN reports."""
    nodes = [f"{'>' * depth} {_node_text(n)}" for depth, n in _nodes(explained["Plan"])]
    return " | ".join(nodes[:_PLAN_NODES])


def _rows(node: dict[str, Any]) -> float:
    return float(node.get("Actual Rows", 0) * node.get("Actual Loops", 1))


def _why(explained: dict[str, Any], statement: str, bare: dict[str, Any]) -> str:
    """Facts of the dominant plan next to the bare aggregation's, as sentences."""
    top = explained["Plan"]
    nodes = [n for _, n in _nodes(top)]
    bare_nodes = [n for _, n in _nodes(bare["Plan"])]
    reasons = []
    if "percentile_cont" in statement:
        reasons.append(
            "percentile_cont(...) WITHIN GROUP (ORDER BY ...) is an ordered-set aggregate: "
            "PostgreSQL can neither hash it nor split it into partial aggregates in parallel "
            "workers, so one process aggregates every row, in the order of the group keys, "
            "and sorts each group's values again inside the aggregate"
        )
    children = top.get("Plans", [])
    if top["Node Type"] == "Aggregate" and children:
        own = top.get("Actual Total Time", 0) - children[0].get("Actual Total Time", 0)
        reasons.append(
            f"its top {_node_text(top).split(' ', 1)[0]} spends {own:,.0f} ms of its own on "
            f"{_rows(children[0]):,.0f} input rows"
        )
    for sort in (n for n in nodes if n["Node Type"] == "Sort"):
        if sort.get("Sort Space Type") == "Disk":
            reasons.append(
                f"the sort of {_rows(sort):,.0f} rows by the group keys spills to disk "
                f"({sort.get('Sort Space Used', 0):,} kB, {sort.get('Sort Method')}): more "
                "than work_mem"
            )
    for name, plan_nodes in (("this statement", nodes), ("the bare aggregation", bare_nodes)):
        gathers = [n for n in plan_nodes if n["Node Type"].startswith("Gather")]
        if gathers:
            reasons.append(
                f"in {name} {gathers[0].get('Workers Launched', 0)} parallel workers hand "
                f"{_rows(gathers[0]):,.0f} rows to the leader ({gathers[0]['Node Type']}, "
                f"{gathers[0].get('Actual Total Time', 0):,.0f} ms up to there)"
            )
        else:
            reasons.append(f"{name} runs in one process")
    return "; ".join(reasons)


async def _explain(conn: Any, statement: str, parameters: Sequence[Any]) -> dict[str, Any]:
    text = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", *parameters)
    found: dict[str, Any] = (json.loads(text) if isinstance(text, str) else text)[0]
    return found


async def explain_notes(bench: Bench) -> list[str]:
    """One instrumented compute_month, then EXPLAIN ANALYZE of each SELECT it sent."""
    with capture(bench.container) as sent:
        started = time.perf_counter()
        await bench.subject()
        total = time.perf_counter() - started
    bare = await _explain(bench.conn, BARE_SQL, [MONTH])
    selects = [s for s in sent if s.statement.lstrip().upper().startswith("SELECT")]
    explained = [(s, await _explain(bench.conn, s.statement, s.parameters)) for s in selects]
    explained.sort(key=lambda item: item[1]["Execution Time"], reverse=True)
    by_time = sorted(sent, key=lambda s: s.seconds, reverse=True)
    in_sql = sum(s.seconds for s in sent)
    notes = [
        f"target missed; one instrumented compute_month took {total * 1000:,.0f} ms, of which "
        f"{in_sql * 1000:,.0f} ms in {len(sent)} statements (the rest, outside them, "
        f"{(total - in_sql) * 1000:,.0f} ms: Python scoring, ORM rows, JSON, pool and commit): "
        + ", ".join(f"{_label(s.statement)} {s.seconds * 1000:,.0f} ms" for s in by_time[:7])
    ]
    for rank, (s, plan) in enumerate(explained[:3]):
        head = "dominant statement" if rank == 0 else f"statement #{rank + 1}"
        notes.append(
            f"EXPLAIN ANALYZE, {head}: {_label(s.statement)}, execution "
            f"{plan['Execution Time']:,.0f} ms: {plan_text(plan)}"
        )
    if explained:
        top, plan = explained[0]
        notes.append(f"why it dominates: {_why(plan, top.statement, bare)}")
    notes.append(
        f"EXPLAIN ANALYZE, bare aggregation, execution {bare['Execution Time']:,.0f} ms: "
        f"{plan_text(bare)}"
    )
    return notes


# -- the benchmark ----------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def figures(
    timings: Timings, close_ms: float, check: CountCheck, counts: dict[str, int], quick: bool
) -> list[Figure]:
    """compute_month against the bare aggregation, the close, and the count check."""
    rows = ", ".join(f"{t} {n:,}" for t, n in counts.items())
    scale = f"1/{QUICK_SHARE} scale (--quick)" if quick else "full scale"
    return [
        Figure(
            f"{SUBJECT}, {PARTNERS} partners", timings.subject_ms, "ms", BASELINE,
            timings.baseline_ms, higher_is_better=False,
            reading=f"computing the month costs {timings.ratio:.2f}x the bare aggregation; "
            f"target <= {TARGET_RATIO:g}x: {_met(timings.ratio <= TARGET_RATIO)}",
            note=f"{scale}; rows: {rows} (all in {MONTH}, clocks resolved: met or breached, "
            f"{TERMS_PER_ORDER} per order); medians of {len(timings.subject)} rounds",
        ),
        Figure(
            "close the month (close=True, one run)", close_ms, "ms", BASELINE,
            timings.baseline_ms, higher_is_better=False,
            reading=f"one run, {close_ms / timings.baseline_ms:.2f}x the median bare "
            "aggregation; no target (it writes: frozen scorecards and tier changes)",
        ),
        Figure(
            "clocks in the scorecards (met + breached)", check.scorecard_clocks, "clocks",
            "clocks in the bare aggregation", check.bare_clocks, reading=check.reading(),
        ),
    ]  # fmt: skip


async def _close(bench: Bench) -> tuple[float, list[ScorecardRow], int]:
    seconds, rows = await timed(lambda: compute_month(bench.container, MONTH, close=True))
    changes = int(
        await bench.conn.fetchval(
            "SELECT count(*) FROM tier_changes WHERE effective_month > $1", MONTH
        )
    )
    return seconds, rows, changes


def settings_for(staged: Stage, partners_dir: Path) -> Settings:
    """The gateway's settings on the staged database and partners; hot state in-process."""
    return Settings(
        environment="development",
        database_url=staged.dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        redis_url=None,
        partners_dir=partners_dir,
        data_dir=staged.workdir / "data",
        database_echo=False,
    )


async def _run(ctx: Context, staged: Stage, partners_dir: Path, quick: bool) -> list[Figure]:
    conn = await asyncpg.connect(staged.dsn, timeout=10)
    container = build_container(settings_for(staged, partners_dir))
    try:
        if len(container.registry) != PARTNERS:
            raise RuntimeError(f"the registry holds {len(container.registry)} partners")
        counts = await row_counts(conn)
        ctx.log(f"rows: {counts}; {await server_settings(conn)}")
        bench = Bench(ctx, conn, container)
        timings = await bench.measure(ctx.settings.rounds)
        check = count_check(bench.bare, bench.scorecards)
        ctx.note(f"PostgreSQL: {await server_settings(conn)}")
        ctx.note(
            f"{SUBJECT} ms per round: {', '.join(f'{s * 1000:,.0f}' for s in timings.subject)}"
        )
        ctx.note(
            f"{BASELINE} ms per round: {', '.join(f'{s * 1000:,.0f}' for s in timings.baseline)}"
        )
        paired = timings.paired_ratios()
        ctx.note(
            f"ratio per round: median {statistics.median(paired):.2f}, "
            f"range {min(paired):.2f}..{max(paired):.2f}"
        )
        if timings.ratio > TARGET_RATIO:
            for note in await explain_notes(bench):
                ctx.note(note)
        close_s, closed, changes = await _close(bench)
        frozen = sum(1 for r in closed if r.closed_at is not None and not r.provisional)
        ctx.note(
            f"close=True: {close_s * 1000:,.0f} ms, {frozen} of {len(closed)} scorecards frozen, "
            f"{changes} tier changes recorded effective the next month"
        )
        if frozen != PARTNERS:
            raise RuntimeError(f"the close froze {frozen} scorecards, not {PARTNERS}")
        return figures(timings, close_s * 1000, check, counts, quick)
    finally:
        await container.aclose()
        await conn.close()


def run(ctx: Context) -> list[Figure]:
    """Stage and fill the database, time compute_month against the bare aggregation, close."""
    quick = is_quick(ctx)
    volumes = Volumes.for_run(quick)
    with stage(ctx) as staged, asyncio.Runner() as runner:
        partners_dir = staged.workdir / "scorecard-partners"
        agreements = write_partners(ctx.root / "partners", partners_dir, PARTNERS)
        migrate(staged, partners_dir)
        ctx.log(
            f"loading {volumes.orders:,} orders, {volumes.clocks:,} SLA clocks, "
            f"{volumes.calls:,} partner calls, {volumes.ratings:,} ratings, "
            f"{volumes.complaints:,} complaints"
        )
        started = time.monotonic()
        runner.run(load(staged.dsn, agreements, volumes))
        ctx.note(f"loading and VACUUM ANALYZE took {time.monotonic() - started:.0f} s (not timed)")
        return runner.run(_run(ctx, staged, partners_dir, quick))
