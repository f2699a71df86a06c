"""SwiftRent v2 outbound: the recorded wire exchange, each failure class, and cancel."""

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

import adapters.swiftrent
from adapters import (
    PartnerAuthFailed,
    PartnerRateLimited,
    PartnerRejected,
    PartnerUnavailable,
)
from adapters.protocol import OutboundCall, PartnerAdapter
from adapters.swiftrent import SwiftRentApi
from contracts import (
    EXAMPLE_REQUESTS,
    CourtesyCarBooking,
    Money,
    Operation,
    VehicleClass,
)
from tests.adapters.conftest import fixtures_of, load

_OPERATIONS = fixtures_of(adapters.swiftrent).parent / "operations"
_BASE = "https://open.swiftrent.example.com/gw"
_ORDER = "ord_01jp97g730p8x9cdpak1ffyan2"
_KEY = "idem-9c4f0b7e2a5d4e18"
_BOOKING = "SR-20300518-4F2A9C"
_BOOK = Operation.COURTESY_CAR_BOOK
_PERSONAL = ("李晓明", "13800138000", "科苑路")


def _payload() -> dict[str, Any]:
    return EXAMPLE_REQUESTS[_BOOK].model_dump(mode="json")


def _call(payload: dict[str, Any] | None = None) -> OutboundCall:
    return OutboundCall(
        partner_id="swiftrent",
        order_id=_ORDER,
        operation=_BOOK,
        payload=_payload() if payload is None else payload,
        idempotency_key=_KEY,
    )


def _fixture(name: str) -> dict[str, Any]:
    return load(_OPERATIONS, name)


def _answer(**changes: Any) -> dict[str, Any]:
    """The recorded booking answer with ``data`` fields replaced (None removes one)."""
    answer = _fixture("courtesy_car.book.response")
    for key, value in changes.items():
        if value is None:
            del answer["data"][key]
        else:
            answer["data"][key] = value
    return answer


def _sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=_BASE) as client:
        yield client


@pytest.fixture
def partner() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=_BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def api() -> SwiftRentApi:
    return SwiftRentApi()


class TestSurface:
    def test_is_a_partner_adapter(self, api: SwiftRentApi) -> None:
        assert isinstance(api, PartnerAdapter)
        assert api.dialect == "swiftrent.v2"
        assert api.operations() == frozenset({_BOOK})

    def test_booking_is_retry_safe(self, api: SwiftRentApi) -> None:
        assert api.retry_safe(_BOOK)
        assert not api.retry_safe(Operation.INSURANCE_BIND)

    async def test_other_operations_are_refused_unsent(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        call = OutboundCall("swiftrent", _ORDER, Operation.CHARGING_START, {}, _KEY)
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, call)
        assert caught.value.code == "unsupported_operation"
        assert not partner.calls


