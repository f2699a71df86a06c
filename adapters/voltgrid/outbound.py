"""VoltGrid OCPI-lite outbound: stations found, charging sessions started and stopped.

The API follows OCPI 2.2 (the CPO's ``locations`` and ``commands`` modules),
relative to the agreement's ``api.base_url``. Every request is HMAC-signed by
the gateway's pooled client (``adapters.auth.HmacSigner``: ``X-Key-Id``,
``X-Timestamp``, ``X-Nonce``, ``X-Signature``); every call of ours also sends
its idempotency key as OCPI's ``X-Correlation-ID`` (the same for every retry
of one exchange).

- ``GET /ocpi/2.2/locations?offset=&limit=&lat=&lon=&radius_m=`` lists
  OCPI ``Location`` objects near a point, nearest first: ``id``, ``name``,
  ``address``, ``city``, ``coordinates`` (``latitude`` / ``longitude`` as
  decimal STRINGS, WGS84) and ``evses[]`` with their ``status``
  (``AVAILABLE``, ``CHARGING``, ``OUTOFORDER``, ...) and ``connectors[]``:
  ``id`` (unique within the location), ``standard`` (``GB_T_DC``,
  ``GB_T_AC``, ``IEC_62196_T2_COMBO``, ``IEC_62196_T2``, ``CHADEMO``,
  ``CHAOJI``; others are ignored) and ``price_per_kwh``, VoltGrid's tariff
  in yuan incl. VAT as a decimal string (in place of OCPI ``tariff_ids``).
  PAGINATION, the OCPI way: the answer carries ``X-Total-Count``,
  ``X-Limit`` (the page size VoltGrid chose, at most the ``limit`` asked)
  and, unless it is the last page, ``Link: <next-url>; rel="next"``. The
  adapter follows ``next`` until it holds ``limit`` usable stations within
  the radius, a page brings no station it has not seen, there is no next
  link, or it has read ``_MAX_PAGES`` pages (a looping partner cannot hang
  us); a next link outside the base URL is refused (our signed client would
  follow it). It measures each station's distance itself (haversine), keeps
  those within the radius that have a connector of a known standard (of
  the requested one, when a connector is asked for), and returns them
  nearest first. A station's price is the lowest of those connectors.
- ``POST /ocpi/2.2/commands/START_SESSION`` with ``response_url`` (our
  intake; VoltGrid-lite reports the outcome as session pushes, see
  ``webhooks.py``), ``token`` (an ``APP_USER`` token whose ``uid`` is our
  customer reference), ``location_id``, ``connector_id`` (unique within the
  location, so no ``evse_uid`` is needed) and ``authorization_reference``:
  our order id, which the session pushes quote back and on which VoltGrid
  deduplicates the command (a repeat answers the session already started).
- ``POST /ocpi/2.2/commands/STOP_SESSION`` with ``response_url`` and
  ``session_id``; stopping a session that has ended answers it again.

Both commands answer an OCPI ``CommandResponse`` (``result``: ``ACCEPTED``,
``REJECTED``, ``UNKNOWN_SESSION``, ``NOT_SUPPORTED``; ``timeout`` in seconds)
plus VoltGrid-lite's own field ``session``: the OCPI ``Session`` the command
created or acts on, as it stands (``id`` is the session id VoltGrid uses,
``status`` ``PENDING`` -> ``ACTIVE`` -> ``COMPLETED`` or ``INVALID``,
``start_date_time``, ``end_date_time``, ``kwh``, ``total_cost``).

Units: energy in kWh as decimal strings (canonical: integer Wh, rounded half
up), money in yuan strings in ``CNY``, times RFC 3339 in UTC.

Errors: every answer is an envelope ``{"data": ..., "status_code": 1000,
"status_message": "Success", "timestamp": ...}``. OCPI status codes 2xxx are
client errors (2001 invalid or missing parameters, 2003 unknown location, ...)
-> ``PartnerRejected`` with that code, whatever the HTTP status (often 200);
3xxx (server) and 4xxx (hub) errors -> ``PartnerUnavailable``. The HTTP status
still carries auth (401/403), throttling (429 with ``Retry-After``) and
outages (5xx). A command not ``ACCEPTED`` -> ``PartnerRejected`` with the
result lower-cased.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from decimal import ROUND_HALF_UP
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

import httpx
from pydantic import BeforeValidator, Field

from adapters._http import canonical, read_json, read_model, send, status_error
from adapters._wire import WireModel, YuanText, decimal_of
from adapters.errors import PartnerRejected, PartnerUnavailable
from adapters.protocol import OutboundCall
from adapters.voltgrid.webhooks import _OcpiDecimal, _OcpiId, _OcpiTime
from contracts import (
    ChargingSession,
    ChargingSessionState,
    ChargingStation,
    CityName,
    ConnectorType,
    Money,
    Operation,
    PartnerReference,
    ServiceResult,
    StationList,
    Text,
)

__all__ = ["VoltGridApi"]

_LOCATIONS: Final = "/ocpi/2.2/locations"
_START: Final = "/ocpi/2.2/commands/START_SESSION"
_STOP: Final = "/ocpi/2.2/commands/STOP_SESSION"
_MAX_PAGES: Final = 20
_EARTH_RADIUS_M: Final = 6_371_008.8
_DEFAULT_RADIUS_M: Final = 5_000
_DEFAULT_LIMIT: Final = 20
# The gateway's webhook intake for VoltGrid at its development address; a deployment
# passes its public one. VoltGrid-lite posts session pushes, not OCPI CommandResults.
_RESPONSE_URL: Final = "http://127.0.0.1:8000/v1/partners/voltgrid/events"
_TOKEN_ISSUER: Final = "OEM"

_STANDARDS: Final[Mapping[str, ConnectorType]] = MappingProxyType(
    {
        "GB_T_DC": ConnectorType.GBT_DC,
        "GB_T_AC": ConnectorType.GBT_AC,
        "IEC_62196_T2_COMBO": ConnectorType.CCS2,
        "IEC_62196_T2": ConnectorType.TYPE2,
        "CHADEMO": ConnectorType.CHADEMO,
        "CHAOJI": ConnectorType.CHAOJI,
    }
)
_STATES: Final[Mapping[str, ChargingSessionState]] = MappingProxyType(
    {
        "PENDING": ChargingSessionState.STARTING,
        "ACTIVE": ChargingSessionState.CHARGING,
        "COMPLETED": ChargingSessionState.STOPPED,
        "INVALID": ChargingSessionState.FAILED,
    }
)


def _coordinate(value: object) -> float:
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "22.540500"')
    return float(decimal_of(value))


def _state_of(value: object) -> ChargingSessionState:
    if not isinstance(value, str) or value not in _STATES:
        raise ValueError(f"unknown session status {str(value)[:20]!r}")
    return _STATES[value]


_Coordinate = Annotated[float, BeforeValidator(_coordinate)]
_SessionState = Annotated[ChargingSessionState, BeforeValidator(_state_of)]


class _Status(WireModel):
    status_code: int


class _Connector(WireModel):
    standard: str
    price_per_kwh: YuanText


class _Evse(WireModel):
    status: str
    connectors: list[_Connector] = Field(default_factory=list)


class _Coordinates(WireModel):
    latitude: _Coordinate
    longitude: _Coordinate


class _Location(WireModel):
    id: PartnerReference
    name: Text | None = None
    address: Text
    city: CityName
    coordinates: _Coordinates
    evses: list[_Evse] = Field(default_factory=list)


class _LocationPage(WireModel):
    data: list[_Location]


class _Cost(WireModel):
    incl_vat: YuanText


class _Session(WireModel):
    id: _OcpiId
    status: _SessionState
    start_date_time: _OcpiTime
    end_date_time: _OcpiTime | None = None
    kwh: _OcpiDecimal
    authorization_reference: str | None = None
    location_id: _OcpiId
    connector_id: _OcpiId
    currency: Literal["CNY"]
    total_cost: _Cost | None = None


class _CommandResponse(WireModel):
    result: str
    session: dict[str, Any] | None = None


class _CommandAnswer(WireModel):
    data: _CommandResponse


class _Token(WireModel):
    uid: str
    type: Literal["APP_USER"] = "APP_USER"
    issuer: str = _TOKEN_ISSUER
    valid: bool = True
    whitelist: Literal["ALLOWED"] = "ALLOWED"


class _StartSession(WireModel):
    response_url: str
    token: _Token
    location_id: str
    connector_id: str
    authorization_reference: str


class _StopSession(WireModel):
    response_url: str
    session_id: str


def _missing(what: str, field: str) -> PartnerRejected:
    return PartnerRejected(f"VoltGrid {what}: {field} not disclosed", code="missing_field")


def _invalid(what: str, field: str, expected: str) -> PartnerRejected:
    return PartnerRejected(f"VoltGrid {what}: {field} is not {expected}", code="invalid_field")


def _section(payload: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = payload.get(name)
    return value if isinstance(value, Mapping) else {}


def _text(section: Mapping[str, Any], key: str, what: str, field: str) -> str:
    value = section.get(key)
    if value is None:
        raise _missing(what, field)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(what, field, "a text")
    return value


def _number(section: Mapping[str, Any], key: str, what: str, field: str) -> float:
    value = section.get(key)
    if value is None:
        raise _missing(what, field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(what, field, "a number")
    return float(value)


def _whole(payload: Mapping[str, Any], key: str, default: int) -> int:
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid("search", key, "a positive whole number")
    return value


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """The great-circle distance in metres (haversine; WGS84 as a sphere)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return round(2 * _EARTH_RADIUS_M * math.asin(math.sqrt(min(h, 1.0))))


