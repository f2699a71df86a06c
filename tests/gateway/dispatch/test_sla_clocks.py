"""SLA clocks on real orders: started at dispatch, stopped by webhooks, swept when missed."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from contracts import Operation
from gateway.bootstrap import Container, build_container
from gateway.persistence.tables import OrderRow, SlaClockRow
from gateway.settings import Settings
from gateway.slo.sweep import sweep_once
from tests.gateway.dispatch.conftest import Post, configure, example, wait_for

SERVICE = "/v1/service-requests"


async def _clocks(container: Container, order_id: str) -> dict[str, SlaClockRow]:
    async with container.uow() as uow:
        return {c.term: c for c in await uow.sla.clocks_of(order_id)}


def _later(container: Container, delta: timedelta) -> Container:
    return dataclasses.replace(container, clock=lambda: datetime.now(UTC) + delta)


async def test_webhooks_stop_the_clocks_started_at_dispatch(
    app: FastAPI, post: Post, client: httpx.AsyncClient, oem_headers: dict[str, str]
) -> None:
    await configure(app, "swiftrent", webhook_delay_s=0.01)
    order = (await post(SERVICE, example(Operation.COURTESY_CAR_BOOK))).json()
    container = app.state.container

    async def delivered() -> bool:
        clocks = await _clocks(container, order["id"])
        return clocks["deliver"].status != "open"

    await wait_for(delivered)
    clocks = await _clocks(container, order["id"])
    assert set(clocks) == {"accept", "deliver"}
    accept, deliver = clocks["accept"], clocks["deliver"]
    assert accept.status == deliver.status == "met"
    assert accept.target_ms == 5 * 60_000 and deliver.target_ms == 30 * 60_000
    assert deliver.elapsed_ms is not None and 0 <= deliver.elapsed_ms < 60_000
    assert accept.started_at == deliver.started_at


async def test_a_missed_deadline_is_a_breach_even_if_the_partner_never_calls(
    app: FastAPI, post: Post
) -> None:
    await configure(app, "swiftrent", webhooks=False)
    order = (await post(SERVICE, example(Operation.COURTESY_CAR_BOOK))).json()
    container = app.state.container
    six_minutes = _later(container, timedelta(minutes=6))
    breaches = await sweep_once(six_minutes, limit=10_000)
    mine = [b for b in breaches if b.order_id == order["id"]]
    assert [b.term for b in mine] == ["accept"]
    assert [
        b for b in await sweep_once(six_minutes, limit=10_000) if b.order_id == order["id"]
    ] == []
    clocks = await _clocks(container, order["id"])
    assert clocks["accept"].status == "breached" and clocks["deliver"].status == "open"
    # The partner finally answers: the breach stands, and when it came is recorded.
    sandbox = app.state.sandboxes["swiftrent"]
    await sandbox.emit(sandbox.existing(Operation.COURTESY_CAR_BOOK, order["id"]), "ORDER_ACCEPTED")
    clocks = await _clocks(container, order["id"])
    assert clocks["accept"].status == "breached" and clocks["accept"].stopped_at is not None


async def test_two_processes_sweeping_record_each_missed_deadline_once(settings: Settings) -> None:
    partner = f"sweep-{uuid.uuid4().hex[:8]}"
    first, second = build_container(settings), build_container(settings)
    past = datetime.now(UTC) - timedelta(hours=1)
    try:
        async with first.uow() as uow:
            for index in range(60):
                order_id = f"ord_{uuid.uuid4().hex[:26]}"
                uow.orders.add(
                    OrderRow(
                        id=order_id,
                        category="rental",
                        operation="courtesy_car.book",
                        partner_id=partner,
                        status="dispatched",
                        status_sequence=0,
                        request={},
                        created_at=past,
                        updated_at=past,
                    )
                )
                await uow.flush()
                uow.sla.add_clock(
                    SlaClockRow(
                        order_id=order_id,
                        partner_id=partner,
                        operation="courtesy_car.book",
                        term="deliver",
                        stop_event="rental.vehicle.delivered",
                        target_ms=1000,
                        started_at=past,
                        deadline_at=past + timedelta(seconds=index),
                        status="open",
                        month=past.strftime("%Y-%m"),
                        late=False,
                    )
                )
            await uow.commit()
        rounds = await asyncio.gather(
            *(sweep_once(c, limit=7) for c in (first, second) for _ in range(12))
        )
        found = [b.clock_id for batch in rounds for b in batch if b.partner_id == partner]
        assert len(found) == len(set(found)) == 60
    finally:
        await first.aclose()
        await second.aclose()
