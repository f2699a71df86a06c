"""The fuzz tier's world: one gateway on the real PostgreSQL and Redis, credentials, real ids.

`fuzz_world` builds the gateway the way the `app` fixture does (PostgreSQL,
Redis, the sample registry) once for the module, runs its lifespan, and
prepares what generated requests need to get past authentication and reach
the application: an app client holding every scope but the partners'
`events:write`, each sample partner's credentials (token and webhook
secret), and ids that exist (orders of each partner, a complaint, ledger
entries, a bound relay number, customers with consents).

The session counts every request the fuzzer sends; the total is printed in
the terminal summary, and `PGW_FUZZ_MIN_REQUESTS` makes the session fail
when fewer were sent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from contracts import CANONICAL_DIALECT, EXAMPLE_REQUESTS
from contracts.ids import new_order_id
from gateway.oauth.credentials import (
    CredentialsExist,
    create_client,
    create_partner_credentials,
    rotate_partner_credentials,
)
from gateway.oauth.scopes import PARTNER_SCOPES, SCOPES
from gateway.persistence.tables import ComplaintRow
from gateway.privacy.relays import bind_relay
from gateway.scorecards.months import month_of
from gateway.settings import Settings
from tests.conftest import PARTNERS_DIR, RUN_ID, fresh_database
from tests.gateway.webhooks.conftest import order_row

BASE_URL = "http://gateway.test"
FUZZ_VIRTUAL_NUMBER = "17119990042"
"""A relay number outside the default pool, bound to one of the fuzz run's own orders."""


@dataclass
class RequestCounter:
    """Requests the fuzzer sent in this session, per operation."""

    per_operation: dict[str, int] = field(default_factory=dict)

    def add(self, label: str) -> None:
        self.per_operation[label] = self.per_operation.get(label, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.per_operation.values())


COUNTER = RequestCounter()


@dataclass
class PartnerKeys:
    """A partner's `events:write` token and its current webhook signing secret."""

    token: str
    webhook_secret: str


@dataclass
class FuzzWorld:
    """The running gateway and what generated requests borrow from it."""

    app: FastAPI
    http: httpx.AsyncClient
    token: str
    basic: tuple[str, str]
    partners: dict[str, PartnerKeys]
    pools: dict[str, list[Any]]
    orders_of: dict[str, list[str]]
    canonical: list[str]


def _max_examples() -> int:
    return int(os.environ.get("PGW_FUZZ_MAX_EXAMPLES", "3"))


