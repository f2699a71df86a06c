"""The console's pages for 500 partners and a month of 1 million orders, each timed as a
signed-in partnership manager sees it (`GET`, session cookie from `POST /console/login`),
against a trivial authenticated console page measured through the same transport in the
same run: `/console/partners/no-such-partner` (session read from Redis, sign-in check,
registry lookup, the layout rendered around a one-line message; 404, no SQL). Timed pages:
`/console` (overview), `/console/scorecards?month=2026-10` (500 rows), the same sorted by
rating ascending and filtered to rental, `/console/partners/<id>` (trend, tier history,
breaches, complaints, data received), `/console/settlements?month=2026-10` (500
statements), `/console/partners/<id>/settlements/2026-10` (the statement page, its first 500
entries) and `/console/scorecards.csv?month=2026-10`; `<id>` is the partner with the most
ledger entries in the month. Target: every page answers within 300 ms (p50 and p95).
The app is the real one (`gateway.app.create_app`) on a fresh PostgreSQL database migrated
to head and on Redis (sessions; keys under a run-unique prefix, deleted at the end), logs as
shipped (JSON, level info; written to /dev/null), served in this process through
`httpx.ASGITransport`: no lifespan, so no background task (SLA sweep, scorecard refresh, fee
accrual) runs between requests, and no socket or HTTP parsing is timed. The container's clock
is fixed at 2026-10-31 18:00 Asia/Shanghai, so 2026-10 is the month in progress.
Staging (not timed): the month as `scorecard` loads it (`generate_series`: 1 M orders, 10 M
resolved SLA clocks, 2 M partner calls, 500 k ratings, 20 k complaints), 1 M ledger entries
settling in it as `ledger` loads them (order entries from each partner's plans, late entries
from the closed 2026-08 and 2026-09, SLA credits, reversals, monthly fees; `ledger`'s own
order-to-partner assignment, not the orders table's), 500 agreements
copied from the samples (`p000`..`p499`); `compute_month` once (timed in a note), five closed
earlier months of scorecards copied from it with jittered scores, tier changes for a third
of the partners, then `compute_month` again (the periodic refresh, timed in a note) so the
stored provisional scorecards are what the pages read; VACUUM ANALYZE.
Each page is requested one at a time: a warm-up, then rounds in which every page, the
baseline and `/healthz` (in a note) take turns (order rotated each round) for the round's
duration, at least 5 requests each; p50 and p95 over all requests of the rounds. A check
compares the rows the scorecard pages, the CSV, the settlements page and the statement page
list with SQL. When a page misses the target, the notes give one instrumented request's time
with SQL in flight against the rest, EXPLAIN ANALYZE of its slowest statements, and its own
time under cProfile by library and by function.
`--quick` loads 1/20 of every table. Needs PostgreSQL and Redis (`PGW_BENCH_POSTGRES_URL`,
`PGW_BENCH_REDIS_URL`, as `webhooks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import logging
import math
import os
import pstats
import re
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import httpx
import structlog
from sqlalchemy import event

from bench import bench_ledger as ledger_bench
from bench import bench_scorecard as scorecard_bench
from bench.bench_scorecard import (
    _explain,
    is_quick,
    migrate,
    plan_text,
    server_settings,
    write_partners,
)
from bench.bench_webhooks import Stage, stage
from bench.context import Context
from bench.figures import Figure
from contracts import PartnerAgreement, PartnerTier
from gateway.app import create_app
from gateway.bootstrap import Container, build_container
from gateway.console.auth import SESSION_COOKIE, Role, create_user
from gateway.logs import configure_logging
from gateway.scorecards import compute_month
from gateway.scorecards.months import month_bounds, months_back, next_month
from gateway.settings import Settings

MONTH: Final = ledger_bench.MONTH
"""2026-10: the ledger loader's month, so scorecards and statements share it."""
NOW: Final = month_bounds(MONTH)[1] - timedelta(hours=6)
"""The container's fixed clock: 2026-10-31 18:00 Asia/Shanghai."""
PARTNERS: Final = 500
TARGET_MS: Final = 300.0
GAP = """
The overview and statement pages sum a month of ledger entries; drafts are reused for
60 s, so a miss is the first view after that. The statement page lists entries through
the (effective_month, partner_id) index and sorts by id; an index on (partner_id,
effective_month, id) would serve it directly. Decision 0012.
"""
LEDGER_ENTRIES: Final = 1_000_000
HISTORY_MONTHS: Final = 5
"""Closed months before MONTH with scorecards, so the partner page's 6-month trend is full."""
MIN_REQUESTS: Final = 5
"""Requests per page per round at least, however slow the page."""
QUICK_SHARE: Final = scorecard_bench.QUICK_SHARE
USER: Final = "bench.manager"
BASE_URL: Final = "http://console.bench"
BASELINE: Final = "authenticated 404 page"
BASELINE_PATH: Final = "/console/partners/no-such-partner"
HEALTHZ: Final = "/healthz"
PROFILE_REQUESTS: Final = 3
PROFILE_TOP: Final = 6
EXPLAINED: Final = 2
EXPLAIN_FROM_MS: Final = 20.0
"""A page's second slowest statement is explained too when it took this long."""
_CSRF_FIELD: Final = re.compile(r'name="csrf_token" value="([^"]+)"')
_TABLES: Final = (
    "orders", "sla_clocks", "partner_calls", "ratings", "complaints", "scorecards",
    "tier_changes", "closed_months", "ledger_entries", "settlement_months",
)  # fmt: skip


