"""Reusable traffic for harness runs against a live gateway.

Four parts, each usable alone:

- credentials and tokens: `create_client` (`pgw clients create ... --json` in the
  gateway's environment) and `TokenSource` (client credentials at `/oauth/token`,
  refreshed a minute before expiry, shared by concurrent callers);
- request builders, one per traffic kind, each returning a `Call` (route label,
  method, path, headers, body): `service_request` (the published
  `contracts.EXAMPLE_REQUESTS`, one operation each), `order_read`, `rating`,
  `complaint`, `scorecards`, `partner_scorecard`, `settlement`, `sandbox_emit`
  (a sandbox partner sends one webhook back through the real intake) and
  `sandbox_forget` (a sandbox empties its records of calls and webhooks);
- `run_open_loop`: a steady-rate scheduler. Arrival `i` is due at `i / rate`
  seconds whatever happened to earlier ones (open loop), so a slow answer does
  not delay the next request and latency is not hidden by coordinated omission;
  an optional in-flight cap sheds (and counts) arrivals instead of queueing them;
- `RouteStats` and `send`: per-route counts, p50/p99 measured from each call's
  scheduled time, and errors by kind (status + problem type, connection error,
  timeout).

Nothing here starts servers (`create_client` runs `pgw` on the gateway's database);
see `harness.soak` for a whole run.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import orjson

from bench.bench_webhooks import _pgw
from bench.loadgen import percentile
from contracts import EXAMPLE_REQUESTS, Operation

__all__ = [
    "Call",
    "ClientCredentials",
    "RouteStats",
    "RouteSummary",
    "ScheduleResult",
    "TokenSource",
    "Unanswered",
    "arrival_times",
    "complaint",
    "create_client",
    "error_kind",
    "order_read",
    "partner_scorecard",
    "rating",
    "run_open_loop",
    "sandbox_emit",
    "sandbox_forget",
    "scorecards",
    "send",
    "service_request",
    "settlement",
]

TOKEN_REFRESH_MARGIN_S: Final = 60.0
"""A token is fetched again when it has less than this left."""

SERVICE_REQUEST_ROUTE: Final = "POST /v1/service-requests"


# -- credentials and tokens -----------------------------------------------------------


@dataclass(frozen=True)
class ClientCredentials:
    """An OAuth client of the gateway (OEM app, manager's or finance tool)."""

    client_id: str
    client_secret: str
    scopes: str


def create_client(env: Mapping[str, str], name: str, scopes: str) -> ClientCredentials:
    """`pgw clients create NAME --scopes SCOPES --json` with `env` as the environment."""
    done = subprocess.run(
        [_pgw(), "clients", "create", name, "--scopes", scopes, "--json"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"pgw clients create {name!r} failed: {done.stderr[-2000:]}")
    issued = json.loads(lines[-1])
    return ClientCredentials(issued["client_id"], issued["client_secret"], scopes)


class TokenSource:
    """Access tokens of one client, fetched at `/oauth/token` and reused until near expiry.

    `token()` is safe to call from many tasks: one fetch at a time. Each fetch is
    recorded in `stats` (route `POST /oauth/token`) when stats are given; the
    attribute may be replaced between phases of a run.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        credentials: ClientCredentials,
        *,
        stats: RouteStats | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self.stats = stats
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetched = 0

    async def token(self) -> str:
        """A valid access token (fetching a new one when the current one is near expiry)."""
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at - TOKEN_REFRESH_MARGIN_S:
                self._token, lifetime = await self._fetch()
                self._expires_at = self._clock() + lifetime
            return self._token

    async def _fetch(self) -> tuple[str, float]:
        started = time.perf_counter()
        creds = self._credentials
        try:
            response = await self._http.post(
                "/oauth/token",
                auth=(creds.client_id, creds.client_secret),
                data={"grant_type": "client_credentials", "scope": creds.scopes},
            )
        except httpx.HTTPError as exc:
            if self.stats is not None:
                self.stats.record("POST /oauth/token", time.perf_counter() - started, None, exc)
            raise
        if self.stats is not None:
            self.stats.record("POST /oauth/token", time.perf_counter() - started, response)
        response.raise_for_status()
        answer = response.json()
        self.fetched += 1
        return str(answer["access_token"]), float(answer.get("expires_in", 900))


# -- request builders -----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request to send: `route` labels it in the statistics (a path template)."""

    route: str
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _json_post(token: str, idempotency_key: str | None = None) -> dict[str, str]:
    return {
        **_bearer(token),
        "content-type": "application/json",
        "idempotency-key": idempotency_key or str(uuid.uuid4()),
    }


_EXAMPLE_BODIES: Final = {
    op: orjson.dumps(req.model_dump(mode="json", exclude_none=True))
    for op, req in EXAMPLE_REQUESTS.items()
}


def service_request(
    token: str, operation: Operation, *, idempotency_key: str | None = None
) -> Call:
    """`POST /v1/service-requests` with the published example of `operation`, own key."""
    return Call(
        f"{SERVICE_REQUEST_ROUTE} {operation.value}",
        "POST",
        "/v1/service-requests",
        _json_post(token, idempotency_key),
        _EXAMPLE_BODIES[operation],
    )


def order_read(token: str, order_id: str) -> Call:
    """`GET /v1/orders/{id}`."""
    return Call("GET /v1/orders/{id}", "GET", f"/v1/orders/{order_id}", _bearer(token))


def rating(token: str, order_id: str, stars: int, comment: str | None = None) -> Call:
    """`POST /v1/orders/{id}/rating` (1 to 5 stars, once per order)."""
    body: dict[str, Any] = {"stars": stars}
    if comment:
        body["comment"] = comment
    return Call(
        "POST /v1/orders/{id}/rating",
        "POST",
        f"/v1/orders/{order_id}/rating",
        _json_post(token),
        orjson.dumps(body),
    )


def complaint(token: str, order_id: str, category: str = "late", text: str = "Late.") -> Call:
    """`POST /v1/orders/{id}/complaints`."""
    body = {"category": category, "text": text}
    return Call(
        "POST /v1/orders/{id}/complaints",
        "POST",
        f"/v1/orders/{order_id}/complaints",
        _json_post(token),
        orjson.dumps(body),
    )


def scorecards(token: str, month: str) -> Call:
    """`GET /v1/scorecards?month=YYYY-MM` (every partner's scorecard of the month)."""
    return Call("GET /v1/scorecards", "GET", f"/v1/scorecards?month={month}", _bearer(token))


def partner_scorecard(token: str, partner_id: str, months: int = 3) -> Call:
    """`GET /v1/partners/{id}/scorecard` (one partner's trend)."""
    return Call(
        "GET /v1/partners/{id}/scorecard",
        "GET",
        f"/v1/partners/{partner_id}/scorecard?months={months}",
        _bearer(token),
    )


def settlement(token: str, partner_id: str, month: str) -> Call:
    """`GET /v1/partners/{id}/settlements/{month}` (the partner's statement, draft if open)."""
    return Call(
        "GET /v1/partners/{id}/settlements/{month}",
        "GET",
        f"/v1/partners/{partner_id}/settlements/{month}",
        _bearer(token),
    )


def sandbox_emit(partner_id: str, reference: str, kind: str) -> Call:
    """`POST /sandbox/{partner}/_orders/{ref}/emit/{kind}`: the sandbox partner sends one
    webhook now and answers with the gateway's answer to it.

    With several worker processes each one holds its own sandboxes, so the order may
    be held by another process (404); the call asks for a new connection each time
    (`connection: close`) so that a retry can reach the other process.
    """
    return Call(
        "POST /sandbox/{partner}/_orders/{ref}/emit/{kind}",
        "POST",
        f"/sandbox/{partner_id}/_orders/{reference}/emit/{kind}",
        {"connection": "close"},
    )


def sandbox_forget(partner_id: str) -> Call:
    """`DELETE /sandbox/{partner}/_received`: the sandbox forgets its records of received
    requests and sent webhooks (bounded buffers of 500 each, per worker process)."""
    return Call(
        "DELETE /sandbox/{partner}/_received",
        "DELETE",
        f"/sandbox/{partner_id}/_received",
        {"connection": "close"},
    )


# -- statistics -----------------------------------------------------------------------


class Unanswered(TimeoutError):
    """A call still in flight when the run stopped waiting for it (cancelled)."""


def error_kind(response: httpx.Response | None, exc: BaseException | None = None) -> str | None:
    """How a call failed, or None for a 2xx/3xx answer.

    `timeout: ReadTimeout`, `connection: ConnectError`, `http: RemoteProtocolError`, or
    `STATUS TYPE` with the problem document's `type` (`code`/`error` when there is none).
    """
    if exc is not None:
        if isinstance(exc, httpx.TimeoutException | TimeoutError):
            return f"timeout: {type(exc).__name__}"
        if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError):
            return f"connection: {type(exc).__name__}"
        return f"error: {type(exc).__name__}"
    if response is None or response.status_code < 400:
        return None
    detail = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("type", "code", "error", "errCode"):
            if isinstance(body.get(key), str):
                detail = body[key]
                break
    return f"{response.status_code} {detail}".rstrip()


@dataclass(frozen=True)
class RouteSummary:
    """One route's figures: answers by status, latency percentiles in milliseconds."""

    route: str
    count: int
    statuses: dict[str, int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    service_p50_ms: float = 0.0
    service_p99_ms: float = 0.0


@dataclass
class RouteStats:
    """Latencies and outcomes per route, and errors by (route, kind)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    service: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)

    def record(
        self,
        route: str,
        latency_s: float,
        response: httpx.Response | None,
        exc: BaseException | None = None,
        *,
        service_s: float | None = None,
    ) -> str | None:
        """Count one call; its error kind (None when it succeeded).

        `latency_s` runs from the call's scheduled time; `service_s` (default: the same)
        from the moment it was sent, which leaves out any lateness of the client.
        """
        self.latencies[route].append(latency_s)
        self.service[route].append(latency_s if service_s is None else service_s)
        kind = error_kind(response, exc)
        status = str(response.status_code) if response is not None else "no answer"
        self.statuses[route][status] += 1
        if kind is not None:
            self.errors[(route, kind)] += 1
        return kind

    @property
    def total(self) -> int:
        """Calls recorded over every route."""
        return sum(len(v) for v in self.latencies.values())

    def summary(self) -> list[RouteSummary]:
        """One summary per route, by route label."""
        out = []
        for route in sorted(self.latencies):
            values = sorted(self.latencies[route])
            service = sorted(self.service[route])
            out.append(
                RouteSummary(
                    route=route,
                    count=len(values),
                    statuses=dict(sorted(self.statuses[route].items())),
                    p50_ms=round(percentile(values, 50) * 1000, 2),
                    p99_ms=round(percentile(values, 99) * 1000, 2),
                    max_ms=round(values[-1] * 1000, 2) if values else 0.0,
                    service_p50_ms=round(percentile(service, 50) * 1000, 2),
                    service_p99_ms=round(percentile(service, 99) * 1000, 2),
                )
            )
        return out

    def server_errors(self) -> int:
        """5xx answers, connection errors and timeouts: what fails a run."""
        return sum(
            n
            for (_route, kind), n in self.errors.items()
            if kind[:1] == "5" or kind.startswith(("connection:", "timeout:", "error:", "http:"))
        )


async def send(
    http: httpx.AsyncClient,
    call: Call,
    stats: RouteStats,
    *,
    scheduled_at: float | None = None,
) -> httpx.Response | None:
    """Send `call` and record it; the response, or None when none came.

    The latency runs from `scheduled_at` (a `time.perf_counter()` value) when given, so
    a call that started late because the client fell behind is charged for the wait.
    """
    sent = time.perf_counter()
    started = sent if scheduled_at is None else scheduled_at
    try:
        response = await http.request(
            call.method, call.path, headers=call.headers, content=call.body
        )
    except httpx.HTTPError as exc:
        now = time.perf_counter()
        stats.record(call.route, now - started, None, exc, service_s=now - sent)
        return None
    except asyncio.CancelledError:
        now = time.perf_counter()
        stats.record(call.route, now - started, None, Unanswered(), service_s=now - sent)
        raise
    now = time.perf_counter()
    stats.record(call.route, now - started, response, service_s=now - sent)
    return response


# -- steady-rate scheduler ------------------------------------------------------------


def arrival_times(rate: float, duration_s: float) -> list[float]:
    """Offsets (seconds from the start) of a steady schedule: `i / rate` below `duration_s`."""
    if rate <= 0 or duration_s <= 0:
        return []
    count = int(round(rate * duration_s, 9))
    return [i / rate for i in range(count) if i / rate < duration_s]


@dataclass(frozen=True)
class ScheduleResult:
    """What the scheduler did: arrivals scheduled and started, how late, how much in flight."""

    scheduled: int
    started: int
    duration_s: float
    span_s: float
    elapsed_s: float
    max_lag_ms: float
    p99_lag_ms: float
    peak_in_flight: int
    shed: int = 0

    @property
    def scheduled_rate(self) -> float:
        """Arrivals per second asked for."""
        return self.scheduled / self.duration_s if self.duration_s else 0.0

    @property
    def achieved_rate(self) -> float:
        """Arrivals per second actually started, over the time they were started in."""
        return self.started / self.span_s if self.span_s else 0.0


async def run_open_loop(
    rate: float,
    duration_s: float,
    fire: Callable[[int, float], Awaitable[None]],
    *,
    drain_timeout_s: float = 60.0,
    max_in_flight: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ScheduleResult:
    """Start `fire(i, scheduled_at)` at each arrival of a steady `rate` for `duration_s`.

    Each arrival is its own task, started when it is due whether or not earlier ones
    have finished; `scheduled_at` is the `clock()` value it was due at (latencies
    should be measured from it). After the last arrival the tasks still in flight get
    `drain_timeout_s` to finish, then are cancelled. Exceptions of `fire` are re-raised
    after the drain.

    With `max_in_flight`, an arrival due while that many are still in flight is not
    started but counted as `shed`: the target is not keeping up, and queueing without
    bound in the client would only measure the client.
    """
    offsets = arrival_times(rate, duration_s)
    tasks: set[asyncio.Task[None]] = set()
    lags: list[float] = []
    peak = 0
    shed = 0
    failures: list[BaseException] = []

    def _done(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            failures.append(task.exception())  # type: ignore[arg-type]

    start = clock()
    last_start = start
    for index, offset in enumerate(offsets):
        due = start + offset
        wait = due - clock()
        if wait > 0:
            await sleep(wait)
        else:
            await sleep(0)  # behind schedule: still let the started calls run
        if max_in_flight is not None and len(tasks) >= max_in_flight:
            shed += 1
            continue
        last_start = clock()
        lags.append(max(0.0, last_start - due))
        task = asyncio.ensure_future(fire(index, due))
        tasks.add(task)
        task.add_done_callback(_done)
        peak = max(peak, len(tasks))
    if tasks:
        _finished, pending = await asyncio.wait(set(tasks), timeout=drain_timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    elapsed = clock() - start
    lags.sort()
    if failures:
        raise failures[0]
    return ScheduleResult(
        scheduled=len(offsets),
        started=len(lags),
        duration_s=duration_s,
        span_s=(last_start - start + 1 / rate) if lags else 0.0,
        elapsed_s=elapsed,
        max_lag_ms=round(lags[-1] * 1000, 2) if lags else 0.0,
        p99_lag_ms=round(percentile(lags, 99) * 1000, 2) if lags else 0.0,
        peak_in_flight=peak,
        shed=shed,
    )
