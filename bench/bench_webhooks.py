"""Partner webhook intake (`POST /v1/partners/citycar/events`) with every check on and
durable storage, against two baselines on the same route in the same run: a bare FastAPI
endpoint that reads the body and answers 200, and a bare durable one that INSERTs the raw
body into PostgreSQL (asyncpg, pool of 10, one autocommitted INSERT) before its 200.
The gateway runs production-shaped: a fresh PostgreSQL database migrated for the run,
Redis hot state under a run-unique prefix, JSON logs at level info, one uvicorn worker.
Each delivery is distinct (own webhook-id, own order, canonical `rental.order.accepted`
signed with the partner's webhook secret, bearer token from `/oauth/token`), so every
request passes token check, revocation check, rate limit, signature, inbox INSERT and
apply. Targets: at least 50 % of the bare endpoint's throughput at 32 connections, p99
under 25 ms. PostgreSQL and Redis are not pinned to a CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import orjson
import redis
import yaml

from bench.context import Comparison, Context
from bench.figures import Figure, LoadResult, median_result
from bench.replay import RequestFile, write_request_file
from bench.servers import Server, ServerSpec
from contracts import new_event_id, new_order_id
from gateway.webhooks.signature import sign

SUBJECT = "gateway"
BARE = "bare FastAPI"
DURABLE = "bare durable"
PARTNER = "citycar"
ROUTE = f"/v1/partners/{PARTNER}/events"
EVENT_TYPE = "rental.order.accepted"
TARGET_THROUGHPUT_RATIO = 0.50
TARGET_P99_MS = 25.0
GAP = """
Durability alone costs about half of the bare endpoint here (the bare durable baseline in
the same run), so no receiver that stores before answering reaches 50 % on this machine.
The gateway spends two transactions per delivery (the inbox row committed before any 2xx,
then a claimed apply; what makes "nothing accepted is lost" and "applied exactly once"
hold across crashes) and is CPU-bound in SQLAlchemy's async path, about 3x plain asyncpg
per transaction. Next, in order of gain: an asyncpg fast path for the intake's hot
statements on PostgreSQL, more workers (bench_scaleout), group commit of inbox rows.
Decision 0006.
"""
# The shipped 300 deliveries a minute would throttle the load; this is the largest
# value the agreement schema accepts (contracts.partner_api: at most 1,000,000).
BENCH_RATE_LIMIT_PER_MINUTE = 1_000_000

_DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
_DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
_FIRST_GUESS_RPS = 1_500  # sizes the gateway's first batch; later ones follow its measured rate
_BASELINE_REQUESTS = 2_000  # the baselines cycle through one file (their answers do not change)
_SETTLE_TIMEOUT_S = 3.0
_ORDER_COLUMNS = (
    "id", "category", "operation", "partner_id", "partner_reference", "customer_id", "status",
    "status_occurred_at", "status_sequence", "request", "result", "routing", "created_at",
    "updated_at",
)  # fmt: skip


def _pgw() -> str:
    script = Path(sys.executable).with_name("pgw")
    if not script.exists():
        raise RuntimeError(f"{script} not found: install the project (make setup) first")
    return str(script)


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn.replace("+asyncpg", ""))
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


@dataclass
class Stage:
    """What the run set up and must take down: database, Redis prefix, partners copy."""

    admin_dsn: str
    database: str
    redis_url: str
    redis_prefix: str
    workdir: Path

    @property
    def dsn(self) -> str:
        """The run's database, as asyncpg takes it."""
        return _with_database(self.admin_dsn, self.database)

    @property
    def partners_dir(self) -> Path:
        """The copy of partners/ the gateway reads."""
        return self.workdir / "partners"

    def gateway_env(self) -> dict[str, str | None]:
        """The gateway's environment: production-shaped, logs as shipped."""
        return {
            "PGW_DATABASE_URL": self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
            "PGW_REDIS_URL": self.redis_url,
            "PGW_REDIS_PREFIX": self.redis_prefix,
            "PGW_PARTNERS_DIR": str(self.partners_dir),
            "PGW_LOG_LEVEL": "info",
            "PGW_LOG_JSON": "true",
        }

    def process_env(self) -> dict[str, str]:
        """`gateway_env` over this process's environment, for `pgw` commands."""
        env = {**os.environ, "PGW_DATA_DIR": str(self.workdir / "data")}
        for key, value in self.gateway_env().items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env


