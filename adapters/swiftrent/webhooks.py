"""SwiftRent v2 webhooks: camelCase, ``eventType`` codes, epoch milliseconds, yuan strings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import Field

from adapters._wire import (
    Counter,
    EpochMillis,
    WireModel,
    YuanText,
    canonical_terms,
    parse,
    require_object,
    unknown_kind,
)
from contracts import (
    CancelReason,
    CanonicalEvent,
    EventData,
    EventId,
    EventType,
    LongText,
    OrderCancelled,
    OrderFailed,
    OrderId,
    PartnerReference,
    Plate,
    RentalCompleted,
    RentalOrderAccepted,
    RentalOrderRejected,
    RentalVehicleDelivered,
    RentalVehicleDispatched,
    Text,
)

__all__ = ["SwiftRentWebhooks"]


class _Envelope(WireModel):
    eventId: EventId
    eventType: str
    eventTime: EpochMillis
    bookingNo: PartnerReference
    oemOrderNo: OrderId
    bookingVersion: Counter = 0
    payload: dict[str, Any] = Field(default_factory=dict)


class _OrderAccepted(WireModel):
    estimatedArrivalTime: EpochMillis | None = None


class _OrderRejected(WireModel):
    rejectCode: Text
    rejectReason: LongText | None = None


class _CarDispatched(WireModel):
    estimatedArrivalTime: EpochMillis
    plateNo: Plate | None = None
    carModel: Text | None = None


class _CarDelivered(WireModel):
    mileage: Annotated[int, Field(ge=0)] | None = None


class _RentalFinished(WireModel):
    rentDays: Annotated[int, Field(ge=1)]
    settleAmount: YuanText


class _OrderCancelled(WireModel):
    cancelReason: str
    cancelFee: YuanText | None = None
    remark: LongText | None = None


class _ServiceAborted(WireModel):
    abortCode: Text
    remark: LongText | None = None


# SwiftRent's cancel codes; codes it adds later still cancel the order, as OTHER.
_CANCEL_REASONS: Final = MappingProxyType(
    {
        "CUSTOMER_CANCEL": CancelReason.CUSTOMER_REQUEST,
        "REPAIR_COMPLETED": CancelReason.REPAIR_FINISHED_EARLY,
        "NO_VEHICLE": CancelReason.PARTNER_UNAVAILABLE,
        "CUSTOMER_NO_SHOW": CancelReason.NO_SHOW,
        "DUPLICATE_ORDER": CancelReason.DUPLICATE,
        "REFUND": CancelReason.REFUND,
    }
)


def _accepted(payload: Mapping[str, Any]) -> EventData:
    wire = parse(_OrderAccepted, payload, at="payload")
    return RentalOrderAccepted(eta=wire.estimatedArrivalTime)


def _rejected(payload: Mapping[str, Any]) -> EventData:
    wire = parse(_OrderRejected, payload, at="payload")
    return RentalOrderRejected(reason_code=wire.rejectCode.lower(), note=wire.rejectReason)


def _dispatched(payload: Mapping[str, Any]) -> EventData:
    wire = parse(_CarDispatched, payload, at="payload")
    return RentalVehicleDispatched(
        eta=wire.estimatedArrivalTime, vehicle_plate=wire.plateNo, vehicle_model=wire.carModel
    )


def _delivered(payload: Mapping[str, Any]) -> EventData:
    wire = parse(_CarDelivered, payload, at="payload")
    return RentalVehicleDelivered(odometer_km=wire.mileage)


def _finished(payload: Mapping[str, Any]) -> EventData:
    wire = parse(_RentalFinished, payload, at="payload")
    return RentalCompleted(days=wire.rentDays, amount=wire.settleAmount)


def _cancelled(payload: Mapping[str, Any]) -> EventData:
    wire = parse(_OrderCancelled, payload, at="payload")
    reason = _CANCEL_REASONS.get(wire.cancelReason, CancelReason.OTHER)
    return OrderCancelled(reason=reason, fee=wire.cancelFee, note=wire.remark)


def _aborted(payload: Mapping[str, Any]) -> EventData:
    wire = parse(_ServiceAborted, payload, at="payload")
    return OrderFailed(reason_code=wire.abortCode.lower(), note=wire.remark)


_E = EventType
_Mapper = Callable[[Mapping[str, Any]], EventData]
_KINDS: Final[Mapping[str, tuple[EventType, _Mapper]]] = MappingProxyType(
    {
        "ORDER_ACCEPTED": (_E.RENTAL_ORDER_ACCEPTED, _accepted),
        "ORDER_REJECTED": (_E.RENTAL_ORDER_REJECTED, _rejected),
        "CAR_DISPATCHED": (_E.RENTAL_VEHICLE_DISPATCHED, _dispatched),
        "CAR_DELIVERED": (_E.RENTAL_VEHICLE_DELIVERED, _delivered),
        "RENTAL_FINISHED": (_E.RENTAL_COMPLETED, _finished),
        "ORDER_CANCELLED": (_E.ORDER_CANCELLED, _cancelled),
        "SERVICE_ABORTED": (_E.ORDER_FAILED, _aborted),
    }
)


class SwiftRentWebhooks:
    """Translates SwiftRent's booking status pushes into canonical rental events."""

    dialect: str = "swiftrent.v2"

    def event_types(self) -> frozenset[EventType]:
        """The canonical event types SwiftRent's ``eventType`` codes map to."""
        return frozenset(event_type for event_type, _ in _KINDS.values())

    def translate(self, payload: Mapping[str, Any], *, partner_id: str) -> CanonicalEvent:
        """The canonical event of one SwiftRent push; ``eventId`` is kept as the event id."""
        envelope = parse(_Envelope, require_object(payload))
        kind = _KINDS.get(envelope.eventType)
        if kind is None:
            raise unknown_kind("eventType", envelope.eventType, _KINDS)
        event_type, data_of = kind
        with canonical_terms():
            return CanonicalEvent(
                event_id=envelope.eventId,
                type=event_type,
                partner_id=partner_id,
                order_id=envelope.oemOrderNo,
                partner_reference=envelope.bookingNo,
                occurred_at=envelope.eventTime,
                sequence=envelope.bookingVersion,
                data=data_of(envelope.payload),
            )
