"""A month of sandbox traffic: the slow, badly rated rental partner loses first choice.

Runs on its own PostgreSQL database: it closes a month, which must not touch the
tiers other tests route by.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from contracts import PartnerTier, ServiceCategory
from gateway.app import create_app
from gateway.dispatch.routing import plan_route
from gateway.oauth.credentials import create_client
from gateway.persistence.db import create_engine
from gateway.persistence.migrate import upgrade
from gateway.scorecards import compute_month, tier_in_force
from gateway.scorecards.routing import TierCache
from gateway.settings import Settings
from gateway.slo.sweep import sweep_once
from tests.conftest import PG_ADMIN_DSN
from tests.gateway.dispatch.conftest import configure, example, wait_for

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def own_database(settings: Settings, postgres_url: str) -> AsyncIterator[Settings]:
    name = f"pgw_month_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    yield settings.model_copy(update={"database_url": SecretStr(url), "scorecard_min_ratings": 10})
    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def gateway(own_database: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    application = create_app(own_database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield application, http


async def test_a_slow_badly_rated_partner_ends_yellow_and_the_good_one_gold(
    gateway: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, http = gateway
    container = app.state.container
    creds = await create_client(container, "oem-month", ["services:write", "orders:read"])
    token = (
        await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds.client_id, creds.client_secret),
        )
    ).json()["access_token"]

    async def post(path: str, body: object) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}", "idempotency-key": uuid.uuid4().hex}
        return await http.post(path, json=body, headers=headers)

    # SwiftRent takes the bookings but never reports progress; CityCar delivers at once.
    await configure(app, "swiftrent", webhooks=False)
    await configure(app, "citycar", webhook_delay_s=0.01)
    placed: dict[str, list[str]] = {"swiftrent": [], "citycar": []}
    for index in range(60):
        partner = "citycar" if index % 5 == 0 else "swiftrent"  # citycar is capped at 25 %
        response = await post("/v1/service-requests", example_for(partner))
        assert response.status_code == 201, response.text
        placed[partner].append(response.json()["id"])
    assert len(placed["citycar"]) == 12 and len(placed["swiftrent"]) == 48

    async def citycar_delivered() -> bool:
        async with container.uow() as uow:
            clocks = [c for o in placed["citycar"] for c in await uow.sla.clocks_of(o)]
        return len(clocks) == 24 and all(c.status == "met" for c in clocks)

    await wait_for(citycar_delivered, seconds=20)
    # Half an hour on, SwiftRent's deliveries are all late: the sweep records the breaches.
    later = dataclasses.replace(container, clock=lambda: datetime.now(UTC) + timedelta(minutes=31))
    breaches = await sweep_once(later, limit=10_000)
    assert {b.partner_id for b in breaches} == {"swiftrent"} and len(breaches) == 96
    # The customers say so too.
    for order_id in placed["swiftrent"]:
        stars = 3 if order_id < placed["swiftrent"][24] else 4
        assert (await post(f"/v1/orders/{order_id}/rating", {"stars": stars})).status_code == 201
    for order_id in placed["swiftrent"][:3]:
        body = {"category": "late", "text": "代步车一直没有送到"}
        assert (await post(f"/v1/orders/{order_id}/complaints", body)).status_code == 201
    for order_id in placed["citycar"]:
        assert (await post(f"/v1/orders/{order_id}/rating", {"stars": 5})).status_code == 201

    # The month ends; the partnership manager closes it.
    month_now = datetime.now(SHANGHAI)
    month = month_now.strftime("%Y-%m")
    next_start = (month_now.replace(day=1) + timedelta(days=32)).replace(
        day=1, hour=9, minute=0, second=0, microsecond=0
    )
    next_month = next_start.strftime("%Y-%m")
    in_next_month = dataclasses.replace(container, clock=lambda: next_start.astimezone(UTC))
    cards = {row.partner_id: row for row in await compute_month(in_next_month, month, close=True)}
    swift, city = cards["swiftrent"], cards["citycar"]
    assert swift.tier == PartnerTier.YELLOW_CARD.value, swift.tier_reason
    assert city.tier == PartnerTier.GOLD.value, city.tier_reason
    assert swift.score is not None and city.score is not None and city.score > swift.score
    assert await tier_in_force(container, "swiftrent", month) == PartnerTier.GOLD
    assert await tier_in_force(container, "swiftrent", next_month) == PartnerTier.YELLOW_CARD

    # Next month's courtesy cars: CityCar first, SwiftRent suspended from routing.
    tiers = await TierCache(in_next_month).tiers(next_month)
    plan = plan_route(
        container.registry.by_category(ServiceCategory.RENTAL),
        category=ServiceCategory.RENTAL,
        city="Shenzhen",
        today=next_start.date(),
        tiers=tiers,
    )
    assert [a.id for a in plan.candidates] == ["citycar"]
    assert [(s.partner_id, s.reason.value) for s in plan.skipped] == [
        ("swiftrent", "tier_excluded")
    ]
    await asyncio.sleep(0)


def example_for(partner: str) -> dict[str, object]:
    from contracts import Operation

    return example(Operation.COURTESY_CAR_BOOK, partner_id=partner)
