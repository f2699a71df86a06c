"""Relay numbers are released in the transaction that closes their order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI

from gateway.privacy.relays import bind_relay, resolve_relay
from tests.gateway.privacy.conftest import make_pool
from tests.gateway.webhooks.conftest import OrderFactory, PartnerFactory, event

PHONES = ("13800138000", "13900139000")


async def _bind_phones(app: FastAPI, order_id: str, partner_id: str) -> list[str]:
    container = app.state.container
    settings = container.settings.model_copy(update={"relay_number_pool": make_pool(50)})
    async with container.uow() as uow:
        numbers = [
            await bind_relay(
                uow,
                settings,
                order_id=order_id,
                partner_id=partner_id,
                real_number=phone,
                now=datetime.now(UTC),
            )
            for phone in PHONES
        ]
        await uow.commit()
    return numbers


async def _open(app: FastAPI, numbers: list[str]) -> list[bool]:
    async with app.state.container.uow() as uow:
        return [await resolve_relay(uow, number) is not None for number in numbers]


class TestReleaseOnClose:
    @pytest.mark.parametrize(
        ("event_type", "data"),
        [
            ("rental.completed", None),
            ("order.cancelled", {"reason": "customer_request"}),
            ("rental.order.rejected", {"reason_code": "no_vehicle_available"}),
        ],
    )
    async def test_a_closing_webhook_releases_the_orders_numbers(
        self,
        app: FastAPI,
        partner: PartnerFactory,
        order: OrderFactory,
        event_type: str,
        data: dict[str, str] | None,
    ) -> None:
        citycar = await partner("citycar")
        order_id = await order("citycar")
        other_order = await order("citycar")
        numbers = await _bind_phones(app, order_id, "citycar")
        others = await _bind_phones(app, other_order, "citycar")

        closing = await citycar.send(event(order_id, event_type, sequence=2, data=data))
        assert closing.status_code == 200, closing.text
        assert closing.json()["effect"] == "applied", closing.text
        assert await _open(app, numbers) == [False, False]
        assert await _open(app, others) == [True, True]

    async def test_an_event_that_does_not_close_the_order_keeps_them(
        self, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        order_id = await order("citycar")
        numbers = await _bind_phones(app, order_id, "citycar")
        for sequence, event_type in enumerate(
            ("rental.order.accepted", "rental.vehicle.delivered")
        ):
            response = await citycar.send(event(order_id, event_type, sequence=sequence + 1))
            assert response.json()["effect"] == "applied", response.text
        assert await _open(app, numbers) == [True, True]

    async def test_cancelling_through_the_dispatcher_releases_them(
        self, app: FastAPI, order: OrderFactory
    ) -> None:
        order_id = await order("citycar")
        numbers = await _bind_phones(app, order_id, "citycar")
        await app.state.dispatcher._record_cancel(order_id)
        assert await _open(app, numbers) == [False, False]

    async def test_a_failed_placement_releases_them(
        self, app: FastAPI, order: OrderFactory
    ) -> None:
        order_id = await order("citycar", status="requested")
        numbers = await _bind_phones(app, order_id, "citycar")
        answer = await app.state.dispatcher._record_failure(order_id, [])
        assert answer.status == 502
        assert await _open(app, numbers) == [False, False]
