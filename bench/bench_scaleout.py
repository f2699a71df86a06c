"""Scale-out: the gateway as 2 uvicorn worker processes against the same gateway as 1, both
up at once on one PostgreSQL database and one Redis prefix, under the same two loads in
the same run: partner webhooks (`POST /v1/partners/citycar/events`, each a distinct signed
`rental.completed` for its own dispatched order, so each one also writes the order's
ledger entries) and OEM dispatch (`POST /v1/service-requests`, each a courtesy-car booking
with its own `Idempotency-Key`, sent to the canonical sandbox partner citycar in its own
process). Production-shaped as in the webhooks and dispatch benchmarks (fresh database
migrated for the run, Redis hot state, JSON logs at level info). The two gateways take
turns, the order swapped every round, and after the runs the database and the partner's
record of received calls are counted: every 200 is one applied inbox row and one order
event, no order reached the partner twice, and no order has a ledger entry twice.
Neither gateway is pinned: on a 2-core machine the second worker shares the two cores
with PostgreSQL, Redis, the sandbox partner and the load generator, which bounds the
ratio this machine can show. Reading: ratio = 2 workers / 1 worker; 2.0 is linear.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import math
import secrets
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import yaml

from bench.bench_dispatch import ROUTE as DISPATCH_ROUTE
from bench.bench_dispatch import (
    AppClient,
    Partner,
    gateway_server,
    issue_app_client,
    load_agreement,
    partner_env,
    sandbox_spec,
    settle_orders,
    write_partners,
    write_service_requests,
)
from bench.bench_webhooks import (
    BENCH_RATE_LIMIT_PER_MINUTE,
    PARTNER,
    Credentials,
    add_orders,
    inbox_counts,
    issue_credentials,
    settle,
    stage,
    write_deliveries,
)
from bench.bench_webhooks import ROUTE as WEBHOOK_ROUTE
from bench.context import Context
from bench.figures import Figure, LoadResult, median_result
from bench.replay import RequestFile
from bench.servers import Server

ONE = "1 worker"
TWO = "2 workers"
WORKERS = {ONE: 1, TWO: 2}
WEBHOOKS = "webhooks"
DISPATCH = "dispatch"
COMPLETION = "rental.completed"
COMPLETION_DAYS = 1
# citycar's markup plan: a completed day is one payable entry (buy) and one retained (margin).
ENTRIES_PER_COMPLETION = 2
_FIRST_GUESS_RPS = {WEBHOOKS: 400.0, DISPATCH: 250.0}
_SETTLE_TIMEOUT_S = 10.0


def _raise_rate_limit(partners_dir: Path) -> None:
    """The staged citycar agreement with the schema's largest webhook rate limit."""
    path = partners_dir / f"{PARTNER}.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["webhook"]["rate_limit_per_minute"] = BENCH_RATE_LIMIT_PER_MINUTE
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")


@dataclass
class Supply:
    """Fresh requests for every run: dispatched orders with their completions, or bookings."""

    conn: asyncpg.Connection
    runner: asyncio.Runner
    workdir: Path
    credentials: Credentials
    app_client: AppClient
    token_from: Server
    best_rps: dict[str, float] = field(default_factory=lambda: dict(_FIRST_GUESS_RPS))
    batches: int = 0
    generated: collections.Counter[str] = field(default_factory=collections.Counter)

    def batch(self, load: str, duration: float, connections: int) -> RequestFile:
        """Enough never-sent requests of `load` for one run of `duration` seconds."""
        count = math.ceil(self.best_rps[load] * max(duration, 1.0) * 3) + 4 * connections
        self.batches += 1
        self.generated[load] += count
        path = self.workdir / f"scaleout-{self.batches}.txt"
        if load == DISPATCH:
            token = self.app_client.token(self.token_from)
            return write_service_requests(path, token, count)
        order_ids = self.runner.run(add_orders(self.conn, count))
        amount = {"amount": 12_000 * COMPLETION_DAYS, "currency": "CNY"}
        return write_deliveries(
            path,
            self.credentials,
            order_ids,
            event_type=COMPLETION,
            data={"days": COMPLETION_DAYS, "amount": amount},
        )

    def observed(self, load: str, result: LoadResult) -> None:
        """Size later batches from the best rate either gateway managed."""
        self.best_rps[load] = max(self.best_rps[load], result.rps)


