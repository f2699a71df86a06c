"""Sandbox of the published canonical partner API: one simulator for every category.

It serves the category of its agreement (``sandbox.agreement.category``) the
way ``adapters.canonical.outbound`` describes the API: ``POST /v1/orders``
(deduplicated by ``order_id``; the ``Idempotency-Key`` is required and may not
be reused for another order), ``POST /v1/orders/{partner_reference}/cancel``
and, for charging, ``GET /v1/stations`` over 42 fixed stations around
Shenzhen's Nanshan district, ten a page. An operation of another category is
a 422 problem ``unsupported_operation``. Every error body is an RFC 9457
problem with a ``code`` (the kit's own faults, such as 401, 429 and 503, go
out as ``application/json`` rather than ``application/problem+json``).

What happens next is posted back as canonical events: a courtesy car is
accepted, dispatched and delivered by itself (``rental.completed`` and any
other event type are sent with ``POST /_orders/{ref}/emit/{event type}``), a
policy is issued, a charging session starts and completes, a lifestyle order
is confirmed. Charging sessions run on a compressed clock: every real second
counts as a minute at 60 kW. The published examples work as they stand: an
insurance sandbox holds the example's quote, a charging one its session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, Final

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from adapters.sandbox.kit import Sandbox, SandboxDialect, SandboxFault, SandboxOrder
from contracts import (
    CANONICAL_DIALECT,
    EVENT_STATUS,
    OPERATION_CATEGORY,
    BenefitRedemption,
    CancelReason,
    CanonicalEvent,
    ChargingSession,
    ChargingSessionState,
    ChargingStation,
    ConnectorType,
    CourtesyCarBooking,
    Coverage,
    EventType,
    InsurancePolicy,
    InsuranceQuote,
    InsuranceQuotes,
    MembershipLink,
    MemberTier,
    Money,
    Operation,
    OrderStatus,
    PointsDirection,
    PointsExchange,
    ServiceCategory,
    StationSearchRequest,
    VehicleClass,
    can_transition,
    new_event_id,
)

__all__ = ["DIALECT", "STANDING_QUOTE_ID", "STANDING_SESSION_ID", "CanonicalSandbox"]

STANDING_QUOTE_ID: Final = "PQ-2030-88412"
"""A quote an insurance sandbox always holds, so the published bind example works as it stands."""

STANDING_SESSION_ID: Final = "cs-88213"
"""A session a charging sandbox always holds, so the published stop example works as it stands."""

_CST: Final = timezone(timedelta(hours=8), "CST")
_STANDING_ORDER_ID: Final = "ord_" + "0" * 26
_CNY: Final = "CNY"
_PROBLEM_JSON: Final = {"Content-Type": "application/problem+json"}
_Op = Operation
_E = EventType

# -- courtesy cars ----------------------------------------------------------------------

_DAILY_PRICE_FEN: Final = MappingProxyType(
    {
        VehicleClass.ECONOMY: 8800,
        VehicleClass.COMPACT: 10000,
        VehicleClass.MIDSIZE: 13800,
        VehicleClass.SUV: 16800,
        VehicleClass.MPV: 19800,
        VehicleClass.PREMIUM: 28800,
        VehicleClass.ELECTRIC: 11800,
    }
)
_FLEET_MODEL: Final = MappingProxyType(
    {
        VehicleClass.ECONOMY: "Geely Emgrand",
        VehicleClass.COMPACT: "Volkswagen Lavida",
        VehicleClass.MIDSIZE: "Toyota Camry",
        VehicleClass.SUV: "Honda CR-V",
        VehicleClass.MPV: "Buick GL8",
        VehicleClass.PREMIUM: "BMW 5 Series",
        VehicleClass.ELECTRIC: "BYD Qin PLUS EV",
    }
)
_DELIVERY_LEAD: Final = timedelta(minutes=40)
_PLATE_CHARS: Final = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"

# -- insurance ----------------------------------------------------------------------------

_PREMIUM_FEN: Final = MappingProxyType(
    {
        Coverage.COMPULSORY_TRAFFIC: 95000,
        Coverage.THIRD_PARTY_LIABILITY: 120000,
        Coverage.VEHICLE_DAMAGE: 280000,
        Coverage.DRIVER_PASSENGER: 15000,
        Coverage.GLASS: 8000,
        Coverage.EV_BATTERY: 60000,
        Coverage.ROADSIDE_ASSISTANCE: 5000,
    }
)
_QUOTE_VALIDITY: Final = timedelta(hours=72)
_STANDING_COVERAGES: Final = (
    Coverage.COMPULSORY_TRAFFIC,
    Coverage.THIRD_PARTY_LIABILITY,
    Coverage.VEHICLE_DAMAGE,
    Coverage.EV_BATTERY,
)

# -- charging -----------------------------------------------------------------------------

_CENTRE: Final = (22.54, 113.93)
_STATION_COUNT: Final = 42
_PAGE_SIZE: Final = 10
_METRES_PER_DEGREE: Final = 111_320.0
_EARTH_RADIUS_M: Final = 6_371_000.0
_PLACES: Final = (
    ("科技园", "南山区", "NS"),
    ("深圳湾", "南山区", "NS"),
    ("后海", "南山区", "NS"),
    ("蛇口", "南山区", "NS"),
    ("西丽", "南山区", "NS"),
    ("前海", "南山区", "NS"),
    ("华侨城", "南山区", "NS"),
    ("南头", "南山区", "NS"),
    ("大冲", "南山区", "NS"),
    ("桃源", "南山区", "NS"),
    ("车公庙", "福田区", "FT"),
    ("香蜜湖", "福田区", "FT"),
    ("宝安中心", "宝安区", "BA"),
    ("西乡", "宝安区", "BA"),
)
_CONNECTOR_SETS: Final = (
    (ConnectorType.GBT_DC, ConnectorType.GBT_AC),
    (ConnectorType.GBT_DC,),
    (ConnectorType.GBT_DC, ConnectorType.CHAOJI),
)
_CHARGER_POWER_W: Final = 60_000
_CLOCK_SPEEDUP: Final = 60
_BATTERY_WH: Final = 80_000
_SEARCH_DEFAULTS: Final = StationSearchRequest.model_fields

# -- lifestyle ----------------------------------------------------------------------------

_PARTNER_TIER: Final = MappingProxyType(
    {
        MemberTier.STANDARD: "regular",
        MemberTier.SILVER: "silver",
        MemberTier.GOLD: "gold",
        MemberTier.PLATINUM: "diamond",
    }
)
_BENEFIT_VALUE_FEN: Final = MappingProxyType(
    {"coffee-10off": 1000, "carwash-free": 3500, "parking-2h": 2000, "nav-vip-month": 1500}
)
_POINTS_RATE: Final = MappingProxyType(
    {PointsDirection.TO_PARTNER: Fraction(1, 4), PointsDirection.FROM_PARTNER: Fraction(3, 1)}
)

# -- per operation ------------------------------------------------------------------------

_REFUSAL: Final = MappingProxyType(
    {
        _Op.COURTESY_CAR_BOOK: ("no_vehicle_available", "no car of that class is free then"),
        _Op.INSURANCE_QUOTE: ("risk_not_accepted", "the vehicle is outside the insurer's risks"),
        _Op.INSURANCE_BIND: ("underwriting_declined", "underwriting declined the proposal"),
        _Op.CHARGING_SEARCH: ("area_not_served", "no stations are run in that area"),
        _Op.CHARGING_START: ("connector_unavailable", "the connector is out of service"),
        _Op.CHARGING_STOP: ("session_not_stoppable", "the charger did not confirm the stop"),
        _Op.LIFESTYLE_LINK: ("member_not_eligible", "the member cannot join the programme"),
        _Op.LIFESTYLE_REDEEM: ("benefit_sold_out", "the benefit is sold out"),
        _Op.LIFESTYLE_EXCHANGE_POINTS: ("exchange_closed", "points exchange is paused"),
    }
)
_PREFIX: Final = MappingProxyType(
    {
        _Op.COURTESY_CAR_BOOK: "BK",
        _Op.INSURANCE_QUOTE: "QT",
        _Op.INSURANCE_BIND: "PL",
        _Op.CHARGING_START: "CS",
        _Op.CHARGING_STOP: "SP",
        _Op.LIFESTYLE_LINK: "LK",
        _Op.LIFESTYLE_REDEEM: "RD",
        _Op.LIFESTYLE_EXCHANGE_POINTS: "PX",
    }
)
_LIFECYCLE: Final = MappingProxyType(
    {
        _Op.COURTESY_CAR_BOOK: (
            _E.RENTAL_ORDER_ACCEPTED,
            _E.RENTAL_VEHICLE_DISPATCHED,
            _E.RENTAL_VEHICLE_DELIVERED,
        ),
        _Op.INSURANCE_BIND: (_E.INSURANCE_POLICY_ISSUED,),
        _Op.CHARGING_START: (_E.CHARGING_SESSION_STARTED, _E.CHARGING_SESSION_COMPLETED),
        _Op.LIFESTYLE_LINK: (_E.LIFESTYLE_MEMBERSHIP_LINKED,),
        _Op.LIFESTYLE_REDEEM: (_E.LIFESTYLE_BENEFIT_REDEEMED,),
        _Op.LIFESTYLE_EXCHANGE_POINTS: (_E.LIFESTYLE_POINTS_EXCHANGED,),
    }
)
_FAILURE_CODE: Final = MappingProxyType(
    {
        ServiceCategory.RENTAL: "vehicle_breakdown",
        ServiceCategory.INSURANCE: "policy_system_error",
        ServiceCategory.CHARGING: "charger_fault",
        ServiceCategory.LIFESTYLE: "partner_system_error",
    }
)
_CANCELLABLE: Final = frozenset(
    {OrderStatus.DISPATCHED, OrderStatus.ACCEPTED, OrderStatus.IN_PROGRESS}
)


def _problem(status: int, code: str, message: str) -> SandboxFault:
    return SandboxFault(status, code, message, headers=_PROBLEM_JSON)


def _need(payload: Mapping[str, Any], field: str) -> Any:
    """A field the simulated partner cannot work without; 422 ``missing_field`` if absent."""
    value = payload.get(field)
    if value is None:
        raise _problem(422, "missing_field", f"request.{field} not disclosed")
    return value


def _now() -> datetime:
    return datetime.now(_CST)


def _digest(text: str) -> int:
    """A stable number from a reference, for simulated values that must not change."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _money(fen: int) -> Money:
    return Money(amount=fen, currency=_CNY)