def pytest_report_header(config: pytest.Config) -> str:
    return f"fuzz: PGW_FUZZ_MAX_EXAMPLES={_max_examples()} per operation and generation mode"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not COUNTER.per_operation:
        return
    terminalreporter.section("fuzz")
    terminalreporter.write_line(
        f"fuzz: {COUNTER.total} requests sent over {len(COUNTER.per_operation)} operations "
        f"(PGW_FUZZ_MAX_EXAMPLES={_max_examples()})"
    )
    minimum = os.environ.get("PGW_FUZZ_MIN_REQUESTS")
    if minimum and COUNTER.total < int(minimum):
        terminalreporter.write_line(
            f"fuzz: FAILED, fewer than PGW_FUZZ_MIN_REQUESTS={minimum} requests", red=True
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    minimum = os.environ.get("PGW_FUZZ_MIN_REQUESTS")
    if minimum and COUNTER.total < int(minimum) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


async def _token(http: httpx.AsyncClient, client_id: str, secret: str, scope: str | None) -> str:
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    response = await http.post("/oauth/token", data=form, auth=(client_id, secret))
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    return value


async def _place_orders(world: FuzzWorld) -> None:
    """One order per service operation through the OEM API, so each category has real orders."""
    headers = {"authorization": f"Bearer {world.token}"}
    for operation, request in EXAMPLE_REQUESTS.items():
        response = await world.http.post(
            "/v1/service-requests",
            json=request.model_dump(mode="json", exclude_none=True),
            headers=headers | {"idempotency-key": f"fuzz-{RUN_ID}-{operation}"},
        )
        if response.status_code in (200, 201):
            order = response.json()
            world.pools["order_id"].append(order["id"])
            if order.get("partner_id"):
                world.orders_of.setdefault(order["partner_id"], []).append(order["id"])
            customer = getattr(getattr(request, "customer", None), "customer_id", None)
            if customer and customer not in world.pools["customer_id"]:
                world.pools["customer_id"].append(customer)


async def _store_rows(world: FuzzWorld) -> None:
    """Orders of every partner, a complaint, ledger entries and a relay binding of the run's own."""
    container = world.app.state.container
    now = datetime.now(UTC)
    async with container.uow() as uow:
        for agreement in container.registry:
            order_id = new_order_id()
            category = agreement.category.value
            uow.orders.add(order_row(order_id, agreement.id, category=category))
            world.pools["order_id"].append(order_id)
            world.orders_of.setdefault(agreement.id, []).append(order_id)
        completed = new_order_id()
        uow.orders.add(order_row(completed, "swiftrent", status="completed"))
        world.pools["order_id"].append(completed)
        await uow.flush()
        complaint = ComplaintRow(
            order_id=completed,
            partner_id="swiftrent",
            category="late",
            text="fuzz",
            created_at=now,
            month=month_of(now),
        )
        uow.sla.add_complaint(complaint)
        entries = await uow.ledger.add(
            [
                {
                    "entry_key": f"order:{completed}:completed:{index}:commission",
                    "partner_id": "swiftrent",
                    "order_id": completed,
                    "event_id": None,
                    "kind": "commission",
                    "plan_kind": "percentage",
                    "plan": {"kind": "percentage", "rate": "0.08", "index": 0},
                    "basis_amount": 10000 * (index + 1),
                    "rate": "0.08",
                    "units": None,
                    "amount": 800 * (index + 1),
                    "currency": "CNY",
                    "direction": "receivable",
                    "occurred_at": now,
                    "occurred_month": month_of(now),
                    "effective_month": month_of(now),
                    "created_at": now,
                    "reason": "8 % of the order value (fuzz)",
                    "reverses_id": None,
                }
                for index in range(4)
            ]
        )
        settings = container.settings.model_copy(update={"relay_number_pool": FUZZ_VIRTUAL_NUMBER})
        virtual = await bind_relay(
            uow,
            settings,
            order_id=completed,
            partner_id="swiftrent",
            real_number="13800138000",
            now=now,
        )
        await uow.commit()
    world.pools["complaint_id"].append(complaint.id)
    world.pools["entry_id"].extend(entry.id for entry in entries)
    world.pools["virtual_number"].append(virtual)


@pytest.fixture(scope="module")
async def fuzz_database_url(postgres_url: str) -> AsyncIterator[str]:
    """A migrated database of the fuzz tier's own, dropped afterwards.

    The fuzzer withdraws consents, takes partner references, rotates credentials and
    closes months with real ids; in the run's shared database that would change what
    later tests find. (Depending on `postgres_url` keeps its reachability check.)
    """
    async with fresh_database(f"pgw_test_{RUN_ID}_fuzz") as url:
        yield url


@pytest.fixture(scope="module")
async def fuzz_world(
    tmp_path_factory: pytest.TempPathFactory, fuzz_database_url: str, redis_url: str
) -> AsyncIterator[FuzzWorld]:
    """The gateway on PostgreSQL and Redis with credentials and real ids for the fuzzer."""
    from gateway.app import create_app

    settings = Settings(
        environment="test",
        database_url=fuzz_database_url,
        redis_url=redis_url,
        redis_prefix=f"pgwtest:{RUN_ID}:fuzz-{uuid.uuid4().hex[:8]}:",
        data_dir=Path(tmp_path_factory.mktemp("fuzz")) / "var",
        partners_dir=PARTNERS_DIR,
        log_json=True,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            container = app.state.container
            scopes = [scope for scope in SCOPES if scope not in PARTNER_SCOPES]
            client = await create_client(container, f"fuzz-{uuid.uuid4().hex[:6]}", scopes)
            token = await _token(http, client.client_id, client.client_secret, None)
            partners: dict[str, PartnerKeys] = {}
            for agreement in container.registry:
                try:
                    creds = await create_partner_credentials(container, agreement.id)
                except CredentialsExist:
                    creds = await rotate_partner_credentials(container, agreement.id)
                assert creds.webhook_secret is not None
                partner_token = await _token(
                    http, creds.client_id, creds.client_secret, "events:write"
                )
                partners[agreement.id] = PartnerKeys(partner_token, creds.webhook_secret)
            world = FuzzWorld(
                app=app,
                http=http,
                token=token,
                basic=(client.client_id, client.client_secret),
                partners=partners,
                pools={
                    "partner_id": sorted(partners),
                    "order_id": [],
                    "customer_id": [],
                    "complaint_id": [],
                    "entry_id": [],
                    "virtual_number": [],
                },
                orders_of={},
                canonical=sorted(
                    a.id for a in container.registry if a.webhook.dialect == CANONICAL_DIALECT
                ),
            )
            await _place_orders(world)
            await _store_rows(world)
            yield world
