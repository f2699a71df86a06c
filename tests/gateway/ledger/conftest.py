"""Ledger fixtures: partners unique to the test, a movable clock, events through the intake.

Each test gets copies of the sample agreements under ids of its own
(``swiftrent-1a2b3c``) that post canonical events, so its entries and
statements never mix with another test's. Events go through the real webhook
intake (store, then apply), as a partner's delivery does.

Settlement months are closed for the whole database, so a test that closes
one uses a month no other test writes to or closes: tests that only record
effects use months of 2026; closing tests each take their own month of 2025
(the sample plans are in force from 2025-01, taicover's from 2025-03) or,
when they need no plan in force, of 2023 and 2024. The OpenAPI example closes
2026-09. Taken: 2025-02 and 2025-04 (test_ledger).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts import CANONICAL_DIALECT, EventType
from contracts.ids import new_event_id, new_order_id
from gateway.bootstrap import Container, build_container
from gateway.persistence.tables import LedgerEntryRow, OrderRow
from gateway.registry import Registry, load_registry
from gateway.scorecards.months import SHANGHAI
from gateway.settings import Settings
from gateway.webhooks.intake import Answer, WebhookIntake
from tests.conftest import PARTNERS_DIR
from tests.gateway.oauth.conftest import FakeClock

SAMPLE = load_registry(PARTNERS_DIR)

OPERATION_OF = {
    "rental": "courtesy_car.book",
    "insurance": "insurance.bind",
    "charging": "charging.start_session",
    "lifestyle": "lifestyle.redeem_benefit",
}


@dataclass
class Partners:
    """The test's partners: sample id -> the test's copy id."""

    ids: dict[str, str]
    registry: Registry

    def __getitem__(self, sample_id: str) -> str:
        return self.ids[sample_id]


def copies(**updates: dict[str, Any]) -> Partners:
    """Copies of the sample agreements under unique ids, posting canonical events;
    ``updates`` change a sample partner's agreement (``swiftrent={"tier": ...}``)."""
    suffix = uuid.uuid4().hex[:6]
    ids = {a.id: f"{a.id}-{suffix}" for a in SAMPLE}
    agreements = []
    for a in SAMPLE:
        changed = {
            "id": ids[a.id],
            "webhook": a.webhook.model_copy(update={"dialect": CANONICAL_DIALECT}),
        }
        changed.update(updates.get(a.id, {}))
        agreements.append(a.model_copy(update=changed))
    return Partners(ids, Registry(agreements))


@pytest.fixture
def partners() -> Partners:
    """Copies of the sample agreements under ids unique to this test."""
    return copies()


@pytest.fixture
def clock() -> FakeClock:
    """A clock tests set to the moment they need."""
    return FakeClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))


def ledger_settings(database_url: str, data_dir: Path) -> Settings:
    """Settings on a given database with in-process hot state."""
    return Settings(
        environment="test",
        database_url=database_url,
        data_dir=data_dir,
        partners_dir=PARTNERS_DIR,
    )


@pytest.fixture
async def container(
    database_url: str, tmp_path: Path, partners: Partners, clock: FakeClock
) -> AsyncIterator[Container]:
    """A container on the parametrised database with the test's partners and clock."""
    built = build_container(
        ledger_settings(database_url, tmp_path / "var"), registry=partners.registry, clock=clock
    )
    yield built
    await built.aclose()


def at(month: str, day: int = 15, hour: int = 10) -> datetime:
    """A moment in the month (Asia/Shanghai wall time), as UTC."""
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, day, hour, tzinfo=SHANGHAI).astimezone(UTC)


async def place(
    container: Container, partner_id: str, *, created_at: datetime | None = None
) -> str:
    """An order dispatched to the partner (of the partner's category); its id."""
    agreement = container.registry.get(partner_id)
    category = agreement.category.value
    moment = created_at or container.clock()
    order_id = new_order_id()
    async with container.uow() as uow:
        uow.orders.add(
            OrderRow(
                id=order_id,
                category=category,
                operation=OPERATION_OF[category],
                partner_id=partner_id,
                partner_reference=None,
                customer_id="cus_ledger",
                status="dispatched",
                status_occurred_at=moment,
                status_sequence=0,
                request={},
                result=None,
                routing=None,
                created_at=moment,
                updated_at=moment,
                dispatched_at=moment,
            )
        )
        await uow.commit()
    return order_id