def _result(order: SandboxOrder) -> dict[str, Any]:
    result: dict[str, Any] = order.data["answer"]["result"]
    return result


@dataclass(frozen=True)
class _Taken:
    """What an operation gave: the partner's reference, status and canonical result."""

    reference: str
    status: OrderStatus
    result: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)


# -- taking orders ------------------------------------------------------------------------


def _book(sandbox: Sandbox, request: Mapping[str, Any]) -> _Taken:
    days = int(_need(request, "days"))
    vehicle_class = VehicleClass(request.get("vehicle_class") or VehicleClass.COMPACT)
    earliest = _now() + _DELIVERY_LEAD
    window = request.get("window_start")
    eta = max(datetime.fromisoformat(window), earliest) if window else earliest
    reference = sandbox.new_reference(_PREFIX[_Op.COURTESY_CAR_BOOK])
    booking = CourtesyCarBooking(
        partner_reference=reference,
        eta=eta,
        daily_price=_money(_DAILY_PRICE_FEN[vehicle_class]),
        vehicle_class=vehicle_class,
        vehicle_model=_FLEET_MODEL[vehicle_class],
    )
    number = _digest(reference)
    plate = "粤B" + "".join(_PLATE_CHARS[(number >> (6 * i)) % len(_PLATE_CHARS)] for i in range(5))
    return _Taken(
        reference,
        OrderStatus.ACCEPTED,
        booking.model_dump(mode="json"),
        {"days": days, "plate": plate, "odometer_km": 3000 + number % 40_000},
    )


