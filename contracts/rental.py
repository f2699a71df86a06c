"""Rental (courtesy car): a replacement car delivered while the owner's is in repair."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts.base import CanonicalModel, LongText, ServiceRequestBase, Text, Timestamp
from contracts.ids import PartnerReference, RepairOrderId
from contracts.money import Money
from contracts.operations import Operation
from contracts.people import Customer, Location, Vehicle
from contracts.sensitivity import FieldKind, de_identified, public, sensitive

__all__ = ["CourtesyCarBooking", "CourtesyCarRequest", "RepairOrderNotice", "VehicleClass"]


class VehicleClass(StrEnum):
    """The size of courtesy car asked for."""

    ECONOMY = "economy"
    COMPACT = "compact"
    MIDSIZE = "midsize"
    SUV = "suv"
    MPV = "mpv"
    PREMIUM = "premium"
    ELECTRIC = "electric"


class CourtesyCarRequest(ServiceRequestBase):
    """Deliver a courtesy car to the customer for the days their car is in repair."""

    operation: Annotated[Literal[Operation.COURTESY_CAR_BOOK], public(FieldKind.CODE)] = (
        Operation.COURTESY_CAR_BOOK
    )
    customer: Customer
    vehicle: Vehicle
    pickup: Location
    window_start: Annotated[Timestamp, public(FieldKind.TIMESTAMP)]
    window_end: Annotated[Timestamp, public(FieldKind.TIMESTAMP)]
    days: Annotated[int, Field(ge=1, le=60), public(FieldKind.QUANTITY)]
    vehicle_class: Annotated[VehicleClass, public(FieldKind.CODE)] = VehicleClass.COMPACT
    repair_order_id: Annotated[RepairOrderId | None, de_identified(FieldKind.IDENTIFIER)] = None
    notes: Annotated[LongText | None, sensitive(FieldKind.FREE_TEXT)] = None

    @model_validator(mode="after")
    def _window_is_forward(self) -> CourtesyCarRequest:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self

    @property
    def city(self) -> str:
        """Where the car is delivered."""
        return self.pickup.city


class CourtesyCarBooking(CanonicalModel):
    """A partner's confirmation of a courtesy car booking."""

    operation: Annotated[Literal[Operation.COURTESY_CAR_BOOK], public(FieldKind.CODE)] = (
        Operation.COURTESY_CAR_BOOK
    )
    partner_reference: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    eta: Annotated[Timestamp, public(FieldKind.TIMESTAMP)]
    daily_price: Money
    vehicle_class: Annotated[VehicleClass, public(FieldKind.CODE)]
    vehicle_model: Annotated[Text | None, public(FieldKind.VEHICLE_SPEC)] = None


class RepairOrderNotice(CanonicalModel):
    """The OEM service system's notice of a car checked in for repair at a dealer."""

    repair_order_id: Annotated[RepairOrderId, de_identified(FieldKind.IDENTIFIER)]
    customer: Customer
    vehicle: Vehicle
    dealer: Location
    """Where the car is repaired, and where a courtesy car is delivered."""
    estimated_duration: Annotated[timedelta, public(FieldKind.QUANTITY)]
    """ISO 8601 duration of the repair, e.g. ``PT6H`` or ``P2D``."""
    checked_in_at: Annotated[Timestamp, public(FieldKind.TIMESTAMP)]
    vehicle_class: Annotated[VehicleClass, public(FieldKind.CODE)] = VehicleClass.COMPACT

    @model_validator(mode="after")
    def _positive_duration(self) -> RepairOrderNotice:
        if self.estimated_duration <= timedelta(0):
            raise ValueError("estimated_duration must be positive")
        if self.estimated_duration > timedelta(days=60):
            raise ValueError("estimated_duration must be at most 60 days")
        return self
