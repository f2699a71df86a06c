"""A NUL escaped inside a JSON body (`"\\u0000"`): PostgreSQL text and JSONB cannot hold it,
so it is refused as invalid input (422) before anything is stored, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from contracts import EXAMPLE_REQUESTS, Operation, new_event_id
from gateway.middleware import has_nul_escape

from .conftest import Gateway, assert_problem

NUL = "\u0000"


class TestNulInJsonBodies:
    async def test_in_a_webhook_delivery(self, any_gateway: Gateway) -> None:
        gw = any_gateway
        citycar = await gw.partner()
        order_id = await gw.order()
        before = await gw.snapshot()
        body = orjson.dumps(
            {
                "event_id": new_event_id(),
                "type": "rental.order.accepted",
                "partner_id": citycar.partner_id,
                "order_id": order_id,
                "partner_reference": f"CC-{NUL}1",
                "occurred_at": datetime.now(UTC).isoformat(),
                "data": {"eta": datetime.now(UTC).isoformat()},
            }
        )
        response = await citycar.post(body, citycar.headers(body))
        problem = assert_problem(response, 422, "validation-error")
        assert problem["errors"][0]["field"] == "body"
        assert "NUL" in problem["detail"]
        await gw.assert_unchanged(before)

    async def test_in_a_service_request(self, any_gateway: Gateway) -> None:
        gw = any_gateway
        token = await gw.app_token("services:write")
        request = EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK].model_dump(mode="json")
        request["customer"]["name"] = f"Li{NUL}Na"
        before = await gw.snapshot()
        response = await gw.http.post(
            "/v1/service-requests",
            json=request,
            headers={"authorization": f"Bearer {token}", "idempotency-key": new_event_id()},
        )
        problem = assert_problem(response, 422, "validation-error")
        assert problem["errors"][0]["type"] == "nul_character"
        await gw.assert_unchanged(before)

    def test_an_escaped_backslash_before_u0000_is_not_a_nul(self) -> None:
        assert has_nul_escape(b'{"a":"x\\u0000"}')
        assert not has_nul_escape(b'{"a":"x\\\\u0000"}')  # a backslash, then "u0000"
        assert has_nul_escape(b'{"a":"x\\\\\\u0000"}')  # a backslash, then NUL
