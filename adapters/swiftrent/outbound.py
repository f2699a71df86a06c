"""SwiftRent v2 outbound: courtesy cars booked and cancelled through SwiftRent's booking API.

The API, relative to the agreement's ``api.base_url``; every call carries the
OAuth 2.0 client-credentials bearer token the gateway's pooled client attaches:

- ``POST /api/v2/bookings`` books a car. The body is camelCase JSON: our order
  id in ``oemOrderNo`` (SwiftRent's webhooks quote it back), the delivery place
  (``cityName``, ``deliveryDistrict``, ``deliveryAddress``, ``deliveryLat`` /
  ``deliveryLng`` with ``coordType``), the contact (``contactName``,
  ``contactPhone``), the delivery window (``deliverStartTime`` /
  ``deliverEndTime``), the rental length in minutes (``rentMinutes`` = days x
  1440) and SwiftRent's own ``carClass`` code (``ECONOMY``, ``COMPACT``,
  ``STANDARD``, ``SUV``, ``MPV``, ``LUXURY``, ``NEV``). Our idempotency key goes
  in the ``X-Request-Id`` header. The answer's ``data`` holds ``bookingNo`` (its
  reference), ``carClass``, ``carModel``, ``dailyRent``, ``totalRent`` and
  ``estimatedArrivalTime``.
- ``POST /api/v2/bookings/{bookingNo}/cancel`` cancels one (body: ``oemOrderNo``,
  ``cancelReason``); ``data`` echoes ``bookingNo``, ``bookingStatus`` and
  ``cancelFee``. Cancelling a cancelled booking answers success again.

Units: times in epoch milliseconds, money in yuan as decimal strings
(``"360.00"``). No pagination: every call concerns one booking.

Errors: every answer is an envelope, ``{"success": true, "data": {...}}`` or,
for a business refusal, still HTTP 200 with ``{"success": false, "errCode":
"SR4xxx", "errMsg": "..."}`` (``SR4001`` invalid parameter, ``SR4010`` no car
available, ``SR4011`` city not served, ``SR4040`` booking not found, ``SR4033``
busy, cannot cancel now, ``SR4030`` car already delivered and ``SR4031`` rental
already closed, both too late to cancel). HTTP statuses carry only auth
(401/403), throttling (429 with ``Retry-After``) and outages (5xx).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote

import httpx
from pydantic import BeforeValidator, StringConstraints

from adapters._http import canonical, read_json, read_model, send, status_error
from adapters._wire import EpochMillis, WireModel, YuanText
from adapters.errors import PartnerRejected, PartnerUnavailable
from adapters.protocol import OutboundCall
from contracts import (
    CourtesyCarBooking,
    Operation,
    PartnerReference,
    ServiceResult,
    Text,
    VehicleClass,
)

__all__ = ["SwiftRentApi"]

_BOOKINGS: Final = "/api/v2/bookings"
_MINUTES_PER_DAY: Final = 1440
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# The protocol's cancel carries no reason; the OEM app cancels at the customer's request.
_CANCEL_REASON: Final = "CUSTOMER_CANCEL"
# SwiftRent's refusals meaning the car is already out: too late to cancel.
_TOO_LATE: Final = frozenset({"SR4030", "SR4031"})

_CAR_CLASSES: Final[Mapping[VehicleClass, str]] = MappingProxyType(
    {
        VehicleClass.ECONOMY: "ECONOMY",
        VehicleClass.COMPACT: "COMPACT",
        VehicleClass.MIDSIZE: "STANDARD",
        VehicleClass.SUV: "SUV",
        VehicleClass.MPV: "MPV",
        VehicleClass.PREMIUM: "LUXURY",
        VehicleClass.ELECTRIC: "NEV",
    }
)
_VEHICLE_CLASSES: Final[Mapping[str, VehicleClass]] = MappingProxyType(
    {code: vehicle_class for vehicle_class, code in _CAR_CLASSES.items()}
)


def _vehicle_class_of(value: object) -> VehicleClass:
    if not isinstance(value, str) or value not in _VEHICLE_CLASSES:
        raise ValueError(f"unknown carClass {str(value)[:20]!r}")
    return _VEHICLE_CLASSES[value]


_CarClass = Annotated[VehicleClass, BeforeValidator(_vehicle_class_of)]
_ErrCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class _BookingRequest(WireModel):
    oemOrderNo: str
    cityName: str
    deliveryDistrict: str | None = None
    deliveryAddress: str | None = None
    deliveryLat: float | None = None
    deliveryLng: float | None = None
    coordType: Literal["WGS84"] | None = None
    contactName: str | None = None
    contactPhone: str | None = None
    deliverStartTime: int
    deliverEndTime: int
    rentMinutes: int
    carClass: str
    repairOrderNo: str | None = None
    remark: str | None = None


class _CancelRequest(WireModel):
    oemOrderNo: str
    cancelReason: str


class _Envelope(WireModel):
    success: bool
    errCode: _ErrCode | None = None
    data: dict[str, Any] | None = None


class _Booking(WireModel):
    bookingNo: PartnerReference
    oemOrderNo: str
    carClass: _CarClass
    carModel: Text | None = None
    dailyRent: YuanText
    estimatedArrivalTime: EpochMillis


class _Cancelled(WireModel):
    bookingNo: PartnerReference


def _missing(field: str) -> PartnerRejected:
    return PartnerRejected(f"SwiftRent booking: {field} not disclosed", code="missing_field")


def _invalid(field: str, expected: str) -> PartnerRejected:
    return PartnerRejected(f"SwiftRent booking: {field} is not {expected}", code="invalid_field")


def _section(payload: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = payload.get(name)
    return value if isinstance(value, Mapping) else {}


def _text(section: Mapping[str, Any], key: str) -> str | None:
    value = section.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _number(section: Mapping[str, Any], key: str) -> float | None:
    value = section.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _epoch_millis(payload: Mapping[str, Any], field: str) -> int:
    """An ISO 8601 date-time with offset from the payload, as epoch milliseconds."""
    value = payload.get(field)
    if value is None:
        raise _missing(field)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _invalid(field, "a date-time with a UTC offset")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _rent_minutes(payload: Mapping[str, Any]) -> int:
    days = payload.get("days")
    if days is None:
        raise _missing("days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise _invalid("days", "a whole number of days")
    return days * _MINUTES_PER_DAY


def _car_class(payload: Mapping[str, Any]) -> str:
    value = payload.get("vehicle_class", VehicleClass.COMPACT.value)
    try:
        return _CAR_CLASSES[VehicleClass(value)]
    except ValueError:
        raise _invalid("vehicle_class", "a known vehicle class") from None


def _booking_request(order_id: str, payload: Mapping[str, Any]) -> _BookingRequest:
    """SwiftRent's booking body for a canonical courtesy-car payload (as masked)."""
    customer = _section(payload, "customer")
    pickup = _section(payload, "pickup")
    city = _text(pickup, "city")
    if city is None:
        raise _missing("pickup.city")
    phone, address = _text(customer, "phone"), _text(pickup, "address")
    # A driver delivers to an address or finds the customer by phone; with neither, nobody.
    if phone is None and address is None:
        raise _missing("customer.phone and pickup.address")
    lat, lon = _number(pickup, "lat"), _number(pickup, "lon")
    located = lat is not None and lon is not None
    return _BookingRequest(
        oemOrderNo=order_id,
        cityName=city,
        deliveryDistrict=_text(pickup, "district"),
        deliveryAddress=address,
        deliveryLat=lat if located else None,
        deliveryLng=lon if located else None,
        coordType="WGS84" if located else None,
        contactName=_text(customer, "name"),
        contactPhone=phone,
        deliverStartTime=_epoch_millis(payload, "window_start"),
        deliverEndTime=_epoch_millis(payload, "window_end"),
        rentMinutes=_rent_minutes(payload),
        carClass=_car_class(payload),
        repairOrderNo=_text(payload, "repair_order_id"),
        remark=_text(payload, "notes"),
    )


