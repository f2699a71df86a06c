"""Dispatch (`POST /v1/service-requests`, a courtesy-car booking) through the gateway to a
partner, against the same partner call made directly and through a minimal FastAPI + httpx
pass-through proxy, all three in the same run under the same load. The partner is the
canonical rental partner `citycar` served alone by `python -m adapters.sandbox`'s `build()`
(API key header, `POST /v1/orders`, webhooks off, no latency or faults). The gateway runs
production-shaped: a fresh PostgreSQL database migrated for the run, Redis hot state under
a run-unique prefix, `PGW_SANDBOX=false` with the partner's key in `PGW_PARTNER_SECRETS`,
a partners directory holding only a copy of citycar's agreement pointed at the sandbox
(tier gold, no volume cap), JSON logs at level info, one uvicorn worker. Every request is
distinct: the gateway gets the example courtesy-car request with its own `Idempotency-Key`
and an OEM app token (scope `services:write`), so each one is routed, stored, sent to the
partner and answered 201; the direct and proxied calls carry the body the gateway sends
(the partner's masked view, `gateway.dispatch.disclosure.partner_view`), each with its own order id.
Targets: the gateway adds under 3 ms to the direct call's median latency at 1 connection,
and keeps at least 60 % of the pass-through proxy's throughput at the run's connections.
The sandbox is pinned with the servers under test; PostgreSQL and Redis are not pinned.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import math
import secrets
import shlex
import statistics
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import yaml
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.bench_webhooks import Stage, _pgw, gateway_spec, stage
from bench.context import Comparison, Context
from bench.figures import Figure, LoadResult, median_result
from bench.replay import RequestFile, write_request_file
from bench.servers import Server, ServerSpec
from contracts import (
    EXAMPLE_REQUESTS,
    OPERATION_PURPOSE,
    ApiKeyAuth,
    Operation,
    PartnerAgreement,
    new_order_id,
)
from gateway.dispatch.disclosure import partner_view
from masking import MaskingKeys

SUBJECT = "gateway"
DIRECT = "partner direct"
PROXY = "pass-through proxy"
PARTNER = "citycar"
ROUTE = "/v1/service-requests"
PARTNER_ROUTE = "/v1/orders"
LOW_CONNECTIONS = 1
TARGET_ADDED_P50_MS = 3.0
TARGET_THROUGHPUT_RATIO = 0.60
GAP = """
The gateway is CPU-bound at about 7-8 ms of its own CPU per booking against about 1.3 ms
for the proxy: two transactions (the order stored before the partner is called, then
locked and updated with the answer), the consent, relay and disclosure-audit statements
of the masking choke point, the SLA clocks, the idempotency claim and breaker state in
Redis. Next: fold the consent and relay reads and the audit rows into fewer statements,
and give the two order statements the asyncpg fast path proposed for the intake.
Decision 0008.
"""
CLIENT_NAME = "bench dispatch (OEM app)"
SCOPE = "services:write"

# Size each server's first batch; later ones follow the rate it was measured at.
_FIRST_GUESS_RPS = {DIRECT: 3_000.0, PROXY: 1_500.0, SUBJECT: 500.0}
_SETTLE_TIMEOUT_S = 5.0
_DRAIN_PAUSE_S = 0.3  # lets the partner finish calls in flight when the load stopped


def load_agreement(root: Path) -> PartnerAgreement:
    """citycar's shipped agreement."""
    path = root / "partners" / f"{PARTNER}.yaml"
    return PartnerAgreement.model_validate(yaml.safe_load(path.read_text("utf-8")))


def api_key_header(agreement: PartnerAgreement) -> str:
    """The header carrying citycar's API key (its agreement's outbound auth)."""
    auth = agreement.api.auth
    if not isinstance(auth, ApiKeyAuth):
        raise RuntimeError(f"{PARTNER} no longer authenticates with an API key header: {auth}")
    return auth.header


def sandbox_spec(root: Path, secret: str) -> ServerSpec:
    """`python -m adapters.sandbox citycar --no-webhooks --secret S` as a uvicorn factory."""
    argv = [PARTNER, "--partners-dir", str(root / "partners"), "--no-webhooks"]
    return ServerSpec(
        name=f"sandbox-{PARTNER}",
        app="bench.apps.sandbox_partner:create_app",
        factory=True,
        env={"PGW_BENCH_SANDBOX_ARGS": shlex.join([*argv, "--secret", secret])},
        ready_path="/_config",
    )


