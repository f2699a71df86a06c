"""The fault harness's sender and accounting logic, without servers."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from harness.common import (
    Attempt,
    Check,
    RequestRecord,
    RetryPolicy,
    ScenarioResult,
    account,
    answers_between,
    backoff_seconds,
    dispatch_retryable,
    rental_events,
    send_with_retries,
    webhook_retryable,
)
from harness.faults import QUICK, parse_args, render_report

_PROBLEM = "/problems/"


def test_webhook_sender_retries_on_errors_5xx_and_429_only() -> None:
    assert webhook_retryable(None)
    assert webhook_retryable(503, _PROBLEM + "service-unavailable")
    assert webhook_retryable(500)
    assert webhook_retryable(429, _PROBLEM + "rate-limited")
    for final in (200, 202, 401, 403, 409, 413, 422):
        assert not webhook_retryable(final)


def test_dispatch_client_retries_in_progress_keys_but_not_a_stored_502() -> None:
    assert dispatch_retryable(409, _PROBLEM + "idempotency-key-in-use")
    assert not dispatch_retryable(409, _PROBLEM + "order-not-cancellable")
    assert not dispatch_retryable(502, _PROBLEM + "partners-unavailable")
    assert dispatch_retryable(502, None)
    assert dispatch_retryable(503, _PROBLEM + "service-unavailable")
    assert not dispatch_retryable(201)
    assert not dispatch_retryable(422, _PROBLEM + "idempotency-key-reused")


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    policy = RetryPolicy(initial_backoff_s=0.5, max_backoff_s=4.0, max_retry_after_s=5.0)
    rng = random.Random(1)
    pauses = [backoff_seconds(n, policy, None, rng) for n in range(1, 8)]
    for number, pause in enumerate(pauses, start=1):
        ceiling = min(4.0, 0.5 * 2 ** (number - 1))
        assert ceiling / 2 <= pause <= ceiling
    assert backoff_seconds(1, policy, "3", rng) == 3.0
    assert backoff_seconds(1, policy, "120", rng) == 5.0  # capped
    assert backoff_seconds(1, policy, "soon", rng) <= 0.5  # unparseable: ignored


def _fake_clock() -> Callable[[], float]:
    now = [0.0]

    def clock() -> float:
        now[0] += 0.01
        return now[0]

    return clock


async def _no_sleep(_seconds: float) -> None:
    return None


async def _send(
    answers: list[httpx.Response | type[Exception]],
    *,
    stream: str = "webhook",
    policy: RetryPolicy | None = None,
) -> tuple[RequestRecord, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.headers))
        answer = queue.pop(0)
        if isinstance(answer, httpx.Response):
            return answer
        raise answer("boom", request=request)

    builds = iter(range(100))

    def build() -> tuple[str, dict[str, str], bytes]:
        return "http://gw/v1/x", {"webhook-timestamp": str(next(builds)), "webhook-id": "m1"}, b"{}"

    record = RequestRecord(stream, "m1")
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        await send_with_retries(
            http,
            record,
            build,
            retryable=webhook_retryable if stream == "webhook" else dispatch_retryable,
            policy=policy or RetryPolicy(),
            clock=_fake_clock(),
            rng=random.Random(0),
            sleep=_no_sleep,
        )
    return record, seen


def _problem(status: int, slug: str, **headers: str) -> httpx.Response:
    body = orjson.dumps({"type": _PROBLEM + slug, "status": status})
    return httpx.Response(status, content=body, headers=headers)


async def test_sender_keeps_the_webhook_id_and_signs_each_attempt_anew() -> None:
    record, seen = await _send(
        [
            httpx.ConnectError,
            _problem(503, "service-unavailable", **{"retry-after": "0"}),
            httpx.Response(200, json={"status": "applied"}),
        ]
    )
    assert record.outcome == "accepted"
    assert [a.answer for a in record.attempts] == [
        "ConnectError",
        "503 /problems/service-unavailable",
        "200",
    ]
    assert record.attempts[1].retry_after == "0"
    assert {h["webhook-id"] for h in seen} == {"m1"}
    assert len({h["webhook-timestamp"] for h in seen}) == 3
    assert record.ok_bodies == [{"status": "applied"}]


async def test_sender_stops_on_a_4xx_and_gives_up_after_its_attempts() -> None:
    refused, _ = await _send([_problem(409, "illegal-transition")])
    assert refused.outcome == "refused"
    assert len(refused.attempts) == 1
    failed, _ = await _send([httpx.ReadTimeout] * 3, policy=RetryPolicy(max_attempts=3))
    assert failed.outcome == "failed"
    assert [a.error for a in failed.attempts] == ["ReadTimeout"] * 3


async def test_dispatch_client_waits_out_a_key_in_use_and_keeps_a_stored_502() -> None:
    record, _ = await _send(
        [
            _problem(409, "idempotency-key-in-use", **{"retry-after": "1"}),
            httpx.Response(201, json={"id": "ord_1"}),
        ],
        stream="dispatch",
    )
    assert record.outcome == "accepted"
    assert record.ok_bodies == [{"id": "ord_1"}]
    refused, _ = await _send([_problem(502, "partners-unavailable")], stream="dispatch")
    assert refused.outcome == "refused"


def _record(stream: str, key: str, *answers: int | str) -> RequestRecord:
    record = RequestRecord(stream, key)
    for index, answer in enumerate(answers):
        if isinstance(answer, int):
            slug = None if answer < 400 else _PROBLEM + ("x" if answer != 503 else "unavailable")
            attempt = Attempt(float(index), float(index) + 0.5, status=answer, problem_type=slug)
        else:
            attempt = Attempt(float(index), float(index) + 0.5, error=answer)
        record.attempts.append(attempt)
    return record


def test_account_puts_every_request_in_exactly_one_column() -> None:
    records = [
        _record("webhook", "a", 200),
        _record("webhook", "b", "ConnectError", 503, 200),
        _record("webhook", "c", 409),
        _record("webhook", "d", 503, 503),
        _record("webhook", "e", "ReadTimeout"),
    ]
    counted = account("webhook", records)
    assert (counted.sent, counted.accepted_first, counted.accepted_retried) == (5, 1, 1)
    assert counted.refused == {"409 /problems/x": 1}
    assert counted.failed == {"503 /problems/unavailable": 1, "ReadTimeout": 1}
    assert counted.attempts == 8
    assert counted.retried_causes == {"ConnectError": 1, "503 /problems/unavailable": 2}
    assert counted.balanced


def test_answers_between_takes_attempts_ended_in_the_window() -> None:
    records = [_record("webhook", "a", 503, 503, 200), _record("dispatch", "b", 201)]
    during = answers_between(records, 0.4, 1.6)
    assert during == {
        ("webhook", "503 /problems/unavailable", False): 2,
        ("dispatch", "201", False): 1,
    }


def test_rental_events_move_one_order_forward_in_sequence() -> None:
    events = rental_events("ord_01jq3v8y0a1b2c3d4e5f6g7h8j", datetime(2030, 5, 20, tzinfo=UTC))
    assert [e[0] for e in events] == [
        "rental.order.accepted",
        "rental.vehicle.dispatched",
        "rental.vehicle.delivered",
        "rental.completed",
    ]
    bodies = [orjson.loads(e[2]) for e in events]
    assert [b["sequence"] for b in bodies] == [1, 2, 3, 4]
    assert len({b["event_id"] for b in bodies}) == 4
    assert all(b["order_id"] == "ord_01jq3v8y0a1b2c3d4e5f6g7h8j" for b in bodies)


def test_report_marks_loss_as_critical_and_renders_the_table() -> None:
    result = ScenarioResult("gateway-kill", "summary")
    result.accounts.append(account("webhook", [_record("webhook", "a", 200)]))
    result.checks.append(Check("webhooks: every 2xx stored", False, "1 lost", critical=True))
    assert not result.passed and result.lost_or_duplicated
    text = render_report([result], QUICK)
    assert "| webhook | 1 | 1 | 0 | 0 | 0 | 1 |" in text
    assert "**LOST/DUPLICATE**" in text
    assert "something accepted was lost or applied twice" in text
    assert result.to_json()["lost_or_duplicated"] is True


def test_command_line_takes_scenarios_and_quick() -> None:
    args = parse_args(["--scenario", "redis-restart", "--scenario", "flaky-partner", "--quick"])
    assert args.scenario == ["redis-restart", "flaky-partner"]
    assert args.quick
    with pytest.raises(SystemExit):
        parse_args(["--scenario", "nope"])