def _quote(sandbox: Sandbox, request: Mapping[str, Any]) -> _Taken:
    coverages = [Coverage(c) for c in _need(request, "coverages")]
    if date.fromisoformat(_need(request, "start_date")) < _now().date():
        raise _problem(422, "start_in_past", "a policy cannot start in the past")
    reference = sandbox.new_reference(_PREFIX[_Op.INSURANCE_QUOTE])
    quote = InsuranceQuote(
        quote_id=reference,
        insurer=sandbox.agreement.name,
        premium=_money(sum(_PREMIUM_FEN[c] for c in coverages)),
        coverages=coverages,
        valid_until=_now() + _QUOTE_VALIDITY,
    )
    quotes = InsuranceQuotes(quotes=[quote])
    return _Taken(reference, OrderStatus.COMPLETED, quotes.model_dump(mode="json"))


def _year_after(start: date) -> date:
    """The last day of a one-year policy starting on ``start``."""
    try:
        anniversary = start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        anniversary = date(start.year + 1, 3, 1)
    return anniversary - timedelta(days=1)


def _standing_quote(sandbox: Sandbox, quote_id: str) -> SandboxOrder | None:
    if quote_id != STANDING_QUOTE_ID:
        return None
    quote = InsuranceQuote(
        quote_id=quote_id,
        insurer=sandbox.agreement.name,
        premium=_money(sum(_PREMIUM_FEN[c] for c in _STANDING_COVERAGES)),
        coverages=list(_STANDING_COVERAGES),
        valid_until=datetime(2100, 1, 1, tzinfo=_CST),
    )
    answer = {
        "partner_reference": quote_id,
        "status": OrderStatus.COMPLETED.value,
        "result": InsuranceQuotes(quotes=[quote]).model_dump(mode="json"),
    }
    return SandboxOrder(
        reference=quote_id,
        order_id=_STANDING_ORDER_ID,
        operation=_Op.INSURANCE_QUOTE,
        data={"answer": answer},
        status=OrderStatus.COMPLETED.value,
    )