def proxy_spec(partner_url: str, header: str, secret: str) -> ServerSpec:
    """The pass-through proxy in front of the sandbox."""
    return ServerSpec(
        name="passthrough",
        app="bench.apps.passthrough:app",
        env={
            "PGW_BENCH_PARTNER_URL": partner_url,
            "PGW_BENCH_PARTNER_KEY_HEADER": header,
            "PGW_BENCH_PARTNER_KEY": secret,
        },
    )


def write_partners(root: Path, target: Path, partner_url: str) -> Path:
    """A partners directory holding only citycar's agreement: at `partner_url`, gold, uncapped."""
    data = yaml.safe_load((root / "partners" / f"{PARTNER}.yaml").read_text("utf-8"))
    data["api"]["base_url"] = partner_url
    data["tier"] = "gold"
    data.pop("volume_cap_share", None)
    target.mkdir(parents=True)
    path = target / f"{PARTNER}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
    written = PartnerAgreement.model_validate(yaml.safe_load(path.read_text("utf-8")))
    if written.api.base_url != partner_url or written.volume_cap_share is not None:
        raise RuntimeError(f"could not point {path} at {partner_url}")
    return target


def partner_env(partners_dir: Path, agreement: PartnerAgreement, secret: str) -> dict[str, str]:
    """What the dispatch benchmark changes in the webhooks benchmark's production-shaped
    environment: the staged partners, no sandboxes, the partner's real key."""
    auth = agreement.api.auth
    assert isinstance(auth, ApiKeyAuth)
    return {
        "PGW_PARTNERS_DIR": str(partners_dir),
        "PGW_SANDBOX": "false",
        "PGW_PARTNER_SECRETS": json.dumps({auth.secret_ref: secret}),
    }


def gateway_server(staged: Stage, overrides: Mapping[str, str]) -> ServerSpec:
    """The webhooks benchmark's gateway spec with `overrides` in its environment."""
    spec = gateway_spec(staged)
    # ServerSpec.env values are str.format templates ({data_dir}): braces doubled.
    escaped = {k: v.replace("{", "{{").replace("}", "}}") for k, v in overrides.items()}
    return dataclasses.replace(spec, env={**spec.env, **escaped})


@dataclass(frozen=True)
class AppClient:
    """The OEM app's client credentials (scope services:write)."""

    client_id: str
    client_secret: str

    def token(self, gateway: Server) -> str:
        """A fresh access token from the gateway's `/oauth/token`."""
        answer = httpx.post(
            gateway.url("/oauth/token"),
            auth=(self.client_id, self.client_secret),
            data={"grant_type": "client_credentials", "scope": SCOPE},
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])


def issue_app_client(staged: Stage, overrides: Mapping[str, str]) -> AppClient:
    """`pgw clients create NAME --scopes services:write --json`, in the gateway's environment."""
    done = subprocess.run(
        [_pgw(), "clients", "create", CLIENT_NAME, "--scopes", SCOPE, "--json"],
        env={**staged.process_env(), **overrides}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"pgw clients create failed: {done.stderr[-2000:]}")
    issued = json.loads(lines[-1])
    return AppClient(issued["client_id"], issued["client_secret"])


_SERVICE_REQUEST = EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK]
SERVICE_REQUEST_BODY = orjson.dumps(_SERVICE_REQUEST.model_dump(mode="json", exclude_none=True))


def write_service_requests(path: Path, token: str, count: int) -> RequestFile:
    """`count` courtesy-car requests to the gateway, each with its own Idempotency-Key."""
    return write_request_file(
        path,
        method="POST",
        target=ROUTE,
        common_headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        requests=(
            ({"idempotency-key": str(uuid.uuid4())}, SERVICE_REQUEST_BODY) for _ in range(count)
        ),
    )


def write_partner_orders(
    path: Path, agreement: PartnerAgreement, order_ids: list[str], key: tuple[str, str] | None
) -> RequestFile:
    """One partner order per id, as the gateway sends it; with the API key header if `key`."""

    def orders() -> Iterator[tuple[Mapping[str, str], bytes]]:
        view = partner_view(
            agreement,
            OPERATION_PURPOSE[_SERVICE_REQUEST.operation],
            _SERVICE_REQUEST,
            keys=MaskingKeys.development(),
            now=datetime.now(UTC),
        )
        # What the gateway sends: the masked view, with a relay number where the phone was.
        payload = view.with_relays({r.path: "17100000000" for r in view.relays})
        for order_id in order_ids:
            body = {
                "order_id": order_id,
                "operation": _SERVICE_REQUEST.operation.value,
                "request": payload,
            }
            yield {"idempotency-key": f"{order_id}:{agreement.id}"}, orjson.dumps(body)

    common = {"content-type": "application/json"}
    if key is not None:
        common[key[0]] = key[1]
    return write_request_file(
        path, method="POST", target=PARTNER_ROUTE, common_headers=common, requests=orders()
    )


