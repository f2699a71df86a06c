"""The scorecards API: JSON and CSV tables, the trend, the month close, tier in force."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.bootstrap import build_container
from gateway.oauth.credentials import create_client
from gateway.scorecards.months import month_of
from gateway.settings import Settings
from tests.gateway.scorecards.conftest import MIN_RATINGS, Partners, seed, standard_month

MONTH = "2025-06"  # closed by this module only

Api = tuple[FastAPI, httpx.AsyncClient]


@pytest.fixture
async def api(settings: Settings, partners: Partners) -> AsyncIterator[Api]:
    """The gateway on PostgreSQL with only the test's partners in its registry."""
    configured = settings.model_copy(update={"scorecard_min_ratings": MIN_RATINGS})
    application = create_app(
        configured, container=build_container(configured, registry=partners.registry)
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield application, http


async def _headers(api: Api, scopes: str) -> dict[str, str]:
    application, http = api
    creds = await create_client(
        application.state.container, f"scorecards-{uuid.uuid4().hex[:6]}", scopes.split()
    )
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
    )
    assert answer.status_code == 200, answer.text
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


async def test_month_table_as_json_and_csv(api: Api, partners: Partners) -> None:
    application, http = api
    await seed(application.state.container, "2025-03", *standard_month(partners, "2025-03"))
    manager = await _headers(api, "scorecards:read")

    answer = await http.get("/v1/scorecards", params={"month": "2025-03"}, headers=manager)
    assert answer.status_code == 200, answer.text
    table = answer.json()
    assert table["month"] == "2025-03" and table["closed"] is False
    cards = table["scorecards"]
    assert len(cards) == 8 and all(card["provisional"] for card in cards)
    scores = [card["score"] for card in cards]
    assert scores == sorted(scores, reverse=True)
    swift = next(c for c in cards if c["partner_id"] == partners["swiftrent"])
    assert swift["score"] == pytest.approx(94.23) and swift["tier"] == "gold"
    assert swift["tier_effective_month"] == "2025-04"
    assert swift["metrics"]["sla_compliance"] == pytest.approx(10 / 13, abs=1e-6)
    assert swift["metrics"]["availability"] == pytest.approx(0.95)
    assert swift["metrics"]["p95_latency_ms"] == pytest.approx(190.5)
    assert swift["metrics"]["orders"] == 14

    by_tier = (
        await http.get(
            "/v1/scorecards", params={"month": "2025-03", "sort": "tier"}, headers=manager
        )
    ).json()["scorecards"]
    order = ["gold", "silver", "bronze", "yellow_card", "terminated"]
    ranks = [order.index(card["tier"]) for card in by_tier]
    assert ranks == sorted(ranks) and by_tier[-1]["partner_id"] == partners["citycar"]

    rental = (
        await http.get(
            "/v1/scorecards",
            params={"month": "2025-03", "sort": "partner", "category": "rental"},
            headers=manager,
        )
    ).json()["scorecards"]
    assert [card["partner_id"] for card in rental] == sorted(
        [partners["citycar"], partners["swiftrent"]]
    )

    as_csv = await http.get(
        "/v1/scorecards",
        params={"month": "2025-03"},
        headers=manager | {"accept": "text/csv"},
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["partner_id"] for row in rows] == [card["partner_id"] for card in cards]
    first = rows[0]
    assert first["partner_id"] == partners["swiftrent"] and first["provisional"] == "true"
    assert float(first["score"]) == pytest.approx(94.23) and first["orders"] == "14"
    city = next(row for row in rows if row["partner_id"] == partners["citycar"])
    assert city["tier_in_force"] == "bronze" and city["tier"] == "yellow_card"
    assert float(city["complaint_rate"]) == pytest.approx(0.4)

    bad = await http.get("/v1/scorecards", params={"month": "2025-13"}, headers=manager)
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/invalid-month"
    assert (await http.get("/v1/scorecards", params={"month": "2025-03"})).status_code == 401


async def test_close_month_over_the_api(api: Api, partners: Partners) -> None:
    application, http = api
    await seed(application.state.container, MONTH, *standard_month(partners, MONTH))
    manager = await _headers(api, "scorecards:read")
    admin = await _headers(api, "admin")
    city = partners["citycar"]

    refused = await http.post(f"/v1/scorecards/{MONTH}/close", headers=manager)
    assert refused.status_code == 403
    current = month_of(datetime.now(UTC))
    early = await http.post(f"/v1/scorecards/{current}/close", headers=admin)
    assert early.status_code == 409 and early.json()["type"] == "/problems/month-not-over"

    closed = await http.post(f"/v1/scorecards/{MONTH}/close", headers=admin)
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["month"] == MONTH and body["closed_by"]
    assert [(c["partner_id"], c["effective_month"], c["tier"]) for c in body["tier_changes"]] == [
        (city, "2025-07", "yellow_card")
    ]
    assert all(not card["provisional"] for card in body["scorecards"])

    again = await http.post(f"/v1/scorecards/{MONTH}/close", headers=admin)
    assert again.status_code == 409 and again.json()["type"] == "/problems/month-closed"

    table = (await http.get("/v1/scorecards", params={"month": MONTH}, headers=manager)).json()
    assert table["closed"] is True
    assert {c["partner_id"] for c in table["scorecards"]} >= set(partners.ids.values())

    detail = await http.get(f"/v1/partners/{city}", headers=manager)
    assert detail.status_code == 200, detail.text
    assert detail.json()["tier"] == "bronze" and detail.json()["tier_in_force"] == "yellow_card"
    swift = (await http.get(f"/v1/partners/{partners['swiftrent']}", headers=manager)).json()
    assert swift["tier_in_force"] == "gold"

    trend = await http.get(f"/v1/partners/{city}/scorecard", params={"months": 3}, headers=manager)
    assert trend.status_code == 200, trend.text
    months = [card["month"] for card in trend.json()["scorecards"]]
    assert months[-1] == current and months == sorted(months) and 1 <= len(months) <= 3
    newest = trend.json()["scorecards"][-1]
    assert newest["provisional"] is True and newest["tier_in_force"] == "yellow_card"
    unknown = await http.get("/v1/partners/nobody/scorecard", headers=manager)
    assert unknown.status_code == 404 and unknown.json()["type"] == "/problems/unknown-partner"