def _bind(sandbox: Sandbox, request: Mapping[str, Any]) -> _Taken:
    quote_id = str(_need(request, "quote_id"))
    starts_on = date.fromisoformat(_need(request, "start_date"))
    quoted = sandbox.orders.get(quote_id) or _standing_quote(sandbox, quote_id)
    if quoted is None or quoted.operation is not _Op.INSURANCE_QUOTE:
        raise _problem(422, "unknown_quote", "no quote with that id was made here")
    quote = InsuranceQuote.model_validate(_result(quoted)["quotes"][0])
    if quote.valid_until < _now():
        raise _problem(422, "quote_expired", f"the quote expired at {quote.valid_until}")
    reference = sandbox.new_reference(_PREFIX[_Op.INSURANCE_BIND])
    policy = InsurancePolicy(
        policy_number=reference,
        insurer=quote.insurer,
        premium=quote.premium,
        coverages=quote.coverages,
        starts_on=starts_on,
        ends_on=_year_after(starts_on),
    )
    return _Taken(reference, OrderStatus.ACCEPTED, policy.model_dump(mode="json"))


def _start(sandbox: Sandbox, request: Mapping[str, Any]) -> _Taken:
    station = _STATIONS_BY_ID.get(str(_need(request, "station_id")))
    if station is None:
        raise _problem(422, "unknown_station", "no station with that id is run here")
    connector_id = str(_need(request, "connector_id"))
    if connector_id not in station.connector_ids:
        raise _problem(422, "unknown_connector", "the station has no connector with that id")
    reference = sandbox.new_reference(_PREFIX[_Op.CHARGING_START])
    session = ChargingSession(
        operation=_Op.CHARGING_START,
        session_id=reference,
        station_id=station.station_id,
        connector_id=connector_id,
        state=ChargingSessionState.STARTING,
        started_at=_now(),
    )
    return _Taken(
        reference,
        OrderStatus.DISPATCHED,
        session.model_dump(mode="json"),
        {"price_fen": station.price_fen},
    )


def _standing_session(sandbox: Sandbox, session_id: str) -> SandboxOrder | None:
    """The standing session, started 40 simulated minutes before it is first asked for."""
    if session_id != STANDING_SESSION_ID:
        return None
    station = _STATIONS[0]
    session = ChargingSession(
        operation=_Op.CHARGING_START,
        session_id=session_id,
        station_id=station.station_id,
        connector_id=station.connector_ids[0],
        state=ChargingSessionState.CHARGING,
        started_at=_now() - timedelta(minutes=40) / _CLOCK_SPEEDUP,
    )
    answer = {
        "partner_reference": session_id,
        "status": OrderStatus.DISPATCHED.value,
        "result": session.model_dump(mode="json"),
    }
    order = SandboxOrder(
        reference=session_id,
        order_id=_STANDING_ORDER_ID,
        operation=_Op.CHARGING_START,
        data={"answer": answer, "price_fen": station.price_fen},
        status=OrderStatus.IN_PROGRESS.value,
    )
    return sandbox.keep(order)


def _stop(sandbox: Sandbox, request: Mapping[str, Any]) -> _Taken:
    session_id = str(_need(request, "session_id"))
    started = sandbox.orders.get(session_id) or _standing_session(sandbox, session_id)
    if started is None or started.operation is not _Op.CHARGING_START:
        raise _problem(404, "unknown_session", "no session with that id was started here")
    session = _result(started)
    end = _end_session(started)
    stopped = ChargingSession(
        operation=_Op.CHARGING_STOP,
        session_id=session["session_id"],
        station_id=session["station_id"],
        connector_id=session["connector_id"],
        state=ChargingSessionState.STOPPED,
        started_at=session["started_at"],
        ended_at=end["ended_at"],
        energy_wh=end["energy_wh"],
        amount=end["amount"],
    )
    reference = sandbox.new_reference(_PREFIX[_Op.CHARGING_STOP])
    return _Taken(reference, OrderStatus.COMPLETED, stopped.model_dump(mode="json"))


def _end_session(started: SandboxOrder) -> dict[str, Any]:
    """End a session once (stop, cancel or completion); later calls read the same end."""
    if "end" not in started.data:
        began = datetime.fromisoformat(_result(started)["started_at"])
        ended = max(_now(), began)
        simulated_s = (ended - began).total_seconds() * _CLOCK_SPEEDUP
        energy_wh = min(int(simulated_s * _CHARGER_POWER_W / 3600), _BATTERY_WH)
        amount = _money(started.data["price_fen"]).apply_rate(Decimal(energy_wh) / 1000)
        started.data["end"] = {
            "ended_at": ended.isoformat(),
            "energy_wh": energy_wh,
            "amount": amount.model_dump(mode="json"),
        }
    end: dict[str, Any] = started.data["end"]
    return end