def _copy_partners(source: Path, target: Path) -> None:
    shutil.copytree(source, target)
    path = target / f"{PARTNER}.yaml"
    text = path.read_text()
    shipped = yaml.safe_load(text)["webhook"]["rate_limit_per_minute"]
    patched = text.replace(
        f"rate_limit_per_minute: {shipped}",
        f"rate_limit_per_minute: {BENCH_RATE_LIMIT_PER_MINUTE}",
    )
    if yaml.safe_load(patched)["webhook"]["rate_limit_per_minute"] != BENCH_RATE_LIMIT_PER_MINUTE:
        raise RuntimeError(f"could not raise the webhook rate limit in {path}")
    path.write_text(patched)


async def _admin(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _drop_redis_keys(url: str, prefix: str) -> int:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()


@contextlib.contextmanager
def fresh_stage(
    *,
    kind: str,
    admin_dsn: str,
    redis_url: str,
    copy_partners: Callable[[Path], None],
    log: Callable[[str], None],
) -> Iterator[Stage]:
    """A fresh database `pgw_{kind}_<random>`, a Redis prefix of the same name and a
    partners copy (written by `copy_partners` into the directory it is given); all
    removed on exit."""
    token = secrets.token_hex(6)
    with tempfile.TemporaryDirectory(prefix=f"pgw-{kind}-") as tmp:
        staged = Stage(
            admin_dsn=admin_dsn,
            database=f"pgw_{kind}_{token}",
            redis_url=redis_url,
            redis_prefix=f"pgw_{kind}_{token}:",
            workdir=Path(tmp),
        )
        copy_partners(staged.partners_dir)
        admin = staged.admin_dsn.replace("+asyncpg", "")
        asyncio.run(_admin(admin, f'CREATE DATABASE "{staged.database}"'))
        log(f"created database {staged.database}, Redis prefix {staged.redis_prefix}")
        try:
            yield staged
        finally:
            try:
                dropped = _drop_redis_keys(staged.redis_url, staged.redis_prefix)
                log(f"deleted {dropped} Redis keys under {staged.redis_prefix}")
            except (redis.RedisError, OSError) as exc:
                log(f"could not delete the Redis keys under {staged.redis_prefix}: {exc}")
            asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{staged.database}" WITH (FORCE)'))
            log(f"dropped database {staged.database}")


@contextlib.contextmanager
def stage(ctx: Context) -> Iterator[Stage]:
    """A fresh database, a Redis prefix and a partners copy; all removed on exit."""
    with fresh_stage(
        kind="bench",
        admin_dsn=os.environ.get("PGW_BENCH_POSTGRES_URL", _DEFAULT_POSTGRES),
        redis_url=os.environ.get("PGW_BENCH_REDIS_URL", _DEFAULT_REDIS),
        copy_partners=lambda target: _copy_partners(ctx.root / "partners", target),
        log=ctx.log,
    ) as staged:
        yield staged


def gateway_spec(staged: Stage) -> ServerSpec:
    """The gateway under uvicorn, its database migrated first with `pgw db upgrade`."""
    return ServerSpec(
        name=SUBJECT,
        app="gateway.main:app_factory",
        factory=True,
        env=staged.gateway_env(),
        prepare=[[_pgw(), "db", "upgrade"]],
    )


BARE_SPEC = ServerSpec(name="bare-events", app="bench.apps.bare_events:app")


def durable_spec(staged: Stage) -> ServerSpec:
    """The bare durable receiver on the run's database."""
    return ServerSpec(
        name="durable-events",
        app="bench.apps.durable_events:app",
        env={"PGW_BENCH_DURABLE_DSN": staged.dsn},
    )


@dataclass(frozen=True)
class Credentials:
    """The partner's client credentials, webhook secret and an access token."""

    client_id: str
    client_secret: str
    webhook_secret: str
    access_token: str


def issue_credentials(staged: Stage, gateway: Server) -> Credentials:
    """`pgw partners credentials create citycar --json`, then a token from `/oauth/token`."""
    done = subprocess.run(
        [_pgw(), "partners", "credentials", "create", PARTNER, "--json"],
        env=staged.process_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"pgw partners credentials create failed: {done.stderr[-2000:]}")
    issued = json.loads(lines[-1])
    answer = httpx.post(
        gateway.url("/oauth/token"),
        auth=(issued["client_id"], issued["client_secret"]),
        data={"grant_type": "client_credentials", "scope": "events:write"},
        timeout=10,
    )
    answer.raise_for_status()
    return Credentials(
        issued["client_id"],
        issued["client_secret"],
        issued["webhook_secret"],
        answer.json()["access_token"],
    )


def _event(order_id: str, occurred_at: str, event_type: str, data: Mapping[str, object]) -> bytes:
    return orjson.dumps(
        {
            "event_id": new_event_id(),
            "type": event_type,
            "partner_id": PARTNER,
            "order_id": order_id,
            "partner_reference": f"CC-{order_id.removeprefix('ord_')}",
            "occurred_at": occurred_at,
            "sequence": 1,
            "data": data,
        }
    )


def write_deliveries(
    path: Path,
    credentials: Credentials,
    order_ids: list[str],
    *,
    event_type: str = EVENT_TYPE,
    data: Mapping[str, object] | None = None,
) -> RequestFile:
    """One signed delivery per order, each with its own webhook-id, timestamped now.

    The event is `event_type` with `data` (default: `rental.order.accepted` with an ETA
    25 minutes ahead)."""
    now = datetime.now(UTC)
    occurred_at = now.isoformat()
    if data is None:
        data = {"eta": (now + timedelta(minutes=25)).isoformat()}
    timestamp = int(time.time())

    def deliveries() -> Iterator[tuple[Mapping[str, str], bytes]]:
        for order_id in order_ids:
            body = _event(order_id, occurred_at, event_type, data)
            webhook_id = f"msg_{uuid.uuid4().hex}"
            yield (
                {
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": sign(
                        credentials.webhook_secret, webhook_id, timestamp, body
                    ),
                },
                body,
            )

    return write_request_file(
        path,
        method="POST",
        target=ROUTE,
        common_headers={
            "authorization": f"Bearer {credentials.access_token}",
            "content-type": "application/json",
        },
        requests=deliveries(),
    )