def volumes(quick: bool) -> tuple[scorecard_bench.Volumes, ledger_bench.Volumes]:
    """The scorecard bench's month and ~1 ledger entry per order; 1/20 of both with --quick."""
    entries = LEDGER_ENTRIES // (QUICK_SHARE if quick else 1)
    return scorecard_bench.Volumes.for_run(quick), ledger_bench.Volumes(
        total=entries,
        reversals=round(entries * ledger_bench.REVERSAL_SHARE),
        credits=round(entries * ledger_bench.CREDIT_SHARE),
    )


# -- staging --------------------------------------------------------------------------


async def load_month(
    dsn: str, agreements: Sequence[PartnerAgreement], month: scorecard_bench.Volumes
) -> None:
    """MONTH's orders, clocks, calls, ratings and complaints with the scorecard bench's SQL
    (its loader is fixed to its own month), then VACUUM ANALYZE."""
    start, end = month_bounds(MONTH)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(scorecard_bench._PROFILES)
        await conn.executemany(
            "INSERT INTO bench_partner VALUES ($1, $2, $3, $4, $5)",
            [
                (n, a.id, a.category.value, a.sla.terms[0].operation.value, 0.72 + (n % 10) * 0.01)
                for n, a in enumerate(agreements)
            ],
        )
        await conn.execute("SELECT setseed(0.42)")
        await conn.execute(scorecard_bench._ORDERS, month.orders, start, end)
        await conn.execute(scorecard_bench._CLOCKS, month.orders, start, end, MONTH)
        await conn.execute(scorecard_bench._CALLS, month.calls, start, end, MONTH)
        await conn.execute(scorecard_bench._RATINGS, month.orders, start, end, MONTH, month.ratings)
        await conn.execute(
            scorecard_bench._COMPLAINTS, month.orders, start, end, MONTH, month.complaints
        )
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(scorecard_bench.TABLES)}")
    finally:
        await conn.close()


def _closed_at(month: str) -> datetime:
    return month_bounds(month)[1] + timedelta(hours=2)


_HISTORY = """
INSERT INTO scorecards (partner_id, month, category, metrics, score, tier, tier_reason,
    provisional, computed_at, closed_at)
SELECT s.partner_id, h.month, s.category, s.metrics,
    CASE WHEN s.score IS NOT NULL
         THEN greatest(0, least(100, s.score + (random() - 0.5) * 12)) END,
    s.tier, s.tier_reason, false, h.closed_at, h.closed_at
FROM scorecards AS s CROSS JOIN unnest($2::text[], $3::timestamptz[]) AS h(month, closed_at)
WHERE s.month = $1
"""


