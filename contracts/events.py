"""Canonical events: what partners report about orders, in one published language."""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from contracts.base import CanonicalModel, Timestamp
from contracts.event_data import (
    ChargingSessionCompleted,
    ChargingSessionStarted,
    InsuranceClaimAcknowledged,
    InsuranceClaimOpened,
    InsuranceClaimSettled,
    InsurancePolicyIssued,
    LifestyleBenefitRedeemed,
    LifestyleMembershipLinked,
    LifestylePointsExchanged,
    OrderCancelled,
    OrderFailed,
    RentalCompleted,
    RentalOrderAccepted,
    RentalOrderRejected,
    RentalVehicleDelivered,
    RentalVehicleDispatched,
)
from contracts.ids import EventId, OrderId, PartnerId, PartnerReference
from contracts.operations import ServiceCategory
from contracts.orders import OrderStatus

__all__ = [
    "EVENT_CATEGORY",
    "EVENT_DATA_MODELS",
    "EVENT_STATUS",
    "CanonicalEvent",
    "EventCatalogEntry",
    "EventData",
    "EventType",
    "event_catalog",
]


class EventType(StrEnum):
    """Every canonical event type; the prefix names the category (``order.`` is any)."""

    RENTAL_ORDER_ACCEPTED = "rental.order.accepted"
    RENTAL_ORDER_REJECTED = "rental.order.rejected"
    RENTAL_VEHICLE_DISPATCHED = "rental.vehicle.dispatched"
    RENTAL_VEHICLE_DELIVERED = "rental.vehicle.delivered"
    RENTAL_COMPLETED = "rental.completed"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_FAILED = "order.failed"
    INSURANCE_POLICY_ISSUED = "insurance.policy.issued"
    INSURANCE_CLAIM_OPENED = "insurance.claim.opened"
    INSURANCE_CLAIM_ACKNOWLEDGED = "insurance.claim.acknowledged"
    INSURANCE_CLAIM_SETTLED = "insurance.claim.settled"
    CHARGING_SESSION_STARTED = "charging.session.started"
    CHARGING_SESSION_COMPLETED = "charging.session.completed"
    LIFESTYLE_MEMBERSHIP_LINKED = "lifestyle.membership.linked"
    LIFESTYLE_BENEFIT_REDEEMED = "lifestyle.benefit.redeemed"
    LIFESTYLE_POINTS_EXCHANGED = "lifestyle.points.exchanged"


_E = EventType
EVENT_DATA_MODELS: Final[MappingProxyType[EventType, type[BaseModel]]] = MappingProxyType(
    {
        _E.RENTAL_ORDER_ACCEPTED: RentalOrderAccepted,
        _E.RENTAL_ORDER_REJECTED: RentalOrderRejected,
        _E.RENTAL_VEHICLE_DISPATCHED: RentalVehicleDispatched,
        _E.RENTAL_VEHICLE_DELIVERED: RentalVehicleDelivered,
        _E.RENTAL_COMPLETED: RentalCompleted,
        _E.ORDER_CANCELLED: OrderCancelled,
        _E.ORDER_FAILED: OrderFailed,
        _E.INSURANCE_POLICY_ISSUED: InsurancePolicyIssued,
        _E.INSURANCE_CLAIM_OPENED: InsuranceClaimOpened,
        _E.INSURANCE_CLAIM_ACKNOWLEDGED: InsuranceClaimAcknowledged,
        _E.INSURANCE_CLAIM_SETTLED: InsuranceClaimSettled,
        _E.CHARGING_SESSION_STARTED: ChargingSessionStarted,
        _E.CHARGING_SESSION_COMPLETED: ChargingSessionCompleted,
        _E.LIFESTYLE_MEMBERSHIP_LINKED: LifestyleMembershipLinked,
        _E.LIFESTYLE_BENEFIT_REDEEMED: LifestyleBenefitRedeemed,
        _E.LIFESTYLE_POINTS_EXCHANGED: LifestylePointsExchanged,
    }
)
"""The model of each event type's ``data``."""

EVENT_STATUS: Final[MappingProxyType[EventType, OrderStatus | None]] = MappingProxyType(
    {
        _E.RENTAL_ORDER_ACCEPTED: OrderStatus.ACCEPTED,
        _E.RENTAL_ORDER_REJECTED: OrderStatus.REJECTED,
        _E.RENTAL_VEHICLE_DISPATCHED: OrderStatus.IN_PROGRESS,
        _E.RENTAL_VEHICLE_DELIVERED: OrderStatus.DELIVERED,
        _E.RENTAL_COMPLETED: OrderStatus.COMPLETED,
        _E.ORDER_CANCELLED: OrderStatus.CANCELLED,
        _E.ORDER_FAILED: OrderStatus.FAILED,
        _E.INSURANCE_POLICY_ISSUED: OrderStatus.COMPLETED,
        # Claims happen on a policy already issued; they are history, not status.
        _E.INSURANCE_CLAIM_OPENED: None,
        _E.INSURANCE_CLAIM_ACKNOWLEDGED: None,
        _E.INSURANCE_CLAIM_SETTLED: None,
        _E.CHARGING_SESSION_STARTED: OrderStatus.IN_PROGRESS,
        _E.CHARGING_SESSION_COMPLETED: OrderStatus.COMPLETED,
        _E.LIFESTYLE_MEMBERSHIP_LINKED: OrderStatus.COMPLETED,
        _E.LIFESTYLE_BENEFIT_REDEEMED: OrderStatus.COMPLETED,
        _E.LIFESTYLE_POINTS_EXCHANGED: OrderStatus.COMPLETED,
    }
)
"""The status each event type moves its order to (``None``: status unchanged)."""