class TestBook:
    async def test_sends_the_recorded_request(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        route = partner.post("/api/v2/bookings").respond(
            200, json=_fixture("courtesy_car.book.response")
        )
        await api.call(http, _call())
        request = route.calls.last.request
        assert request.url == f"{_BASE}/api/v2/bookings"
        assert request.headers["X-Request-Id"] == _KEY
        assert _sent(route) == _fixture("courtesy_car.book.request")

    async def test_answer_becomes_the_canonical_booking(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post("/api/v2/bookings").respond(200, json=_fixture("courtesy_car.book.response"))
        result = await api.call(http, _call())
        assert result == CourtesyCarBooking(
            partner_reference=_BOOKING,
            eta=datetime(2030, 5, 20, 1, 0, tzinfo=UTC),
            daily_price=Money.of("240.00", "CNY"),
            vehicle_class=VehicleClass.COMPACT,
            vehicle_model="GAC Aion S",
        )

    async def test_absent_optional_fields_are_omitted(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        payload = _payload()
        del payload["customer"]["name"]
        del payload["pickup"]["lat"], payload["pickup"]["lon"], payload["pickup"]["district"]
        del payload["repair_order_id"], payload["vehicle_class"]
        route = partner.post("/api/v2/bookings").respond(
            200, json=_fixture("courtesy_car.book.response")
        )
        await api.call(http, _call(payload))
        expected = _fixture("courtesy_car.book.request")
        for key in ("contactName", "deliveryLat", "deliveryLng", "coordType"):
            del expected[key]
        del expected["deliveryDistrict"], expected["repairOrderNo"]
        assert _sent(route) == expected  # carClass falls back to the canonical COMPACT

    @pytest.mark.parametrize("absent", ["phone", "address"])
    async def test_phone_or_address_alone_is_enough(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter, absent: str
    ) -> None:
        payload = _payload()
        del payload["customer" if absent == "phone" else "pickup"][absent]
        route = partner.post("/api/v2/bookings").respond(
            200, json=_fixture("courtesy_car.book.response")
        )
        await api.call(http, _call(payload))
        sent = _sent(route)
        assert ("contactPhone" in sent, "deliveryAddress" in sent) == (
            absent != "phone",
            absent != "address",
        )

    async def test_neither_phone_nor_address_cannot_be_delivered(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        payload = _payload()
        del payload["customer"]["phone"], payload["pickup"]["address"]
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, _call(payload))
        assert caught.value.code == "missing_field"
        assert "customer.phone" in str(caught.value)
        assert not partner.calls

    @pytest.mark.parametrize(
        ("section", "field"),
        [("pickup", "city"), (None, "window_start"), (None, "window_end"), (None, "days")],
    )
    async def test_required_fields_not_disclosed(
        self,
        api: SwiftRentApi,
        http: httpx.AsyncClient,
        partner: respx.MockRouter,
        section: str | None,
        field: str,
    ) -> None:
        payload = _payload()
        del (payload[section] if section else payload)[field]
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, _call(payload))
        assert caught.value.code == "missing_field"
        assert str(caught.value).endswith(f"{field} not disclosed")
        assert not partner.calls

    @pytest.mark.parametrize(
        ("vehicle_class", "code"),
        [
            (VehicleClass.ECONOMY, "ECONOMY"),
            (VehicleClass.MIDSIZE, "STANDARD"),
            (VehicleClass.SUV, "SUV"),
            (VehicleClass.MPV, "MPV"),
            (VehicleClass.PREMIUM, "LUXURY"),
            (VehicleClass.ELECTRIC, "NEV"),
        ],
    )
    async def test_vehicle_classes_round_trip_through_swiftrent_codes(
        self,
        api: SwiftRentApi,
        http: httpx.AsyncClient,
        partner: respx.MockRouter,
        vehicle_class: VehicleClass,
        code: str,
    ) -> None:
        payload = _payload() | {"vehicle_class": vehicle_class.value, "days": 2}
        route = partner.post("/api/v2/bookings").respond(200, json=_answer(carClass=code))
        result = await api.call(http, _call(payload))
        assert (_sent(route)["carClass"], _sent(route)["rentMinutes"]) == (code, 2880)
        assert isinstance(result, CourtesyCarBooking)
        assert result.vehicle_class is vehicle_class

    async def test_notes_go_in_remark(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        payload = _payload() | {"notes": "请在B1停车场交车"}
        route = partner.post("/api/v2/bookings").respond(
            200, json=_fixture("courtesy_car.book.response")
        )
        await api.call(http, _call(payload))
        assert _sent(route)["remark"] == "请在B1停车场交车"

    async def test_window_in_utc_gives_the_same_millis(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        payload = _payload() | {"window_start": "2030-05-20T01:00:00Z"}
        route = partner.post("/api/v2/bookings").respond(
            200, json=_fixture("courtesy_car.book.response")
        )
        await api.call(http, _call(payload))
        assert _sent(route)["deliverStartTime"] == 1905469200000


class TestFailures:
    async def test_401_is_auth_failed(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post("/api/v2/bookings").respond(401, json=_fixture("error.unauthorized"))
        with pytest.raises(PartnerAuthFailed):
            await api.call(http, _call())

    async def test_429_with_retry_after_seconds(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post("/api/v2/bookings").respond(
            429, json=_fixture("error.rate_limited"), headers={"Retry-After": "7"}
        )
        with pytest.raises(PartnerRateLimited) as caught:
            await api.call(http, _call())
        assert caught.value.retry_after == 7.0

    async def test_429_with_retry_after_date(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        partner.post("/api/v2/bookings").respond(
            429, json=_fixture("error.rate_limited"), headers={"Retry-After": later}
        )
        with pytest.raises(PartnerRateLimited) as caught:
            await api.call(http, _call())
        assert caught.value.retry_after is not None
        assert 25 <= caught.value.retry_after <= 30

    async def test_503_is_unavailable(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post("/api/v2/bookings").respond(503, json=_fixture("error.unavailable"))
        with pytest.raises(PartnerUnavailable) as caught:
            await api.call(http, _call())
        assert caught.value.sent

    async def test_timeout_may_have_booked(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post("/api/v2/bookings").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(PartnerUnavailable) as caught:
            await api.call(http, _call())
        assert caught.value.timed_out

    async def test_connection_refused_was_not_sent(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post("/api/v2/bookings").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(PartnerUnavailable) as caught:
            await api.call(http, _call())
        assert not caught.value.sent

    async def test_business_refusal_on_http_200_carries_the_code(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post("/api/v2/bookings").respond(200, json=_fixture("error.no_vehicle"))
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, _call())
        assert caught.value.code == "sr4010"
        assert not any(value in str(caught.value) for value in _PERSONAL)

    @pytest.mark.parametrize(
        "answer",
        [
            pytest.param(_answer(dailyRent=None), id="no-daily-rent"),
            pytest.param(_answer(dailyRent=240), id="rent-as-number"),
            pytest.param(_answer(estimatedArrivalTime=1905469200), id="eta-in-seconds"),
            pytest.param(_answer(carClass="CONVERTIBLE"), id="unknown-car-class"),
            pytest.param(_answer(oemOrderNo="ord_01jp962e80jhpfkpf367cby85k"), id="other-order"),
            pytest.param({"success": True, "data": None}, id="no-data"),
            pytest.param({"success": False, "errMsg": "系统繁忙"}, id="failure-without-code"),
            pytest.param({"code": 0, "result": {}}, id="no-envelope"),
        ],
    )
    async def test_malformed_success_is_unavailable(
        self,
        api: SwiftRentApi,
        http: httpx.AsyncClient,
        partner: respx.MockRouter,
        answer: dict[str, Any],
    ) -> None:
        partner.post("/api/v2/bookings").respond(200, json=answer)
        with pytest.raises(PartnerUnavailable):
            await api.call(http, _call())

    async def test_body_that_is_not_json_is_unavailable(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post("/api/v2/bookings").respond(200, text="<html>网关错误</html>")
        with pytest.raises(PartnerUnavailable):
            await api.call(http, _call())

    async def test_success_envelope_on_an_error_status_is_unavailable(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post("/api/v2/bookings").respond(404, json=_fixture("courtesy_car.book.response"))
        with pytest.raises(PartnerUnavailable):
            await api.call(http, _call())


class TestCancel:
    _PATH = f"/api/v2/bookings/{_BOOKING}/cancel"

    async def test_cancels_by_booking_number(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        route = partner.post(self._PATH).respond(200, json=_fixture("cancel.response"))
        await api.cancel(http, order_id=_ORDER, partner_reference=_BOOKING)
        assert _sent(route) == _fixture("cancel.request")

    async def test_delivered_car_is_not_cancellable(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(self._PATH).respond(200, json=_fixture("error.car_delivered"))
        with pytest.raises(PartnerRejected) as caught:
            await api.cancel(http, order_id=_ORDER, partner_reference=_BOOKING)
        assert caught.value.code == "not_cancellable"

    async def test_other_refusals_keep_their_code(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(self._PATH).respond(
            200, json={"success": False, "errCode": "SR4040", "errMsg": "订单不存在"}
        )
        with pytest.raises(PartnerRejected) as caught:
            await api.cancel(http, order_id=_ORDER, partner_reference=_BOOKING)
        assert caught.value.code == "sr4040"

    async def test_without_a_booking_number_there_is_nothing_to_cancel(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await api.cancel(http, order_id=_ORDER, partner_reference=None)
        assert caught.value.code == "not_cancellable"
        assert not partner.calls

    async def test_answer_for_another_booking_is_unavailable(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        answer = _fixture("cancel.response")
        answer["data"]["bookingNo"] = "SR-20300518-0B11E7"
        partner.post(self._PATH).respond(200, json=answer)
        with pytest.raises(PartnerUnavailable):
            await api.cancel(http, order_id=_ORDER, partner_reference=_BOOKING)

    async def test_cancel_throttled(
        self, api: SwiftRentApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(self._PATH).respond(
            429, json=_fixture("error.rate_limited"), headers={"Retry-After": "3"}
        )
        with pytest.raises(PartnerRateLimited) as caught:
            await api.cancel(http, order_id=_ORDER, partner_reference=_BOOKING)
        assert caught.value.retry_after == 3.0
