"""Sandbox of SwiftRent v2: the booking API ``adapters.swiftrent.SwiftRentApi`` speaks.

Routes, each behind the kit's auth check, recording and fault injection:

- ``POST /api/v2/bookings`` books a courtesy car, once per ``oemOrderNo`` (a
  repeat answers the booking already made); refusals (HTTP 200,
  ``success: false``): ``SR4001`` invalid parameter, ``SR4011`` city not served,
  ``SR4010`` no car available (the ``reject_rate`` die).
- ``POST /api/v2/bookings/{bookingNo}/cancel`` cancels it; ``SR4040`` unknown
  booking, ``SR4030`` car already delivered, ``SR4031`` rental already closed,
  ``SR4033`` busy (the ``reject_rate`` die). It answers at once and sends no
  webhook: the gateway records the cancellation it asked for itself.

After a booking the webhooks ``ORDER_ACCEPTED``, ``CAR_DISPATCHED`` and
``CAR_DELIVERED`` follow by themselves; ``RENTAL_FINISHED``,
``ORDER_CANCELLED``, ``SERVICE_ABORTED`` and ``ORDER_REJECTED`` are sent with
``POST /_orders/{bookingNo}/emit/{eventType}``. Each webhook moves the booking
to its status and raises its ``bookingVersion``.
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.sandbox.kit import Sandbox, SandboxFault, SandboxOrder
from contracts import Money, Operation

__all__ = ["DIALECT", "SwiftRentSandbox"]

_BOOK: Final = Operation.COURTESY_CAR_BOOK
_MINUTES_PER_DAY: Final = 1440
_LEAD_TIME: Final = timedelta(minutes=30)
_LATE_CANCEL_FEE: Final = Money.of("50.00", "CNY")
_PLATE_CHARACTERS: Final = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_DEFAULT_CANCEL_REASON: Final = "CUSTOMER_CANCEL"


@dataclass(frozen=True)
class _Car:
    daily_rent: Money
    model: str


# SwiftRent's fleet: one model per carClass, at its daily rent.
_FLEET: Final[Mapping[str, _Car]] = MappingProxyType(
    {
        "ECONOMY": _Car(Money.of("180.00", "CNY"), "Geely Emgrand"),
        "COMPACT": _Car(Money.of("240.00", "CNY"), "GAC Aion S"),
        "STANDARD": _Car(Money.of("300.00", "CNY"), "BYD Qin PLUS"),
        "SUV": _Car(Money.of("360.00", "CNY"), "BYD Song PLUS"),
        "MPV": _Car(Money.of("480.00", "CNY"), "Buick GL8"),
        "LUXURY": _Car(Money.of("680.00", "CNY"), "Mercedes-Benz E 300 L"),
        "NEV": _Car(Money.of("260.00", "CNY"), "BYD Dolphin"),
    }
)

# Booking statuses after which a cancel is refused, with the refusal.
_TOO_LATE: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "delivered": ("SR4030", "车辆已交付，无法取消"),
        "finished": ("SR4031", "订单已结束，无法取消"),
        "aborted": ("SR4031", "订单已结束，无法取消"),
        "rejected": ("SR4031", "订单已结束，无法取消"),
    }
)


# SwiftRent's system codes for the kit's faults (auth, throttling, outages).
_SYSTEM_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "UNAUTHORIZED": "SR1001",
        "RATE_LIMITED": "SR1029",
        "UNAVAILABLE": "SR5003",
        "TIMEOUT": "SR5004",
    }
)


class _BookingIn(BaseModel):
    """What SwiftRent requires of a booking body (it ignores fields it does not know)."""

    model_config = ConfigDict(extra="ignore")

    oemOrderNo: str = Field(min_length=1, max_length=64)
    cityName: str = Field(min_length=1)
    deliveryAddress: str | None = None
    contactPhone: str | None = None
    deliverStartTime: int = Field(gt=0)
    deliverEndTime: int = Field(gt=0)
    rentMinutes: int = Field(gt=0)
    carClass: str


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _yuan(money: Money) -> str:
    return str(money.to_decimal())


def _success(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"success": True, "errCode": None, "errMsg": None, "data": dict(data)}


def _failure(code: str, message: str) -> dict[str, Any]:
    # SwiftRent's failure envelope: on HTTP 200 for business refusals, else with the status.
    return {"success": False, "errCode": code, "errMsg": message, "data": None}


def _plate() -> str:
    # The fleet is registered in Shenzhen: 粤B, then five letters or digits.
    return "粤B" + "".join(secrets.choice(_PLATE_CHARACTERS) for _ in range(5))


def _booking_of(body: Any) -> _BookingIn | str:
    """The booking SwiftRent can take from ``body``, or the parameter it refuses."""
    try:
        booking = _BookingIn.model_validate(body)
    except ValidationError as exc:
        return ".".join(str(part) for part in exc.errors()[0]["loc"]) or "body"
    if booking.carClass not in _FLEET:
        return "carClass"
    if booking.deliverEndTime <= booking.deliverStartTime:
        return "deliverEndTime"
    if booking.contactPhone is None and booking.deliveryAddress is None:
        return "contactPhone/deliveryAddress"
    return booking


def _book(sandbox: Sandbox, booking: _BookingIn) -> dict[str, Any]:
    """Take a new booking: price it, pick the car, start its lifecycle."""
    car = _FLEET[booking.carClass]
    days = math.ceil(booking.rentMinutes / _MINUTES_PER_DAY)
    eta = max(booking.deliverStartTime, _now_ms() + _LEAD_TIME // timedelta(milliseconds=1))
    reference = sandbox.new_reference("SR")
    answer = {
        "bookingNo": reference,
        "oemOrderNo": booking.oemOrderNo,
        "bookingStatus": "CREATED",
        "carClass": booking.carClass,
        "carModel": car.model,
        "rentDays": days,
        "dailyRent": _yuan(car.daily_rent),
        "totalRent": _yuan(car.daily_rent * days),
        "estimatedArrivalTime": eta,
    }
    order = SandboxOrder(
        reference=reference,
        order_id=booking.oemOrderNo,
        operation=_BOOK,
        data={
            "answer": answer,
            "plate": _plate(),
            "mileage": 5_000 + secrets.randbelow(40_000),
        },
    )
    sandbox.keep(order)
    sandbox.start_lifecycle(order)
    return _success(answer)


def _cancel_fee(order: SandboxOrder) -> str:
    # Free until the car leaves the store; a flat fee once it is on its way.
    return _yuan(_LATE_CANCEL_FEE if order.status == "dispatched" else Money.zero("CNY"))


def _cancel(order: SandboxOrder, body: Mapping[str, Any]) -> dict[str, Any]:
    """Cancel a booking (again: the same answer), unless it is too late."""
    refusal = _TOO_LATE.get(order.status)
    if refusal is not None:
        return _failure(*refusal)
    if order.status != "cancelled":
        order.data["cancelFee"] = _cancel_fee(order)
        order.data["cancelReason"] = str(body.get("cancelReason") or _DEFAULT_CANCEL_REASON)
        order.status = "cancelled"
    return _success(
        {
            "bookingNo": order.reference,
            "oemOrderNo": order.order_id,
            "bookingStatus": "CANCELLED",
            "cancelFee": order.data["cancelFee"],
        }
    )


def _accepted(order: SandboxOrder) -> dict[str, Any]:
    return {"estimatedArrivalTime": order.data["answer"]["estimatedArrivalTime"]}


def _rejected(_order: SandboxOrder) -> dict[str, Any]:
    return {"rejectCode": "NO_VEHICLE_AVAILABLE", "rejectReason": "门店附近暂无可用车辆"}


def _dispatched(order: SandboxOrder) -> dict[str, Any]:
    answer = order.data["answer"]
    return {
        "estimatedArrivalTime": answer["estimatedArrivalTime"],
        "plateNo": order.data["plate"],
        "carModel": answer["carModel"],
    }


def _delivered(order: SandboxOrder) -> dict[str, Any]:
    return {"mileage": order.data["mileage"], "fuelLevel": "FULL"}


def _finished(order: SandboxOrder) -> dict[str, Any]:
    answer = order.data["answer"]
    return {"rentDays": answer["rentDays"], "settleAmount": answer["totalRent"]}


def _cancelled(order: SandboxOrder) -> dict[str, Any]:
    return {
        "cancelReason": order.data.get("cancelReason", _DEFAULT_CANCEL_REASON),
        "cancelFee": order.data.get("cancelFee") or _cancel_fee(order),
    }


def _aborted(_order: SandboxOrder) -> dict[str, Any]:
    return {"abortCode": "VEHICLE_BREAKDOWN", "remark": "车辆故障，服务中止"}


# Each webhook eventType: the booking status it announces and its payload.
_EVENTS: Final[Mapping[str, tuple[str, Callable[[SandboxOrder], dict[str, Any]]]]] = (
    MappingProxyType(
        {
            "ORDER_ACCEPTED": ("accepted", _accepted),
            "ORDER_REJECTED": ("rejected", _rejected),
            "CAR_DISPATCHED": ("dispatched", _dispatched),
            "CAR_DELIVERED": ("delivered", _delivered),
            "RENTAL_FINISHED": ("finished", _finished),
            "ORDER_CANCELLED": ("cancelled", _cancelled),
            "SERVICE_ABORTED": ("aborted", _aborted),
        }
    )
)


class SwiftRentSandbox:
    """The simulator of SwiftRent's booking API and its booking status webhooks."""

    dialect: str = "swiftrent.v2"

    def install(self, sandbox: Sandbox) -> None:
        """Add SwiftRent's booking and cancel routes to ``sandbox.app``."""
        app = sandbox.app

        @app.post("/api/v2/bookings", tags=["swiftrent"])
        async def book(request: Request) -> dict[str, Any]:
            """Book a courtesy car (deduplicated by ``oemOrderNo``)."""
            body = await sandbox.accept(request)
            booking = _booking_of(body)
            if isinstance(booking, str):
                return _failure("SR4001", f"参数错误: {booking}")
            if booking.cityName not in sandbox.agreement.cities:
                return _failure("SR4011", "该城市暂未开通服务")
            taken = sandbox.existing(_BOOK, booking.oemOrderNo)
            if taken is not None:
                return _success(taken.data["answer"])
            if sandbox.rejects():
                return _failure("SR4010", "门店附近暂无可用车辆")
            return _book(sandbox, booking)

        @app.post("/api/v2/bookings/{booking_no}/cancel", tags=["swiftrent"])
        async def cancel(booking_no: str, request: Request) -> dict[str, Any]:
            """Cancel a booking before its car is delivered."""
            body = await sandbox.accept(request)
            fields: Mapping[str, Any] = body if isinstance(body, dict) else {}
            order = sandbox.orders.get(booking_no)
            if order is None or order.order_id != fields.get("oemOrderNo"):
                return _failure("SR4040", "订单不存在")
            if sandbox.rejects():
                return _failure("SR4033", "订单处理中，暂不可取消")
            return _cancel(order, fields)

    def error_body(self, fault: SandboxFault) -> tuple[int, Any]:
        """SwiftRent's envelope; HTTP statuses only for auth, throttling and outages."""
        return fault.status, _failure(_SYSTEM_CODES.get(fault.code, fault.code), fault.message)

    def webhook(self, sandbox: Sandbox, order: SandboxOrder, kind: str) -> dict[str, Any]:
        """The push announcing ``kind``; the booking takes its status and next version."""
        event = _EVENTS.get(kind)
        if event is None:
            raise SandboxFault(400, "SR4001", f"unknown eventType; one of {', '.join(_EVENTS)}")
        status, details_of = event
        payload = details_of(order)
        order.status = status
        order.version += 1
        return {
            "eventId": str(uuid.uuid4()),
            "eventType": kind,
            "eventTime": _now_ms(),
            "bookingNo": order.reference,
            "oemOrderNo": order.order_id,
            "bookingVersion": order.version,
            "payload": payload,
        }

    def lifecycle(self, operation: Operation) -> Sequence[str]:
        """After a booking: accepted, dispatched, delivered (the rest via emit)."""
        return ("ORDER_ACCEPTED", "CAR_DISPATCHED", "CAR_DELIVERED") if operation is _BOOK else ()


DIALECT: Final = SwiftRentSandbox()
"""The SwiftRent v2 simulator ``create_sandbox`` picks for ``swiftrent.v2`` agreements."""
