"""`make soak`: minutes of steady mixed traffic against `pgw serve --workers 2`.

The gateway runs production-shaped on the shared PostgreSQL (a database of its own,
created and dropped here) and Redis (a key prefix of its own, deleted at the end),
JSON logs at level info, with the sandbox partners mounted (`PGW_SANDBOX=true`).
Traffic arrives open loop at a steady rate (`harness.traffic.run_open_loop`; default
40/s, `--rate`), mixed per 100 arrivals:

- 24 OEM service requests (the published examples: courtesy car, insurance quote and
  bind, charging search and start, membership link, benefit, points), each with its
  own `Idempotency-Key`; the sandbox partners answer and post their lifecycle
  webhooks back through the real intake (token, signature, inbox, apply), as in
  `make run`, so the webhook share follows the order rate;
- 51 `GET /v1/orders/{id}`, following orders until their lifecycle settles;
- 8 sandbox emits finishing delivered courtesy cars (`RENTAL_FINISHED`,
  `rental.completed`): the partner's signed webhook, answered synchronously;
- 8 ratings of completed orders (every sixth a complaint instead);
- 3 `GET /v1/scorecards`, 3 `GET /v1/partners/{id}/scorecard`, 3 statement reads
  (`GET /v1/partners/{id}/settlements/{month}`): managers' reads, the costliest.

A slot with nothing to act on yet (no delivered car, no completed order) reads an
order instead. Directly signed deliveries are not sent: each worker's sandboxes
rotate the partner's credentials on their first webhook, so a third holder's secret
would not stay valid. An arrival due while `--max-in-flight` requests are still open
is shed and counted. Every 10 s the resident memory and CPU time of the gateway's
processes (master and workers, psutil) are sampled.

The report (stdout, `var/soak/report.md`, `var/soak/report.json`) gives per-route
counts and p50/p99 from each request's scheduled time, errors by kind, achieved
against scheduled rate, the RSS series with its slope over each half, what the
database holds at the end, and the in-process state that grows by design. Exit 1 on
any 5xx, connection error, timeout or shed arrival, on a worker replaced during the
traffic, or when the summed RSS grew over the second half (least-squares slope x half
duration) more than `--rss-growth-limit-mib` plus what the sandbox partners keep for
the orders they took in that half (`SANDBOX_BYTES_PER_ORDER` each).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import psutil

from bench.bench_webhooks import Stage, _pgw, fresh_stage
from contracts import Operation
from harness.traffic import (
    Call,
    ClientCredentials,
    RouteStats,
    ScheduleResult,
    TokenSource,
    Unanswered,
    complaint,
    create_client,
    order_read,
    partner_scorecard,
    rating,
    run_open_loop,
    sandbox_emit,
    sandbox_forget,
    scorecards,
    send,
    service_request,
    settlement,
)

ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_OUT: Final = ROOT / "var" / "soak"
DEFAULT_POSTGRES: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS: Final = "redis://127.0.0.1:6379/0"
MiB: Final = 1024 * 1024
SANDBOX_BYTES_PER_ORDER: Final = 2_600
"""What a sandbox partner keeps per order it took (`Sandbox.orders`, `by_order_id`): 2,540
bytes measured with tracemalloc over 2,000 courtesy-car orders in a standalone citycar
sandbox, rounded up."""

# Arrivals per 100 of each kind (see the module docstring).
MIX: Final[dict[str, int]] = {
    "service_request": 24,
    "order_read": 51,
    "finish_rental": 8,
    "feedback": 8,
    "scorecards": 3,
    "partner_scorecard": 3,
    "settlement": 3,
}
# Service requests per 21 of each operation.
OPERATIONS: Final[dict[Operation, int]] = {
    Operation.COURTESY_CAR_BOOK: 6,
    Operation.INSURANCE_QUOTE: 2,
    Operation.INSURANCE_BIND: 2,
    Operation.CHARGING_SEARCH: 2,
    Operation.CHARGING_START: 3,
    Operation.LIFESTYLE_LINK: 2,
    Operation.LIFESTYLE_REDEEM: 2,
    Operation.LIFESTYLE_EXCHANGE_POINTS: 2,
}
# How a delivered courtesy car is finished, by the partner that holds it.
FINISH_KIND: Final = {"swiftrent": "RENTAL_FINISHED", "citycar": "rental.completed"}
SETTLED: Final = frozenset({"completed", "rejected", "failed", "cancelled"})
RATEABLE: Final = frozenset({"completed"})
EMIT_ATTEMPTS: Final = 20
KEEPALIVE_EXPIRY_S: Final = 2.0
FORGET_INTERVAL_S: Final = 5.0
FORGET_CALLS: Final = 3
WATCH_AFTER_S: Final = 2.5
MAX_READS_PER_ORDER: Final = 6

# In-process state that grows legitimately (by design, bounded or per-key), for the report.
GROWING_STATE: Final = (
    "sandbox partners (adapters/sandbox/kit.py; one set per worker, mounted only with "
    "PGW_SANDBOX, never in production): `orders` and `by_order_id` keep every order the "
    "partner took or quoted for, without bound (~2.5 KiB each, allowed for in the verdict); "
    "`received`/`sent` keep the last 500 requests and webhooks per partner (emptied by the "
    "soak every 5 s so that their filling up is not read as growth); `_tokens` keeps every "
    "token its own OAuth endpoint issued (swiftrent: one an hour, the gateway reuses it)",
    "console (gateway/console/pages.py): `_CARDS` (validated scorecards, until the stored "
    "ones change) and `_DRAFTS` (draft statements, 60 s) per container and month; only "
    "console pages fill them, and they hold one month's values per process",
    "routing tiers (gateway/scorecards/routing.py TierCache): one month's tiers per process",
    "OAuth (gateway/oauth): signing keys cached 30 s; `ClientStatus` keeps one entry per "
    "client id seen (bounded by the clients: here 3 OEM clients and 5 partner clients)",
    "webhook intake (gateway/webhooks/intake.py): `_secret_cache`, one entry per partner",
    "partner auth (gateway/dispatch/partner_auth.py): partners' access tokens live in hot "
    "state (Redis), not in the process",
    "logging (gateway/logs.py): `lru_cache(maxsize=4096)`; relays (gateway/privacy/relays.py): "
    "`lru_cache(maxsize=8)`",
    "SQLAlchemy's compiled-statement cache and asyncpg's prepared statements per pooled "
    "connection (bounded by the pool size and the set of statements), Prometheus label "
    "sets (route templates x registered partners: bounded; multiprocess values are files)",
    "Python's allocator: pymalloc arenas and glibc malloc arenas grow to the peak of "
    "concurrent work (requests in flight) and are rarely returned, so RSS steps up with "
    "bursts and stays there without being a leak",
)


# -- staging ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log(message: str) -> None:
    print(f"  . {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def staged() -> Iterator[Stage]:
    """A fresh database, a Redis key prefix and a copy of partners/; all removed on exit."""

    def copy_partners(target: Path) -> None:
        shutil.copytree(ROOT / "partners", target)
        (target.parent / "data").mkdir()

    with fresh_stage(
        kind="soak",
        admin_dsn=os.environ.get("PGW_SOAK_POSTGRES_URL", DEFAULT_POSTGRES),
        redis_url=os.environ.get("PGW_SOAK_REDIS_URL", DEFAULT_REDIS),
        copy_partners=copy_partners,
        log=_log,
    ) as stage:
        yield stage


def soak_env(stage: Stage, pycache: Path) -> dict[str, str]:
    """The gateway's environment: the stage's database and Redis, sandboxes on.

    Bytecode is cached under `pycache` (as an installed service has it compiled), which
    also shortens each worker's start: uvicorn replaces a worker that has not answered
    its health check within 5 s of being spawned.
    """
    env = stage.process_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(
        {
            "PGW_SANDBOX": "true",
            "PGW_ENVIRONMENT": "development",
            "PGW_LOG_LEVEL": "info",
            "PGW_PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        }
    )
    return env


@dataclass(frozen=True)
class Gateway:
    """`pgw serve` running: its master process id and base URL."""

    pid: int
    base_url: str
    log_path: Path


@contextlib.contextmanager
def running_gateway(env: dict[str, str], workers: int, log_path: Path) -> Iterator[Gateway]:
    """`pgw db upgrade`, then `pgw serve --workers N` on a free port; stopped on exit."""
    with log_path.open("wb") as log:
        done = subprocess.run(
            [_pgw(), "db", "upgrade"], env=env, stdout=log, stderr=subprocess.STDOUT,
            timeout=120, check=False, cwd=ROOT,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pgw db upgrade failed; see {log_path}")
        port = _free_port()
        proc = subprocess.Popen(
            [_pgw(), "serve", "--workers", str(workers), "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(proc, base_url, workers)
            yield Gateway(proc.pid, base_url, log_path)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


READY_TIMEOUT_S: Final = 300.0
STABLE_CHECKS: Final = 4


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, workers: int) -> None:
    """Until `/readyz` answers 200 and the same `workers` processes have served a few checks.

    uvicorn's supervisor replaces a worker that misses its 5 s health check; on a busy
    host a worker still importing can miss it, so a stable set of workers is awaited.
    """
    deadline = time.monotonic() + READY_TIMEOUT_S
    seen: list[frozenset[int]] = []
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"pgw serve exited with code {proc.returncode}")
            pids = frozenset(p.pid for p in _workers_of(proc.pid))
            ready = False
            with contextlib.suppress(httpx.HTTPError):
                ready = client.get(f"{base_url}/readyz").status_code == 200
            seen = [*seen, pids][-STABLE_CHECKS:] if ready and len(pids) >= workers else []
            if len(seen) == STABLE_CHECKS and len(set(seen)) == 1:
                return
            time.sleep(1.0)
    raise RuntimeError(f"{base_url}: no stable set of {workers} ready workers after 300 s")


def worker_restarts(log_path: Path) -> list[str]:
    """uvicorn's "Child process [PID] died" lines in the gateway's log."""
    try:
        lines = log_path.read_text("utf-8", "replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if "Child process [" in line and "died" in line]


# -- memory ----------------------------------------------------------------------------


def _workers_of(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [
            p
            for p in psutil.Process(pid).children(recursive=True)
            if "resource_tracker" not in _cmd(p)
        ]
    return []


def _cmd(proc: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return " ".join(proc.cmdline())
    return ""


@dataclass(frozen=True)
class MemorySample:
    """Resident memory of the gateway's processes at `t_s` seconds after the gateway was ready."""

    t_s: float
    phase: str
    total_mib: float
    per_process_mib: dict[str, float]
    cpu_s: float = 0.0
    load1: float = 0.0