async def _settle_orders(conn: asyncpg.Connection) -> None:
    """Wait until no booking is still being placed (or the counts stop moving)."""

    async def counts() -> dict[str, int]:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM orders GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows}

    await settle_orders(counts, _SETTLE_TIMEOUT_S)


@dataclass
class Schedule:
    """Warm-up, then rounds of both loads on both gateways, the gateways' order swapped."""

    ctx: Context
    gateways: dict[str, Server]
    supply: Supply
    partner: Partner
    results: dict[str, dict[str, list[LoadResult]]] = field(default_factory=dict)
    runs: list[tuple[str, LoadResult]] = field(default_factory=list)

    def run_one(self, load: str, name: str, duration: float) -> LoadResult:
        connections = self.ctx.settings.connections
        batch = self.supply.batch(load, duration, connections)
        route = DISPATCH_ROUTE if load == DISPATCH else WEBHOOK_ROUTE
        result = self.ctx.load(self.gateways[name].url(route), duration=duration, requests=batch)
        runner, conn = self.supply.runner, self.supply.conn
        runner.run(_settle_orders(conn) if load == DISPATCH else settle(conn))
        if load == DISPATCH:
            self.partner.drain()
        batch.path.unlink()
        self.supply.observed(load, result)
        self.runs.append((load, result))
        return result

    def run(self) -> None:
        settings = self.ctx.settings
        names = list(self.gateways)
        for load in (WEBHOOKS, DISPATCH):
            for name in names:
                self.run_one(load, name, settings.warmup)
        self.results = {load: {name: [] for name in names} for load in (WEBHOOKS, DISPATCH)}
        for round_no in range(settings.rounds):
            order = names if round_no % 2 == 0 else names[::-1]
            for load in (WEBHOOKS, DISPATCH):
                for name in order:
                    self.results[load][name].append(self.run_one(load, name, settings.duration))
            self.ctx.log(
                f"round {round_no + 1}/{settings.rounds}: "
                + "; ".join(
                    f"{load} "
                    + ", ".join(f"{n} {self.results[load][n][-1].rps:,.0f} req/s" for n in names)
                    for load in (WEBHOOKS, DISPATCH)
                )
            )

    def paired(self, load: str) -> list[float]:
        """2 workers / 1 worker per round (each pair ran seconds apart)."""
        return [
            two.rps / one.rps
            for one, two in zip(self.results[load][ONE], self.results[load][TWO], strict=True)
            if one.rps
        ]


def _total(values: list[int | None]) -> int:
    if any(v is None for v in values):
        raise RuntimeError("the load generator did not report its status counts")
    return sum(v or 0 for v in values)


@dataclass(frozen=True)
class Duplicates:
    """What the run sent and what storage and the partner hold, counted."""

    webhook_200: int
    webhook_sent: int
    webhook_other: str
    inbox: dict[str, int]
    inbox_ids_twice: int
    events: int
    events_twice: int
    completed_orders: int
    dispatch_201: int
    dispatch_sent: int
    dispatch_other: str
    orders_placed: int
    partner_calls: int
    partner_orders_twice: int
    ledger_entries: int
    ledger_keys_twice: int
    ledger_orders_over: int

    @property
    def applied(self) -> int:
        return self.inbox.get("applied", 0)

    @property
    def passed(self) -> bool:
        """Nothing twice, every answer backed by storage, and storage by a request."""
        unanswered_webhooks = self.webhook_sent - self.webhook_200
        unanswered_dispatch = self.dispatch_sent - self.dispatch_201
        return (
            self.inbox_ids_twice == 0
            and self.events_twice == 0
            and self.partner_orders_twice == 0
            and self.ledger_keys_twice == 0
            and self.ledger_orders_over == 0
            and self.webhook_200 <= self.applied <= self.webhook_200 + unanswered_webhooks
            and self.events == self.applied == self.completed_orders
            and self.ledger_entries == ENTRIES_PER_COMPLETION * self.completed_orders
            and self.dispatch_201 <= self.partner_calls <= self.dispatch_201 + unanswered_dispatch
            and self.partner_calls == self.orders_placed
            and not self.webhook_other
            and not self.dispatch_other
        )

    def text(self) -> str:
        verdict = "passes" if self.passed else "FAILS"
        return (
            f"duplicate check {verdict}: webhooks: {self.webhook_sent:,} sent, "
            f"{self.webhook_200:,} answered 200"
            + (f", other answers {self.webhook_other}" if self.webhook_other else "")
            + f"; inbox {self.inbox}, webhook-ids stored twice: {self.inbox_ids_twice}; "
            f"{self.events:,} order events ({self.events_twice} orders with an event twice), "
            f"{self.completed_orders:,} orders completed; ledger: {self.ledger_entries:,} "
            f"entries ({ENTRIES_PER_COMPLETION} per completed order), entry keys written "
            f"twice: {self.ledger_keys_twice}, orders with more than "
            f"{ENTRIES_PER_COMPLETION} entries: {self.ledger_orders_over}; dispatch: "
            f"{self.dispatch_sent:,} bookings sent, {self.dispatch_201:,} answered 201"
            + (f", other answers {self.dispatch_other}" if self.dispatch_other else "")
            + f"; {self.orders_placed:,} orders placed, the partner received "
            f"{self.partner_calls:,} order calls, orders it received twice: "
            f"{self.partner_orders_twice}"
        )