async def add_orders(conn: asyncpg.Connection, count: int) -> list[str]:
    """`count` dispatched citycar orders, bulk-copied; their ids."""
    now = datetime.now(UTC)
    ids = [new_order_id() for _ in range(count)]
    records = [
        (order_id, "rental", "courtesy_car.book", PARTNER, None, "cus_bench", "dispatched",
         now - timedelta(minutes=1), 0, "{}", None, None, now, now)
        for order_id in ids
    ]  # fmt: skip
    await conn.copy_records_to_table("orders", records=records, columns=_ORDER_COLUMNS)
    return ids


@dataclass
class Supply:
    """Fresh deliveries for each gateway run, sized from the gateway's measured rate."""

    conn: asyncpg.Connection
    runner: asyncio.Runner
    credentials: Credentials
    workdir: Path
    connections: int
    best_rps: float = _FIRST_GUESS_RPS
    batches: int = 0
    generated: int = 0

    def batch(self, duration: float) -> RequestFile:
        """Orders and signed deliveries for one run of `duration` seconds, timestamped now."""
        count = math.ceil(self.best_rps * max(duration, 1.0) * 3) + 4 * self.connections
        order_ids = self.runner.run(add_orders(self.conn, count))
        self.batches += 1
        self.generated += count
        path = self.workdir / f"deliveries-{self.batches}.txt"
        return write_deliveries(path, self.credentials, order_ids)

    def observed(self, result: LoadResult) -> None:
        """Size later batches from what the gateway managed."""
        if self.batches == 1:
            self.best_rps = result.rps
        self.best_rps = max(self.best_rps, result.rps)