def money(fen: int) -> dict[str, object]:
    """CNY in fen, as events carry it."""
    return {"amount": fen, "currency": "CNY"}


def completion_data(event_type: EventType, fen: int, *, days: int = 1) -> dict[str, Any]:
    """The data of a completing event worth ``fen``."""
    match event_type:
        case EventType.RENTAL_COMPLETED:
            return {"days": days, "amount": money(fen)}
        case EventType.INSURANCE_POLICY_ISSUED:
            return {
                "policy_number": f"P{uuid.uuid4().hex[:10]}",
                "premium": money(fen),
                "coverages": ["compulsory_traffic"],
                "starts_on": "2026-01-01",
                "ends_on": "2026-12-31",
            }
        case EventType.CHARGING_SESSION_COMPLETED:
            return {
                "session_id": f"cs-{uuid.uuid4().hex[:6]}",
                "energy_wh": 1000,
                "amount": money(fen),
                "ended_at": "2026-01-01T10:00:00+08:00",
            }
        case EventType.LIFESTYLE_BENEFIT_REDEEMED:
            return {"redemption_id": "RD-1", "benefit_id": "coffee", "amount": money(fen)}
    raise AssertionError(f"{event_type} does not complete an order with money")


COMPLETES = {
    "rental": EventType.RENTAL_COMPLETED,
    "insurance": EventType.INSURANCE_POLICY_ISSUED,
    "charging": EventType.CHARGING_SESSION_COMPLETED,
    "lifestyle": EventType.LIFESTYLE_BENEFIT_REDEEMED,
}


async def _no_secrets(partner_id: str, now: datetime) -> list[str]:
    return []


async def deliver(
    container: Container,
    partner_id: str,
    order_id: str,
    event_type: EventType,
    data: dict[str, Any],
    *,
    occurred_at: datetime,
    event_id: str | None = None,
    webhook_id: str | None = None,
) -> Answer:
    """Store and apply one canonical event as the intake does for a signed delivery."""
    body = orjson.dumps(
        {
            "event_id": event_id or new_event_id(),
            "type": event_type.value,
            "partner_id": partner_id,
            "order_id": order_id,
            "occurred_at": occurred_at.isoformat(),
            "data": data,
        }
    )
    intake = WebhookIntake(container, _no_secrets, clock=container.clock)
    stored = await intake.store(
        partner_id=partner_id,
        webhook_id=webhook_id or f"msg_{uuid.uuid4().hex}",
        headers={},
        body=body,
    )
    return await intake.process(stored.row.id)


async def complete(
    container: Container,
    partner_id: str,
    fen: int,
    *,
    occurred_at: datetime,
    days: int = 1,
) -> str:
    """An order of the partner placed and completed for ``fen``; its id."""
    order_id = await place(container, partner_id, created_at=occurred_at)
    category = container.registry.get(partner_id).category.value
    event_type = COMPLETES[category]
    answer = await deliver(
        container,
        partner_id,
        order_id,
        event_type,
        completion_data(event_type, fen, days=days),
        occurred_at=occurred_at,
    )
    assert answer.status == 200, answer.body
    return order_id


async def cancel(
    container: Container, partner_id: str, order_id: str, *, occurred_at: datetime
) -> Answer:
    """Cancel the order by the partner's event."""
    return await deliver(
        container,
        partner_id,
        order_id,
        EventType.ORDER_CANCELLED,
        {"reason": "customer_request"},
        occurred_at=occurred_at,
    )


async def entries_of(container: Container, order_id: str) -> Sequence[LedgerEntryRow]:
    """Every ledger entry of the order, oldest first."""
    async with container.uow() as uow:
        return await uow.ledger.of_order(order_id)