EVENT_CATEGORY: Final[MappingProxyType[EventType, ServiceCategory | None]] = MappingProxyType(
    {
        t: None if t.value.startswith("order.") else ServiceCategory(t.value.split(".")[0])
        for t in EventType
    }
)
"""The category whose orders each event type concerns (``None``: any category)."""

EventData: TypeAlias = (
    RentalOrderAccepted
    | RentalOrderRejected
    | RentalVehicleDispatched
    | RentalVehicleDelivered
    | RentalCompleted
    | OrderCancelled
    | OrderFailed
    | InsurancePolicyIssued
    | InsuranceClaimOpened
    | InsuranceClaimAcknowledged
    | InsuranceClaimSettled
    | ChargingSessionStarted
    | ChargingSessionCompleted
    | LifestyleMembershipLinked
    | LifestyleBenefitRedeemed
    | LifestylePointsExchanged
)
"""The data of any canonical event."""


class CanonicalEvent(CanonicalModel):
    """One partner event about one order, as every adapter reports it."""

    event_id: EventId
    type: EventType
    partner_id: PartnerId
    order_id: OrderId
    partner_reference: PartnerReference | None = None
    occurred_at: Timestamp
    sequence: int = Field(
        default=0, ge=0, le=2**31 - 1, description="Partner's counter within the order."
    )
    data: EventData

    @field_validator("data", mode="before")
    @classmethod
    def _data_of_type(cls, value: Any, info: ValidationInfo) -> Any:
        # ``type`` is validated first, so it picks the model and errors read ``data.<field>``.
        event_type = info.data.get("type")
        if isinstance(value, BaseModel):
            return value
        if event_type is None:
            raise ValueError("data cannot be checked until type names a known event type")
        return EVENT_DATA_MODELS[event_type].model_validate(value)

    @model_validator(mode="after")
    def _data_matches_type(self) -> CanonicalEvent:
        expected = EVENT_DATA_MODELS[self.type]
        if type(self.data) is not expected:
            raise ValueError(f"data of a {self.type} event must be {expected.__name__}")
        return self

    @property
    def order_key(self) -> tuple[Timestamp, int]:
        """Sort key of an order's history: the event's own time, then its sequence."""
        return (self.occurred_at, self.sequence)

    @property
    def moves_to(self) -> OrderStatus | None:
        """The status this event moves its order to, if any."""
        return EVENT_STATUS[self.type]


class EventCatalogEntry(CanonicalModel):
    """One row of the published event catalog."""

    type: EventType
    category: ServiceCategory | None
    moves_order_to: OrderStatus | None
    description: str
    data_schema: dict[str, Any]
    example: dict[str, Any]


_EXAMPLE_PARTNER: Final = {
    None: "swiftrent",
    ServiceCategory.RENTAL: "swiftrent",
    ServiceCategory.INSURANCE: "pingsure",
    ServiceCategory.CHARGING: "voltgrid",
    ServiceCategory.LIFESTYLE: "meilife",
}


@cache
def _catalog() -> tuple[EventCatalogEntry, ...]:
    entries = []
    for event_type, model in EVENT_DATA_MODELS.items():
        schema = model.model_json_schema()
        data = schema["examples"][0]
        example = {
            "event_id": "evt_01jq3v9c2m7d8k4r5t6w7x8y9z",
            "type": event_type.value,
            "partner_id": _EXAMPLE_PARTNER[EVENT_CATEGORY[event_type]],
            "order_id": "ord_01jq3v8y0a1b2c3d4e5f6g7h8j",
            "partner_reference": "SR-20250314-0042",
            "occurred_at": "2025-03-14T10:31:00+08:00",
            "sequence": 1,
            "data": data,
        }
        entries.append(
            EventCatalogEntry(
                type=event_type,
                category=EVENT_CATEGORY[event_type],
                moves_order_to=EVENT_STATUS[event_type],
                description=(model.__doc__ or "").strip(),
                data_schema=schema,
                example=example,
            )
        )
    return tuple(entries)


def event_catalog() -> list[EventCatalogEntry]:
    """Every event type with its data JSON Schema and a complete example event."""
    return list(_catalog())
