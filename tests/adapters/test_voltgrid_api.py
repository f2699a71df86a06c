"""VoltGrid OCPI-lite outbound: recorded requests and answers, paging, failures, cancel."""

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

import adapters.voltgrid
from adapters import (
    OutboundCall,
    PartnerAdapter,
    PartnerAuthFailed,
    PartnerRateLimited,
    PartnerRejected,
    PartnerUnavailable,
)
from adapters.voltgrid import VoltGridApi
from contracts import (
    EXAMPLE_REQUESTS,
    ChargingSession,
    ChargingSessionState,
    ChargingStation,
    ConnectorType,
    Money,
    Operation,
    StationList,
)

_BASE = "https://ocpi.voltgrid.test"
_FIXTURES = Path(adapters.voltgrid.__file__).parent / "fixtures" / "operations"
_ORDER = "ord_01jp969rm0m4j1928jxf6qf2c9"
_KEY = "idem-01jp969rm0m4j1928jxf6qf2c9"
_SESSION = "VG-SZ-20250314-88213"
_SEARCH = Operation.CHARGING_SEARCH
_START = Operation.CHARGING_START
_STOP = Operation.CHARGING_STOP
_LOCATIONS = "/ocpi/2.2/locations"
_START_PATH = "/ocpi/2.2/commands/START_SESSION"
_STOP_PATH = "/ocpi/2.2/commands/STOP_SESSION"
_PATHS = {_SEARCH: _LOCATIONS, _START: _START_PATH, _STOP: _STOP_PATH}
_METHODS = {_SEARCH: "GET", _START: "POST", _STOP: "POST"}
_T0 = datetime(2025, 3, 14, 2, 5, 12, tzinfo=UTC)


def _fixture(name: str) -> Any:
    return json.loads((_FIXTURES / f"{name}.json").read_text("utf-8"))


def _payload(operation: Operation) -> dict[str, Any]:
    payload: dict[str, Any] = EXAMPLE_REQUESTS[operation].model_dump(mode="json")
    return payload


def _call(operation: Operation, payload: dict[str, Any] | None = None) -> OutboundCall:
    return OutboundCall(
        partner_id="voltgrid",
        order_id=_ORDER,
        operation=operation,
        payload=_payload(operation) if payload is None else payload,
        idempotency_key=_KEY,
    )


def _sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


def _location(
    station_id: str,
    lat: str = "22.540900",
    lon: str = "113.935100",
    standard: str = "GB_T_DC",
    status: str = "AVAILABLE",
) -> dict[str, Any]:
    """A minimal OCPI Location with one EVSE and one connector."""
    return {
        "id": station_id,
        "name": f"VoltGrid {station_id}",
        "address": "广东省深圳市南山区科苑路15号",
        "city": "Shenzhen",
        "coordinates": {"latitude": lat, "longitude": lon},
        "evses": [
            {
                "uid": f"{station_id}-01",
                "status": status,
                "connectors": [{"id": "1", "standard": standard, "price_per_kwh": "1.45"}],
            }
        ],
    }


def _page(locations: list[dict[str, Any]], next_url: str | None = None) -> httpx.Response:
    """A locations page with the OCPI paging headers."""
    headers = {"X-Total-Count": "999", "X-Limit": str(len(locations))}
    if next_url is not None:
        headers["Link"] = f'<{next_url}>; rel="next"'
    body = {"data": locations, "status_code": 1000, "status_message": "Success"}
    return httpx.Response(200, json=body, headers=headers)


def _command(result: str, session: dict[str, Any] | None) -> dict[str, Any]:
    data: dict[str, Any] = {"result": result, "timeout": 30}
    if session is not None:
        data["session"] = session
    return {"data": data, "status_code": 1000, "status_message": "Success"}


@pytest.fixture
def partner() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=_BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=_BASE) as client:
        yield client