class _Search:
    """One search as VoltGrid takes it, and which of its stations qualify."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        location = _section(payload, "location")
        self.lat = _number(location, "lat", "search", "location.lat")
        self.lon = _number(location, "lon", "search", "location.lon")
        self.radius_m = _whole(payload, "radius_m", _DEFAULT_RADIUS_M)
        self.limit = _whole(payload, "limit", _DEFAULT_LIMIT)
        wanted = payload.get("connector")
        try:
            self.connector = None if wanted is None else ConnectorType(wanted)
        except ValueError:
            raise _invalid("search", "connector", "a known connector type") from None

    def params(self) -> dict[str, Any]:
        """The query of the first page."""
        return {
            "offset": 0,
            "limit": self.limit,
            "lat": self.lat,
            "lon": self.lon,
            "radius_m": self.radius_m,
        }

    def _fits(self, connector: _Connector) -> bool:
        kind = _STANDARDS.get(connector.standard)
        return kind is not None and (self.connector is None or kind is self.connector)

    def station(self, location: _Location) -> ChargingStation | None:
        """The canonical station of ``location``, or None when it does not qualify."""
        distance = _distance_m(
            self.lat, self.lon, location.coordinates.latitude, location.coordinates.longitude
        )
        fitting = [c for evse in location.evses for c in evse.connectors if self._fits(c)]
        if distance > self.radius_m or not fitting:
            return None
        available = sum(
            1
            for evse in location.evses
            if evse.status == "AVAILABLE" and any(self._fits(c) for c in evse.connectors)
        )
        return canonical(
            lambda: ChargingStation(
                station_id=location.id,
                name=location.name or location.address,
                lat=location.coordinates.latitude,
                lon=location.coordinates.longitude,
                address=location.address,
                city=location.city,
                connectors=list(dict.fromkeys(_STANDARDS[c.standard] for c in fitting)),
                available=available,
                price_per_kwh=min((c.price_per_kwh for c in fitting), key=lambda m: m.amount),
                distance_m=distance,
            ),
            what="station",
        )


def _checked(response: httpx.Response, *, what: str) -> Any:
    """The JSON body of a successful VoltGrid answer; its failures as the error set."""
    error = status_error(response)
    if error is not None:
        raise error
    body = read_json(response)
    code = read_model(_Status, body, what=f"{what} answer").status_code
    if 2000 <= code < 3000:
        raise PartnerRejected(f"VoltGrid refused the {what}: OCPI status {code}", code=str(code))
    if not 1000 <= code < 2000:
        raise PartnerUnavailable(f"VoltGrid could not serve the {what}: OCPI status {code}")
    if not response.is_success:
        raise PartnerUnavailable(f"HTTP {response.status_code} for a successful {what}")
    return body


def _next_page(http: httpx.AsyncClient, response: httpx.Response) -> httpx.URL | None:
    """The URL of the ``rel="next"`` link, resolved and kept within the partner's API."""
    url = response.links.get("next", {}).get("url")
    if not url:
        return None
    target = response.request.url.join(url)
    if not str(target).startswith(str(http.base_url)):
        raise PartnerUnavailable("VoltGrid's next-page link leaves its API")
    return target


