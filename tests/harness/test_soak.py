"""The soak's parts: the steady-rate scheduler, the statistics, tokens, the memory trend,
and one very short real run against `pgw serve --workers 2`."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

# harness/ and bench/ live at the repository root and are not installed packages.
if str(Path(__file__).resolve().parents[2]) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from contracts import Operation
from harness.soak import (
    MIX,
    MemorySample,
    _weighted_cycle,
    main,
    memory_verdict,
    slope_mib_per_min,
)
from harness.traffic import (
    ClientCredentials,
    RouteStats,
    TokenSource,
    Unanswered,
    arrival_times,
    error_kind,
    order_read,
    run_open_loop,
    send,
    service_request,
)

# -- scheduler ---------------------------------------------------------------------------


def test_arrivals_are_evenly_spaced_at_the_rate() -> None:
    offsets = arrival_times(10, 1.0)
    assert offsets == pytest.approx([i / 10 for i in range(10)])
    assert len(arrival_times(50, 60)) == 3000
    assert arrival_times(0, 10) == [] and arrival_times(10, 0) == []


async def test_open_loop_does_not_wait_for_slow_answers() -> None:
    started: list[float] = []

    async def slow(_index: int, scheduled_at: float) -> None:
        started.append(scheduled_at)
        await asyncio.sleep(0.25)

    t0 = time.perf_counter()
    result = await run_open_loop(100, 0.3, slow)
    elapsed = time.perf_counter() - t0
    # Closed loop with one connection would need 30 x 0.25 s; open loop keeps the schedule.
    assert result.scheduled == result.started == 30
    assert elapsed < 1.5
    assert result.peak_in_flight >= 20
    assert result.achieved_rate == pytest.approx(100, rel=0.15)
    assert result.scheduled_rate == pytest.approx(100)
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert all(gap == pytest.approx(0.01, abs=1e-6) for gap in gaps)


async def test_open_loop_cancels_what_outlives_the_drain_and_reraises_failures() -> None:
    cancelled: list[int] = []

    async def hangs(index: int, _scheduled_at: float) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(index)
            raise

    result = await run_open_loop(20, 0.1, hangs, drain_timeout_s=0.1)
    assert result.started == 2 and sorted(cancelled) == [0, 1]

    async def fails(_index: int, _scheduled_at: float) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await run_open_loop(20, 0.1, fails)


async def test_open_loop_sheds_arrivals_beyond_the_in_flight_cap() -> None:
    async def slow(_index: int, _scheduled_at: float) -> None:
        await asyncio.sleep(0.5)

    result = await run_open_loop(100, 0.1, slow, max_in_flight=3)
    assert (result.scheduled, result.started, result.shed) == (10, 3, 7)
    assert result.peak_in_flight == 3


def test_the_mix_keeps_its_shares() -> None:
    cycle = _weighted_cycle(MIX)
    counts = Counter(next(cycle) for _ in range(sum(MIX.values()) * 10))
    assert counts == Counter({kind: weight * 10 for kind, weight in MIX.items()})
    # Evenly spread: every window of 100 arrivals holds each kind's share, give or take one.
    first = [next(cycle) for _ in range(100)]
    assert all(abs(first.count(kind) - weight) <= 1 for kind, weight in MIX.items())


# -- statistics --------------------------------------------------------------------------


def _answer(status: int, body: object | None = None) -> httpx.Response:
    request = httpx.Request("GET", "http://gw/x")
    if body is None:
        return httpx.Response(status, request=request)
    return httpx.Response(status, json=body, request=request)


def test_error_kinds_name_status_and_problem_type() -> None:
    problem = {"type": "https://errors.example/problems/already-rated", "status": 409}
    assert error_kind(_answer(200)) is None
    assert error_kind(_answer(409, problem)) == f"409 {problem['type']}"
    assert error_kind(_answer(500, {"detail": "x"})) == "500"
    assert error_kind(_answer(401, {"error": "invalid_client"})) == "401 invalid_client"
    assert error_kind(None, httpx.ReadTimeout("slow")) == "timeout: ReadTimeout"
    assert error_kind(None, httpx.ConnectError("refused")) == "connection: ConnectError"
    assert error_kind(None, httpx.RemoteProtocolError("eof")) == "connection: RemoteProtocolError"
    assert error_kind(None, Unanswered()) == "timeout: Unanswered"


def test_route_stats_percentiles_and_server_errors() -> None:
    stats = RouteStats()
    for ms in range(1, 101):
        stats.record("GET /a", ms / 1000, _answer(200))
    stats.record("GET /b", 0.5, _answer(404, {"type": "t/not-found"}))
    assert stats.server_errors() == 0
    stats.record("GET /b", 0.5, _answer(503, {"type": "t/unavailable"}))
    stats.record("GET /b", 2.0, None, httpx.ConnectError("refused"))
    (a, b) = stats.summary()
    assert (a.route, a.count, a.p50_ms, a.p99_ms, a.max_ms) == ("GET /a", 100, 50, 99, 100)
    assert a.statuses == {"200": 100}
    assert b.statuses == {"404": 1, "503": 1, "no answer": 1}
    assert stats.server_errors() == 2
    assert stats.errors[("GET /b", "404 t/not-found")] == 1
    assert stats.total == 103


async def test_send_charges_the_wait_since_the_scheduled_time() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer tok"
        return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[-1]})

    stats = RouteStats()
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://gw"
    ) as http:
        response = await send(
            http, order_read("tok", "ord_1"), stats, scheduled_at=time.perf_counter() - 0.2
        )
    assert response is not None and response.json() == {"id": "ord_1"}
    assert stats.latencies["GET /v1/orders/{id}"][0] >= 0.2


def test_service_requests_carry_the_published_example_and_a_fresh_key() -> None:
    one = service_request("tok", Operation.COURTESY_CAR_BOOK)
    two = service_request("tok", Operation.COURTESY_CAR_BOOK)
    assert one.route == "POST /v1/service-requests courtesy_car.book"
    assert one.body == two.body and one.body is not None
    assert json.loads(one.body)["operation"] == "courtesy_car.book"
    assert one.headers["idempotency-key"] != two.headers["idempotency-key"]


async def test_token_source_reuses_then_refreshes_before_expiry() -> None:
    issued: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        issued.append(f"t{len(issued)}")
        return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 900})

    now = [0.0]
    stats = RouteStats()
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://gw"
    ) as http:
        source = TokenSource(
            http,
            ClientCredentials("id", "secret", "orders:read"),
            stats=stats,
            clock=lambda: now[0],
        )
        assert await asyncio.gather(*(source.token() for _ in range(5))) == ["t0"] * 5
        now[0] = 800.0
        assert await source.token() == "t0"
        now[0] = 841.0  # less than a minute left
        assert await source.token() == "t1"
    assert source.fetched == 2 and stats.statuses["POST /oauth/token"] == {"200": 2}


# -- memory trend ------------------------------------------------------------------------


def test_slope_is_in_mib_per_minute() -> None:
    assert slope_mib_per_min([(0, 100), (60, 101), (120, 102)]) == pytest.approx(1.0)
    assert slope_mib_per_min([(0, 100)]) == 0.0


def _sample(t: float, total: float, phase: str = "run") -> MemorySample:
    return MemorySample(t, phase, total, {"master 1": 50.0, "worker 2": total - 50})


def test_memory_verdict_separates_warm_up_from_a_steady_leak() -> None:
    warm_then_flat = [_sample(0, 300, "warm-up")] + [
        _sample(t, 400 + (20 if t < 100 else 25)) for t in range(10, 610, 10)
    ]
    verdict = memory_verdict(warm_then_flat, limit_mib=10)
    assert verdict.ok and verdict.start_mib == 420 and verdict.peak_mib == 425
    assert abs(verdict.second_half_slope_mib_per_min) < 0.01
    leaking = [_sample(t, 400 + t / 10) for t in range(0, 610, 10)]  # 6 MiB a minute
    verdict = memory_verdict(leaking, limit_mib=10)
    assert verdict.second_half_slope_mib_per_min == pytest.approx(6.0)
    assert verdict.second_half_growth_mib == pytest.approx(30.0)
    assert not verdict.ok
    assert verdict.per_process["worker 2"]["second_half_slope_mib_per_min"] == pytest.approx(6.0)
    # What the sandbox partners keep per order is allowed on top of the limit.
    orders_at = [300 + i * 0.025 for i in range(12_000)]  # 12,000 orders in the second half
    verdict = memory_verdict(leaking, limit_mib=10, partner_orders_at=orders_at)
    assert verdict.sandbox_orders_second_half == 12_000
    assert verdict.sandbox_allowance_mib == pytest.approx(12_000 * 2_600 / 2**20, abs=0.01)
    assert verdict.ok


# -- one very short real run -------------------------------------------------------------


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or default_port), 2):
            return True
    except OSError:
        return False


@pytest.mark.skipif(
    not (
        _reachable(os.environ.get("PGW_SOAK_POSTGRES_URL", "postgresql://127.0.0.1:5432"), 5432)
        and _reachable(os.environ.get("PGW_SOAK_REDIS_URL", "redis://127.0.0.1:6379"), 6379)
    ),
    reason="the short soak needs PostgreSQL and Redis",
)
def test_a_short_soak_covers_every_route_without_server_errors(tmp_path: Path) -> None:
    code = main(
        ["--minutes", "0.25", "--rate", "8", "--warmup-seconds", "6", "--sample-seconds", "5",
         "--settle-seconds", "1", "--out", str(tmp_path)]
    )  # fmt: skip
    report = json.loads((tmp_path / "report.json").read_text())
    assert (tmp_path / "report.md").read_text().startswith("# Soak report")
    routes = {r["route"] for r in report["routes"]}
    expected = {
        "GET /v1/orders/{id}",
        "GET /v1/scorecards",
        "GET /v1/partners/{id}/scorecard",
        "GET /v1/partners/{id}/settlements/{month}",
        "POST /v1/orders/{id}/rating",
        "POST /sandbox/{partner}/_orders/{ref}/emit/{kind}",
        *(
            f"POST /v1/service-requests {op.value}"
            for op in Operation
            if op.value != "charging.stop"
        ),
    }
    assert expected <= routes, expected - routes
    assert report["server_errors"] == 0, report["errors"]
    assert not any(e["kind"].startswith("5") for e in report["errors"])
    assert report["database"]["orders_created"] > 0
    assert report["database"]["webhooks_applied"] > 0
    assert report["schedule"]["started"] == report["schedule"]["scheduled"] == 120
    assert len(report["memory_series"]) >= 3
    assert code == (0 if report["passed"] else 1)