@dataclass
class Supply:
    """A fresh batch of distinct requests for every run, sized from each server's rate."""

    workdir: Path
    agreement: PartnerAgreement
    partner_key: tuple[str, str]
    gateway: Server
    client: AppClient
    best_rps: dict[tuple[str, int], float] = field(default_factory=dict)
    partner_order_ids: set[str] = field(default_factory=set)
    batches: int = 0
    generated: collections.Counter[str] = field(default_factory=collections.Counter)

    def batch(self, name: str, connections: int, duration: float) -> RequestFile:
        """Requests for one run of `name`: never sent before, enough not to run out."""
        rps = self.best_rps.get((name, connections), _FIRST_GUESS_RPS[name])
        count = math.ceil(rps * max(duration, 1.0) * 3) + 4 * connections
        self.batches += 1
        self.generated[name] += count
        path = self.workdir / f"batch-{self.batches}.txt"
        if name == SUBJECT:
            return write_service_requests(path, self.client.token(self.gateway), count)
        order_ids = [new_order_id() for _ in range(count)]
        self.partner_order_ids.update(order_ids)
        key = self.partner_key if name == DIRECT else None
        return write_partner_orders(path, self.agreement, order_ids, key)

    def observed(self, name: str, connections: int, result: LoadResult) -> None:
        """Size later batches from what the server managed."""
        slot = (name, connections)
        self.best_rps[slot] = max(self.best_rps.get(slot, 0.0), result.rps)


@dataclass
class Partner:
    """The sandbox's record of received calls, drained after every run."""

    sandbox: Server
    received: collections.Counter[str] = field(default_factory=collections.Counter)
    other_calls: int = 0

    def drain(self) -> int:
        """Count the `POST /v1/orders` received by order id, then forget calls and orders."""
        with httpx.Client(base_url=self.sandbox.base_url, timeout=60) as http:
            records = http.get("/_received").raise_for_status().json()
            http.delete("/_received").raise_for_status()
            http.delete("/_bench/orders").raise_for_status()
        orders = 0
        for record in records:
            body = record.get("body")
            if record["method"] == "POST" and record["path"] == PARTNER_ROUTE:
                orders += 1
                order_id = body.get("order_id") if isinstance(body, dict) else None
                self.received[str(order_id)] += 1
            else:
                self.other_calls += 1
        return orders


async def order_counts(db: AsyncEngine) -> dict[str, int]:
    """The gateway's orders by status."""
    async with db.connect() as conn:
        rows = await conn.execute(text("SELECT status, count(*) FROM orders GROUP BY status"))
        return {str(status): int(n) for status, n in rows}


async def order_statuses(db: AsyncEngine) -> dict[str, str]:
    """The status of each of the gateway's orders, by order id."""
    async with db.connect() as conn:
        rows = await conn.execute(text("SELECT id, status FROM orders"))
        return {str(order_id): str(status) for order_id, status in rows}


async def settle(db: AsyncEngine) -> None:
    """Wait until requests still in flight when the load stopped are finished."""
    await settle_orders(lambda: order_counts(db))


