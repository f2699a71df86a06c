"""End to end: a long repair gets a courtesy car, delivered and completed by signed webhooks."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from gateway.api.orders import EXAMPLE_REPAIR_ORDER
from tests.gateway.dispatch.conftest import Post, configure, wait_for

REPAIRS = "/v1/oem/repair-orders"


def _notice(**changes: Any) -> dict[str, Any]:
    return dict(EXAMPLE_REPAIR_ORDER) | changes


async def test_long_repair_gets_a_courtesy_car_delivered_and_completed(
    app: FastAPI, post: Post, client: httpx.AsyncClient, oem_headers: dict[str, str]
) -> None:
    await configure(app, "swiftrent", webhook_delay_s=0.05)
    response = await post(REPAIRS, _notice(repair_order_id="RO-E2E-0001"))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["courtesy_car"] == "requested" and answer["threshold_hours"] == 4
    order = answer["order"]
    assert order["partner_id"] == "swiftrent" and order["repair_order_id"] == "RO-E2E-0001"
    booked = app.state.sandboxes["swiftrent"].received
    assert any(order["id"] in str(r["body"]) for r in booked)

    async def status() -> str:
        read = await client.get(f"/v1/orders/{order['id']}", headers=oem_headers)
        value: str = read.json()["status"]
        return value

    async def delivered() -> bool:
        return await status() == "delivered"

    await wait_for(delivered)
    sandbox = app.state.sandboxes["swiftrent"]
    sent = list(sandbox.sent)
    assert [r["payload"]["eventType"] for r in sent] == [
        "ORDER_ACCEPTED",
        "CAR_DISPATCHED",
        "CAR_DELIVERED",
    ]
    assert all(r["status"] == 200 for r in sent)
    # The rental ends: the partner reports it through the same signed intake.
    finished = await client.post(
        f"/sandbox/swiftrent/_orders/{order['partner_reference']}/emit/RENTAL_FINISHED"
    )
    assert finished.status_code == 200 and finished.json()["status"] == 200
    assert await status() == "completed"
    # The same repair order reported again: the same order, no second booking.
    again = await post(REPAIRS, _notice(repair_order_id="RO-E2E-0001"))
    assert again.status_code == 200
    assert again.json()["courtesy_car"] == "already_requested"
    assert again.json()["order"]["id"] == order["id"]
    bookings = [r for r in sandbox.received if r["path"].endswith("/bookings")]
    assert len(bookings) == 1


async def test_short_repair_needs_no_car(app: FastAPI, post: Post) -> None:
    response = await post(
        REPAIRS, _notice(repair_order_id="RO-E2E-0002", estimated_duration="PT3H")
    )
    assert response.status_code == 200
    assert response.json() == {
        "repair_order_id": "RO-E2E-0002",
        "courtesy_car": "not_needed",
        "threshold_hours": 4.0,
        "order": None,
    }


async def test_bad_duration_names_the_field(post: Post) -> None:
    response = await post(REPAIRS, _notice(estimated_duration="PT0S"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("body")