def tier_history(agreements: Sequence[PartnerAgreement]) -> list[tuple[Any, ...]]:
    """Tier changes of every third partner: demoted, restored two months later; every ninth
    is also on a yellow card from MONTH on."""
    earlier = list(reversed(months_back(MONTH, HISTORY_MONTHS)))  # oldest first
    rows = []
    for n, a in enumerate(agreements):
        if n % 3:
            continue
        demoted = PartnerTier.BRONZE if a.tier is not PartnerTier.BRONZE else PartnerTier.SILVER
        steps = [(earlier[1], demoted, a.tier), (earlier[3], a.tier, demoted)]
        if n % 9 == 0:
            steps.append((earlier[4], PartnerTier.YELLOW_CARD, a.tier))
        for decided_in, tier, previous in steps:
            rows.append(
                (
                    a.id, next_month(decided_in), tier.value, previous.value,
                    f"bench: decided when {decided_in} closed", _closed_at(decided_in),
                )
            )  # fmt: skip
    return rows


async def stage_history(dsn: str, agreements: Sequence[PartnerAgreement]) -> int:
    """Closed scorecards of the HISTORY_MONTHS before MONTH (copies of MONTH's, scores
    jittered), their closed_months rows and tier changes; returns the tier changes."""
    earlier = months_back(MONTH, HISTORY_MONTHS)
    closed = [_closed_at(m) for m in earlier]
    changes = tier_history(agreements)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        async with conn.transaction():
            await conn.execute(_HISTORY, MONTH, earlier, closed)
            await conn.executemany(
                "INSERT INTO closed_months (month, closed_at, closed_by) VALUES ($1, $2, $3)",
                [(m, at, "bench") for m, at in zip(earlier, closed, strict=True)],
            )
            await conn.executemany(
                "INSERT INTO tier_changes (partner_id, effective_month, tier, previous_tier, "
                "reason, decided_at) VALUES ($1, $2, $3, $4, $5, $6)",
                changes,
            )
        await conn.execute("VACUUM (ANALYZE) scorecards, tier_changes, closed_months")
    finally:
        await conn.close()
    return len(changes)


def settings_for(staged: Stage, partners_dir: Path) -> Settings:
    """Production-shaped: PostgreSQL, Redis under the run's prefix, logs as shipped."""
    return Settings(
        environment="development",
        database_url=staged.dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        redis_url=staged.redis_url,
        redis_prefix=staged.redis_prefix,
        partners_dir=partners_dir,
        data_dir=staged.workdir / "data",
        database_echo=False,
        log_level="info",
        log_json=True,
    )