def _link(sandbox: Sandbox, request: Mapping[str, Any]) -> _Taken:
    tier = MemberTier(_need(request, "oem_member_tier"))
    reference = sandbox.new_reference(_PREFIX[_Op.LIFESTYLE_LINK])
    link = MembershipLink(
        partner_member_ref=request.get("partner_member_ref") or sandbox.new_reference("MB"),
        partner_tier=_PARTNER_TIER[tier],
        linked_at=_now(),
    )
    return _Taken(reference, OrderStatus.ACCEPTED, link.model_dump(mode="json"))


def _redeem(sandbox: Sandbox, request: Mapping[str, Any]) -> _Taken:
    benefit_id = str(_need(request, "benefit_id"))
    value = _BENEFIT_VALUE_FEN.get(benefit_id)
    if value is None:
        raise _problem(422, "unknown_benefit", "no benefit with that id is offered")
    quantity = int(request.get("quantity") or 1)
    reference = sandbox.new_reference(_PREFIX[_Op.LIFESTYLE_REDEEM])
    redemption = BenefitRedemption(
        redemption_id=reference,
        benefit_id=benefit_id,
        amount=_money(value * quantity),
        redeemed_at=_now(),
    )
    return _Taken(reference, OrderStatus.ACCEPTED, redemption.model_dump(mode="json"))


def _exchange(sandbox: Sandbox, request: Mapping[str, Any]) -> _Taken:
    points = int(_need(request, "points"))
    direction = PointsDirection(request.get("direction") or PointsDirection.TO_PARTNER)
    credited = math.floor(points * _POINTS_RATE[direction])
    if credited < 1:
        raise _problem(422, "points_below_minimum", f"{points} points convert to none")
    reference = sandbox.new_reference(_PREFIX[_Op.LIFESTYLE_EXCHANGE_POINTS])
    exchange = PointsExchange(
        exchange_id=reference,
        direction=direction,
        points_debited=points,
        points_credited=credited,
        exchanged_at=_now(),
    )
    return _Taken(reference, OrderStatus.ACCEPTED, exchange.model_dump(mode="json"))


_TAKERS: Final[Mapping[Operation, Callable[[Sandbox, Mapping[str, Any]], _Taken]]] = (
    MappingProxyType(
        {
            _Op.COURTESY_CAR_BOOK: _book,
            _Op.INSURANCE_QUOTE: _quote,
            _Op.INSURANCE_BIND: _bind,
            _Op.CHARGING_START: _start,
            _Op.CHARGING_STOP: _stop,
            _Op.LIFESTYLE_LINK: _link,
            _Op.LIFESTYLE_REDEEM: _redeem,
            _Op.LIFESTYLE_EXCHANGE_POINTS: _exchange,
        }
    )
)


# -- stations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Station:
    station_id: str
    name: str
    lat: float
    lon: float
    address: str
    connectors: tuple[ConnectorType, ...]
    connector_ids: tuple[str, ...]
    available: int
    price_fen: int


def _station(number: int) -> _Station:
    """Station ``number`` of a fixed spiral around the centre, 250 m to 7.6 km out."""
    radius = 250 + 180 * (number - 1)
    angle = math.radians(number * 137.508)  # the golden angle spreads them evenly
    lat = _CENTRE[0] + radius * math.cos(angle) / _METRES_PER_DEGREE
    lon = _CENTRE[1] + radius * math.sin(angle) / (
        _METRES_PER_DEGREE * math.cos(math.radians(_CENTRE[0]))
    )
    place, district, code = _PLACES[number % len(_PLACES)]
    count = 2 + number % 5
    return _Station(
        station_id=f"SZ-{code}-{number:04d}",
        name=f"{place}充电站{(number - 1) // len(_PLACES) + 1}号",
        lat=round(lat, 6),
        lon=round(lon, 6),
        address=f"广东省深圳市{district}{place}{number * 7 % 90 + 1}号",
        connectors=_CONNECTOR_SETS[number % len(_CONNECTOR_SETS)],
        connector_ids=tuple(str(i) for i in range(1, count + 1)),
        available=number * 3 % (count + 1),
        price_fen=110 + number * 13 % 70,
    )


_STATIONS: Final = tuple(_station(n) for n in range(1, _STATION_COUNT + 1))
_STATIONS_BY_ID: Final = MappingProxyType({s.station_id: s for s in _STATIONS})


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Great-circle distance (haversine), in whole metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * _EARTH_RADIUS_M * math.asin(math.sqrt(h)))


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind == "offset" and value.isdigit():
            return int(value)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise _problem(400, "invalid_cursor", "cursor is not one this API issued")


def _query_number(query: Mapping[str, str], name: str, low: float, high: float) -> float:
    raw = query.get(name)
    if raw is None:
        default = _SEARCH_DEFAULTS[name].default if name in _SEARCH_DEFAULTS else None
        if default is None:
            raise _problem(422, "missing_field", f"query parameter {name} is required")
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise _problem(422, "invalid_request", f"{name} must be a number") from None
    if not low <= value <= high:
        raise _problem(422, "invalid_request", f"{name} must lie within {low} and {high}")
    return value


