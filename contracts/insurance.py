"""Insurance: quotes from several insurers, binding one, and the policy issued."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from contracts.base import CanonicalModel, ServiceRequestBase, Text, Timestamp
from contracts.ids import PartnerId, PartnerReference
from contracts.money import Money
from contracts.operations import Operation
from contracts.people import Customer, Vehicle
from contracts.sensitivity import FieldKind, public

__all__ = [
    "Coverage",
    "InsuranceBindRequest",
    "InsurancePolicy",
    "InsuranceQuote",
    "InsuranceQuoteRequest",
    "InsuranceQuotes",
]


class Coverage(StrEnum):
    """Motor insurance covers sold in China (compulsory plus commercial)."""

    COMPULSORY_TRAFFIC = "compulsory_traffic"
    THIRD_PARTY_LIABILITY = "third_party_liability"
    VEHICLE_DAMAGE = "vehicle_damage"
    DRIVER_PASSENGER = "driver_passenger"
    GLASS = "glass"
    EV_BATTERY = "ev_battery"
    ROADSIDE_ASSISTANCE = "roadside_assistance"


Coverages = Annotated[list[Coverage], Field(min_length=1), public(FieldKind.CODE)]


def _distinct(values: list[Coverage]) -> list[Coverage]:
    if len(set(values)) != len(values):
        raise ValueError("coverages must not repeat")
    return values


class InsuranceQuoteRequest(ServiceRequestBase):
    """Ask insurers for a premium for the given vehicle, driver and covers."""

    operation: Annotated[Literal[Operation.INSURANCE_QUOTE], public(FieldKind.CODE)] = (
        Operation.INSURANCE_QUOTE
    )
    customer: Customer
    vehicle: Vehicle
    coverages: Coverages
    start_date: Annotated[date, public(FieldKind.DATE)]

    _coverages_distinct = field_validator("coverages")(_distinct)

    @property
    def city(self) -> str:
        """Where the customer lives, which decides the insurers licensed for them."""
        return self.customer.city


class InsuranceQuote(CanonicalModel):
    """One insurer's offer."""

    operation: Annotated[Literal[Operation.INSURANCE_QUOTE], public(FieldKind.CODE)] = (
        Operation.INSURANCE_QUOTE
    )
    quote_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    insurer: Annotated[Text, public(FieldKind.LABEL)]
    premium: Money
    coverages: Coverages
    valid_until: Annotated[Timestamp, public(FieldKind.TIMESTAMP)]
    partner_id: Annotated[PartnerId | None, public(FieldKind.IDENTIFIER)] = None
    """The insurer's partner id, to bind this quote with; set by the gateway."""


class InsuranceQuotes(CanonicalModel):
    """Quotes from every insurer that answered in time, cheapest first."""

    operation: Annotated[Literal[Operation.INSURANCE_QUOTE], public(FieldKind.CODE)] = (
        Operation.INSURANCE_QUOTE
    )
    quotes: list[InsuranceQuote]


class InsuranceBindRequest(ServiceRequestBase):
    """Buy the policy a quote offered; goes to the insurer that made the quote."""

    operation: Annotated[Literal[Operation.INSURANCE_BIND], public(FieldKind.CODE)] = (
        Operation.INSURANCE_BIND
    )
    partner_id: Annotated[PartnerId, public(FieldKind.IDENTIFIER)]
    quote_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    customer: Customer
    vehicle: Vehicle
    start_date: Annotated[date, public(FieldKind.DATE)]

    @model_validator(mode="after")
    def _underwriting_needs_id(self) -> InsuranceBindRequest:
        # Policies are issued to a named, identified holder (real-name rule).
        if self.customer.national_id is None:
            raise ValueError("customer.national_id is required to bind a policy")
        return self

    @property
    def city(self) -> str:
        """Where the customer lives."""
        return self.customer.city


class InsurancePolicy(CanonicalModel):
    """A policy the insurer issued."""

    operation: Annotated[Literal[Operation.INSURANCE_BIND], public(FieldKind.CODE)] = (
        Operation.INSURANCE_BIND
    )
    policy_number: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    insurer: Annotated[Text, public(FieldKind.LABEL)]
    premium: Money
    coverages: Coverages
    starts_on: Annotated[date, public(FieldKind.DATE)]
    ends_on: Annotated[date, public(FieldKind.DATE)]

    @model_validator(mode="after")
    def _period_is_forward(self) -> InsurancePolicy:
        if self.ends_on <= self.starts_on:
            raise ValueError("ends_on must be after starts_on")
        return self