@contextlib.contextmanager
def shipped_logging() -> Iterator[None]:
    """Logging as `gateway.main` configures it, its lines (stdout) sent to /dev/null; the
    previous configuration is restored afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(level="info", json=True, environment="development")
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            yield
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


# -- the pages ------------------------------------------------------------------------


@dataclass
class Side:
    """One page (or baseline) and every time it took."""

    label: str
    path: str
    status: int = 200
    warmup: list[float] = field(default_factory=list)
    rounds: list[list[float]] = field(default_factory=list)
    size: int = 0

    @property
    def samples(self) -> list[float]:
        return [s for r in self.rounds for s in r]

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000

    def per_round(self) -> str:
        return ", ".join(f"{statistics.median(r) * 1000:,.1f}" for r in self.rounds)


def pages(partner_id: str) -> list[Side]:
    """The timed pages."""
    m = MONTH
    return [
        Side("/console (overview)", "/console"),
        Side("/console/scorecards", f"/console/scorecards?month={m}"),
        Side(
            "/console/scorecards, rating asc, rental",
            f"/console/scorecards?month={m}&sort=rating&order=asc&category=rental",
        ),
        Side("/console/partners/<id>", f"/console/partners/{partner_id}"),
        Side("/console/settlements", f"/console/settlements?month={m}"),
        Side("statement page", f"/console/partners/{partner_id}/settlements/{m}"),
        Side("/console/scorecards.csv", f"/console/scorecards.csv?month={m}"),
    ]


async def sign_in(client: httpx.AsyncClient, password: str) -> None:
    """GET the form (CSRF cookie and field), POST it; the client keeps the session cookie."""
    form = await client.get("/console/login")
    found = _CSRF_FIELD.search(form.text)
    if form.status_code != 200 or found is None:
        raise RuntimeError(f"GET /console/login: {form.status_code}, no CSRF field")
    answer = await client.post(
        "/console/login",
        data={"user": USER, "password": password, "csrf_token": found.group(1), "next": "/console"},
    )
    if answer.status_code != 303 or SESSION_COOKIE not in client.cookies:
        raise RuntimeError(f"POST /console/login: {answer.status_code}, no session cookie")


async def request(client: httpx.AsyncClient, side: Side) -> float:
    """One GET, body read; seconds. Raises on an unexpected status."""
    started = time.perf_counter()
    response = await client.get(side.path)
    seconds = time.perf_counter() - started
    if response.status_code != side.status:
        raise RuntimeError(f"GET {side.path}: {response.status_code}, not {side.status}")
    side.size = len(response.content)
    return seconds


async def batch(client: httpx.AsyncClient, side: Side, seconds: float, least: int) -> list[float]:
    """Requests one after another for `seconds`, at least `least` of them."""
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < least or time.perf_counter() < deadline:
        times.append(await request(client, side))
    return times


async def measure(ctx: Context, client: httpx.AsyncClient, sides: Sequence[Side]) -> None:
    """Warm-up, then rounds in which every side takes its turn (order rotated each round)."""
    s = ctx.settings
    for side in sides:
        side.warmup = await batch(client, side, s.warmup, 2)
    for round_no in range(s.rounds):
        shift = round_no % len(sides)
        for side in [*sides[shift:], *sides[:shift]]:
            side.rounds.append(await batch(client, side, s.duration, MIN_REQUESTS))
        ctx.log(
            f"round {round_no + 1}/{s.rounds}: p50 ms "
            + ", ".join(
                f"{side.label} {statistics.median(side.rounds[-1]) * 1000:,.1f}" for side in sides
            )
        )


# -- the check: what the pages list against SQL ----------------------------------------


@dataclass(frozen=True)
class RowCheck:
    """Rows a page lists against the rows SQL says it should list."""

    page: str
    shown: int
    expected: int

    @property
    def passed(self) -> bool:
        return self.shown == self.expected


async def row_checks(
    client: httpx.AsyncClient, conn: Any, all_pages: Sequence[Side], partner_id: str
) -> list[RowCheck]:
    """Scorecard rows (HTML and CSV), rental rows, statement entries, settlement partners."""
    by_label = {p.label: p for p in all_pages}

    async def text(label: str) -> str:
        return (await client.get(by_label[label].path)).text

    stored = int(await conn.fetchval("SELECT count(*) FROM scorecards WHERE month = $1", MONTH))
    rental = int(
        await conn.fetchval(
            "SELECT count(*) FROM scorecards WHERE month = $1 AND category = 'rental'", MONTH
        )
    )
    entries = int(
        await conn.fetchval(
            "SELECT count(*) FROM ledger_entries WHERE effective_month = $1 AND partner_id = $2",
            MONTH,
            partner_id,
        )
    )
    statement = await text("statement page")
    table = statement.split('id="entries"', 1)[-1]
    settlements = await text("/console/settlements")
    linked = set(re.findall(rf'href="/console/partners/([^/"]+)/settlements/{MONTH}"', settlements))
    csv_lines = (await text("/console/scorecards.csv")).strip().splitlines()
    return [
        RowCheck(
            "/console/scorecards", (await text("/console/scorecards")).count("<tr data-partner="),
            stored,
        ),
        RowCheck(
            "/console/scorecards, rental",
            (await text("/console/scorecards, rating asc, rental")).count("<tr data-partner="),
            rental,
        ),
        RowCheck("/console/scorecards.csv", len(csv_lines) - 1, stored),
        RowCheck("/console/settlements (partners)", len(linked), PARTNERS),
        RowCheck(
            "statement page (entries)", table.count('<tr><td class="num">'), min(entries, 500)
        ),
    ]  # fmt: skip


# -- when a page misses the target: where its time goes --------------------------------


@dataclass(frozen=True)
class Sent:
    """One statement a page sent: text, parameters, start and end (perf_counter seconds)."""

    statement: str
    parameters: tuple[Any, ...]
    started: float
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@contextlib.contextmanager
def capture(container: Container) -> Iterator[list[Sent]]:
    """Record the statements sent through the container's engine, with when they ran (a page
    may run some concurrently, e.g. the overview's `asyncio.gather`)."""
    sent: list[Sent] = []
    engine = container.engine.sync_engine

    def before(*args: Any) -> None:
        args[4]._bench_started = time.perf_counter()  # args: conn, cursor, statement, ...

    def after(*args: Any) -> None:
        _conn, _cursor, statement, parameters, context, _many = args
        started = context._bench_started
        sent.append(Sent(statement, tuple(parameters or ()), started, time.perf_counter()))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def in_flight(sent: Sequence[Sent]) -> float:
    """Seconds during which at least one statement was running (overlaps counted once)."""
    total, reached = 0.0, -math.inf
    for s in sorted(sent, key=lambda s: s.started):
        start = max(s.started, reached)
        if s.ended > start:
            total += s.ended - start
        reached = max(reached, s.ended)
    return total