def _search(sandbox: Sandbox, query: Mapping[str, str]) -> dict[str, Any]:
    if "lat" not in query and "lon" not in query and query.get("city"):
        return _search_city(sandbox, query)
    lat = _query_number(query, "lat", -90, 90)
    lon = _query_number(query, "lon", -180, 180)
    radius = _query_number(query, "radius_m", 100, 50_000)
    limit = int(_query_number(query, "limit", 1, 200))
    connector = query.get("connector")
    if connector is not None and connector not in {c.value for c in ConnectorType}:
        raise _problem(422, "invalid_request", "connector is not a known connector type")
    offset = _offset(query.get("cursor"))
    if sandbox.rejects():
        code, message = _REFUSAL[_Op.CHARGING_SEARCH]
        raise _problem(422, code, message)
    found = sorted(
        (d, s)
        for s in _STATIONS
        if (d := _distance_m(lat, lon, s.lat, s.lon)) <= radius
        and (connector is None or connector in s.connectors)
    )
    page = found[offset : offset + min(limit, _PAGE_SIZE)]
    end = offset + len(page)
    stations = [
        ChargingStation(
            station_id=s.station_id,
            name=s.name,
            lat=s.lat,
            lon=s.lon,
            address=s.address,
            city="Shenzhen",
            connectors=list(s.connectors),
            available=s.available,
            price_per_kwh=_money(s.price_fen),
            distance_m=d,
        ).model_dump(mode="json", exclude_none=True)
        for d, s in page
    ]
    return {"stations": stations, "next_cursor": _cursor(end) if end < len(found) else None}


def _search_city(sandbox: Sandbox, query: Mapping[str, str]) -> dict[str, Any]:
    """Stations of a city in id order, without distances (the caller sent no point)."""
    limit = int(_query_number(query, "limit", 1, 200))
    connector = query.get("connector")
    offset = _offset(query.get("cursor"))
    if sandbox.rejects():
        code, message = _REFUSAL[_Op.CHARGING_SEARCH]
        raise _problem(422, code, message)
    found = [
        s
        for s in sorted(_STATIONS, key=lambda s: s.station_id)
        if query["city"] == "Shenzhen" and (connector is None or connector in s.connectors)
    ]
    page = found[offset : offset + min(limit, _PAGE_SIZE)]
    end = offset + len(page)
    stations = [
        ChargingStation(
            station_id=s.station_id,
            name=s.name,
            lat=s.lat,
            lon=s.lon,
            address=s.address,
            city="Shenzhen",
            connectors=list(s.connectors),
            available=s.available,
            price_per_kwh=_money(s.price_fen),
        ).model_dump(mode="json", exclude_none=True)
        for s in page
    ]
    return {"stations": stations, "next_cursor": _cursor(end) if end < len(found) else None}


# -- events -------------------------------------------------------------------------------

_Builder = Callable[[Sandbox, SandboxOrder], dict[str, Any]]


def _rental_completed(_sandbox: Sandbox, order: SandboxOrder) -> dict[str, Any]:
    days = int(order.data["days"])
    daily = Money.model_validate(_result(order)["daily_price"])
    return {"days": days, "amount": (daily * days).model_dump(mode="json")}


def _cancelled(_sandbox: Sandbox, order: SandboxOrder) -> dict[str, Any]:
    # Cancelled through the API means the OEM asked; otherwise the partner gave up.
    asked = order.status == OrderStatus.CANCELLED
    reason = CancelReason.CUSTOMER_REQUEST if asked else CancelReason.PARTNER_UNAVAILABLE
    return {"reason": reason.value}


def _claim_id(sandbox: Sandbox, order: SandboxOrder) -> str:
    if "claim_id" not in order.data:
        order.data["claim_id"] = sandbox.new_reference("CL")
    claim_id: str = order.data["claim_id"]
    return claim_id