async def inbox_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Inbox rows by status."""
    rows = await conn.fetch("SELECT status, count(*) AS n FROM inbox GROUP BY status")
    return {row["status"]: int(row["n"]) for row in rows}


async def settle(conn: asyncpg.Connection) -> None:
    """Wait until requests still in flight when the load stopped are finished."""
    deadline = time.monotonic() + _SETTLE_TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        counts = await inbox_counts(conn)
        if counts == last and set(counts) <= {"applied"}:
            return
        last = counts
        await asyncio.sleep(0.1)


@dataclass
class Schedule:
    """Warm-up, then rounds rotating the order of the three servers; every result kept."""

    ctx: Context
    urls: dict[str, str]
    baseline_file: RequestFile
    supply: Supply
    results: dict[str, list[LoadResult]] = field(default_factory=dict)
    subject_runs: list[LoadResult] = field(default_factory=list)

    def run_one(self, name: str, duration: float) -> LoadResult:
        """One load run against `name`; the gateway gets a fresh batch each time."""
        if name != SUBJECT:
            return self.ctx.load(self.urls[name], duration=duration, requests=self.baseline_file)
        deliveries = self.supply.batch(duration)
        result = self.ctx.load(self.urls[name], duration=duration, requests=deliveries)
        self.supply.runner.run(settle(self.supply.conn))
        self.supply.observed(result)
        self.subject_runs.append(result)
        return result

    def run(self) -> dict[str, LoadResult]:
        """Medians per server."""
        settings = self.ctx.settings
        names = list(self.urls)
        for name in names:
            self.run_one(name, settings.warmup)
        self.results = {name: [] for name in names}
        for round_no in range(settings.rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                self.results[name].append(self.run_one(name, settings.duration))
            self.ctx.log(
                f"round {round_no + 1}/{settings.rounds}: "
                + ", ".join(f"{n} {self.results[n][-1].rps:,.0f} req/s" for n in names)
            )
        return {name: median_result(rounds) for name, rounds in self.results.items()}

    def comparison(self, baseline: str) -> Comparison:
        """The gateway against one baseline, round by round."""
        return Comparison(
            baseline=median_result(self.results[baseline]),
            subject=median_result(self.results[SUBJECT]),
            baseline_rounds=tuple(self.results[baseline]),
            subject_rounds=tuple(self.results[SUBJECT]),
        )


@dataclass(frozen=True)
class CountCheck:
    """The gateway's answers as the load generator counted them, and the database's rows."""

    sent: int
    status_200: int
    status_other: int
    other_statuses: str
    wrapped: int
    inbox: dict[str, int]
    events: int
    accepted_orders: int

    @property
    def applied(self) -> int:
        """Inbox rows applied to their order."""
        return self.inbox.get("applied", 0)

    @property
    def first_200(self) -> int:
        """200 answers to first deliveries (a wrapped request is a replay of one)."""
        return self.status_200 - self.wrapped

    @property
    def unanswered(self) -> int:
        """Sent but not answered before the generator stopped (in flight at the cut)."""
        return self.sent - self.status_200 - self.status_other

    @property
    def passed(self) -> bool:
        """Every 200 is an applied row and one order event; the surplus was in flight."""
        return (
            self.status_other == 0
            and self.first_200 <= self.applied <= self.first_200 + self.unanswered
            and self.events == self.applied == self.accepted_orders
            and sum(self.inbox.values()) == self.applied
        )

    def text(self) -> str:
        """One line for the report."""
        verdict = "passes" if self.passed else "FAILS"
        late = self.applied - self.first_200
        never = self.unanswered - late
        other = (
            f", {self.status_other} other answers ({self.other_statuses})"
            if self.status_other
            else ", no other answer"
        )
        return (
            f"count check {verdict}: {self.applied:,} inbox rows applied (inbox by status: "
            f"{self.inbox}), {self.events:,} order events, {self.accepted_orders:,} orders "
            f"moved to accepted; the load generator counted {self.status_200:,} answers 200"
            f"{other}, {self.sent:,} deliveries sent, {self.unanswered:,} of them in flight "
            f"when a run stopped (wrk does not wait for them): {late:,} stored and applied "
            f"after the cut, {never:,} never stored (the connection closed before the "
            f"gateway read the body); {self.wrapped:,} replays of an already sent webhook-id"
        )


def count_check(
    runs: list[LoadResult], conn: asyncpg.Connection, runner: asyncio.Runner
) -> CountCheck:
    """Compare the generator's counts over every gateway run with the database."""

    def total(values: list[int | None]) -> int:
        if any(v is None for v in values):
            raise RuntimeError("the load generator did not report its status counts")
        return sum(v or 0 for v in values)

    async def query() -> tuple[dict[str, int], int, int]:
        await settle(conn)
        events = await conn.fetchval("SELECT count(*) FROM order_events")
        accepted = await conn.fetchval(
            "SELECT count(*) FROM orders WHERE partner_id = $1 AND status = 'accepted'", PARTNER
        )
        return await inbox_counts(conn), int(events), int(accepted)

    inbox, events, accepted = runner.run(query())
    statuses = sorted({s for r in runs for s in r.other_statuses.split(",") if s})
    return CountCheck(
        sent=total([r.sent for r in runs]),
        status_200=total([r.status_200 for r in runs]),
        status_other=total([r.status_other for r in runs]),
        other_statuses=",".join(statuses),
        wrapped=sum(r.wrapped for r in runs),
        inbox=inbox,
        events=events,
        accepted_orders=accepted,
    )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def figures(medians: dict[str, LoadResult], check: CountCheck) -> list[Figure]:
    """Throughput and p50/p99 against each baseline, and the count check."""
    subject = medians[SUBJECT]
    bare, durable = medians[BARE], medians[DURABLE]
    ratio = subject.rps / bare.rps if bare.rps else math.nan
    met = _met(ratio >= TARGET_THROUGHPUT_RATIO)
    throughput_note = f"target >= {TARGET_THROUGHPUT_RATIO:.0%} of {BARE}: {met}"
    p99_note = f"target < {TARGET_P99_MS:g} ms: {_met(subject.p99_ms < TARGET_P99_MS)}"
    out = []
    for baseline_name, baseline in ((BARE, bare), (DURABLE, durable)):
        first = baseline_name == BARE
        out += [
            Figure(
                f"{SUBJECT} intake throughput", subject.rps, "req/s", baseline_name,
                baseline.rps, note=throughput_note if first else "",
            ),
            Figure(
                f"{SUBJECT} intake latency p50", subject.p50_ms, "ms", baseline_name,
                baseline.p50_ms, higher_is_better=False,
            ),
            Figure(
                f"{SUBJECT} intake latency p99", subject.p99_ms, "ms", baseline_name,
                baseline.p99_ms, higher_is_better=False, note=p99_note if first else "",
            ),
        ]  # fmt: skip
    verdict = "check passes" if check.passed else "check FAILS"
    out.append(
        Figure(
            "applied inbox rows",
            check.applied,
            "rows",
            "200 answers counted",
            check.first_200,
            reading=f"{verdict}: {check.applied - check.first_200:,} more rows than 200s, "
            f"{check.unanswered:,} deliveries in flight when a run stopped",
        )
    )
    return out