def _label(statement: str) -> str:
    tables = [t for t in _TABLES if re.search(rf"\b{t}\b", statement)]
    kind = statement.lstrip().split(None, 1)[0].upper()
    return f"{kind} on {'+'.join(tables) or '?'}"


_OBJECT_TYPE: Final = re.compile(r"of '([\w.]+)' objects")
_BUILTIN_TYPES: Final = frozenset({"str", "bytes", "list", "dict", "set", "tuple", "int", "float"})


def _area(file_name: str, function: str) -> str:
    """The library a profiled function belongs to."""
    if file_name == "~":
        found = _OBJECT_TYPE.search(function)
        module = found.group(1) if found else "builtins"
        if module.startswith("select."):
            return "waiting for I/O (epoll)"
        return "builtins" if module in _BUILTIN_TYPES else module.split(".", 1)[0]
    if "/site-packages/" in file_name:
        return file_name.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for own in ("templates", "gateway", "contracts", "masking"):
        if f"/{own}/" in file_name:
            return "jinja2 templates" if own == "templates" else own
    parts = file_name.rsplit("/", 2)
    if len(parts) < 2:
        return "other"
    package = parts[-2]
    return f"stdlib {parts[-1].removesuffix('.py') if package.startswith('python3') else package}"


def _profile_text(profiler: cProfile.Profile) -> str:
    functions = pstats.Stats(profiler).get_stats_profile().func_profiles
    total = sum(f.tottime for f in functions.values()) or 1.0
    areas: dict[str, float] = {}
    for name, stats in functions.items():
        area = _area(stats.file_name, name)
        areas[area] = areas.get(area, 0.0) + stats.tottime
    by_area = sorted(areas.items(), key=lambda item: item[1], reverse=True)
    top = sorted(functions.items(), key=lambda item: item[1].tottime, reverse=True)
    parts = []
    for name, stats in top[:PROFILE_TOP]:
        where = "/".join(stats.file_name.rsplit("/", 2)[-2:])
        parts.append(
            f"{where}:{stats.line_number} {name} {stats.tottime / total:.0%} own, "
            f"{stats.cumtime / total:.0%} with callees ({stats.ncalls} calls)"
        )
    return (
        "own time by library: "
        + ", ".join(f"{area} {seconds / total:.0%}" for area, seconds in by_area[:8])
        + "; functions: "
        + "; ".join(parts)
    )