def _accepted(response: httpx.Response, *, what: str) -> _Session:
    """The session of an ``ACCEPTED`` command; other results as ``PartnerRejected``."""
    answer = read_model(_CommandAnswer, _checked(response, what=what), what=f"{what} answer")
    result = answer.data.result
    if result != "ACCEPTED":
        raise PartnerRejected(f"VoltGrid answered {result[:20]} to the {what}", code=result.lower())
    if answer.data.session is None:
        raise PartnerUnavailable(f"accepted {what} answer has no session")
    return read_model(_Session, answer.data.session, what=f"{what} session")


def _session_result(operation: Operation, session: _Session) -> ChargingSession:
    # Meters bill in watt-hours; digits past the third kWh decimal are measurement noise.
    energy_wh = int((session.kwh * 1000).to_integral_value(ROUND_HALF_UP))
    amount: Money | None = None if session.total_cost is None else session.total_cost.incl_vat
    return canonical(
        lambda: ChargingSession(
            operation=operation,
            session_id=session.id,
            station_id=session.location_id,
            connector_id=session.connector_id,
            state=session.status,
            started_at=session.start_date_time,
            ended_at=session.end_date_time,
            energy_wh=energy_wh,
            amount=amount,
        ),
        what="session",
    )


class VoltGridApi:
    """VoltGrid's OCPI-lite API in canonical terms: station search, session start and stop."""

    dialect: str = "voltgrid.ocpi-lite"

    def __init__(self, *, response_url: str = _RESPONSE_URL) -> None:
        self._response_url = response_url
        self._operations: Mapping[
            Operation, Callable[[httpx.AsyncClient, OutboundCall], Awaitable[ServiceResult]]
        ] = MappingProxyType(
            {
                Operation.CHARGING_SEARCH: self._search,
                Operation.CHARGING_START: self._start,
                Operation.CHARGING_STOP: self._stop,
            }
        )

    def operations(self) -> frozenset[Operation]:
        """Search, start and stop."""
        return frozenset(self._operations)

    def retry_safe(self, operation: Operation) -> bool:
        """True for all three: a read, a deduplicated start, and a harmless repeated stop."""
        # Search reads. VoltGrid deduplicates START_SESSION on authorization_reference
        # (our order id): a repeat answers the session already started, starting none.
        # STOP_SESSION on a session that has ended answers that session again.
        return operation in self._operations

    async def call(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        """Perform ``call`` at VoltGrid and return its canonical result."""
        perform = self._operations.get(call.operation)
        if perform is None:
            raise PartnerRejected(
                f"{self.dialect} does not offer {call.operation}", code="unsupported_operation"
            )
        return await perform(http, call)

    async def cancel(
        self, http: httpx.AsyncClient, *, order_id: str, partner_reference: str | None
    ) -> None:
        """Cancel a started session by stopping it; searches and stops have nothing to cancel."""
        if partner_reference is None:
            # Only a start has a VoltGrid session (its reference) that can be undone.
            raise PartnerRejected("no VoltGrid session to cancel", code="not_cancellable")
        body = _StopSession(response_url=self._response_url, session_id=partner_reference)
        response = await send(http, "POST", _STOP, json=body.model_dump())
        try:
            session = _accepted(response, what="cancellation")
        except PartnerRejected as exc:
            if exc.code == "unknown_session":
                raise PartnerRejected(
                    "VoltGrid no longer knows the session", code="not_cancellable"
                ) from exc
            raise
        if session.id != partner_reference:
            raise PartnerUnavailable("cancellation answer is for another session")

    async def _search(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        search = _Search(call.payload)
        headers = {"X-Correlation-ID": call.idempotency_key}
        url: str | httpx.URL = _LOCATIONS
        params: dict[str, Any] | None = search.params()
        seen: set[str] = set()
        stations: list[ChargingStation] = []
        for _ in range(_MAX_PAGES):
            response = await send(http, "GET", str(url), params=params, headers=headers)
            body = _checked(response, what="station search")
            page = read_model(_LocationPage, body, what="station page")
            fresh = [location for location in page.data if location.id not in seen]
            if not fresh:
                break
            seen.update(location.id for location in fresh)
            stations.extend(s for s in map(search.station, fresh) if s is not None)
            if len(stations) >= search.limit:
                break
            next_url = _next_page(http, response)
            if next_url is None:
                break
            url, params = next_url, None
        stations.sort(key=lambda s: (s.distance_m, s.station_id))
        return canonical(lambda: StationList(stations=stations[: search.limit]), what="stations")

    async def _start(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        payload = call.payload
        customer = _section(payload, "customer")
        what = "session start"
        body = _StartSession(
            response_url=self._response_url,
            token=_Token(uid=_text(customer, "customer_id", what, "customer.customer_id")),
            location_id=_text(payload, "station_id", what, "station_id"),
            connector_id=_text(payload, "connector_id", what, "connector_id"),
            authorization_reference=call.order_id,
        )
        response = await send(
            http,
            "POST",
            _START,
            json=body.model_dump(),
            headers={"X-Correlation-ID": call.idempotency_key},
        )
        session = _accepted(response, what="session start")
        if session.authorization_reference != call.order_id:
            raise PartnerUnavailable("session start answer is for another authorization_reference")
        return _session_result(Operation.CHARGING_START, session)

    async def _stop(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        session_id = _text(call.payload, "session_id", "session stop", "session_id")
        body = _StopSession(response_url=self._response_url, session_id=session_id)
        response = await send(
            http,
            "POST",
            _STOP,
            json=body.model_dump(),
            headers={"X-Correlation-ID": call.idempotency_key},
        )
        session = _accepted(response, what="session stop")
        if session.id != session_id:
            raise PartnerUnavailable("session stop answer is for another session")
        return _session_result(Operation.CHARGING_STOP, session)
