"""Exactly-once application under concurrency (two app instances) and after a crash."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.settings import Settings
from tests.gateway.webhooks.conftest import OrderFactory, Partner, PartnerFactory, event


@pytest.fixture
async def second_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Another gateway process's app: same PostgreSQL and Redis, its own memory."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def _count_events(app: FastAPI, order_id: str) -> int:
    async with app.state.container.uow() as uow:
        return len(await uow.orders.events(order_id))


class TestConcurrentDuplicates:
    async def test_same_webhook_id_at_once_on_two_instances_is_applied_once(
        self, app: FastAPI, second_app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        transport = httpx.ASGITransport(app=second_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://second") as other:
            twin = Partner("citycar", citycar.credentials, citycar.token, other)
            order_id = await order("citycar")
            body = event(order_id, "rental.order.accepted")
            webhook_id = f"msg_{uuid.uuid4().hex}"
            sends = [
                (citycar if i % 2 else twin).send(body, webhook_id=webhook_id) for i in range(24)
            ]
            responses = await asyncio.gather(*sends)
        assert {r.status_code for r in responses} == {200}
        assert len({r.content for r in responses}) == 1
        assert sum(r.headers.get("x-webhook-replay") != "true" for r in responses) == 1
        assert await _count_events(app, order_id) == 1
        async with app.state.container.uow() as uow:
            row = await uow.inbox.by_webhook_id("citycar", webhook_id)
        assert row is not None and row.status == "applied"

    async def test_different_events_of_one_order_at_once_all_apply(
        self, app: FastAPI, second_app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        order_id = await order("citycar")
        transport = httpx.ASGITransport(app=second_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://second") as other:
            twin = Partner("citycar", citycar.credentials, citycar.token, other)
            bodies = [
                event(
                    order_id, "rental.order.accepted", at="2026-11-22T10:00:00+08:00", sequence=1
                ),
                event(
                    order_id,
                    "rental.vehicle.dispatched",
                    at="2026-11-22T10:05:00+08:00",
                    sequence=2,
                ),
                event(
                    order_id, "rental.vehicle.delivered", at="2026-11-22T10:27:00+08:00", sequence=3
                ),
            ]
            responses = await asyncio.gather(
                *((citycar if i % 2 else twin).send(b) for i, b in enumerate(bodies))
            )
        assert {r.status_code for r in responses} == {200}
        assert await _count_events(app, order_id) == 3
        async with app.state.container.uow() as uow:
            row = await uow.orders.get(order_id)
        assert row is not None and row.status == "delivered"


class TestCrashBetweenStoreAndApply:
    async def test_a_stored_delivery_is_applied_once_on_restart(
        self, settings: Settings, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        """The process died after committing the inbox row and before applying it.

        Storing through the intake's first phase and stopping there leaves the
        database exactly as that crash does; a restarted gateway must apply it.
        """
        await partner("citycar")
        order_id = await order("citycar")
        webhook_id = f"msg_{uuid.uuid4().hex}"
        stored = await app.state.webhook_intake.store(
            partner_id="citycar",
            webhook_id=webhook_id,
            headers={"webhook-id": webhook_id},
            body=orjson.dumps(event(order_id, "rental.order.accepted")),
        )
        assert stored.created and await _count_events(app, order_id) == 0

        restarted_settings = Settings(
            **{**settings.model_dump(), "inbox_recovery_grace_seconds": 0}
        )
        for _ in range(2):  # two restarts: the second finds nothing left to do
            restarted = create_app(restarted_settings)
            async with restarted.router.lifespan_context(restarted):
                for _ in range(50):
                    if await _count_events(restarted, order_id):
                        break
                    await asyncio.sleep(0.05)
        assert await _count_events(app, order_id) == 1
        async with app.state.container.uow() as uow:
            row = await uow.inbox.by_webhook_id("citycar", webhook_id)
            order_row = await uow.orders.get(order_id)
        assert row is not None and row.status == "applied" and row.response_status == 200
        assert order_row is not None and order_row.status == "accepted"


class TestDefects:
    async def test_an_error_while_applying_keeps_the_delivery_as_a_dead_letter(
        self,
        app: FastAPI,
        partner: PartnerFactory,
        order: OrderFactory,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A defect in applying must neither lose the delivery nor make it loop."""

        async def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("defect")

        citycar = await partner("citycar")
        order_id = await order("citycar")
        # Patched to stand in for a programming error inside the apply step,
        # which no input can trigger on purpose.
        monkeypatch.setattr("gateway.webhooks.intake.apply_delivery", broken)
        response = await citycar.send(event(order_id, "rental.order.accepted"))
        assert response.status_code == 202, response.text
        assert response.json()["reason"] == "apply_error"
        monkeypatch.undo()

        from gateway.webhooks.replay import replay_dead_letters

        report = await replay_dead_letters(app.state.container, partner_id="citycar")
        assert response.json()["dead_letter_id"] in [i for i, _ in report.resolved]
        assert await _count_events(app, order_id) == 1

    async def test_recovery_dead_letters_deliveries_of_a_removed_partner(
        self, app: FastAPI
    ) -> None:
        intake = app.state.webhook_intake
        webhook_id = f"msg_{uuid.uuid4().hex}"
        stored = await intake.store(
            partner_id="gone-partner", webhook_id=webhook_id, headers={}, body=b"{}"
        )
        answer = await intake.process(stored.row.id)
        assert answer.status == 202 and answer.body["reason"] == "unknown_partner"