def _notes(ctx: Context, schedule: Schedule, check: CountCheck, supply: Supply) -> None:
    ctx.note(f"load generator: {ctx.loadgen.description}; replays pre-generated requests")
    ctx.note(
        f"{PARTNER}'s webhook.rate_limit_per_minute raised from the shipped value to "
        f"{BENCH_RATE_LIMIT_PER_MINUTE:,} (the schema's maximum) in a temporary copy of "
        "partners/: the shipped limit would refuse most of the load with 429"
    )
    ctx.note(
        f"gateway: {supply.generated:,} distinct deliveries generated in {supply.batches} "
        f"batches (one per run, timestamped right before it, each for its own dispatched "
        f"order); baselines cycle through {schedule.baseline_file.count:,} of the same shape"
    )
    for name, rounds in schedule.results.items():
        ctx.note(f"{name} req/s per round: {', '.join(f'{r.rps:,.0f}' for r in rounds)}")
    for baseline in (BARE, DURABLE):
        paired = schedule.comparison(baseline).paired_ratios("rps")
        if paired:
            ctx.note(
                f"throughput ratio {SUBJECT}/{baseline} per round: median "
                f"{statistics.median(paired):.3f}, range {min(paired):.3f}..{max(paired):.3f}"
            )
    bare, durable = (median_result(schedule.results[n]) for n in (BARE, DURABLE))
    if bare.rps:
        ctx.note(
            f"{DURABLE} vs {BARE}: throughput ratio {durable.rps / bare.rps:.3f}, "
            f"p50 {durable.p50_ms:.2f} vs {bare.p50_ms:.2f} ms, "
            f"p99 {durable.p99_ms:.2f} vs {bare.p99_ms:.2f} ms (the price of durability alone)"
        )
    ctx.note(check.text())
    errors = {n: sum(r.errors for r in rounds) for n, rounds in schedule.results.items()}
    if any(errors.values()):
        ctx.note(f"failed requests per server: {errors}: the figures are suspect")


def run(ctx: Context) -> list[Figure]:
    """Stage, start the three servers, prepare credentials and orders, alternate rounds."""
    with (
        stage(ctx) as staged,
        ctx.server(BARE_SPEC) as bare,
        ctx.server(durable_spec(staged)) as durable,
        ctx.server(gateway_spec(staged)) as gateway,
        asyncio.Runner() as runner,
    ):
        credentials = issue_credentials(staged, gateway)
        conn = runner.run(asyncpg.connect(staged.dsn, timeout=10))
        try:
            supply = Supply(conn, runner, credentials, staged.workdir, ctx.settings.connections)
            baseline_orders = [new_order_id() for _ in range(_BASELINE_REQUESTS)]
            baseline_file = write_deliveries(
                staged.workdir / "baseline.txt", credentials, baseline_orders
            )
            schedule = Schedule(
                ctx,
                {BARE: bare.url(ROUTE), DURABLE: durable.url(ROUTE), SUBJECT: gateway.url(ROUTE)},
                baseline_file,
                supply,
            )
            medians = schedule.run()
            check = count_check(schedule.subject_runs, conn, runner)
        finally:
            runner.run(conn.close())
    _notes(ctx, schedule, check, supply)
    return figures(medians, check)