async def diagnose(
    client: httpx.AsyncClient, conn: Any, container: Container, side: Side
) -> list[str]:
    """One instrumented request (time with SQL in flight against the rest), EXPLAIN ANALYZE
    of its slowest statements, and cProfile over a few requests."""
    with capture(container) as sent:
        started = time.perf_counter()
        await request(client, side)
        total = time.perf_counter() - started
    waiting = in_flight(sent)
    by_time = sorted(sent, key=lambda s: s.seconds, reverse=True)
    notes = [
        f"{side.label} misses {TARGET_MS:g} ms; one instrumented request took "
        f"{total * 1000:,.0f} ms, {waiting * 1000:,.0f} ms of it with SQL in flight "
        f"({len(sent)} statements: "
        + ", ".join(f"{_label(s.statement)} {s.seconds * 1000:,.1f} ms" for s in by_time[:5])
        + f"), {(total - waiting) * 1000:,.0f} ms with none (Python: ORM rows, pydantic, "
        f"template, transport; {side.size / 1024:,.0f} KiB answer)"
    ]
    selects = [s for s in by_time if s.statement.lstrip().upper().startswith("SELECT")]
    for rank, s in enumerate(selects[:EXPLAINED]):
        if rank and s.seconds * 1000 < EXPLAIN_FROM_MS:
            break
        plan = await _explain(conn, s.statement, s.parameters)
        notes.append(
            f"{side.label}, EXPLAIN ANALYZE of its statement #{rank + 1} by time, "
            f"{_label(s.statement)}, execution {plan['Execution Time']:,.0f} ms: "
            f"{plan_text(plan)}"
        )
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(PROFILE_REQUESTS):
        await request(client, side)
    profiler.disable()
    notes.append(
        f"{side.label}, cProfile over {PROFILE_REQUESTS} requests (waiting for PostgreSQL "
        f"shows as epoll): {_profile_text(profiler)}"
    )
    return notes


# -- the benchmark ----------------------------------------------------------------------


def _met(ms: float) -> str:
    return f"target <= {TARGET_MS:g} ms: {'met' if ms <= TARGET_MS else 'NOT met'}"


def figures(sides: Sequence[Side], baseline: Side, checks: Sequence[RowCheck]) -> list[Figure]:
    """p50 and p95 of every page against the baseline's, and the row checks."""
    out = []
    for side in sides:
        requests = len(side.samples)
        out += [
            Figure(
                f"{side.label} p50", side.p50_ms, "ms", f"{BASELINE} p50", baseline.p50_ms,
                higher_is_better=False,
                reading=f"{side.p50_ms / baseline.p50_ms:.1f}x the baseline; {_met(side.p50_ms)}",
                note=f"{requests} requests in {len(side.rounds)} rounds, "
                f"{side.size / 1024:,.0f} KiB",
            ),
            Figure(
                f"{side.label} p95", side.p95_ms, "ms", f"{BASELINE} p95", baseline.p95_ms,
                higher_is_better=False, reading=_met(side.p95_ms),
            ),
        ]  # fmt: skip
    shown = sum(c.shown for c in checks)
    expected = sum(c.expected for c in checks)
    failed = [c for c in checks if not c.passed]
    reading = ("check passes: " if not failed else "check FAILS: ") + "; ".join(
        f"{c.page} {c.shown} (SQL {c.expected})" for c in checks
    )
    out.append(
        Figure("rows the pages list", shown, "rows", "rows in SQL", expected, reading=reading)
    )
    return out


async def top_partner(conn: Any) -> str:
    """The partner with the most ledger entries in MONTH (the heaviest statement page)."""
    found = await conn.fetchval(
        "SELECT partner_id FROM ledger_entries WHERE effective_month = $1 "
        "GROUP BY partner_id ORDER BY count(*) DESC, partner_id LIMIT 1",
        MONTH,
    )
    return str(found)


async def _compute(ctx: Context, container: Container, what: str) -> None:
    started = time.perf_counter()
    rows = await compute_month(container, MONTH)
    ctx.note(
        f"compute_month({MONTH}) {what}: {(time.perf_counter() - started) * 1000:,.0f} ms, "
        f"{len(rows)} provisional scorecards stored (not timed as a page)"
    )


