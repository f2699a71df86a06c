"""The customer, their vehicle, and a place: the personal data services carry."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from contracts.base import CanonicalModel, Text
from contracts.formats import (
    national_id_birth_date,
    validate_email,
    validate_mobile,
    validate_national_id,
    validate_plate,
    validate_vin,
)
from contracts.ids import CustomerId
from contracts.sensitivity import FieldKind, de_identified, public, sensitive

__all__ = [
    "CityName",
    "Customer",
    "EmailAddress",
    "Location",
    "MemberTier",
    "MobileNumber",
    "NationalId",
    "Plate",
    "Powertrain",
    "Vehicle",
    "Vin",
]

CityName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
"""A city as the registry names it (``Shenzhen``); routing compares these exactly."""

NationalId = Annotated[str, AfterValidator(validate_national_id)]
"""An 18-character resident ID number, check character verified, upper-case X."""

MobileNumber = Annotated[str, AfterValidator(validate_mobile)]
"""A mainland mobile number, normalised to its 11 digits."""

EmailAddress = Annotated[str, AfterValidator(validate_email)]
"""An e-mail address."""

Vin = Annotated[str, AfterValidator(validate_vin)]
"""A 17-character VIN, check digit verified, upper-case."""

Plate = Annotated[str, AfterValidator(validate_plate)]
"""A mainland plate, new-energy plates included, without separators."""


class MemberTier(StrEnum):
    """The OEM's own owner-membership levels."""

    STANDARD = "standard"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


class Powertrain(StrEnum):
    """How the vehicle is driven; decides charging and insurance options."""

    BEV = "bev"
    PHEV = "phev"
    EREV = "erev"
    HEV = "hev"
    FCEV = "fcev"
    ICE = "ice"


class Customer(CanonicalModel):
    """A vehicle owner as the OEM knows them."""

    customer_id: Annotated[CustomerId, de_identified(FieldKind.CUSTOMER_REF)]
    name: Annotated[Text, sensitive(FieldKind.NAME)]
    phone: Annotated[MobileNumber, sensitive(FieldKind.PHONE)]
    national_id: Annotated[NationalId | None, sensitive(FieldKind.NATIONAL_ID)] = None
    email: Annotated[EmailAddress | None, sensitive(FieldKind.EMAIL)] = None
    birth_date: Annotated[date | None, sensitive(FieldKind.BIRTH_DATE)] = None
    address: Annotated[Text | None, sensitive(FieldKind.ADDRESS)] = None
    city: Annotated[CityName, public(FieldKind.CITY)]
    member_tier: Annotated[MemberTier | None, de_identified(FieldKind.MEMBERSHIP)] = None

    @model_validator(mode="after")
    def _birth_date_matches_id(self) -> Customer:
        if self.national_id and self.birth_date:
            encoded = national_id_birth_date(self.national_id)
            if encoded != self.birth_date:
                raise ValueError(
                    f"birth_date {self.birth_date} differs from the one in national_id ({encoded})"
                )
        return self


class Vehicle(CanonicalModel):
    """A customer's vehicle."""

    vin: Annotated[Vin, de_identified(FieldKind.VIN)]
    plate: Annotated[Plate | None, sensitive(FieldKind.PLATE)] = None
    brand: Annotated[Text, public(FieldKind.VEHICLE_SPEC)]
    model: Annotated[Text, public(FieldKind.VEHICLE_SPEC)]
    model_year: Annotated[int, Field(ge=1990, le=2100), public(FieldKind.VEHICLE_SPEC)]
    powertrain: Annotated[Powertrain, public(FieldKind.VEHICLE_SPEC)]


class Location(CanonicalModel):
    """A precise place: coordinates are sensitive, the city is what routing needs."""

    lat: Annotated[float, Field(ge=-90, le=90), sensitive(FieldKind.GPS)]
    lon: Annotated[float, Field(ge=-180, le=180), sensitive(FieldKind.GPS)]
    address: Annotated[Text | None, sensitive(FieldKind.ADDRESS)] = None
    district: Annotated[Text | None, de_identified(FieldKind.DISTRICT)] = None
    city: Annotated[CityName, public(FieldKind.CITY)]