class TestSurface:
    def test_is_a_partner_adapter(self) -> None:
        adapter = VoltGridApi()
        assert isinstance(adapter, PartnerAdapter)
        assert adapter.dialect == "voltgrid.ocpi-lite"
        assert adapter.operations() == {_SEARCH, _START, _STOP}

    def test_search_start_and_stop_may_be_repeated(self) -> None:
        adapter = VoltGridApi()
        assert adapter.retry_safe(_SEARCH)
        assert adapter.retry_safe(_START)
        assert adapter.retry_safe(_STOP)
        assert not adapter.retry_safe(Operation.COURTESY_CAR_BOOK)

    async def test_other_operations_are_refused_without_a_call(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        other = OutboundCall("voltgrid", _ORDER, Operation.INSURANCE_QUOTE, {}, _KEY)
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, other)
        assert caught.value.code == "unsupported_operation"
        assert not partner.calls


_KEJIYUAN = ChargingStation(
    station_id="SZ-NS-0042",
    name="VoltGrid科技园超充站",
    lat=22.5409,
    lon=113.9351,
    address="广东省深圳市南山区科苑路15号科兴科学园B区停车场",
    city="Shenzhen",
    connectors=[ConnectorType.GBT_DC, ConnectorType.GBT_AC],
    available=2,
    price_per_kwh=Money(amount=108, currency="CNY"),
    distance_m=68,
)
_DACHONG = ChargingStation(
    station_id="SZ-NS-0045",
    name="VoltGrid大冲商务中心超充站",
    lat=22.5445,
    lon=113.948,
    address="广东省深圳市南山区深南大道9680号大冲商务中心地下二层",
    city="Shenzhen",
    connectors=[ConnectorType.CCS2, ConnectorType.GBT_DC],
    available=1,
    price_per_kwh=Money(amount=158, currency="CNY"),
    distance_m=1446,
)
_SHENZHEN_BAY = ChargingStation(
    station_id="SZ-NS-0047",
    name="VoltGrid深圳湾充电站",
    lat=22.5238,
    lon=113.9436,
    address="广东省深圳市南山区滨海大道3001号深圳湾体育中心P2停车场",
    city="Shenzhen",
    connectors=[ConnectorType.GBT_AC],
    available=0,
    price_per_kwh=Money(amount=98, currency="CNY"),
    distance_m=2074,
)