async def _serve(
    ctx: Context, staged: Stage, partners_dir: Path, agreements: Sequence[PartnerAgreement]
) -> list[Figure]:
    conn = await asyncpg.connect(staged.dsn, timeout=10)
    container = build_container(settings_for(staged, partners_dir), clock=lambda: NOW)
    try:
        if len(container.registry) != PARTNERS:
            raise RuntimeError(f"the registry holds {len(container.registry)} partners")
        await _compute(ctx, container, "first computation, nothing stored")
        changes = await stage_history(staged.dsn, agreements)
        await _compute(ctx, container, f"refresh after {changes} staged tier changes")
        counts = {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in _TABLES}
        ctx.note(
            f"rows: {', '.join(f'{t} {n:,}' for t, n in counts.items())}; "
            f"PostgreSQL: {await server_settings(conn)}"
        )
        partner_id = await top_partner(conn)
        password = os.urandom(12).hex()
        await create_user(container, USER, Role.MANAGER, password)
        app = create_app(container.settings, container=container)
        sides = pages(partner_id)
        baseline = Side(BASELINE, BASELINE_PATH, status=404)
        healthz = Side("/healthz", HEALTHZ)
        transport = httpx.ASGITransport(app=app)
        with shipped_logging():
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                await sign_in(client, password)
                checks = await row_checks(client, conn, sides, partner_id)
                load_before = os.getloadavg()[0]
                await measure(ctx, client, [baseline, healthz, *sides])
                load_after = os.getloadavg()[0]
                slow = [s for s in sides if max(s.p50_ms, s.p95_ms) > TARGET_MS]
                diagnoses = [n for s in slow for n in await diagnose(client, conn, container, s)]
        ctx.note(
            f"served in this process through httpx.ASGITransport, one request at a time, "
            f"as manager {USER!r} signed in through POST /console/login; partner page and "
            f"statement page of {partner_id}; clock fixed at {NOW.isoformat()}"
        )
        ctx.note(
            f"{BASELINE} ({BASELINE_PATH}): p50 {baseline.p50_ms:,.1f} ms, p95 "
            f"{baseline.p95_ms:,.1f} ms; /healthz through the same transport: p50 "
            f"{healthz.p50_ms:,.2f} ms, p95 {healthz.p95_ms:,.2f} ms"
        )
        ctx.note(
            f"load average (1 min) before and after the rounds: {load_before:.2f}, "
            f"{load_after:.2f} on {os.cpu_count()} CPUs (this process, PostgreSQL, Redis and "
            "anything else running)"
        )
        for side in sides:
            ctx.note(f"{side.label}: p50 ms per round {side.per_round()}")
        for note in diagnoses:
            ctx.note(note)
        failed = [c for c in checks if not c.passed]
        if failed:
            raise RuntimeError(
                "pages list other rows than SQL: "
                + "; ".join(f"{c.page} {c.shown}, SQL {c.expected}" for c in failed)
            )
        return figures(sides, baseline, checks)
    finally:
        await container.aclose()
        await conn.close()


def run(ctx: Context) -> list[Figure]:
    """Stage the month and its ledger, then time every page against the baseline."""
    quick = is_quick(ctx)
    month, entries = volumes(quick)
    with stage(ctx) as staged, asyncio.Runner() as runner:
        partners_dir = staged.workdir / "console-partners"
        agreements = write_partners(ctx.root / "partners", partners_dir, PARTNERS)
        migrate(staged, partners_dir)
        ctx.log(
            f"loading {month.orders:,} orders, {month.clocks:,} SLA clocks, {month.calls:,} "
            f"partner calls, {month.ratings:,} ratings, {month.complaints:,} complaints and "
            f"{entries.total:,} ledger entries into {MONTH}"
        )
        started = time.monotonic()
        runner.run(load_month(staged.dsn, agreements, month))
        runner.run(ledger_bench.load(staged.dsn, agreements, entries))
        scale = f"1/{QUICK_SHARE} scale (--quick)" if quick else "full scale"
        ctx.note(
            f"{scale}: loading and VACUUM ANALYZE took {time.monotonic() - started:.0f} s "
            "(not timed)"
        )
        return runner.run(_serve(ctx, staged, partners_dir, agreements))
