"""The ``data`` of each canonical event type, each with the example the catalog shows."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from contracts.base import CanonicalModel, LongText, Text, Timestamp
from contracts.ids import PartnerReference
from contracts.insurance import Coverage
from contracts.money import Money
from contracts.people import Plate
from contracts.sensitivity import FieldKind, de_identified, public, sensitive

__all__ = [
    "CancelReason",
    "ChargingSessionCompleted",
    "ChargingSessionStarted",
    "InsuranceClaimAcknowledged",
    "InsuranceClaimOpened",
    "InsuranceClaimSettled",
    "InsurancePolicyIssued",
    "LifestyleBenefitRedeemed",
    "LifestyleMembershipLinked",
    "LifestylePointsExchanged",
    "OrderCancelled",
    "OrderFailed",
    "RentalCompleted",
    "RentalOrderAccepted",
    "RentalOrderRejected",
    "RentalVehicleDelivered",
    "RentalVehicleDispatched",
]

_CNY = {"amount": 36000, "currency": "CNY"}
_Id = Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
_Code = Annotated[Text, public(FieldKind.CODE)]
_Note = Annotated[LongText | None, sensitive(FieldKind.FREE_TEXT)]
_Time = Annotated[Timestamp, public(FieldKind.TIMESTAMP)]


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class CancelReason(StrEnum):
    """Why an order was cancelled."""

    CUSTOMER_REQUEST = "customer_request"
    REPAIR_FINISHED_EARLY = "repair_finished_early"
    PARTNER_UNAVAILABLE = "partner_unavailable"
    NO_SHOW = "no_show"
    DUPLICATE = "duplicate"
    REFUND = "refund"
    OTHER = "other"


class RentalOrderAccepted(CanonicalModel):
    """The rental partner accepted the booking."""

    model_config = _example({"eta": "2025-03-14T10:55:00+08:00"})
    eta: _Time | None = None


class RentalOrderRejected(CanonicalModel):
    """The rental partner declined the booking."""

    model_config = _example({"reason_code": "no_vehicle_available"})
    reason_code: _Code
    note: _Note = None


class RentalVehicleDispatched(CanonicalModel):
    """A courtesy car left for the customer."""

    model_config = _example(
        {"eta": "2025-03-14T10:55:00+08:00", "vehicle_plate": "粤B5N8K2", "vehicle_model": "Aion S"}
    )
    eta: _Time
    vehicle_plate: Annotated[Plate | None, de_identified(FieldKind.PLATE)] = None
    vehicle_model: Annotated[Text | None, public(FieldKind.VEHICLE_SPEC)] = None


class RentalVehicleDelivered(CanonicalModel):
    """The courtesy car was handed over to the customer."""

    model_config = _example({"odometer_km": 12480})
    odometer_km: Annotated[int | None, Field(ge=0), public(FieldKind.QUANTITY)] = None


class RentalCompleted(CanonicalModel):
    """The courtesy car came back; what the rental cost."""

    model_config = _example({"days": 3, "amount": _CNY})
    days: Annotated[int, Field(ge=1), public(FieldKind.QUANTITY)]
    amount: Money


class OrderCancelled(CanonicalModel):
    """The order was cancelled, by either side, possibly after completion (a refund)."""

    model_config = _example({"reason": "customer_request"})
    reason: Annotated[CancelReason, public(FieldKind.CODE)]
    fee: Money | None = None
    note: _Note = None


class OrderFailed(CanonicalModel):
    """The partner could not fulfil an order it had taken on."""

    model_config = _example({"reason_code": "vehicle_breakdown"})
    reason_code: _Code
    note: _Note = None


class InsurancePolicyIssued(CanonicalModel):
    """The insurer issued the policy a bind request asked for."""

    model_config = _example(
        {
            "policy_number": "PDAA202544030000012345",
            "premium": {"amount": 432100, "currency": "CNY"},
            "coverages": ["compulsory_traffic", "vehicle_damage"],
            "starts_on": "2025-04-01",
            "ends_on": "2026-03-31",
        }
    )
    policy_number: _Id
    premium: Money
    coverages: Annotated[list[Coverage], Field(min_length=1), public(FieldKind.CODE)]
    starts_on: Annotated[date, public(FieldKind.DATE)]
    ends_on: Annotated[date, public(FieldKind.DATE)]


class InsuranceClaimOpened(CanonicalModel):
    """A claim was reported on a policy."""

    model_config = _example(
        {"claim_id": "CLM-2025-000777", "reported_at": "2025-05-02T09:12:00+08:00"}
    )
    claim_id: _Id
    reported_at: _Time
    description: _Note = None


class InsuranceClaimAcknowledged(CanonicalModel):
    """The insurer took the claim up; an adjuster is assigned."""

    model_config = _example({"claim_id": "CLM-2025-000777"})
    claim_id: _Id


class InsuranceClaimSettled(CanonicalModel):
    """The insurer settled the claim."""

    model_config = _example(
        {"claim_id": "CLM-2025-000777", "settled_amount": {"amount": 850000, "currency": "CNY"}}
    )
    claim_id: _Id
    settled_amount: Money


class ChargingSessionStarted(CanonicalModel):
    """Energy started flowing."""

    model_config = _example(
        {"session_id": "cs-88213", "station_id": "SZ-NS-0042", "connector_id": "2"}
    )
    session_id: _Id
    station_id: _Id
    connector_id: _Id


class ChargingSessionCompleted(CanonicalModel):
    """The session ended; energy delivered in watt-hours and what it cost."""

    model_config = _example(
        {
            "session_id": "cs-88213",
            "energy_wh": 42350,
            "amount": {"amount": 5294, "currency": "CNY"},
            "ended_at": "2025-03-14T11:40:00+08:00",
        }
    )
    session_id: _Id
    energy_wh: Annotated[int, Field(ge=0), public(FieldKind.QUANTITY)]
    amount: Money
    ended_at: _Time


class LifestyleMembershipLinked(CanonicalModel):
    """The customer now holds the partner membership."""

    model_config = _example({"partner_member_ref": "ML-7730021", "partner_tier": "silver"})
    partner_member_ref: Annotated[PartnerReference, de_identified(FieldKind.MEMBER_REF)]
    partner_tier: Annotated[Text, de_identified(FieldKind.MEMBERSHIP)]


class LifestyleBenefitRedeemed(CanonicalModel):
    """A member benefit was used; ``amount`` is the value it gave."""

    model_config = _example(
        {
            "redemption_id": "RD-55012",
            "benefit_id": "coffee-10off",
            "amount": {"amount": 1000, "currency": "CNY"},
        }
    )
    redemption_id: _Id
    benefit_id: _Id
    amount: Money


class LifestylePointsExchanged(CanonicalModel):
    """Points moved between the OEM's programme and the partner's."""

    model_config = _example(
        {"exchange_id": "PX-1201", "points_debited": 1000, "points_credited": 250}
    )
    exchange_id: _Id
    points_debited: Annotated[int, Field(ge=0), public(FieldKind.QUANTITY)]
    points_credited: Annotated[int, Field(ge=0), public(FieldKind.QUANTITY)]