def duplicates(schedule: Schedule) -> Duplicates:
    """Count every webhook, order and ledger entry the run produced."""
    by_load: dict[str, list[LoadResult]] = {WEBHOOKS: [], DISPATCH: []}
    for load, result in schedule.runs:
        by_load[load].append(result)

    def statuses(results: list[LoadResult], expected: str) -> str:
        seen = sorted({s for r in results for s in r.other_statuses.split(",") if s})
        return ",".join(s for s in seen if s != expected)

    async def query() -> dict[str, int]:
        conn = schedule.supply.conn
        await settle(conn)
        await _settle_orders(conn)
        sql = {
            "inbox_twice": "SELECT count(*) FROM (SELECT partner_id, webhook_id FROM inbox "
            "GROUP BY partner_id, webhook_id HAVING count(*) > 1) d",
            "events": "SELECT count(*) FROM order_events",
            "events_twice": "SELECT count(*) FROM (SELECT order_id FROM order_events "
            "GROUP BY order_id HAVING count(*) > 1) d",
            "completed": "SELECT count(*) FROM orders WHERE status = 'completed'",
            # the completions' orders are bulk-copied for customer cus_bench
            "placed": "SELECT count(*) FROM orders WHERE customer_id <> 'cus_bench'",
            "ledger": "SELECT count(*) FROM ledger_entries",
            "ledger_twice": "SELECT count(*) FROM (SELECT entry_key FROM ledger_entries "
            "GROUP BY entry_key HAVING count(*) > 1) d",
            "ledger_over": "SELECT count(*) FROM (SELECT order_id FROM ledger_entries "
            f"GROUP BY order_id HAVING count(*) > {ENTRIES_PER_COMPLETION}) d",
        }
        return {name: int(await conn.fetchval(q)) for name, q in sql.items()}

    counts = schedule.supply.runner.run(query())
    inbox = schedule.supply.runner.run(inbox_counts(schedule.supply.conn))
    webhook_runs, dispatch_runs = by_load[WEBHOOKS], by_load[DISPATCH]
    received = schedule.partner.received
    return Duplicates(
        webhook_200=_total([r.status_200 for r in webhook_runs]),
        webhook_sent=_total([r.sent for r in webhook_runs]),
        webhook_other=statuses(webhook_runs, ""),
        inbox=inbox,
        inbox_ids_twice=counts["inbox_twice"],
        events=counts["events"],
        events_twice=counts["events_twice"],
        completed_orders=counts["completed"],
        # the gateway answers 201: the generators count it among the "other" answers
        dispatch_201=_total([r.status_other for r in dispatch_runs]),
        dispatch_sent=_total([r.sent for r in dispatch_runs]),
        dispatch_other=statuses(dispatch_runs, "201"),
        orders_placed=counts["placed"],
        partner_calls=sum(received.values()),
        partner_orders_twice=sum(1 for n in received.values() if n > 1),
        ledger_entries=counts["ledger"],
        ledger_keys_twice=counts["ledger_twice"],
        ledger_orders_over=counts["ledger_over"],
    )


