"""The settlements API: scopes, statements as JSON and CSV, the month close, the ledger's
entries, corrections and KPI values, over HTTP on PostgreSQL and Redis.

The app's registry holds copies of the sample agreements unique to each test (as
tests/gateway/scorecards/test_api.py does), so totals are the test's own. Their plans
are in force from 2023-01-01, so closing tests can use months of 2023 (see conftest):

- 2023-01: closed by test_close_freezes_the_month_and_late_effects_settle_next
  (2023-02 receives its late entry and is never closed);
- 2023-03: closed by test_kpi_values_and_their_bonus.

Tests that only record effects use 2026-06 and 2026-07 for their own partners.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.bootstrap import Container, build_container
from gateway.ledger.schemas import CSV_COLUMNS
from gateway.oauth.credentials import create_client
from gateway.problems import PROBLEM_JSON
from gateway.scorecards.months import month_of, next_month
from gateway.settings import Settings
from tests.gateway.ledger.conftest import SAMPLE, Partners, at, complete, copies

Api = tuple[FastAPI, httpx.AsyncClient]
Json = dict[str, Any]

FROM_2023 = date(2023, 1, 1)
KPI = "lead_conversion_percent"


@pytest.fixture
def partners() -> Partners:
    """Copies of the sample agreements whose plans are all in force from 2023-01-01."""
    return copies(
        **{
            a.id: {
                "commission": a.commission.model_copy(
                    update={
                        "plans": [
                            plan.model_copy(update={"valid_from": FROM_2023})
                            for plan in a.commission.plans
                        ]
                    }
                )
            }
            for a in SAMPLE
        }
    )


@pytest.fixture
async def api(settings: Settings, partners: Partners) -> AsyncIterator[Api]:
    """The gateway on PostgreSQL and Redis with only the test's partners in its registry."""
    application = create_app(
        settings, container=build_container(settings, registry=partners.registry)
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield application, http


def _container(api: Api) -> Container:
    container: Container = api[0].state.container
    return container


async def _client(api: Api, scopes: str) -> tuple[str, dict[str, str]]:
    """A new app client granted ``scopes``: its id and the `Authorization` of its token."""
    application, http = api
    creds = await create_client(
        application.state.container, f"settlements-{uuid.uuid4().hex[:6]}", scopes.split()
    )
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
    )
    assert answer.status_code == 200, answer.text
    return creds.client_id, {"authorization": f"Bearer {answer.json()['access_token']}"}


async def _headers(api: Api, scopes: str) -> dict[str, str]:
    return (await _client(api, scopes))[1]