@dataclass
class MemorySampler:
    """Samples RSS of the master and every descendant every `interval_s` in a thread."""

    pid: int
    interval_s: float = 10.0
    samples: list[MemorySample] = field(default_factory=list)
    phase: str = "warm-up"
    t0: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> MemorySample:
        """Take (and keep) one sample now."""
        per: dict[str, float] = {}
        cpu = 0.0
        with contextlib.suppress(psutil.Error):
            master = psutil.Process(self.pid)
            per[f"master {self.pid}"] = master.memory_info().rss / MiB
            cpu += sum(master.cpu_times()[:2])
            for child in master.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    role = "helper" if "resource_tracker" in _cmd(child) else "worker"
                    per[f"{role} {child.pid}"] = child.memory_info().rss / MiB
                    cpu += sum(child.cpu_times()[:2])
        sample = MemorySample(
            round(time.monotonic() - self.t0, 1),
            self.phase,
            round(sum(per.values()), 1),
            {k: round(v, 1) for k, v in per.items()},
            round(cpu, 2),
            round(os.getloadavg()[0], 2),
        )
        self.samples.append(sample)
        return sample

    def start(self) -> None:
        """Sample now and then every interval until `stop`."""
        self.t0 = time.monotonic()
        self.sample()

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                self.sample()

        self._thread = threading.Thread(target=loop, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling, after one last sample."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.phase = "end"
        self.sample()


def slope_mib_per_min(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) points, in MiB per minute (0 for < 2 points)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 60


@dataclass(frozen=True)
class MemoryVerdict:
    """Start (after warm-up), end and peak RSS, and the second half's trend."""

    start_mib: float
    end_mib: float
    peak_mib: float
    second_half_slope_mib_per_min: float
    second_half_growth_mib: float
    first_half_slope_mib_per_min: float
    limit_mib: float
    per_process: dict[str, dict[str, float]]
    cpu_percent: float = 0.0
    sandbox_orders_second_half: int = 0
    sandbox_allowance_mib: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the second half stayed within the limit."""
        return self.second_half_growth_mib <= self.limit_mib + self.sandbox_allowance_mib


def memory_verdict(
    samples: Sequence[MemorySample], limit_mib: float, partner_orders_at: Sequence[float] = ()
) -> MemoryVerdict:
    """Judge the measured samples (warm-up ones excluded from the halves).

    `partner_orders_at` are the times (`t_s` scale) of orders taken by a sandbox partner:
    a sandbox keeps each (SANDBOX_BYTES_PER_ORDER), which the limit allows on top.
    """
    run = [s for s in samples if s.phase != "warm-up"] or list(samples)
    start, end = run[0], run[-1]
    mid = start.t_s + (end.t_s - start.t_s) / 2
    first = [(s.t_s, s.total_mib) for s in run if s.t_s <= mid]
    second = [(s.t_s, s.total_mib) for s in run if s.t_s >= mid]
    slope2 = slope_mib_per_min(second)
    growth = slope2 * (end.t_s - mid) / 60
    sandbox_orders = sum(1 for t in partner_orders_at if mid <= t <= end.t_s)
    per: dict[str, dict[str, float]] = {}
    for name in end.per_process_mib:
        series = [s.per_process_mib[name] for s in run if name in s.per_process_mib]
        pts = [
            (s.t_s, s.per_process_mib[name])
            for s in run
            if s.t_s >= mid and name in s.per_process_mib
        ]
        per[name] = {
            "start": series[0],
            "end": series[-1],
            "peak": max(series),
            "second_half_slope_mib_per_min": round(slope_mib_per_min(pts), 3),
        }
    return MemoryVerdict(
        start_mib=start.total_mib,
        end_mib=end.total_mib,
        peak_mib=max(s.total_mib for s in samples),
        second_half_slope_mib_per_min=round(slope2, 3),
        second_half_growth_mib=round(growth, 2),
        first_half_slope_mib_per_min=round(slope_mib_per_min(first), 3),
        limit_mib=limit_mib,
        per_process=per,
        cpu_percent=round(
            100 * (end.cpu_s - start.cpu_s) / (end.t_s - start.t_s) if end.t_s > start.t_s else 0.0,
            1,
        ),
        sandbox_orders_second_half=sandbox_orders,
        sandbox_allowance_mib=round(sandbox_orders * SANDBOX_BYTES_PER_ORDER / MiB, 2),
    )


# -- traffic ---------------------------------------------------------------------------


@dataclass
class TrackedOrder:
    """An order the soak placed, as last read."""

    id: str
    operation: str
    partner_id: str | None
    reference: str | None
    status: str
    placed_at: float
    reads: int = 0


def _weighted_cycle(weights: dict[Any, int]) -> Iterator[Any]:
    """Smooth weighted round robin: exact shares, evenly spread."""
    current = dict.fromkeys(weights, 0)
    total = sum(weights.values())
    while True:
        for key, weight in weights.items():
            current[key] += weight
        best = max(current, key=lambda k: current[k])
        current[best] -= total
        yield best


@dataclass
class Traffic:
    """The soak's mix: picks each arrival's kind and sends it."""

    http: httpx.AsyncClient
    app: TokenSource
    manager: TokenSource
    finance: TokenSource
    stats: RouteStats
    partners: list[str]
    month: str
    orders: dict[str, TrackedOrder] = field(default_factory=dict)
    watch: deque[str] = field(default_factory=deque)
    to_finish: deque[str] = field(default_factory=deque)
    to_rate: deque[str] = field(default_factory=deque)
    rated: deque[str] = field(default_factory=deque)
    kinds: Counter[str] = field(default_factory=Counter)
    partner_orders_at: list[float] = field(default_factory=list)
    emit_misses: int = 0
    emit_failures: int = 0
    unexpected: list[str] = field(default_factory=list)
    _mix: Iterator[str] = field(default_factory=lambda: _weighted_cycle(MIX))
    _ops: Iterator[Operation] = field(default_factory=lambda: _weighted_cycle(OPERATIONS))
    _feedback: Iterator[int] = field(default_factory=lambda: itertools.count())
    _dice: random.Random = field(default_factory=lambda: random.Random(7))

    async def fire(self, _index: int, scheduled_at: float) -> None:
        """Send the next arrival of the mix."""
        kind = next(self._mix)
        self.kinds[kind] += 1
        if kind == "service_request":
            await self._service_request(scheduled_at)
        elif kind == "finish_rental" and self.to_finish:
            await self._finish(self.to_finish.popleft(), scheduled_at)
        elif kind == "feedback" and (self.to_rate or self.rated):
            await self._feedback_call(scheduled_at)
        elif kind == "scorecards":
            await send(self.http, scorecards(await self.manager.token(), self.month), self.stats,
                       scheduled_at=scheduled_at)  # fmt: skip
        elif kind == "partner_scorecard":
            partner = self.partners[self.kinds[kind] % len(self.partners)]
            await send(self.http, partner_scorecard(await self.manager.token(), partner),
                       self.stats, scheduled_at=scheduled_at)  # fmt: skip
        elif kind == "settlement":
            partner = self.partners[self.kinds[kind] % len(self.partners)]
            await send(self.http, settlement(await self.finance.token(), partner, self.month),
                       self.stats, scheduled_at=scheduled_at)  # fmt: skip
        else:
            await self._read(scheduled_at)

    async def _service_request(self, scheduled_at: float) -> None:
        operation = next(self._ops)
        call = service_request(await self.app.token(), operation)
        response = await send(self.http, call, self.stats, scheduled_at=scheduled_at)
        if response is None or response.status_code != 201:
            return
        body = response.json()
        order = TrackedOrder(
            id=body["id"],
            operation=operation.value,
            partner_id=body.get("partner_id"),
            reference=body.get("partner_reference"),
            status=body.get("status", "?"),
            placed_at=time.monotonic(),
        )
        self.orders[order.id] = order
        # Each partner that took (or quoted for) the order keeps it in its sandbox.
        fanned_out = operation in (Operation.INSURANCE_QUOTE, Operation.CHARGING_SEARCH)
        self.partner_orders_at.extend([time.monotonic()] * (2 if fanned_out else 1))
        if order.partner_id is not None:
            self.watch.append(order.id)

    def _next_to_read(self) -> TrackedOrder | None:
        now = time.monotonic()
        if self.watch:
            order = self.orders[self.watch[0]]
            if now - order.placed_at >= WATCH_AFTER_S * (1 + order.reads):
                self.watch.popleft()
                return order
        if not self.orders:
            return None
        recent = list(itertools.islice(reversed(self.orders), 200))
        return self.orders[self._dice.choice(recent)]

    async def _read(self, scheduled_at: float) -> None:
        order = self._next_to_read()
        if order is None:
            await send(self.http, scorecards(await self.manager.token(), self.month), self.stats,
                       scheduled_at=scheduled_at)  # fmt: skip
            return
        response = await send(
            self.http, order_read(await self.app.token(), order.id), self.stats,
            scheduled_at=scheduled_at,
        )  # fmt: skip
        if response is None or response.status_code != 200:
            return
        before = order.status
        order.status = response.json().get("status", order.status)
        order.reads += 1
        self._route(order, before)

    def _route(self, order: TrackedOrder, before: str) -> None:
        """Put an order just read where the mix will act on it next."""
        if order.partner_id is None:
            return
        if order.status in RATEABLE:
            if before not in RATEABLE:
                self.to_rate.append(order.id)
            return
        if order.status == "delivered" and order.partner_id in FINISH_KIND:
            if before != "delivered":
                self.to_finish.append(order.id)
            return
        if order.status not in SETTLED and order.reads < MAX_READS_PER_ORDER:
            self.watch.append(order.id)

    async def _finish(self, order_id: str, scheduled_at: float) -> None:
        order = self.orders[order_id]
        assert order.partner_id is not None and order.reference is not None
        call = sandbox_emit(order.partner_id, order.reference, FINISH_KIND[order.partner_id])
        response: httpx.Response | None = None
        for _attempt in range(EMIT_ATTEMPTS):
            try:
                response = await self.http.request(call.method, call.path, headers=call.headers)
            except httpx.HTTPError as exc:
                self.stats.record(call.route, time.perf_counter() - scheduled_at, None, exc)
                return
            except asyncio.CancelledError:
                self.stats.record(
                    call.route, time.perf_counter() - scheduled_at, None, Unanswered()
                )
                raise
            if response.status_code != 404:
                break
            self.emit_misses += 1  # held by the other worker's sandbox: a new connection
        assert response is not None
        self.stats.record(call.route, time.perf_counter() - scheduled_at, response)
        if response.status_code != 200:
            self.emit_failures += 1
            return
        answer = response.json()
        status = answer.get("status")
        if status != 200:
            self.unexpected.append(f"finish {order_id}: gateway answered {status}: {answer}")
            return
        order.reads = 0
        order.placed_at = time.monotonic() - WATCH_AFTER_S
        self.watch.appendleft(order.id)

    async def _feedback_call(self, scheduled_at: float) -> None:
        token = await self.app.token()
        if next(self._feedback) % 6 == 5 and self.rated:
            order_id = self.rated.popleft()
            call: Call = complaint(token, order_id, "late", "The car came an hour late.")
        elif self.to_rate:
            order_id = self.to_rate.popleft()
            call = rating(token, order_id, self._dice.choice((3, 4, 5, 5, 5)), "Fine.")
            self.rated.append(order_id)
        else:
            order_id = self.rated.popleft()
            call = complaint(token, order_id, "other", "Nothing to add.")
        await send(self.http, call, self.stats, scheduled_at=scheduled_at)


# -- the run ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """Everything the report shows."""

    args: dict[str, Any]
    schedule: dict[str, Any]
    warmup: dict[str, Any]
    routes: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    server_errors: int
    memory: dict[str, Any]
    memory_series: list[dict[str, Any]]
    database: dict[str, Any]
    gateway_log: dict[str, Any]
    traffic: dict[str, Any]
    growing_state: list[str]
    passed: bool
    reasons: list[str]


async def _database_counts(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        orders = await conn.fetch(
            "SELECT operation, status, count(*) AS n FROM orders GROUP BY 1, 2 ORDER BY 1, 2"
        )
        inbox = await conn.fetch(
            "SELECT partner_id, status, count(*) AS n FROM inbox GROUP BY 1, 2 ORDER BY 1, 2"
        )
        events = await conn.fetchval("SELECT count(*) FROM order_events")
        dead = await conn.fetchval("SELECT count(*) FROM dead_letters")
        ratings = await conn.fetchval("SELECT count(*) FROM ratings")
        complaints = await conn.fetchval("SELECT count(*) FROM complaints")
    finally:
        await conn.close()
    by_status: Counter[str] = Counter()
    for row in orders:
        by_status[row["status"]] += int(row["n"])
    inbox_by_status: Counter[str] = Counter()
    for row in inbox:
        inbox_by_status[row["status"]] += int(row["n"])
    return {
        "orders_created": sum(by_status.values()),
        "orders_by_status": dict(sorted(by_status.items())),
        "orders_by_operation_status": {
            f"{row['operation']} {row['status']}": int(row["n"]) for row in orders
        },
        "webhooks_by_status": dict(sorted(inbox_by_status.items())),
        "webhooks_by_partner_status": {
            f"{row['partner_id']} {row['status']}": int(row["n"]) for row in inbox
        },
        "webhooks_applied": inbox_by_status.get("applied", 0),
        "order_events": int(events),
        "dead_letters": int(dead),
        "ratings": int(ratings),
        "complaints": int(complaints),
    }


async def _drive(
    gateway: Gateway,
    clients: dict[str, ClientCredentials],
    partners: list[str],
    args: argparse.Namespace,
    sampler: MemorySampler,
) -> tuple[Traffic, ScheduleResult, ScheduleResult | None]:
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them, so
    # that no request is sent on a connection the server is closing at that moment.
    limits = httpx.Limits(
        max_connections=args.max_in_flight,
        max_keepalive_connections=args.max_in_flight,
        keepalive_expiry=KEEPALIVE_EXPIRY_S,
    )
    async with httpx.AsyncClient(
        base_url=gateway.base_url, limits=limits, timeout=httpx.Timeout(args.timeout)
    ) as http:
        stats = RouteStats()
        traffic = Traffic(
            http=http,
            app=TokenSource(http, clients["app"], stats=stats),
            manager=TokenSource(http, clients["manager"], stats=stats),
            finance=TokenSource(http, clients["finance"], stats=stats),
            stats=stats,
            partners=partners,
            month=datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m"),
        )
        forget = asyncio.ensure_future(_forget_sandbox_records(traffic, FORGET_INTERVAL_S))
        try:
            return await _measure(traffic, args, sampler)
        finally:
            forget.cancel()


async def _measure(
    traffic: Traffic, args: argparse.Namespace, sampler: MemorySampler
) -> tuple[Traffic, ScheduleResult, ScheduleResult | None]:
    """Warm up (figures discarded), then the measured run; the traffic and both schedules."""
    stats = traffic.stats
    warm: ScheduleResult | None = None
    if args.warmup_seconds > 0:
        _log(f"warm-up: {args.warmup_seconds:g} s at {args.rate:g}/s (not in the figures)")
        warm = await run_open_loop(
            args.rate,
            args.warmup_seconds,
            traffic.fire,
            drain_timeout_s=args.timeout + 5,
            max_in_flight=args.max_in_flight,
        )
        warm_stats = traffic.stats
        traffic.stats = stats = RouteStats()
        traffic.app._stats = traffic.manager._stats = traffic.finance._stats = stats
        if warm_stats.server_errors():
            _log(f"warm-up had server errors: {dict(warm_stats.errors)}")
            stats.errors.update(
                {(r, f"{k} (warm-up)"): n for (r, k), n in warm_stats.errors.items()}
            )
    sampler.phase = "run"
    sampler.sample()
    duration = args.minutes * 60
    _log(f"soak: {duration:g} s at {args.rate:g}/s, open loop")
    progress = asyncio.ensure_future(_progress(traffic, sampler, duration))
    try:
        result = await run_open_loop(
            args.rate,
            duration,
            traffic.fire,
            drain_timeout_s=args.timeout + 5,
            max_in_flight=args.max_in_flight,
        )
    finally:
        progress.cancel()
    # Let the webhooks of the last orders land.
    await asyncio.sleep(args.settle_seconds)
    return traffic, result, warm


async def _forget_sandbox_records(traffic: Traffic, interval_s: float) -> None:
    """Keep the sandboxes' bounded request/webhook records near empty in both workers, so
    that their filling up (500 records per partner and process) is not read as growth."""
    while True:
        await asyncio.sleep(interval_s)
        for partner in traffic.partners:
            for _ in range(FORGET_CALLS):  # new connections: a random worker each
                await send(traffic.http, sandbox_forget(partner), traffic.stats)


async def _progress(traffic: Traffic, sampler: MemorySampler, duration: float) -> None:
    started = time.monotonic()
    while True:
        await asyncio.sleep(60)
        last = sampler.samples[-1] if sampler.samples else None
        _log(
            f"{time.monotonic() - started:5.0f}/{duration:.0f} s: {traffic.stats.total:,} calls, "
            f"{traffic.stats.server_errors()} server errors, {len(traffic.orders):,} orders, "
            f"RSS {last.total_mib if last else 0:.0f} MiB"
        )


def run(args: argparse.Namespace) -> Outcome:
    """Stage, start the gateway, warm up, soak, sample memory, count; the outcome."""
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    with staged() as stage:
        env = soak_env(stage, out_dir / "pycache")
        with running_gateway(env, args.workers, out_dir / "gateway.log") as gateway:
            clients = {
                "app": create_client(env, "soak OEM app", "services:write orders:read"),
                "manager": create_client(env, "soak manager", "scorecards:read"),
                "finance": create_client(env, "soak finance", "settlements:read"),
            }
            partners = sorted(p.stem for p in stage.partners_dir.glob("*.yaml"))
            restarts_before = len(worker_restarts(gateway.log_path))
            sampler = MemorySampler(gateway.pid, interval_s=args.sample_seconds)
            sampler.start()
            try:
                traffic, result, warm = asyncio.run(
                    _drive(gateway, clients, partners, args, sampler)
                )
            finally:
                sampler.stop()
            database = asyncio.run(_database_counts(stage.dsn))
            log = gateway_log_summary(gateway.log_path, restarts_before)
    return _outcome(args, traffic, result, warm, sampler, database, log)


def gateway_log_summary(log_path: Path, restarts_before: int) -> dict[str, Any]:
    """Worker replacements before and during the traffic, and error-level events by name."""
    restarts = worker_restarts(log_path)
    errors: Counter[str] = Counter()
    with contextlib.suppress(OSError), log_path.open("rb") as lines:
        for line in lines:
            if b'"level":"error"' not in line and b'"level":"critical"' not in line:
                continue
            try:
                errors[str(json.loads(line).get("event"))] += 1
            except ValueError:
                errors[line[:120].decode("utf-8", "replace")] += 1
    return {
        "worker_restarts_at_start": restarts_before,
        "worker_restarts_during_traffic": len(restarts) - restarts_before,
        "error_events": dict(errors.most_common()),
    }


def _outcome(
    args: argparse.Namespace,
    traffic: Traffic,
    result: ScheduleResult,
    warm: ScheduleResult | None,
    sampler: MemorySampler,
    database: dict[str, Any],
    log: dict[str, Any],
) -> Outcome:
    stats = traffic.stats
    verdict = memory_verdict(
        sampler.samples,
        args.rss_growth_limit_mib,
        [t - sampler.t0 for t in traffic.partner_orders_at],
    )
    server_errors = stats.server_errors()
    reasons = []
    if server_errors:
        reasons.append(f"{server_errors} 5xx answers, connection errors or timeouts")
    if result.shed:
        reasons.append(
            f"{result.shed} arrivals shed: {result.peak_in_flight} requests were in flight "
            "(the gateway did not keep up with the rate)"
        )
    if log["worker_restarts_during_traffic"]:
        reasons.append(
            f"{log['worker_restarts_during_traffic']} worker process(es) replaced by uvicorn's "
            "supervisor during the traffic"
        )
    if not verdict.ok:
        reasons.append(
            f"RSS grew {verdict.second_half_growth_mib:.1f} MiB over the second half "
            f"(limit {verdict.limit_mib:g} MiB + {verdict.sandbox_allowance_mib:.1f} MiB "
            "for the sandbox partners' orders)"
        )
    schedule = asdict(result) | {
        "scheduled_rate": round(result.scheduled_rate, 2),
        "achieved_rate": round(result.achieved_rate, 2),
    }
    return Outcome(
        args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        schedule=schedule,
        warmup=asdict(warm) if warm else {},
        routes=[asdict(s) for s in stats.summary()],
        errors=[
            {"route": route, "kind": kind, "count": n}
            for (route, kind), n in sorted(stats.errors.items())
        ],
        server_errors=server_errors,
        memory=asdict(verdict) | {"ok": verdict.ok},
        memory_series=[asdict(s) for s in sampler.samples],
        database=database,
        gateway_log=log,
        traffic={
            "arrivals_by_kind": dict(traffic.kinds),
            "orders_placed": len(traffic.orders),
            "orders_last_read_status": dict(Counter(o.status for o in traffic.orders.values())),
            "emit_retries_other_worker": traffic.emit_misses,
            "emit_failures": traffic.emit_failures,
            "unexpected": traffic.unexpected[:20],
        },
        growing_state=list(GROWING_STATE),
        passed=not reasons,
        reasons=reasons,
    )


# -- the report ------------------------------------------------------------------------


def render(outcome: Outcome) -> str:
    """The report as Markdown."""
    s, m, db = outcome.schedule, outcome.memory, outcome.database
    lines = [
        "# Soak report",
        "",
        f"**{'PASS' if outcome.passed else 'FAIL'}**"
        + (": " + "; ".join(outcome.reasons) if outcome.reasons else ""),
        "",
        f"`pgw serve --workers {outcome.args['workers']}` on PostgreSQL + Redis, sandboxes on; "
        f"{outcome.args['minutes']:g} min at {outcome.args['rate']:g} req/s open loop after "
        f"{outcome.args['warmup_seconds']:g} s of warm-up.",
        "",
        "## Rate",
        "",
        f"- scheduled {s['scheduled']:,} arrivals ({s['scheduled_rate']:.2f}/s), started "
        f"{s['started']:,} ({s['achieved_rate']:.2f}/s); start lag p99 {s['p99_lag_ms']:.1f} ms, "
        f"max {s['max_lag_ms']:.1f} ms; peak in flight {s['peak_in_flight']}, shed "
        f"{s['shed']:,}; "
        f"last answer {s['elapsed_s']:.1f} s after the first arrival",
        "",
        "## Requests by route",
        "",
        "Latency from each request's scheduled time (open loop: waiting for a free slot "
        "counts), and from the moment it was sent (leaves out any lateness of the client).",
        "",
        "| route | count | statuses | p50 ms | p99 ms | max ms | sent→answer p50 | p99 |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in outcome.routes:
        statuses = ", ".join(f"{k}: {v:,}" for k, v in r["statuses"].items())
        lines.append(
            f"| `{r['route']}` | {r['count']:,} | {statuses} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['service_p50_ms']:.1f} | "
            f"{r['service_p99_ms']:.1f} |"
        )
    lines += ["", "## Errors by kind", ""]
    if outcome.errors:
        lines += ["| route | kind | count |", "|---|---|---:|"]
        lines += [f"| `{e['route']}` | {e['kind']} | {e['count']:,} |" for e in outcome.errors]
    else:
        lines.append("none")
    t = outcome.traffic
    lines += [
        "",
        f"5xx, connection errors and timeouts: {outcome.server_errors}. Sandbox emits retried "
        f"on a new connection because the other worker held the order: "
        f"{t['emit_retries_other_worker']:,}; emits not answered 200: {t['emit_failures']}.",
    ]
    g = outcome.gateway_log
    lines += [
        "",
        f"Gateway log: worker processes replaced by uvicorn's supervisor (a worker that misses "
        f"its 5 s health check) before the traffic {g['worker_restarts_at_start']}, during it "
        f"{g['worker_restarts_during_traffic']}; error-level events: "
        f"{g['error_events'] or 'none'}.",
    ]
    if t["unexpected"]:
        lines += ["", "Unexpected answers:", *[f"- {u}" for u in t["unexpected"]]]
    lines += [
        "",
        "## Orders and webhooks (PostgreSQL at the end)",
        "",
        f"- orders created: {db['orders_created']:,}; final statuses: {db['orders_by_status']}",
        f"- by operation and status: {db['orders_by_operation_status']}",
        f"- webhooks stored: {db['webhooks_by_status']} (applied {db['webhooks_applied']:,}); "
        f"order events {db['order_events']:,}; dead letters {db['dead_letters']:,}",
        f"- webhooks by partner: {db['webhooks_by_partner_status']}",
        f"- ratings {db['ratings']:,}, complaints {db['complaints']:,}",
        f"- arrivals by kind: {t['arrivals_by_kind']}",
        "",
        "## Memory (RSS, psutil; master + workers)",
        "",
        f"- start (after warm-up) {m['start_mib']:.1f} MiB, end {m['end_mib']:.1f} MiB, "
        f"peak {m['peak_mib']:.1f} MiB",
        f"- slope: first half {m['first_half_slope_mib_per_min']:+.3f} MiB/min, second half "
        f"{m['second_half_slope_mib_per_min']:+.3f} MiB/min = "
        f"{m['second_half_growth_mib']:+.1f} MiB over the second half; limit "
        f"{m['limit_mib']:g} MiB + {m['sandbox_allowance_mib']:.1f} MiB for the "
        f"{m['sandbox_orders_second_half']:,} orders the sandbox partners took and keep "
        f"(~{SANDBOX_BYTES_PER_ORDER:,} bytes each): {'ok' if m['ok'] else 'EXCEEDED'}",
        "",
        "| process | start MiB | end MiB | peak MiB | 2nd-half slope MiB/min |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, p in m["per_process"].items():
        lines.append(
            f"| {name} | {p['start']:.1f} | {p['end']:.1f} | {p['peak']:.1f} | "
            f"{p['second_half_slope_mib_per_min']:+.3f} |"
        )
    lines += [
        "",
        f"Gateway CPU over the measured run: {m['cpu_percent']:.0f} % of one core "
        f"({os.cpu_count()} cores on the machine; load1 is the machine's 1-minute load "
        "average, which includes anything else running).",
        "",
        "Series (every sample; t from the gateway being ready; MiB per process in the "
        "order of the table; CPU since the previous sample):",
        "",
        "```",
    ]
    previous: dict[str, Any] | None = None
    for sample in outcome.memory_series:
        per = " ".join(f"{v:.0f}" for v in sample["per_process_mib"].values())
        cpu = ""
        if previous is not None and sample["t_s"] > previous["t_s"]:
            share = (sample["cpu_s"] - previous["cpu_s"]) / (sample["t_s"] - previous["t_s"])
            cpu = f"  cpu {100 * share:4.0f} %"
        lines.append(
            f"t={sample['t_s']:7.1f}s {sample['phase']:8} total {sample['total_mib']:7.1f} MiB"
            f"  [{per}]{cpu}  load1 {sample['load1']:.1f}"
        )
        previous = sample
    lines += ["```", "", "In-process state that grows by design:", ""]
    lines += [f"- {item}" for item in outcome.growing_state]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="measured duration (default 10)"
    )
    parser.add_argument(
        "--rate", type=float, default=40.0, help="requests per second in total (default 40)"
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=None,
        help="warm-up at the same rate, not measured (default min(60, 10 %% of the run))",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="gateway worker processes (default 2)"
    )
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="RSS sampling interval")
    parser.add_argument(
        "--rss-growth-limit-mib",
        type=float,
        default=16.0,
        help="largest summed RSS growth over the second half, on top of what the sandbox "
        "partners keep per order (default 16 MiB)",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=200,
        help="arrivals due while this many requests are in flight are shed and counted",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    parser.add_argument("--settle-seconds", type=float, default=3.0,
                        help="pause after the last answer for in-flight webhooks")  # fmt: skip
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report directory")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.workers < 1:
        parser.error("--minutes and --rate must be positive, --workers at least 1")
    if args.warmup_seconds is None:
        args.warmup_seconds = min(60.0, args.minutes * 6)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak, print and write the report; 1 when it failed."""
    args = parse_args(argv)
    outcome = run(args)
    report = render(outcome)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(report, "utf-8")
    (args.out / "report.json").write_text(
        json.dumps(asdict(outcome), indent=2, ensure_ascii=False), "utf-8"
    )
    print(report)
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