def figures(schedule: Schedule, check: Duplicates) -> list[Figure]:
    """Throughput and p99 of 2 workers against 1, per load, and the duplicate check."""
    out = []
    for load, label in ((WEBHOOKS, "webhook intake"), (DISPATCH, "dispatch")):
        one, two = (median_result(schedule.results[load][n]) for n in (ONE, TWO))
        out += [
            Figure(f"{label} throughput, {TWO}", two.rps, "req/s", ONE, one.rps,
                   note="ratio 2.0 is linear scaling"),
            Figure(f"{label} latency p99, {TWO}", two.p99_ms, "ms", ONE, one.p99_ms,
                   higher_is_better=False),
        ]  # fmt: skip
    verdict = "nothing twice" if check.passed else "check FAILS"
    twice = check.inbox_ids_twice + check.events_twice + check.ledger_keys_twice
    out.append(
        Figure(
            "webhooks, orders and ledger entries stored twice",
            twice + check.partner_orders_twice + check.ledger_orders_over,
            "rows",
            "rows written",
            check.applied + check.partner_calls + check.ledger_entries,
            reading=f"{verdict}: see the duplicate check below",
        )
    )
    return out


def _notes(ctx: Context, schedule: Schedule, check: Duplicates) -> None:
    ctx.note(
        f"load generator: {ctx.loadgen.description}; replays pre-generated requests, "
        f"{ctx.settings.connections} connections; both gateways unpinned"
    )
    ctx.note(
        f"{PARTNER}'s webhook.rate_limit_per_minute raised to {BENCH_RATE_LIMIT_PER_MINUTE:,} "
        "in the staged agreement (tier gold, no volume cap, pointed at the sandbox)"
    )
    ctx.note(
        f"{schedule.supply.generated[WEBHOOKS]:,} completions and "
        f"{schedule.supply.generated[DISPATCH]:,} bookings generated in "
        f"{schedule.supply.batches} batches, each sent to one gateway only"
    )
    for load in (WEBHOOKS, DISPATCH):
        for name, rounds in schedule.results[load].items():
            per_round = ", ".join(f"{r.rps:,.0f}" for r in rounds)
            ctx.note(f"{load}, {name}: req/s per round {per_round}")
        paired = schedule.paired(load)
        if paired:
            ctx.note(
                f"{load}: ratio {TWO}/{ONE} per round: median {statistics.median(paired):.3f}, "
                f"range {min(paired):.3f}..{max(paired):.3f}"
            )
    ctx.note(check.text())
    errors = sum(r.errors for _, r in schedule.runs)
    if errors:
        ctx.note(f"{errors} failed or non-2xx requests over all runs (201s count as such for "
                 "dispatch in the generator's error column)")  # fmt: skip


def run(ctx: Context) -> list[Figure]:
    """Stage, start the sandbox and both gateways, alternate rounds, count duplicates."""
    agreement = load_agreement(ctx.root)
    secret = f"bench-{secrets.token_urlsafe(24)}"
    unpinned = dataclasses.replace(ctx, server_cpus=None)
    with stage(ctx) as staged, ctx.server(sandbox_spec(ctx.root, secret)) as sandbox:
        partners = write_partners(ctx.root, staged.workdir / "scaleout-partners", sandbox.base_url)
        _raise_rate_limit(partners)
        overrides = partner_env(partners, agreement, secret)
        spec = gateway_server(staged, overrides)
        # The first gateway migrates the database; the second finds it migrated.
        specs = {
            name: dataclasses.replace(
                spec, name=f"gateway-{workers}w", workers=workers,
                prepare=spec.prepare if workers == 1 else (),
            )
            for name, workers in WORKERS.items()
        }  # fmt: skip
        with (
            unpinned.server(specs[ONE]) as one,
            unpinned.server(specs[TWO]) as two,
            asyncio.Runner() as runner,
        ):
            credentials = issue_credentials(staged, one)
            app_client = issue_app_client(staged, overrides)
            conn = runner.run(asyncpg.connect(staged.dsn, timeout=10))
            try:
                supply = Supply(conn, runner, staged.workdir, credentials, app_client, one)
                schedule = Schedule(ctx, {ONE: one, TWO: two}, supply, Partner(sandbox))
                schedule.run()
                check = duplicates(schedule)
            finally:
                runner.run(conn.close())
    _notes(ctx, schedule, check)
    return figures(schedule, check)