async def settle_orders(
    counts_by_status: Callable[[], Awaitable[dict[str, int]]],
    timeout_s: float = _SETTLE_TIMEOUT_S,
) -> None:
    """Poll the orders by status until none is still being placed, or the counts stop
    moving (an order whose request failed with a 500 stays `requested`)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        counts = await counts_by_status()
        if "requested" not in counts or counts == last:
            return
        last = counts
        await asyncio.sleep(0.25)


@dataclass
class Schedule:
    """Per concurrency: warm-up, then rounds rotating the servers' order; every run kept."""

    ctx: Context
    urls: dict[str, str]
    supply: Supply
    partner: Partner
    db: AsyncEngine
    runner: asyncio.Runner
    results: dict[int, dict[str, list[LoadResult]]] = field(default_factory=dict)
    runs: dict[str, list[LoadResult]] = field(default_factory=dict)

    def run_one(self, name: str, connections: int, duration: float) -> LoadResult:
        """One load run of fresh requests; then the partner's record is drained."""
        batch = self.supply.batch(name, connections, duration)
        result = self.ctx.loadgen.run(
            self.urls[name], connections=connections, duration=duration, requests=batch
        )
        if name == SUBJECT:
            self.runner.run(settle(self.db))
        else:
            time.sleep(_DRAIN_PAUSE_S)
        self.partner.drain()
        batch.path.unlink()
        if result.wrapped:
            self.ctx.log(
                f"{name} at {connections} conn ran out of requests: {batch.count:,} prepared, "
                f"{result.sent:,} sent, {result.wrapped:,} sent again"
            )
        self.supply.observed(name, connections, result)
        self.runs.setdefault(name, []).append(result)
        return result

    def run(self, connections: int) -> dict[str, LoadResult]:
        """Medians per server at `connections`."""
        settings = self.ctx.settings
        names = list(self.urls)
        for name in names:
            self.run_one(name, connections, settings.warmup)
        results: dict[str, list[LoadResult]] = {name: [] for name in names}
        for round_no in range(settings.rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                results[name].append(self.run_one(name, connections, settings.duration))
            self.ctx.log(
                f"{connections} conn, round {round_no + 1}/{settings.rounds}: "
                + ", ".join(
                    f"{n} {results[n][-1].rps:,.0f} req/s p50 {results[n][-1].p50_ms:.2f} ms"
                    for n in names
                )
            )
        self.results[connections] = results
        return {name: median_result(rounds) for name, rounds in results.items()}

    def comparison(self, connections: int, baseline: str) -> Comparison:
        """The gateway against one baseline at `connections`, round by round."""
        results = self.results[connections]
        return Comparison(
            baseline=median_result(results[baseline]),
            subject=median_result(results[SUBJECT]),
            baseline_rounds=tuple(results[baseline]),
            subject_rounds=tuple(results[SUBJECT]),
        )


def _total(values: list[int | None]) -> int:
    if any(v is None for v in values):
        raise RuntimeError("the load generator did not report its status counts")
    return sum(v or 0 for v in values)


@dataclass(frozen=True)
class CountCheck:
    """The gateway's answers as the load generator counted them, its orders, the partner's calls.

    The load generators count 200 answers and "other" answers with the set of other
    statuses seen; the gateway answers 201, so its 201s are the "other" answers as long
    as 201 is the only other status.
    """

    sent: int
    answered: int
    statuses: str
    wrapped: int
    orders: dict[str, int]
    calls_dispatched: int
    distinct_dispatched: int
    calls_not_dispatched: int
    most_calls_per_order: int
    unknown_calls: int

    @property
    def answers_201(self) -> int:
        """201 answers (every answer, when 201 was the only status seen)."""
        return self.answered if self.statuses == "201" else 0

    @property
    def first_201(self) -> int:
        """201 answers to first sends of a key (a wrapped request replays one)."""
        return self.answers_201 - self.wrapped

    @property
    def unanswered(self) -> int:
        """Sent but not answered when the generator stopped (in flight at the cut)."""
        return self.sent - self.answered

    @property
    def dispatched(self) -> int:
        """Orders the gateway stored as dispatched to the partner."""
        return self.orders.get("dispatched", 0)

    @property
    def stored_ok(self) -> bool:
        """Every 201 is a dispatched order; the surplus was in flight; no order stuck."""
        return (
            self.statuses == "201"
            and self.first_201 <= self.dispatched <= self.first_201 + self.unanswered
            and sum(self.orders.values()) == self.dispatched
        )

    @property
    def received_ok(self) -> bool:
        """The partner received each dispatched order exactly once, and nothing else."""
        return (
            self.calls_dispatched == self.distinct_dispatched == self.dispatched
            and self.most_calls_per_order <= 1
            and self.calls_not_dispatched == 0
            and self.unknown_calls == 0
        )

    def text(self) -> str:
        """One line for the report."""
        verdict = "passes" if self.stored_ok and self.received_ok else "FAILS"
        late = self.dispatched - self.first_201
        text = (
            f"count check {verdict}: PostgreSQL holds {sum(self.orders.values()):,} orders "
            f"(by status: {self.orders}); the load generator counted {self.answered:,} "
            f"answers (statuses: {self.statuses or 'none'}) to {self.sent:,} requests sent, "
            f"{self.unanswered:,} in flight when a run stopped (wrk does not wait for them)"
        )
        if self.statuses == "201":
            text += f": {late:,} dispatched after the cut, {self.unanswered - late:,} never stored"
        text += (
            f"; {self.wrapped:,} replays of an already sent Idempotency-Key. The sandbox's "
            f"GET /_received shows {self.calls_dispatched:,} POST {PARTNER_ROUTE} for the "
            f"gateway's dispatched orders ({self.distinct_dispatched:,} distinct, at most "
            f"{self.most_calls_per_order} per order), {self.calls_not_dispatched:,} for its "
            f"orders not dispatched, {self.unknown_calls:,} for orders nobody sent"
        )
        return text


def count_check(schedule: Schedule) -> CountCheck:
    """Compare the generator's counts over every gateway run with PostgreSQL and the partner."""
    runs = schedule.runs.get(SUBJECT, [])

    async def query() -> tuple[dict[str, int], dict[str, str]]:
        await settle(schedule.db)
        return await order_counts(schedule.db), await order_statuses(schedule.db)

    orders, statuses_by_id = schedule.runner.run(query())
    schedule.partner.drain()
    received = schedule.partner.received
    dispatched = [received[i] for i, st in statuses_by_id.items() if st == "dispatched"]
    others = [received[i] for i, st in statuses_by_id.items() if st != "dispatched"]
    known = set(statuses_by_id) | schedule.supply.partner_order_ids
    statuses = sorted({s for r in runs for s in r.other_statuses.split(",") if s})
    return CountCheck(
        sent=_total([r.sent for r in runs]),
        answered=_total([r.status_200 for r in runs]) + _total([r.status_other for r in runs]),
        statuses=",".join(statuses),
        wrapped=sum(r.wrapped for r in runs),
        orders=orders,
        calls_dispatched=sum(dispatched),
        distinct_dispatched=sum(1 for n in dispatched if n),
        calls_not_dispatched=sum(others),
        most_calls_per_order=max(dispatched + others, default=0),
        unknown_calls=sum(n for oid, n in received.items() if oid not in known),
    )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def figures(low: dict[str, LoadResult], high: dict[str, LoadResult], connections: int,
            check: CountCheck, loadgen: str) -> list[Figure]:  # fmt: skip
    """Added latency at 1 connection, throughput against the proxy, and the count checks."""
    gw, direct, proxy = low[SUBJECT], low[DIRECT], low[PROXY]
    added_p50, added_p99 = gw.p50_ms - direct.p50_ms, gw.p99_ms - direct.p99_ms
    proxy_p50 = proxy.p50_ms - direct.p50_ms
    at_low = f"{LOW_CONNECTIONS} connection"
    out = [
        Figure(
            f"{SUBJECT} latency p50, {at_low}", gw.p50_ms, "ms", DIRECT, direct.p50_ms,
            higher_is_better=False,
            reading=f"adds {added_p50:.2f} ms; target < {TARGET_ADDED_P50_MS:g} ms: "
            f"{_met(added_p50 < TARGET_ADDED_P50_MS)}",
        ),
        Figure(
            f"{SUBJECT} latency p99, {at_low}", gw.p99_ms, "ms", DIRECT, direct.p99_ms,
            higher_is_better=False, reading=f"adds {added_p99:.2f} ms",
        ),
        Figure(
            f"{PROXY} latency p50, {at_low}", proxy.p50_ms, "ms", DIRECT, direct.p50_ms,
            higher_is_better=False, reading=f"adds {proxy_p50:.2f} ms (for scale)",
        ),
    ]  # fmt: skip
    gw, proxy, direct = high[SUBJECT], high[PROXY], high[DIRECT]
    ratio = gw.rps / proxy.rps if proxy.rps else math.nan
    out += [
        Figure(
            f"{SUBJECT} throughput, {connections} connections", gw.rps, "req/s", PROXY,
            proxy.rps, note=f"target >= {TARGET_THROUGHPUT_RATIO:.0%} of {PROXY}: "
            f"{_met(ratio >= TARGET_THROUGHPUT_RATIO)}; load from {loadgen}",
        ),
        Figure(
            f"{SUBJECT} latency p50, {connections} connections", gw.p50_ms, "ms", PROXY,
            proxy.p50_ms, higher_is_better=False,
        ),
        Figure(
            f"{SUBJECT} latency p99, {connections} connections", gw.p99_ms, "ms", PROXY,
            proxy.p99_ms, higher_is_better=False,
        ),
        Figure(
            f"{PROXY} throughput, {connections} connections", proxy.rps, "req/s", DIRECT,
            direct.rps, note="for scale: the partner alone",
        ),
    ]  # fmt: skip
    stored = "check passes" if check.stored_ok else "check FAILS"
    received = "check passes" if check.received_ok else "check FAILS"
    out += [
        Figure(
            "orders dispatched (PostgreSQL)", check.dispatched, "orders", "201 answers counted",
            check.first_201,
            reading=f"{stored}: {check.dispatched - check.first_201:,} more orders than 201s, "
            f"{check.unanswered:,} requests in flight when a run stopped"
            if check.statuses == "201"
            else f"{stored}: answers other than 201 ({check.statuses}), orders by status "
            f"{check.orders}",
        ),
        Figure(
            f"orders received by {PARTNER} (GET /_received)", check.calls_dispatched, "orders",
            "orders dispatched", check.dispatched,
            reading=f"{received}: {check.distinct_dispatched:,} distinct, at most "
            f"{check.most_calls_per_order} call per order, {check.calls_not_dispatched:,} "
            "calls for orders not dispatched",
        ),
    ]  # fmt: skip
    return out


def _notes(ctx: Context, schedule: Schedule, check: CountCheck) -> None:
    supply = schedule.supply
    ctx.note(f"load generator: {ctx.loadgen.description}; replays pre-generated requests")
    ctx.note(
        f"distinct requests generated: {dict(supply.generated)} in {supply.batches} batches "
        "(one per run, none reused; the gateway's with a token fetched just before the run)"
    )
    for connections, results in schedule.results.items():
        for name, rounds in results.items():
            ctx.note(
                f"{name}, {connections} conn: req/s per round "
                f"{', '.join(f'{r.rps:,.0f}' for r in rounds)}; p50 ms per round "
                f"{', '.join(f'{r.p50_ms:.2f}' for r in rounds)}"
            )
    low = schedule.results[LOW_CONNECTIONS]
    added = [g.p50_ms - d.p50_ms for g, d in zip(low[SUBJECT], low[DIRECT], strict=True)]
    ctx.note(
        f"added p50 per round at {LOW_CONNECTIONS} connection (gateway - direct): "
        f"{', '.join(f'{a:.2f}' for a in added)} ms, median {statistics.median(added):.2f} ms"
    )
    high = max(schedule.results)
    paired = schedule.comparison(high, PROXY).paired_ratios("rps")
    if paired:
        ctx.note(
            f"throughput ratio {SUBJECT}/{PROXY} per round at {high} connections: median "
            f"{statistics.median(paired):.3f}, range {min(paired):.3f}..{max(paired):.3f}"
        )
    ctx.note(check.text())
    for name, runs in schedule.runs.items():
        errors = sum(r.errors for r in runs)
        statuses = sorted({s for r in runs for s in r.other_statuses.split(",") if s})
        if errors or set(statuses) - {"201"}:
            ctx.note(f"{name}: {errors} failed requests, statuses {statuses}: figures suspect")
    if schedule.partner.other_calls:
        ctx.note(f"the sandbox also received {schedule.partner.other_calls} other calls")


def run(ctx: Context) -> list[Figure]:
    """Stage, start sandbox, proxy and gateway, alternate rounds at 1 and N connections."""
    agreement = load_agreement(ctx.root)
    header = api_key_header(agreement)
    secret = f"bench-{secrets.token_urlsafe(24)}"
    with (
        stage(ctx) as staged,
        ctx.server(sandbox_spec(ctx.root, secret)) as sandbox,
        ctx.server(proxy_spec(sandbox.base_url, header, secret)) as proxy,
    ):
        partners = write_partners(ctx.root, staged.workdir / "dispatch-partners", sandbox.base_url)
        overrides = partner_env(partners, agreement, secret)
        with ctx.server(gateway_server(staged, overrides)) as gateway, asyncio.Runner() as runner:
            client = issue_app_client(staged, overrides)
            db = create_async_engine(staged.dsn.replace("postgresql://", "postgresql+asyncpg://"))
            try:
                supply = Supply(staged.workdir, agreement, (header, secret), gateway, client)
                schedule = Schedule(
                    ctx,
                    {
                        DIRECT: sandbox.url(PARTNER_ROUTE),
                        PROXY: proxy.url(PARTNER_ROUTE),
                        SUBJECT: gateway.url(ROUTE),
                    },
                    supply,
                    Partner(sandbox),
                    db,
                    runner,
                )
                low = schedule.run(LOW_CONNECTIONS)
                high = schedule.run(ctx.settings.connections)
                check = count_check(schedule)
            finally:
                runner.run(db.dispose())
    _notes(ctx, schedule, check)
    return figures(low, high, ctx.settings.connections, check, ctx.loadgen.description)