def _claim_settled(sandbox: Sandbox, order: SandboxOrder) -> dict[str, Any]:
    settled = _money(50_000 + _digest(order.reference) % 1_950_000 // 100 * 100)
    return {"claim_id": _claim_id(sandbox, order), "settled_amount": settled.model_dump()}


def _dispatched(sandbox: Sandbox, order: SandboxOrder) -> dict[str, Any]:
    return {**_picked("eta", "vehicle_model")(sandbox, order), "vehicle_plate": order.data["plate"]}


def _session_completed(_sandbox: Sandbox, order: SandboxOrder) -> dict[str, Any]:
    return {"session_id": _result(order)["session_id"], **_end_session(order)}


def _picked(*fields: str) -> _Builder:
    """Data copied from the order's canonical result."""

    def build(_sandbox: Sandbox, order: SandboxOrder) -> dict[str, Any]:
        result = _result(order)
        return {field: result[field] for field in fields}

    return build


_ANY: Final = frozenset(_TAKERS)
_EVENTS: Final[Mapping[EventType, tuple[frozenset[Operation], _Builder]]] = MappingProxyType(
    {
        _E.RENTAL_ORDER_ACCEPTED: (frozenset({_Op.COURTESY_CAR_BOOK}), _picked("eta")),
        _E.RENTAL_ORDER_REJECTED: (
            frozenset({_Op.COURTESY_CAR_BOOK}),
            lambda _s, _o: {"reason_code": _REFUSAL[_Op.COURTESY_CAR_BOOK][0]},
        ),
        _E.RENTAL_VEHICLE_DISPATCHED: (frozenset({_Op.COURTESY_CAR_BOOK}), _dispatched),
        _E.RENTAL_VEHICLE_DELIVERED: (
            frozenset({_Op.COURTESY_CAR_BOOK}),
            lambda _s, o: {"odometer_km": o.data["odometer_km"]},
        ),
        _E.RENTAL_COMPLETED: (frozenset({_Op.COURTESY_CAR_BOOK}), _rental_completed),
        _E.ORDER_CANCELLED: (_ANY, _cancelled),
        _E.ORDER_FAILED: (
            _ANY,
            lambda _s, o: {"reason_code": _FAILURE_CODE[OPERATION_CATEGORY[o.operation]]},
        ),
        _E.INSURANCE_POLICY_ISSUED: (
            frozenset({_Op.INSURANCE_BIND}),
            _picked("policy_number", "premium", "coverages", "starts_on", "ends_on"),
        ),
        _E.INSURANCE_CLAIM_OPENED: (
            frozenset({_Op.INSURANCE_BIND}),
            lambda s, o: {"claim_id": _claim_id(s, o), "reported_at": _now().isoformat()},
        ),
        _E.INSURANCE_CLAIM_ACKNOWLEDGED: (
            frozenset({_Op.INSURANCE_BIND}),
            lambda s, o: {"claim_id": _claim_id(s, o)},
        ),
        _E.INSURANCE_CLAIM_SETTLED: (frozenset({_Op.INSURANCE_BIND}), _claim_settled),
        _E.CHARGING_SESSION_STARTED: (
            frozenset({_Op.CHARGING_START}),
            _picked("session_id", "station_id", "connector_id"),
        ),
        _E.CHARGING_SESSION_COMPLETED: (frozenset({_Op.CHARGING_START}), _session_completed),
        _E.LIFESTYLE_MEMBERSHIP_LINKED: (
            frozenset({_Op.LIFESTYLE_LINK}),
            _picked("partner_member_ref", "partner_tier"),
        ),
        _E.LIFESTYLE_BENEFIT_REDEEMED: (
            frozenset({_Op.LIFESTYLE_REDEEM}),
            _picked("redemption_id", "benefit_id", "amount"),
        ),
        _E.LIFESTYLE_POINTS_EXCHANGED: (
            frozenset({_Op.LIFESTYLE_EXCHANGE_POINTS}),
            _picked("exchange_id", "points_debited", "points_credited"),
        ),
    }
)


# -- the dialect --------------------------------------------------------------------------


class CanonicalSandbox:
    """The simulator of the published canonical partner API, for any category."""

    dialect = CANONICAL_DIALECT

    def install(self, sandbox: Sandbox) -> None:
        """Add ``/v1/orders``, ``/v1/orders/{partner_reference}/cancel`` and ``/v1/stations``."""
        app = sandbox.app

        @app.post("/v1/orders", tags=["canonical"], status_code=201)
        async def place(request: Request) -> Response:
            """Take an order (deduplicated by order_id) and answer its canonical result."""
            body = await sandbox.accept(request)
            return self._place(sandbox, body, request.headers.get("idempotency-key"))

        @app.post("/v1/orders/{reference}/cancel", tags=["canonical"])
        async def cancel(reference: str, request: Request) -> dict[str, Any]:
            """Cancel an order still in progress; 409 once it is too late."""
            body = await sandbox.accept(request)
            return self._cancel(sandbox, reference, body)

        @app.get("/v1/stations", tags=["canonical"])
        async def stations(request: Request) -> dict[str, Any]:
            """Stations within a radius, nearest first, one cursor page at a time."""
            await sandbox.accept(request)
            self._serves(sandbox, _Op.CHARGING_SEARCH)
            return _search(sandbox, request.query_params)

    def error_body(self, fault: SandboxFault) -> tuple[int, Any]:
        """An RFC 9457 problem document with the fault's code in snake case."""
        return fault.status, {
            "type": "about:blank",
            "title": HTTPStatus(fault.status).phrase,
            "status": fault.status,
            "detail": fault.message,
            "code": fault.code.lower(),
        }

    def webhook(self, sandbox: Sandbox, order: SandboxOrder, kind: str) -> dict[str, Any]:
        """The canonical event ``kind`` of ``order``; a repeat of a kind is the same event."""
        sent: dict[str, dict[str, Any]] = order.data.setdefault("events", {})
        if kind in sent:
            return sent[kind]
        try:
            event_type = EventType(kind)
        except ValueError:
            raise _problem(
                422, "unknown_event_kind", "kind must be a canonical event type"
            ) from None
        operations, build = _EVENTS[event_type]
        if order.operation not in operations:
            raise _problem(422, "kind_not_applicable", f"{kind} does not follow {order.operation}")
        current, target = OrderStatus(order.status), EVENT_STATUS[event_type]
        if target not in (None, current) and not can_transition(current, target):
            raise _problem(
                409, "conflicting_state", f"the order is {current}; {kind} cannot follow"
            )
        event = CanonicalEvent.model_validate(
            {
                "event_id": new_event_id(),
                "type": event_type,
                "partner_id": sandbox.partner_id,
                "order_id": order.order_id,
                "partner_reference": order.reference,
                "occurred_at": _now(),
                "sequence": order.version + 1,
                "data": build(sandbox, order),
            }
        )
        order.version += 1
        if target is not None:
            order.status = target.value
        sent[kind] = event.model_dump(mode="json")
        return sent[kind]

    def lifecycle(self, operation: Operation) -> Sequence[str]:
        """The events an operation's order announces by itself."""
        return tuple(kind.value for kind in _LIFECYCLE.get(operation, ()))

    @staticmethod
    def _serves(sandbox: Sandbox, operation: Operation) -> None:
        category = sandbox.agreement.category
        if OPERATION_CATEGORY[operation] is not category:
            raise _problem(
                422, "unsupported_operation", f"this partner serves {category} operations only"
            )

    def _place(self, sandbox: Sandbox, body: Any, key: str | None) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("request"), dict):
            raise _problem(
                422, "invalid_request", "the body must be {order_id, operation, request}"
            )
        order_id, request = body.get("order_id"), body["request"]
        try:
            operation = Operation(str(body.get("operation")))
        except ValueError:
            raise _problem(422, "invalid_request", "operation is not a canonical one") from None
        if not isinstance(order_id, str) or not order_id:
            raise _problem(422, "invalid_request", "order_id is required")
        if not key:
            raise _problem(400, "missing_idempotency_key", "send an Idempotency-Key header")
        self._serves(sandbox, operation)
        take = _TAKERS.get(operation)
        if take is None:
            raise _problem(422, "unsupported_operation", f"{operation} is GET /v1/stations")
        known = sandbox.existing(operation, order_id)
        if known is not None:
            return JSONResponse(known.data["answer"], status_code=200)
        if any(o.data.get("idempotency_key") == key for o in sandbox.orders.values()):
            raise _problem(422, "idempotency_key_reused", "the key belongs to another order")
        if sandbox.rejects():
            code, message = _REFUSAL[operation]
            raise _problem(422, code, message)
        try:
            taken = take(sandbox, request)
        except (ValueError, TypeError) as exc:
            raise _problem(422, "invalid_request", f"{operation}: {type(exc).__name__}") from exc
        answer = {
            "partner_reference": taken.reference,
            "status": taken.status.value,
            "result": taken.result,
        }
        order = SandboxOrder(
            reference=taken.reference,
            order_id=order_id,
            operation=operation,
            data={**taken.data, "answer": answer, "idempotency_key": key},
            status=taken.status.value,
        )
        sandbox.start_lifecycle(sandbox.keep(order))
        return JSONResponse(answer, status_code=201)

    @staticmethod
    def _cancel(sandbox: Sandbox, reference: str, body: Any) -> dict[str, Any]:
        order = sandbox.orders.get(reference)
        claimed = body.get("order_id") if isinstance(body, dict) else None
        if order is None or claimed not in (None, order.order_id):
            raise _problem(404, "unknown_order", "no order with that reference")
        if order.status == OrderStatus.CANCELLED:
            return {"status": "cancelled"}
        if OrderStatus(order.status) not in _CANCELLABLE or sandbox.rejects():
            raise _problem(409, "not_cancellable", f"the order is {order.status}: too late")
        if order.operation is _Op.CHARGING_START:
            _end_session(order)
        order.status = OrderStatus.CANCELLED.value
        return {"status": "cancelled"}


DIALECT: Final[SandboxDialect] = CanonicalSandbox()
"""The simulator ``adapters.sandbox.create_sandbox`` uses for dialect ``canonical``."""