class TestSearch:
    async def test_recorded_request_and_answer(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.get(_LOCATIONS).respond(
            200,
            json=_fixture("charging.search.response"),
            headers={"X-Total-Count": "3", "X-Limit": "20"},
        )
        result = await VoltGridApi().call(http, _call(_SEARCH))
        request = route.calls.last.request
        assert dict(request.url.params) == _fixture("charging.search.request")
        assert request.headers["X-Correlation-ID"] == _KEY
        assert result == StationList(stations=[_KEJIYUAN, _DACHONG, _SHENZHEN_BAY])
        assert all(station.partner_id is None for station in result.stations)

    async def test_a_connector_narrows_stations_counts_and_prices(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.get(_LOCATIONS).respond(200, json=_fixture("charging.search.response"))
        payload = _payload(_SEARCH) | {"connector": "ccs2"}
        result = await VoltGridApi().call(http, _call(_SEARCH, payload))
        assert result == StationList(
            stations=[
                _DACHONG.model_copy(
                    update={
                        "connectors": [ConnectorType.CCS2],
                        "price_per_kwh": Money(amount=168, currency="CNY"),
                    }
                )
            ]
        )

    async def test_absent_optional_fields_take_the_contract_defaults(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.get(_LOCATIONS).respond(200, json=_fixture("charging.search.response"))
        payload = _payload(_SEARCH)
        for field in ("radius_m", "limit", "connector", "partner_id"):
            del payload[field]
        del payload["location"]["address"]
        await VoltGridApi().call(http, _call(_SEARCH, payload))
        params = route.calls.last.request.url.params
        assert (params["radius_m"], params["limit"]) == ("5000", "20")

    async def test_far_and_unusable_stations_are_dropped_and_the_rest_sorted(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.get(_LOCATIONS).mock(
            return_value=_page(
                [
                    _location("SZ-NS-0047", "22.523800", "113.943600"),
                    _location("SZ-FT-0107", "22.535300", "114.022100"),  # 9 km away
                    _location("SZ-NS-0050", standard="DOMESTIC_F"),  # no plug we know
                    _location("SZ-NS-0042"),
                ]
            )
        )
        result = await VoltGridApi().call(http, _call(_SEARCH))
        assert isinstance(result, StationList)
        assert [(s.station_id, s.distance_m) for s in result.stations] == [
            ("SZ-NS-0042", 68),
            ("SZ-NS-0047", 2074),
        ]

    @pytest.mark.parametrize("field", ["lat", "lon"])
    async def test_undisclosed_coordinates_are_refused_without_a_call(
        self, field: str, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        payload = _payload(_SEARCH)
        del payload["location"][field]
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, _call(_SEARCH, payload))
        assert caught.value.code == "missing_field"
        assert f"location.{field}" in str(caught.value)
        assert not partner.calls

    async def test_an_unknown_connector_is_refused(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        payload = _payload(_SEARCH) | {"connector": "tesla_nacs"}
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, _call(_SEARCH, payload))
        assert caught.value.code == "invalid_field"
        assert not partner.calls

    async def test_numeric_coordinates_make_the_page_unreadable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        location = _location("SZ-NS-0042")
        location["coordinates"] = {"latitude": 22.5409, "longitude": 113.9351}
        partner.get(_LOCATIONS).mock(return_value=_page([location]))
        with pytest.raises(PartnerUnavailable, match=r"coordinates\.latitude"):
            await VoltGridApi().call(http, _call(_SEARCH))


def _next(offset: int) -> str:
    return f"{_BASE}{_LOCATIONS}?offset={offset}&limit=1&lat=22.5405&lon=113.9346&radius_m=3000"


class TestPaging:
    async def test_next_links_are_followed_to_the_last_page(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        pages = {
            "0": _page([_location("SZ-NS-0040")], _next(1)),
            "1": _page([_location("SZ-NS-0041")], _next(2)),
            "2": _page([_location("SZ-NS-0042")]),
        }
        route = partner.get(_LOCATIONS).mock(
            side_effect=lambda request: pages[request.url.params["offset"]]
        )
        result = await VoltGridApi().call(http, _call(_SEARCH))
        assert isinstance(result, StationList)
        assert [s.station_id for s in result.stations] == ["SZ-NS-0040", "SZ-NS-0041", "SZ-NS-0042"]
        assert route.call_count == 3
        assert str(route.calls[2].request.url) == _next(2)

    async def test_paging_stops_once_enough_stations_are_found(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.get(_LOCATIONS).mock(
            return_value=_page([_location("SZ-NS-0040"), _location("SZ-NS-0041")], _next(2))
        )
        payload = _payload(_SEARCH) | {"limit": 2}
        result = await VoltGridApi().call(http, _call(_SEARCH, payload))
        assert isinstance(result, StationList)
        assert len(result.stations) == 2
        assert route.call_count == 1

    async def test_a_partner_that_never_stops_paging_is_read_twenty_pages_deep(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        def endless(request: httpx.Request) -> httpx.Response:
            offset = int(request.url.params["offset"])
            return _page([_location(f"SZ-NS-{offset:04d}")], _next(offset + 1))

        route = partner.get(_LOCATIONS).mock(side_effect=endless)
        payload = _payload(_SEARCH) | {"limit": 200}
        result = await VoltGridApi().call(http, _call(_SEARCH, payload))
        assert isinstance(result, StationList)
        assert route.call_count == 20
        assert len(result.stations) == 20

    async def test_a_next_page_with_no_new_station_ends_the_search(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.get(_LOCATIONS).mock(
            return_value=_page([_location("SZ-NS-0042")], _next(1))
        )
        result = await VoltGridApi().call(http, _call(_SEARCH))
        assert isinstance(result, StationList)
        assert [s.station_id for s in result.stations] == ["SZ-NS-0042"]
        assert route.call_count == 2

    async def test_a_relative_next_link_is_resolved(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        pages = {
            "0": _page([_location("SZ-NS-0040")], f"{_LOCATIONS}?offset=1&limit=1"),
            "1": _page([_location("SZ-NS-0041")]),
        }
        route = partner.get(_LOCATIONS).mock(
            side_effect=lambda request: pages[request.url.params["offset"]]
        )
        await VoltGridApi().call(http, _call(_SEARCH))
        assert str(route.calls[1].request.url) == f"{_BASE}{_LOCATIONS}?offset=1&limit=1"

    async def test_a_next_link_off_the_api_is_not_followed(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.get(_LOCATIONS).mock(
            return_value=_page([_location("SZ-NS-0042")], "https://elsewhere.test/locations")
        )
        with pytest.raises(PartnerUnavailable, match="leaves its API"):
            await VoltGridApi().call(http, _call(_SEARCH))


def _session(**changes: Any) -> dict[str, Any]:
    session: dict[str, Any] = _fixture("charging.start.response")["data"]["session"]
    return session | changes


class TestStart:
    async def test_recorded_request_and_answer(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post(_START_PATH).respond(200, json=_fixture("charging.start.response"))
        result = await VoltGridApi().call(http, _call(_START))
        assert _sent(route) == _fixture("charging.start.request")
        assert route.calls.last.request.headers["X-Correlation-ID"] == _KEY
        assert result == ChargingSession(
            operation=_START,
            session_id=_SESSION,
            station_id="SZ-NS-0042",
            connector_id="2",
            state=ChargingSessionState.STARTING,
            started_at=_T0,
        )

    async def test_the_response_url_is_configurable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post(_START_PATH).respond(200, json=_fixture("charging.start.response"))
        url = "https://gateway.example.cn/v1/partners/voltgrid/events"
        await VoltGridApi(response_url=url).call(http, _call(_START))
        assert _sent(route)["response_url"] == url

    async def test_a_repeated_start_answers_the_running_session(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(_START_PATH).respond(200, json=_command("ACCEPTED", _session(status="ACTIVE")))
        result = await VoltGridApi().call(http, _call(_START))
        assert isinstance(result, ChargingSession)
        assert result.state is ChargingSessionState.CHARGING

    async def test_an_answer_for_another_order_is_unusable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        other = _session(authorization_reference="ord_01jp9ngtj0ka3g3jetfdvm6zdn")
        partner.post(_START_PATH).respond(200, json=_command("ACCEPTED", other))
        with pytest.raises(PartnerUnavailable, match="another authorization_reference"):
            await VoltGridApi().call(http, _call(_START))

    async def test_an_accepted_command_without_its_session_is_unusable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(_START_PATH).respond(200, json=_command("ACCEPTED", None))
        with pytest.raises(PartnerUnavailable, match="no session"):
            await VoltGridApi().call(http, _call(_START))

    async def test_an_unknown_session_status_is_unusable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(_START_PATH).respond(
            200, json=_command("ACCEPTED", _session(status="RESERVATION"))
        )
        with pytest.raises(PartnerUnavailable, match="status"):
            await VoltGridApi().call(http, _call(_START))

    @pytest.mark.parametrize(
        ("field", "path"),
        [("station_id", ("station_id",)), ("customer.customer_id", ("customer", "customer_id"))],
    )
    async def test_undisclosed_fields_are_refused_without_a_call(
        self, field: str, path: tuple[str, ...], partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        payload = _payload(_START)
        *parents, last = path
        target = payload
        for key in parents:
            target = target[key]
        del target[last]
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, _call(_START, payload))
        assert caught.value.code == "missing_field"
        assert field in str(caught.value)
        assert not partner.calls

    async def test_masked_personal_fields_are_not_needed(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post(_START_PATH).respond(200, json=_fixture("charging.start.response"))
        payload = _payload(_START)
        for field in ("name", "phone", "national_id", "email", "birth_date", "address"):
            payload["customer"].pop(field, None)
        del payload["vehicle"]
        await VoltGridApi().call(http, _call(_START, payload))
        assert _sent(route) == _fixture("charging.start.request")

    async def test_a_rejected_command_is_a_rejection(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(_START_PATH).respond(200, json=_fixture("error.command_rejected"))
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, _call(_START))
        assert caught.value.code == "rejected"

    @pytest.mark.parametrize("status", [200, 404])
    async def test_an_unknown_location_is_a_rejection_whatever_the_http_status(
        self, status: int, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(_START_PATH).respond(status, json=_fixture("error.unknown_location"))
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, _call(_START))
        assert caught.value.code == "2003"


class TestStop:
    async def test_recorded_request_and_answer(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        route = partner.post(_STOP_PATH).respond(200, json=_fixture("charging.stop.response"))
        result = await VoltGridApi().call(http, _call(_STOP))
        assert _sent(route) == _fixture("charging.stop.request")
        assert route.calls.last.request.headers["X-Correlation-ID"] == _KEY
        assert result == ChargingSession(
            operation=_STOP,
            session_id="cs-88213",
            station_id="SZ-NS-0042",
            connector_id="2",
            state=ChargingSessionState.STOPPED,
            started_at=_T0,
            ended_at=datetime(2025, 3, 14, 3, 40, tzinfo=UTC),
            energy_wh=42_350,
            amount=Money(amount=6141, currency="CNY"),
        )

    async def test_an_unknown_session_is_a_rejection(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(_STOP_PATH).respond(200, json=_fixture("error.unknown_session"))
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, _call(_STOP))
        assert caught.value.code == "unknown_session"

    async def test_an_answer_for_another_session_is_unusable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        answer = _fixture("charging.stop.response")
        answer["data"]["session"]["id"] = _SESSION
        partner.post(_STOP_PATH).respond(200, json=answer)
        with pytest.raises(PartnerUnavailable, match="another session"):
            await VoltGridApi().call(http, _call(_STOP))

    async def test_a_cost_in_another_currency_is_unusable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        answer = _fixture("charging.stop.response")
        answer["data"]["session"]["currency"] = "HKD"
        partner.post(_STOP_PATH).respond(200, json=answer)
        with pytest.raises(PartnerUnavailable, match="currency"):
            await VoltGridApi().call(http, _call(_STOP))


_EVERY = [_SEARCH, _START, _STOP]


def _route(partner: respx.MockRouter, operation: Operation) -> respx.Route:
    return partner.route(method=_METHODS[operation], path=_PATHS[operation])


class TestFailures:
    @pytest.mark.parametrize("operation", _EVERY)
    @pytest.mark.parametrize("status", [401, 403])
    async def test_refused_credentials(
        self,
        operation: Operation,
        status: int,
        partner: respx.MockRouter,
        http: httpx.AsyncClient,
    ) -> None:
        _route(partner, operation).respond(status, json={"status_code": 2000})
        with pytest.raises(PartnerAuthFailed):
            await VoltGridApi().call(http, _call(operation))

    async def test_throttling_with_retry_after_seconds(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        _route(partner, _START).respond(429, headers={"Retry-After": "7"})
        with pytest.raises(PartnerRateLimited) as caught:
            await VoltGridApi().call(http, _call(_START))
        assert caught.value.retry_after == 7

    async def test_throttling_with_retry_after_as_a_date(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        later = datetime.now(UTC) + timedelta(seconds=30)
        _route(partner, _SEARCH).respond(429, headers={"Retry-After": format_datetime(later, True)})
        with pytest.raises(PartnerRateLimited) as caught:
            await VoltGridApi().call(http, _call(_SEARCH))
        assert caught.value.retry_after is not None
        assert 25 <= caught.value.retry_after <= 30

    @pytest.mark.parametrize("operation", _EVERY)
    async def test_an_outage(
        self, operation: Operation, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        _route(partner, operation).respond(503, text="upstream connect error")
        with pytest.raises(PartnerUnavailable, match="HTTP 503"):
            await VoltGridApi().call(http, _call(operation))

    @pytest.mark.parametrize("status", [200, 500])
    async def test_an_ocpi_server_error_is_an_outage(
        self, status: int, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        _route(partner, _STOP).respond(status, json=_fixture("error.server_error"))
        with pytest.raises(PartnerUnavailable):
            await VoltGridApi().call(http, _call(_STOP))

    async def test_a_hub_error_is_an_outage(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        _route(partner, _SEARCH).respond(200, json={"status_code": 4003})
        with pytest.raises(PartnerUnavailable, match="OCPI status 4003"):
            await VoltGridApi().call(http, _call(_SEARCH))

    async def test_invalid_parameters_are_a_rejection_with_their_code(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        _route(partner, _SEARCH).respond(400, json=_fixture("error.invalid_parameters"))
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().call(http, _call(_SEARCH))
        assert caught.value.code == "2001"

    async def test_a_timeout_may_have_reached_the_partner(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        _route(partner, _START).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(PartnerUnavailable) as caught:
            await VoltGridApi().call(http, _call(_START))
        assert caught.value.timed_out
        assert caught.value.sent

    async def test_a_refused_connection_never_reached_it(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        _route(partner, _START).mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(PartnerUnavailable) as caught:
            await VoltGridApi().call(http, _call(_START))
        assert not caught.value.sent

    @pytest.mark.parametrize(
        "answer",
        [
            httpx.Response(200, text="<html>maintenance</html>"),
            httpx.Response(200, json={"data": []}),
            httpx.Response(200, json={"status_code": 1000, "data": {"unexpected": True}}),
            httpx.Response(404, json={"status_code": 1000, "data": []}),
        ],
        ids=["not-json", "no-status-code", "wrong-data", "success-code-on-404"],
    )
    @pytest.mark.parametrize("operation", _EVERY)
    async def test_an_unreadable_success_is_unusable(
        self,
        operation: Operation,
        answer: httpx.Response,
        partner: respx.MockRouter,
        http: httpx.AsyncClient,
    ) -> None:
        _route(partner, operation).mock(return_value=answer)
        with pytest.raises(PartnerUnavailable):
            await VoltGridApi().call(http, _call(operation))


class TestCancel:
    async def test_a_started_session_is_cancelled_by_stopping_it(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        answer = _fixture("charging.stop.response")
        answer["data"]["session"]["id"] = _SESSION
        route = partner.post(_STOP_PATH).respond(200, json=answer)
        await VoltGridApi().cancel(http, order_id=_ORDER, partner_reference=_SESSION)
        assert _sent(route) == _fixture("charging.stop.request") | {"session_id": _SESSION}

    async def test_a_session_voltgrid_no_longer_knows_is_too_late(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(_STOP_PATH).respond(200, json=_fixture("error.unknown_session"))
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().cancel(http, order_id=_ORDER, partner_reference=_SESSION)
        assert caught.value.code == "not_cancellable"

    async def test_a_refused_stop_keeps_its_code(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(_STOP_PATH).respond(200, json=_fixture("error.command_rejected"))
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().cancel(http, order_id=_ORDER, partner_reference=_SESSION)
        assert caught.value.code == "rejected"

    async def test_searches_and_stops_have_nothing_to_cancel(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await VoltGridApi().cancel(http, order_id=_ORDER, partner_reference=None)
        assert caught.value.code == "not_cancellable"
        assert not partner.calls

    async def test_an_answer_for_another_session_is_unusable(
        self, partner: respx.MockRouter, http: httpx.AsyncClient
    ) -> None:
        partner.post(_STOP_PATH).respond(200, json=_fixture("charging.stop.response"))
        with pytest.raises(PartnerUnavailable, match="another session"):
            await VoltGridApi().cancel(http, order_id=_ORDER, partner_reference=_SESSION)