def _data_of(
    response: httpx.Response, *, what: str, too_late: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The ``data`` of a successful SwiftRent answer; its failures as the error set."""
    error = status_error(response)
    if error is not None:
        raise error
    envelope = read_model(_Envelope, read_json(response), what=f"{what} answer")
    if not envelope.success:
        if envelope.errCode is None:
            raise PartnerUnavailable(f"{what} failed without an errCode")
        if envelope.errCode in too_late:
            raise PartnerRejected(
                f"SwiftRent cannot cancel any more: {envelope.errCode}", code="not_cancellable"
            )
        raise PartnerRejected(
            f"SwiftRent refused the {what}: {envelope.errCode}", code=envelope.errCode.lower()
        )
    if not response.is_success:
        raise PartnerUnavailable(f"HTTP {response.status_code} for a successful {what}")
    if envelope.data is None:
        raise PartnerUnavailable(f"{what} answer has no data")
    return envelope.data


class SwiftRentApi:
    """SwiftRent's booking API in canonical terms: courtesy cars booked and cancelled."""

    dialect: str = "swiftrent.v2"

    def operations(self) -> frozenset[Operation]:
        """SwiftRent books courtesy cars only."""
        return frozenset({Operation.COURTESY_CAR_BOOK})

    def retry_safe(self, operation: Operation) -> bool:
        """True for booking: SwiftRent deduplicates it, so a repeat books no second car."""
        # SwiftRent keys a booking on oemOrderNo (and X-Request-Id): a repeated POST
        # answers the booking already made, with the same bookingNo.
        return operation is Operation.COURTESY_CAR_BOOK

    async def call(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        """Book the courtesy car of ``call``; SwiftRent's answer as a ``CourtesyCarBooking``."""
        if call.operation is not Operation.COURTESY_CAR_BOOK:
            raise PartnerRejected(
                f"{self.dialect} does not offer {call.operation}", code="unsupported_operation"
            )
        body = _booking_request(call.order_id, call.payload)
        response = await send(
            http,
            "POST",
            _BOOKINGS,
            json=body.model_dump(exclude_none=True),
            headers={"X-Request-Id": call.idempotency_key},
        )
        booking = read_model(_Booking, _data_of(response, what="booking"), what="booking")
        if booking.oemOrderNo != call.order_id:
            raise PartnerUnavailable("booking answer is for another oemOrderNo")
        return canonical(
            lambda: CourtesyCarBooking(
                partner_reference=booking.bookingNo,
                eta=booking.estimatedArrivalTime,
                daily_price=booking.dailyRent,
                vehicle_class=booking.carClass,
                vehicle_model=booking.carModel,
            ),
            what="booking",
        )

    async def cancel(
        self, http: httpx.AsyncClient, *, order_id: str, partner_reference: str | None
    ) -> None:
        """Cancel the booking ``partner_reference``; too late once the car is delivered."""
        if partner_reference is None:
            # SwiftRent cancels by bookingNo; without one no booking was confirmed to us.
            raise PartnerRejected("no SwiftRent bookingNo to cancel", code="not_cancellable")
        body = _CancelRequest(oemOrderNo=order_id, cancelReason=_CANCEL_REASON)
        response = await send(
            http,
            "POST",
            f"{_BOOKINGS}/{quote(partner_reference, safe='')}/cancel",
            json=body.model_dump(),
        )
        data = _data_of(response, what="cancellation", too_late=_TOO_LATE)
        answer = read_model(_Cancelled, data, what="cancellation")
        if answer.bookingNo != partner_reference:
            raise PartnerUnavailable("cancellation answer is for another bookingNo")
