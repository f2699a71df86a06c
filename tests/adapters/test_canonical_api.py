"""The canonical partner API adapter against recorded answers (respx): operations and errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

import adapters.canonical
from adapters import PartnerAuthFailed, PartnerRateLimited, PartnerRejected, PartnerUnavailable
from adapters.canonical import CanonicalApi
from adapters.canonical.outbound import MAX_STATION_PAGES
from adapters.protocol import OutboundCall, PartnerAdapter
from contracts import (
    EXAMPLE_REQUESTS,
    SERVICE_REQUEST_ADAPTER,
    SERVICE_RESULT_ADAPTER,
    CanonicalEvent,
    ChargingStation,
    Operation,
    StationList,
)

_BASE = "https://api.partner.example"
_FIXTURES = Path(adapters.canonical.__file__).parent / "fixtures" / "operations"
_PARTNER_PAGE = Path(__file__).resolve().parents[2] / "docs" / "partners" / "canonical-api.md"
_ORDER = "ord_01jq3v8y0a1b2c3d4e5f6g7h8j"
_KEY = "idem-citycar-01jq3v8y0a1b2c3d4e5f6g7h8j"
_ORDERS = [op for op in Operation if op is not Operation.CHARGING_SEARCH]
_API = CanonicalApi()


def _fixture(name: str) -> Any:
    return json.loads((_FIXTURES / f"{name}.json").read_text("utf-8"))


def _example(operation: Operation) -> dict[str, Any]:
    payload: dict[str, Any] = EXAMPLE_REQUESTS[operation].model_dump(mode="json", exclude_none=True)
    return payload


def _call(operation: Operation, payload: dict[str, Any] | None = None) -> OutboundCall:
    return OutboundCall(
        partner_id="citycar",
        order_id=_ORDER,
        operation=operation,
        payload=_example(operation) if payload is None else payload,
        idempotency_key=_KEY,
    )


@pytest.fixture
def partner() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=_BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(base_url=_BASE) as client:
        yield client


def _problem(status: int, code: str | None, **headers: str) -> httpx.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": "x", "status": status, "detail": "x"}
    if code is not None:
        body["code"] = code
    return httpx.Response(
        status, json=body, headers={"content-type": "application/problem+json", **headers}
    )


class TestSurface:
    def test_is_a_partner_adapter_for_every_operation(self) -> None:
        assert isinstance(_API, PartnerAdapter)
        assert _API.dialect == "canonical"
        assert _API.operations() == frozenset(Operation)

    @pytest.mark.parametrize("operation", list(Operation))
    def test_every_operation_is_retry_safe(self, operation: Operation) -> None:
        assert _API.retry_safe(operation)

    @pytest.mark.parametrize("operation", _ORDERS)
    def test_request_fixtures_are_the_examples(self, operation: Operation) -> None:
        assert _fixture(f"{operation}.request")["request"] == _example(operation)


class TestPartnerPage:
    def test_every_json_example_fits_the_contract(self) -> None:
        blocks = re.findall(r"```json\n(.*?)\n```", _PARTNER_PAGE.read_text("utf-8"), re.S)
        examples = [json.loads(block) for block in blocks]
        for example in examples:
            if "event_id" in example:
                CanonicalEvent.model_validate(example)
            elif "result" in example:
                SERVICE_RESULT_ADAPTER.validate_python(example["result"])
            elif "stations" in example:
                for station in example["stations"]:
                    ChargingStation.model_validate(station)
            elif "request" in example:
                SERVICE_REQUEST_ADAPTER.validate_python(example["request"])
            elif "operation" in example:
                SERVICE_REQUEST_ADAPTER.validate_python(example)
        # The courtesy car request is shown in its envelope; every other order on its own.
        shown = {e["operation"] for e in examples if "operation" in e} | {
            e["request"]["operation"] for e in examples if "request" in e
        }
        assert shown == {op.value for op in _ORDERS}


class TestOrders:
    @pytest.mark.parametrize("operation", _ORDERS)
    async def test_each_operation_round_trips(
        self, operation: Operation, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        answer = _fixture(f"{operation}.response")
        route = partner.post("/v1/orders").respond(201, json=answer)

        result = await _API.call(http, _call(operation))

        sent = route.calls.last.request
        assert json.loads(sent.content) == _fixture(f"{operation}.request")
        assert sent.headers["idempotency-key"] == _KEY
        assert result == SERVICE_RESULT_ADAPTER.validate_python(answer["result"])
        assert result.operation is operation

    async def test_a_replayed_order_answers_200_with_the_same_body(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        answer = _fixture("courtesy_car.book.response")
        partner.post("/v1/orders").respond(200, json=answer)
        result = await _API.call(http, _call(Operation.COURTESY_CAR_BOOK))
        assert result == SERVICE_RESULT_ADAPTER.validate_python(answer["result"])

    async def test_absent_optional_fields_are_sent_absent(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        payload = _example(Operation.COURTESY_CAR_BOOK)
        del payload["repair_order_id"], payload["customer"]["national_id"], payload["pickup"]["lat"]
        route = partner.post("/v1/orders").respond(201, json=_fixture("courtesy_car.book.response"))
        await _API.call(http, _call(Operation.COURTESY_CAR_BOOK, payload))
        assert json.loads(route.calls.last.request.content)["request"] == payload

    async def test_result_operation_may_be_omitted(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        answer = _fixture("charging.start.response")
        del answer["result"]["operation"]
        partner.post("/v1/orders").respond(201, json=answer)
        result = await _API.call(http, _call(Operation.CHARGING_START))
        assert result.operation is Operation.CHARGING_START


class TestStationSearch:
    async def test_one_page(self, partner: respx.MockRouter, http: httpx.AsyncClient) -> None:
        page = _fixture("charging.search.response")
        route = partner.get("/v1/stations").respond(200, json=page)

        result = await _API.call(http, _call(Operation.CHARGING_SEARCH))

        assert dict(route.calls.last.request.url.params) == _fixture("charging.search.request")
        assert result == StationList(
            stations=[ChargingStation.model_validate(s) for s in page["stations"]]
        )

    async def test_the_connector_filter_is_sent_when_given(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.get("/v1/stations").respond(200, json={"stations": []})
        payload = {**_example(Operation.CHARGING_SEARCH), "connector": "gbt_dc"}
        result = await _API.call(http, _call(Operation.CHARGING_SEARCH, payload))
        assert route.calls.last.request.url.params["connector"] == "gbt_dc"
        assert result == StationList(stations=[])

    async def test_cursors_are_followed_until_the_limit(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        stations = _fixture("charging.search.response")["stations"]
        pages = [
            {"stations": stations[:2], "next_cursor": "c2"},
            {"stations": stations[2:], "next_cursor": "c3"},
        ]
        route = partner.get("/v1/stations").mock(
            side_effect=[httpx.Response(200, json=p) for p in pages]
        )
        payload = {**_example(Operation.CHARGING_SEARCH), "limit": 3}

        result = await _API.call(http, _call(Operation.CHARGING_SEARCH, payload))

        assert isinstance(result, StationList)
        assert [s.station_id for s in result.stations] == [s["station_id"] for s in stations]
        asked = [dict(c.request.url.params) for c in route.calls]
        assert [(q["limit"], q.get("cursor")) for q in asked] == [("3", None), ("1", "c2")]

    async def test_a_page_over_the_limit_is_cut(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.get("/v1/stations").respond(200, json=_fixture("charging.search.response"))
        payload = {**_example(Operation.CHARGING_SEARCH), "limit": 2}
        result = await _API.call(http, _call(Operation.CHARGING_SEARCH, payload))
        assert isinstance(result, StationList)
        assert len(result.stations) == 2

    async def test_paging_stops_at_the_bound(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        station = _fixture("charging.search.response")["stations"][0]
        route = partner.get("/v1/stations").respond(
            200, json={"stations": [station], "next_cursor": "again"}
        )
        payload = {**_example(Operation.CHARGING_SEARCH), "limit": 200}

        result = await _API.call(http, _call(Operation.CHARGING_SEARCH, payload))

        assert route.call_count == MAX_STATION_PAGES
        assert isinstance(result, StationList)
        assert len(result.stations) == MAX_STATION_PAGES

    async def test_without_coordinates_the_city_is_searched(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        payload = _example(Operation.CHARGING_SEARCH)
        del payload["location"]["lat"]
        route = partner.get("/v1/stations").respond(200, json={"stations": [], "next_cursor": None})
        await _API.call(http, _call(Operation.CHARGING_SEARCH, payload))
        sent = dict(route.calls[0].request.url.params)
        assert sent["city"] == "Shenzhen" and "lat" not in sent and "radius_m" not in sent

    async def test_no_place_at_all_is_a_missing_field(self, http: httpx.AsyncClient) -> None:
        payload = _example(Operation.CHARGING_SEARCH)
        payload["location"] = {}
        with pytest.raises(PartnerRejected) as caught:
            await _API.call(http, _call(Operation.CHARGING_SEARCH, payload))
        assert caught.value.code == "missing_field"

    async def test_a_station_outside_the_contract_is_unusable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        page = _fixture("charging.search.response")
        page["stations"][1]["connectors"] = []
        partner.get("/v1/stations").respond(200, json=page)
        with pytest.raises(PartnerUnavailable, match=r"stations\.1\.connectors"):
            await _API.call(http, _call(Operation.CHARGING_SEARCH))

    async def test_search_errors_map_like_orders(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.get("/v1/stations").mock(return_value=_problem(422, "area_not_served"))
        with pytest.raises(PartnerRejected) as caught:
            await _API.call(http, _call(Operation.CHARGING_SEARCH))
        assert caught.value.code == "area_not_served"


class TestErrors:
    async def _book(self, http: httpx.AsyncClient) -> None:
        await _API.call(http, _call(Operation.COURTESY_CAR_BOOK))

    @pytest.mark.parametrize("status", [401, 403])
    async def test_refused_credentials(
        self, status: int, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post("/v1/orders").mock(return_value=_problem(status, "unauthorized"))
        with pytest.raises(PartnerAuthFailed, match=f"HTTP {status}"):
            await self._book(http)

    async def test_rate_limited_with_seconds(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        response = _problem(429, "rate_limited", **{"Retry-After": "7"})
        partner.post("/v1/orders").mock(return_value=response)
        with pytest.raises(PartnerRateLimited) as caught:
            await self._book(http)
        assert caught.value.retry_after == 7

    async def test_rate_limited_with_an_http_date(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        partner.post("/v1/orders").mock(
            return_value=_problem(429, "rate_limited", **{"Retry-After": later})
        )
        with pytest.raises(PartnerRateLimited) as caught:
            await self._book(http)
        assert caught.value.retry_after is not None
        assert 25 <= caught.value.retry_after <= 30

    @pytest.mark.parametrize("status", [408, 500, 502, 503])
    async def test_server_failures_are_unavailable(
        self, status: int, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post("/v1/orders").mock(return_value=_problem(status, "unavailable"))
        with pytest.raises(PartnerUnavailable, match=f"HTTP {status}") as caught:
            await self._book(http)
        assert caught.value.sent

    async def test_timeout_may_have_acted(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post("/v1/orders").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(PartnerUnavailable) as caught:
            await self._book(http)
        assert caught.value.timed_out

    async def test_connection_refused_was_never_sent(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post("/v1/orders").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(PartnerUnavailable) as caught:
            await self._book(http)
        assert caught.value.sent is False

    @pytest.mark.parametrize("name", ["error.rejected", "error.unsupported_operation"])
    async def test_business_refusal_carries_its_code(
        self, name: str, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        problem = _fixture(name)
        partner.post("/v1/orders").respond(problem["status"], json=problem)
        with pytest.raises(PartnerRejected) as caught:
            await self._book(http)
        assert caught.value.code == problem["code"]
        assert problem["detail"] not in str(caught.value)

    async def test_codes_are_lower_cased(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post("/v1/orders").mock(return_value=_problem(409, "DUPLICATE_BOOKING"))
        with pytest.raises(PartnerRejected) as caught:
            await self._book(http)
        assert caught.value.code == "duplicate_booking"

    @pytest.mark.parametrize(
        "response",
        [
            _problem(422, None),
            httpx.Response(404, text="<html>Not Found</html>"),
            httpx.Response(302, headers={"location": "/login"}),
        ],
        ids=["problem-without-code", "html-404", "redirect"],
    )
    async def test_answers_outside_the_published_api_are_unavailable(
        self, response: httpx.Response, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post("/v1/orders").mock(return_value=response)
        with pytest.raises(PartnerUnavailable, match="not an answer of the published API"):
            await self._book(http)

    @pytest.mark.parametrize(
        ("change", "match"),
        [
            (lambda a: a.pop("result"), "result"),
            (lambda a: a.update(status="pending"), "status"),
            (lambda a: a["result"].update(daily_price={"amount": "100"}), "daily_price"),
            (lambda a: a["result"].update(operation="insurance.bind"), "policy_number"),
            (lambda a: a["result"].update(partner_reference="CC-OTHER"), "partner_reference"),
            (lambda a: a["result"].update(surprise=1), "surprise"),
        ],
        ids=["no-result", "unknown-status", "bad-money", "other-operation", "other-ref", "extra"],
    )
    async def test_a_malformed_success_body_is_unavailable(
        self,
        change: Any,
        match: str,
        partner: respx.MockRouter,
        http: httpx.AsyncClient,
    ) -> None:
        answer = _fixture("courtesy_car.book.response")
        change(answer)
        partner.post("/v1/orders").respond(201, json=answer)
        with pytest.raises(PartnerUnavailable, match=match):
            await self._book(http)

    async def test_a_result_of_another_operation_is_unavailable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post("/v1/orders").respond(201, json=_fixture("charging.stop.response"))
        with pytest.raises(PartnerUnavailable, match=r"answered with a charging\.stop result"):
            await _API.call(http, _call(Operation.CHARGING_START))

    async def test_a_success_body_that_is_not_json_is_unavailable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post("/v1/orders").respond(201, text="OK")
        with pytest.raises(PartnerUnavailable, match="not JSON"):
            await self._book(http)


class TestCancel:
    _REF = "CC-20300520-4F2A"

    async def test_cancel(self, partner: respx.MockRouter, http: httpx.AsyncClient) -> None:
        route = partner.post(f"/v1/orders/{self._REF}/cancel").respond(
            200, json=_fixture("cancel.response")
        )
        await _API.cancel(http, order_id=_ORDER, partner_reference=self._REF)
        assert json.loads(route.calls.last.request.content) == _fixture("cancel.request")

    async def test_the_reference_is_escaped_into_one_path_segment(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post("/v1/orders/A%2FB%3F1/cancel").respond(
            200, json={"status": "cancelled"}
        )
        await _API.cancel(http, order_id=_ORDER, partner_reference="A/B?1")
        assert route.called

    @pytest.mark.parametrize("code", ["not_cancellable", "already_delivered", None])
    async def test_too_late(
        self, code: str | None, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(f"/v1/orders/{self._REF}/cancel").mock(return_value=_problem(409, code))
        with pytest.raises(PartnerRejected) as caught:
            await _API.cancel(http, order_id=_ORDER, partner_reference=self._REF)
        assert caught.value.code == "not_cancellable"

    async def test_the_recorded_too_late_answer(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        problem = _fixture("error.not_cancellable")
        partner.post(f"/v1/orders/{self._REF}/cancel").respond(409, json=problem)
        with pytest.raises(PartnerRejected) as caught:
            await _API.cancel(http, order_id=_ORDER, partner_reference=self._REF)
        assert caught.value.code == "not_cancellable"

    async def test_nothing_to_cancel_without_a_reference(self, http: httpx.AsyncClient) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await _API.cancel(http, order_id=_ORDER, partner_reference=None)
        assert caught.value.code == "not_cancellable"

    async def test_an_unknown_order_is_rejected_with_its_code(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(f"/v1/orders/{self._REF}/cancel").mock(
            return_value=_problem(404, "unknown_order")
        )
        with pytest.raises(PartnerRejected) as caught:
            await _API.cancel(http, order_id=_ORDER, partner_reference=self._REF)
        assert caught.value.code == "unknown_order"

    async def test_cancel_failures_map_by_status(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(f"/v1/orders/{self._REF}/cancel").mock(
            return_value=_problem(503, "unavailable")
        )
        with pytest.raises(PartnerUnavailable):
            await _API.cancel(http, order_id=_ORDER, partner_reference=self._REF)

    async def test_an_unexpected_cancel_answer_is_unavailable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(f"/v1/orders/{self._REF}/cancel").respond(200, json={"status": "open"})
        with pytest.raises(PartnerUnavailable, match="cancel answer"):
            await _API.cancel(http, order_id=_ORDER, partner_reference=self._REF)
