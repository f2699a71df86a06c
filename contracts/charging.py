"""Charging: stations near a place, and sessions started and stopped on them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts.base import CanonicalModel, ServiceRequestBase, Text, Timestamp
from contracts.ids import PartnerId, PartnerReference
from contracts.money import Money
from contracts.operations import Operation
from contracts.people import CityName, Customer, Location, Vehicle
from contracts.sensitivity import FieldKind, public

__all__ = [
    "ChargingSession",
    "ChargingSessionState",
    "ChargingStartRequest",
    "ChargingStation",
    "ChargingStopRequest",
    "ConnectorType",
    "StationList",
    "StationSearchRequest",
]


class ConnectorType(StrEnum):
    """Plug standards found on stations in China and abroad."""

    GBT_DC = "gbt_dc"
    GBT_AC = "gbt_ac"
    CCS2 = "ccs2"
    TYPE2 = "type2"
    CHADEMO = "chademo"
    CHAOJI = "chaoji"


class ChargingSessionState(StrEnum):
    """Where a charging session stands."""

    STARTING = "starting"
    CHARGING = "charging"
    STOPPED = "stopped"
    FAILED = "failed"


class StationSearchRequest(ServiceRequestBase):
    """Find stations within a radius of a place."""

    operation: Annotated[Literal[Operation.CHARGING_SEARCH], public(FieldKind.CODE)] = (
        Operation.CHARGING_SEARCH
    )
    location: Location
    radius_m: Annotated[int, Field(ge=100, le=50_000), public(FieldKind.QUANTITY)] = 5_000
    connector: Annotated[ConnectorType | None, public(FieldKind.CODE)] = None
    limit: Annotated[int, Field(ge=1, le=200), public(FieldKind.QUANTITY)] = 20

    @property
    def city(self) -> str:
        """The city searched in."""
        return self.location.city


class ChargingStation(CanonicalModel):
    """A public station: its location and prices are public data."""

    station_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    name: Annotated[Text, public(FieldKind.LABEL)]
    lat: Annotated[float, Field(ge=-90, le=90), public(FieldKind.GPS)]
    lon: Annotated[float, Field(ge=-180, le=180), public(FieldKind.GPS)]
    address: Annotated[Text, public(FieldKind.ADDRESS)]
    city: Annotated[CityName, public(FieldKind.CITY)]
    connectors: Annotated[list[ConnectorType], Field(min_length=1), public(FieldKind.CODE)]
    available: Annotated[int, Field(ge=0), public(FieldKind.QUANTITY)]
    price_per_kwh: Money
    distance_m: Annotated[int | None, Field(ge=0), public(FieldKind.QUANTITY)] = None
    partner_id: Annotated[PartnerId | None, public(FieldKind.IDENTIFIER)] = None
    """The operator's partner id, to start a session with; set by the gateway."""


class StationList(CanonicalModel):
    """Stations found by a search, nearest first."""

    operation: Annotated[Literal[Operation.CHARGING_SEARCH], public(FieldKind.CODE)] = (
        Operation.CHARGING_SEARCH
    )
    stations: list[ChargingStation]


class ChargingStartRequest(ServiceRequestBase):
    """Start charging on a connector of a station the partner runs."""

    operation: Annotated[Literal[Operation.CHARGING_START], public(FieldKind.CODE)] = (
        Operation.CHARGING_START
    )
    partner_id: Annotated[PartnerId, public(FieldKind.IDENTIFIER)]
    station_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    connector_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    customer: Customer
    vehicle: Vehicle


class ChargingStopRequest(ServiceRequestBase):
    """Stop a running session."""

    operation: Annotated[Literal[Operation.CHARGING_STOP], public(FieldKind.CODE)] = (
        Operation.CHARGING_STOP
    )
    partner_id: Annotated[PartnerId, public(FieldKind.IDENTIFIER)]
    session_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]


class ChargingSession(CanonicalModel):
    """A charging session; energy in integer watt-hours so it never rounds."""

    operation: Annotated[
        Literal[Operation.CHARGING_START, Operation.CHARGING_STOP], public(FieldKind.CODE)
    ]
    session_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    station_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    connector_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    state: Annotated[ChargingSessionState, public(FieldKind.CODE)]
    started_at: Annotated[Timestamp, public(FieldKind.TIMESTAMP)]
    ended_at: Annotated[Timestamp | None, public(FieldKind.TIMESTAMP)] = None
    energy_wh: Annotated[int, Field(ge=0), public(FieldKind.QUANTITY)] = 0
    amount: Money | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> ChargingSession:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at must not be before started_at")
        return self