def _problem(answer: httpx.Response, status: int, slug: str) -> Json:
    """The problem document of an error answer, checked for status, media type and type."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON), answer.headers
    body: Json = answer.json()
    assert body["type"] == f"/problems/{slug}", body
    assert body["status"] == status
    return body


def _cny(fen: int) -> Json:
    return {"amount": fen, "currency": "CNY"}


def _total(receivable: int, payable: int, retained: int, entries: int) -> Json:
    net = receivable - payable
    return {
        "currency": "CNY",
        "receivable": _cny(receivable),
        "payable": _cny(payable),
        "net": _cny(net),
        "owed_by": "partner" if net > 0 else "oem" if net < 0 else "nobody",
        "retained": _cny(retained),
        "entries": entries,
    }


def _line(section: str, kind: str, direction: str, entries: int, fen: int) -> Json:
    return {
        "section": section,
        "kind": kind,
        "direction": direction,
        "entries": entries,
        "amount": _cny(fen),
    }


async def _entries(http: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[Json]:
    answer = await http.get("/v1/ledger/entries", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    entries: list[Json] = answer.json()["entries"]
    return entries


async def _statement(
    http: httpx.AsyncClient, headers: dict[str, str], partner_id: str, month: str
) -> Json:
    answer = await http.get(f"/v1/partners/{partner_id}/settlements/{month}", headers=headers)
    assert answer.status_code == 200, answer.text
    body: Json = answer.json()
    return body


async def test_scopes(api: Api, partners: Partners) -> None:
    _, http = api
    month = "2026-06"
    swiftrent, roadmap = partners["swiftrent"], partners["roadmap"]
    reads = [
        ("/v1/settlements", {"month": month}),
        (f"/v1/partners/{swiftrent}/settlements/{month}", {}),
        ("/v1/ledger/entries", {"partner_id": swiftrent}),
        (f"/v1/partners/{roadmap}/kpis", {}),
    ]
    kpi = {
        "month": month,
        "kpi": KPI,
        "value": "3.5",
        "source": "roadmap lead report",
        "attribution": "last_click",
    }
    writes = [
        (f"/v1/settlements/{month}/close", None),
        ("/v1/ledger/entries/1/corrections", {"reason": "keyed in twice", "amount": 1}),
        (f"/v1/partners/{roadmap}/kpis", kpi),
    ]

    for path, params in reads:
        anonymous = await http.get(path, params=params)
        body = _problem(anonymous, 401, "unauthorized")
        assert "www-authenticate" in anonymous.headers, body
    for path, payload in writes:
        _problem(await http.post(path, json=payload), 401, "unauthorized")

    manager = await _headers(api, "scorecards:read")
    refused = _problem(
        await http.get("/v1/settlements", params={"month": month}, headers=manager),
        403,
        "insufficient-scope",
    )
    assert "settlements:read" in refused["detail"]
    for path, params in reads[1:]:
        _problem(await http.get(path, params=params, headers=manager), 403, "insufficient-scope")

    reader = await _headers(api, "settlements:read")
    admin = await _headers(api, "admin")
    for headers in (reader, admin):
        for path, params in reads:
            answer = await http.get(path, params=params, headers=headers)
            assert answer.status_code == 200, (path, answer.text)
    table = (await http.get("/v1/settlements", params={"month": month}, headers=reader)).json()
    assert table["month"] == month and table["closed"] is False
    ids = {s["partner_id"] for s in table["statements"]}
    assert ids >= set(partners.ids.values())

    # A reader (or a manager) may not close, correct or record: only admin may.
    for headers in (reader, manager):
        for path, payload in writes:
            body = _problem(
                await http.post(path, json=payload, headers=headers), 403, "insufficient-scope"
            )
            assert "admin" in body["detail"]
    # Nothing was closed by the refused attempts.
    after = (await http.get("/v1/settlements", params={"month": month}, headers=reader)).json()
    assert after["closed"] is False


async def test_statement_as_json_and_csv(api: Api, partners: Partners) -> None:
    _, http = api
    container = _container(api)
    month = "2026-06"
    swiftrent, citycar = partners["swiftrent"], partners["citycar"]
    # swiftrent is gold: 8 % less 1 point. 123456 x 0.07 = 8641.92 -> 8642; 50000 x 0.07 = 3500.
    first = await complete(container, swiftrent, 123456, occurred_at=at(month, day=3))
    second = await complete(container, swiftrent, 50000, occurred_at=at(month, day=20))
    # citycar resells three courtesy-car days: buys at 100.00, sells at 120.00 a day.
    resold = await complete(container, citycar, 36000, occurred_at=at(month), days=3)
    reader = await _headers(api, "settlements:read")

    statement = await _statement(http, reader, swiftrent, month)
    assert statement["partner_id"] == swiftrent and statement["month"] == month
    assert statement["state"] == "draft"
    assert statement["closed_at"] is None and statement["closed_by"] is None
    assert statement["entry_count"] == 2
    assert statement["totals"] == [_total(12142, 0, 0, 2)]
    assert statement["lines"] == [_line("plans", "commission", "receivable", 2, 12142)]

    entries = await _entries(http, reader, partner_id=swiftrent, month=month)
    assert [(e["order_id"], e["amount"]["amount"]) for e in entries] == [
        (first, 8642),
        (second, 3500),
    ]
    assert all(
        (e["kind"], e["direction"], e["rate"], e["effective_month"])
        == ("commission", "receivable", "0.07", month)
        for e in entries
    )
    assert sum(e["amount"]["amount"] for e in entries) == statement["totals"][0]["net"]["amount"]

    city = await _statement(http, reader, citycar, month)
    assert city["entry_count"] == 2
    assert city["totals"] == [_total(0, 30000, 6000, 2)]
    assert city["totals"][0]["net"] == _cny(-30000)
    assert city["lines"] == [
        _line("plans", "resale_cost", "payable", 1, 30000),
        _line("plans", "resale_margin", "retained", 1, 6000),
    ]
    assert {e["order_id"] for e in await _entries(http, reader, partner_id=citycar)} == {resold}

    as_csv = await http.get(
        f"/v1/partners/{swiftrent}/settlements/{month}",
        headers=reader | {"accept": "text/csv"},
    )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert (
        as_csv.headers["content-disposition"]
        == f'attachment; filename="statement-{swiftrent}-{month}.csv"'
    )
    reader_rows = csv.reader(io.StringIO(as_csv.text))
    assert next(reader_rows) == list(CSV_COLUMNS)
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [int(row["entry_id"]) for row in rows] == [e["id"] for e in entries]
    assert [row["order_id"] for row in rows] == [first, second]
    assert [row["amount"] for row in rows] == ["86.42", "35.00"]
    assert [row["basis"] for row in rows] == ["1234.56", "500.00"]
    assert {(row["effective_month"], row["occurred_month"]) for row in rows} == {(month, month)}
    assert {row["reverses_id"] for row in rows} == {""}
    assert sum(int(row["amount_minor"]) for row in rows) == 12142

    city_csv = await http.get(
        f"/v1/partners/{citycar}/settlements/{month}",
        headers=reader | {"accept": "application/json;q=0.5, text/csv"},
    )
    city_rows = list(csv.DictReader(io.StringIO(city_csv.text)))
    assert [(r["kind"], r["direction"], r["amount_minor"], r["units"]) for r in city_rows] == [
        ("resale_cost", "payable", "30000", "3"),
        ("resale_margin", "retained", "6000", "3"),
    ]

    empty = await http.get(
        f"/v1/partners/{partners['meilife']}/settlements/{month}",
        headers=reader | {"accept": "text/csv"},
    )
    assert empty.status_code == 200 and empty.text == ",".join(CSV_COLUMNS) + "\r\n"

    for accept in ("application/json", "text/csv"):
        unknown = await http.get(
            f"/v1/partners/nobody-{uuid.uuid4().hex[:6]}/settlements/{month}",
            headers=reader | {"accept": accept},
        )
        _problem(unknown, 404, "unknown-partner")
    bad = await http.get(f"/v1/partners/{swiftrent}/settlements/2026-13", headers=reader)
    _problem(bad, 422, "invalid-month")
    _problem(
        await http.get("/v1/settlements", params={"month": "2026-13"}, headers=reader),
        422,
        "invalid-month",
    )


async def test_close_freezes_the_month_and_late_effects_settle_next(
    api: Api, partners: Partners
) -> None:
    _, http = api
    container = _container(api)
    month, following = "2023-01", "2023-02"  # closed by this test only (module docstring)
    swiftrent = partners["swiftrent"]
    admin_id, admin = await _client(api, "admin")
    reader = await _headers(api, "settlements:read")

    current = month_of(container.clock())
    early = _problem(
        await http.post(f"/v1/settlements/{current}/close", headers=admin), 409, "month-not-over"
    )
    assert "close it after that" in early["detail"]
    _problem(await http.post("/v1/settlements/2023-13/close", headers=admin), 422, "invalid-month")

    # 100000 x 0.07 (gold) = 7000 fen, in the month.
    on_time = await complete(container, swiftrent, 100000, occurred_at=at(month, day=10))
    assert (await _statement(http, reader, swiftrent, month))["state"] == "draft"

    closed = await http.post(f"/v1/settlements/{month}/close", headers=admin)
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["month"] == month and body["closed_by"] == admin_id
    summaries = {s["partner_id"]: s for s in body["statements"]}
    assert set(summaries) >= set(partners.ids.values())
    assert {s["state"] for s in body["statements"]} == {"closed"}
    assert summaries[swiftrent]["entry_count"] == 1
    assert summaries[swiftrent]["totals"] == [_total(7000, 0, 0, 1)]
    # Closing accrued the month's fixed fees: voltgrid's platform fee, roadmap's base fee.
    assert summaries[partners["voltgrid"]]["totals"] == [_total(2_000_000, 0, 0, 1)]
    assert summaries[partners["roadmap"]]["totals"] == [_total(0, 5_000_000, 0, 1)]
    assert summaries[partners["meilife"]]["totals"] == []

    again = _problem(
        await http.post(f"/v1/settlements/{month}/close", headers=admin), 409, "month-closed"
    )
    assert "already closed" in again["detail"]

    frozen = await _statement(http, reader, swiftrent, month)
    assert frozen["state"] == "closed" and frozen["closed_by"] == admin_id
    assert datetime.fromisoformat(frozen["closed_at"]) == datetime.fromisoformat(body["closed_at"])
    assert frozen["entry_count"] == 1 and frozen["totals"] == [_total(7000, 0, 0, 1)]
    assert frozen["lines"] == [_line("plans", "commission", "receivable", 1, 7000)]
    table = (await http.get("/v1/settlements", params={"month": month}, headers=reader)).json()
    assert table["closed"] is True
    assert {s["state"] for s in table["statements"]} == {"closed"}

    # An order completed in the closed month, reported now: 20000 x 0.07 = 1400 fen.
    late = await complete(container, swiftrent, 20000, occurred_at=at(month, day=20))
    (entry,) = await _entries(http, reader, order_id=late)
    assert entry["occurred_month"] == month and entry["effective_month"] == following
    assert entry["amount"] == _cny(1400)

    assert await _statement(http, reader, swiftrent, month) == frozen
    assert [
        e["order_id"] for e in await _entries(http, reader, partner_id=swiftrent, month=month)
    ] == [on_time]
    nxt = await _statement(http, reader, swiftrent, following)
    assert nxt["state"] == "draft" and nxt["entry_count"] == 1
    assert nxt["lines"] == [_line("opening_adjustments", "commission", "receivable", 1, 1400)]
    assert nxt["totals"] == [_total(1400, 0, 0, 1)]
    as_csv = await http.get(
        f"/v1/partners/{swiftrent}/settlements/{following}",
        headers=reader | {"accept": "text/csv"},
    )
    (row,) = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert (row["order_id"], row["occurred_month"], row["effective_month"]) == (
        late,
        month,
        following,
    )
    assert row["amount_minor"] == "1400"


async def test_ledger_entries_by_filter_and_page(api: Api, partners: Partners) -> None:
    _, http = api
    container = _container(api)
    month = "2026-07"
    starcharge = partners["starcharge"]
    # 6 % of each session, at least 0.50 and at most 20.00.
    orders = [
        await complete(container, starcharge, fen, occurred_at=at(month, day=day))
        for fen, day in ((10000, 2), (500, 3), (100000, 4))
    ]
    reader = await _headers(api, "settlements:read")

    everything = await _entries(http, reader, partner_id=starcharge)
    assert [(e["order_id"], e["amount"]["amount"]) for e in everything] == [
        (orders[0], 600),
        (orders[1], 50),
        (orders[2], 2000),
    ]
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids)
    assert "raised to the minimum 0.50 CNY" in everything[1]["reason"]
    assert "capped at the maximum 20.00 CNY" in everything[2]["reason"]
    first = everything[0]
    assert first["partner_id"] == starcharge and first["plan_kind"] == "percentage"
    assert first["basis"] == _cny(10000) and first["rate"] == "0.06"
    assert first["plan"]["index"] == 0 and first["plan"]["kind"] == "percentage"
    assert first["event_id"] and first["reverses_id"] is None and first["units"] is None

    page = await http.get(
        "/v1/ledger/entries",
        params={"partner_id": starcharge, "month": month, "limit": 2},
        headers=reader,
    )
    assert page.status_code == 200, page.text
    assert [e["id"] for e in page.json()["entries"]] == ids[:2]
    assert page.json()["next_after"] == ids[1]
    rest = (
        await http.get(
            "/v1/ledger/entries",
            params={"partner_id": starcharge, "month": month, "limit": 2, "after": ids[1]},
            headers=reader,
        )
    ).json()
    assert [e["id"] for e in rest["entries"]] == ids[2:] and rest["next_after"] is None

    assert [e["id"] for e in await _entries(http, reader, order_id=orders[1])] == [ids[1]]
    assert [
        e["id"] for e in await _entries(http, reader, partner_id=starcharge, order_id=orders[2])
    ] == [ids[2]]
    assert await _entries(http, reader, partner_id=starcharge, month="2026-08") == []
    assert await _entries(http, reader, partner_id=partners["swiftrent"], order_id=orders[0]) == []
    assert await _entries(http, reader, partner_id=starcharge, after=ids[2]) == []

    _problem(
        await http.get("/v1/ledger/entries", params={"month": "2026-7"}, headers=reader),
        422,
        "invalid-month",
    )
    for bad in ({"limit": 0}, {"limit": 1001}, {"after": -1}):
        body = _problem(
            await http.get("/v1/ledger/entries", params=bad, headers=reader),
            422,
            "validation-error",
        )
        (name,) = bad
        assert [e["field"] for e in body["errors"]] == [f"query.{name}"]


async def test_corrections(api: Api, partners: Partners) -> None:
    _, http = api
    container = _container(api)
    pingsure = partners["pingsure"]
    admin_id, admin = await _client(api, "admin")
    reader = await _headers(api, "settlements:read")
    # pingsure is gold: 30 % less 2 points. 100000 x 0.28 = 28000 fen.
    order_id = await complete(container, pingsure, 100000, occurred_at=at("2026-06"))
    (original,) = await _entries(http, reader, order_id=order_id)
    assert original["amount"] == _cny(28000)
    now_month = month_of(container.clock())

    corrected = await http.post(
        f"/v1/ledger/entries/{original['id']}/corrections",
        json={"reason": "premium was keyed in twice", "amount": 14000},
        headers=admin,
    )
    assert corrected.status_code == 201, corrected.text
    reversal, replacement = corrected.json()["reversal"], corrected.json()["replacement"]
    assert reversal["reverses_id"] == original["id"]
    assert reversal["amount"] == _cny(-28000)
    assert replacement["amount"] == _cny(14000) and replacement["reverses_id"] is None
    for entry in (reversal, replacement):
        assert entry["order_id"] == order_id and entry["partner_id"] == pingsure
        assert (entry["kind"], entry["direction"]) == ("revenue_share", "receivable")
        assert entry["occurred_month"] == entry["effective_month"] == now_month
        assert f"corrected by {admin_id}: premium was keyed in twice" in entry["reason"]
    assert reversal["reason"].startswith(f"reverses entry {original['id']}: ")
    assert replacement["reason"].startswith(f"replaces entry {original['id']}, ")

    twice = await http.post(
        f"/v1/ledger/entries/{original['id']}/corrections",
        json={"reason": "once more", "amount": 1000},
        headers=admin,
    )
    _problem(twice, 409, "entry-already-reversed")
    of_reversal = await http.post(
        f"/v1/ledger/entries/{reversal['id']}/corrections",
        json={"reason": "reverse the reversal"},
        headers=admin,
    )
    body = _problem(of_reversal, 409, "entry-is-reversal")
    assert f"entry {original['id']}" in body["detail"]

    # The replacement is corrected in turn; without an amount it is only reversed.
    void = await http.post(
        f"/v1/ledger/entries/{replacement['id']}/corrections",
        json={"reason": "policy was never issued"},
        headers=admin,
    )
    assert void.status_code == 201, void.text
    assert void.json()["replacement"] is None
    assert void.json()["reversal"]["amount"] == _cny(-14000)
    assert void.json()["reversal"]["reverses_id"] == replacement["id"]

    history = await _entries(http, reader, order_id=order_id)
    assert [e["amount"]["amount"] for e in history] == [28000, -28000, 14000, -14000]
    assert sum(e["amount"]["amount"] for e in history) == 0
    current = await _statement(http, reader, pingsure, now_month)
    assert current["totals"] == [_total(-28000, 0, 0, 3)]

    _problem(
        await http.post(
            "/v1/ledger/entries/999999999/corrections",
            json={"reason": "no such entry"},
            headers=admin,
        ),
        404,
        "unknown-ledger-entry",
    )
    negative = _problem(
        await http.post(
            f"/v1/ledger/entries/{original['id']}/corrections",
            json={"reason": "less than nothing", "amount": -1},
            headers=admin,
        ),
        422,
        "validation-error",
    )
    assert [e["field"] for e in negative["errors"]] == ["body.amount"]
    short = _problem(
        await http.post(
            f"/v1/ledger/entries/{original['id']}/corrections",
            json={"reason": "  "},
            headers=admin,
        ),
        422,
        "validation-error",
    )
    assert [e["field"] for e in short["errors"]] == ["body.reason"]
    _problem(
        await http.post(
            "/v1/ledger/entries/0/corrections", json={"reason": "id zero"}, headers=admin
        ),
        422,
        "validation-error",
    )
    # Refused corrections wrote nothing.
    assert len(await _entries(http, reader, order_id=order_id)) == 4


async def test_kpi_values_and_their_bonus(api: Api, partners: Partners) -> None:
    _, http = api
    container = _container(api)
    roadmap = partners["roadmap"]
    admin_id, admin = await _client(api, "admin")
    reader = await _headers(api, "settlements:read")
    month = "2026-06"

    def kpi(value: str, **changes: str) -> Json:
        return {
            "month": month,
            "kpi": KPI,
            "value": value,
            "source": "roadmap lead report, reconciled with the OEM CRM",
            "attribution": "last_click",
        } | changes

    # 3.5 % is 1.5 points above the 2.0 baseline: 10 % of the 50000.00 base fee per point,
    # 15 % of 5000000 fen = 750000 fen, payable to roadmap.
    first = await http.post(f"/v1/partners/{roadmap}/kpis", json=kpi("3.5"), headers=admin)
    assert first.status_code == 201, first.text
    recorded = first.json()
    value = recorded["kpi_value"]
    assert (value["partner_id"], value["month"], value["kpi"], value["value"]) == (
        roadmap,
        month,
        KPI,
        "3.5",
    )
    assert value["attribution"] == "last_click" and value["recorded_by"] == admin_id
    bonus = recorded["bonus"]
    assert bonus["amount"] == _cny(750000) and bonus["basis"] == _cny(5_000_000)
    assert (bonus["kind"], bonus["direction"], bonus["plan_kind"]) == (
        "outcome_bonus",
        "payable",
        "outcome_based",
    )
    assert bonus["rate"] == "0.150" and bonus["order_id"] is None
    assert bonus["plan"]["kpi_value"] == "3.5"
    assert bonus["effective_month"] == bonus["occurred_month"] == month
    assert recorded["superseded"] is None

    # A newer value supersedes it: 0.5 points earn 5 % = 250000 fen, the 750000 is reversed.
    second = await http.post(f"/v1/partners/{roadmap}/kpis", json=kpi("2.5"), headers=admin)
    assert second.status_code == 201, second.text
    assert second.json()["bonus"]["amount"] == _cny(250000)
    superseded = second.json()["superseded"]
    assert superseded["reverses_id"] == bonus["id"] and superseded["amount"] == _cny(-750000)
    # At the baseline: no bonus, and the previous one is reversed.
    third = await http.post(f"/v1/partners/{roadmap}/kpis", json=kpi("2.0"), headers=admin)
    assert third.status_code == 201, third.text
    assert third.json()["bonus"] is None
    assert third.json()["superseded"]["amount"] == _cny(-250000)

    listed = await http.get(f"/v1/partners/{roadmap}/kpis", params={"month": month}, headers=reader)
    assert listed.status_code == 200, listed.text
    assert [v["value"] for v in listed.json()] == ["3.5", "2.5", "2.0"]
    statement = await _statement(http, reader, roadmap, month)
    assert statement["lines"] == [_line("plans", "outcome_bonus", "payable", 4, 0)]
    assert statement["totals"] == [_total(0, 0, 0, 4)]

    mismatch = _problem(
        await http.post(
            f"/v1/partners/{roadmap}/kpis", json=kpi("3.5", attribution="weighted"), headers=admin
        ),
        422,
        "attribution-mismatch",
    )
    assert [e["field"] for e in mismatch["errors"]] == ["attribution"]
    assert "last_click" in mismatch["errors"][0]["reason"]
    unknown_kpi = _problem(
        await http.post(
            f"/v1/partners/{roadmap}/kpis", json=kpi("3.5", kpi="nps_score"), headers=admin
        ),
        422,
        "no-outcome-plan",
    )
    assert [e["field"] for e in unknown_kpi["errors"]] == ["kpi"]
    assert KPI in unknown_kpi["detail"]
    _problem(
        await http.post(
            f"/v1/partners/{partners['swiftrent']}/kpis", json=kpi("3.5"), headers=admin
        ),
        422,
        "no-outcome-plan",
    )
    future = next_month(month_of(container.clock()))
    not_begun = _problem(
        await http.post(
            f"/v1/partners/{roadmap}/kpis", json=kpi("3.5", month=future), headers=admin
        ),
        422,
        "month-not-begun",
    )
    assert [e["field"] for e in not_begun["errors"]] == ["month"]
    _problem(
        await http.post("/v1/partners/nobody/kpis", json=kpi("3.5"), headers=admin),
        404,
        "unknown-partner",
    )
    _problem(await http.get("/v1/partners/nobody/kpis", headers=reader), 404, "unknown-partner")
    invalid = _problem(
        await http.post(
            f"/v1/partners/{roadmap}/kpis", json=kpi("3.5", month="2026-13"), headers=admin
        ),
        422,
        "validation-error",
    )
    assert [e["field"] for e in invalid["errors"]] == ["body.month"]

    closed_month = "2023-03"  # closed by this test only (module docstring)
    closing = await http.post(f"/v1/settlements/{closed_month}/close", headers=admin)
    assert closing.status_code == 200, closing.text
    too_late = _problem(
        await http.post(
            f"/v1/partners/{roadmap}/kpis", json=kpi("3.5", month=closed_month), headers=admin
        ),
        409,
        "month-closed",
    )
    assert closed_month in too_late["detail"]
    # Refused values were not recorded.
    listed_all = (await http.get(f"/v1/partners/{roadmap}/kpis", headers=reader)).json()
    assert [(v["month"], v["value"]) for v in listed_all] == [
        (month, "3.5"),
        (month, "2.5"),
        (month, "2.0"),
    ]
