"""Lifestyle: linking memberships, redeeming member benefits, exchanging points."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from contracts.base import CanonicalModel, ServiceRequestBase, Text, Timestamp
from contracts.ids import PartnerId, PartnerReference
from contracts.money import Money
from contracts.operations import Operation
from contracts.people import Customer, MemberTier
from contracts.sensitivity import FieldKind, de_identified, public

__all__ = [
    "BenefitRedemption",
    "BenefitRedemptionRequest",
    "MembershipLink",
    "MembershipLinkRequest",
    "PointsDirection",
    "PointsExchange",
    "PointsExchangeRequest",
]

_Points = Annotated[int, Field(ge=1, le=100_000_000), public(FieldKind.QUANTITY)]


class PointsDirection(StrEnum):
    """Which way points move between the OEM's programme and the partner's."""

    TO_PARTNER = "to_partner"
    FROM_PARTNER = "from_partner"


class MembershipLinkRequest(ServiceRequestBase):
    """Make an OEM member a member of the partner's programme at the agreed tier."""

    operation: Annotated[Literal[Operation.LIFESTYLE_LINK], public(FieldKind.CODE)] = (
        Operation.LIFESTYLE_LINK
    )
    partner_id: Annotated[PartnerId, public(FieldKind.IDENTIFIER)]
    customer: Customer
    oem_member_tier: Annotated[MemberTier, de_identified(FieldKind.MEMBERSHIP)]
    partner_member_ref: Annotated[PartnerReference | None, de_identified(FieldKind.MEMBER_REF)] = (
        None
    )

    @property
    def city(self) -> str:
        """Where the customer lives."""
        return self.customer.city


class MembershipLink(CanonicalModel):
    """The partner membership the customer now holds."""

    operation: Annotated[Literal[Operation.LIFESTYLE_LINK], public(FieldKind.CODE)] = (
        Operation.LIFESTYLE_LINK
    )
    partner_member_ref: Annotated[PartnerReference, de_identified(FieldKind.MEMBER_REF)]
    partner_tier: Annotated[Text, de_identified(FieldKind.MEMBERSHIP)]
    linked_at: Annotated[Timestamp, public(FieldKind.TIMESTAMP)]


class BenefitRedemptionRequest(ServiceRequestBase):
    """Redeem one of the partner's member benefits (a voucher, a discount)."""

    operation: Annotated[Literal[Operation.LIFESTYLE_REDEEM], public(FieldKind.CODE)] = (
        Operation.LIFESTYLE_REDEEM
    )
    partner_id: Annotated[PartnerId, public(FieldKind.IDENTIFIER)]
    customer: Customer
    benefit_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    quantity: Annotated[int, Field(ge=1, le=100), public(FieldKind.QUANTITY)] = 1

    @property
    def city(self) -> str:
        """Where the customer lives."""
        return self.customer.city


class BenefitRedemption(CanonicalModel):
    """A confirmed redemption and the value it gave the member."""

    operation: Annotated[Literal[Operation.LIFESTYLE_REDEEM], public(FieldKind.CODE)] = (
        Operation.LIFESTYLE_REDEEM
    )
    redemption_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    benefit_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    amount: Money
    redeemed_at: Annotated[Timestamp, public(FieldKind.TIMESTAMP)]


class PointsExchangeRequest(ServiceRequestBase):
    """Convert loyalty points between the OEM's programme and the partner's."""

    operation: Annotated[Literal[Operation.LIFESTYLE_EXCHANGE_POINTS], public(FieldKind.CODE)] = (
        Operation.LIFESTYLE_EXCHANGE_POINTS
    )
    partner_id: Annotated[PartnerId, public(FieldKind.IDENTIFIER)]
    customer: Customer
    points: _Points
    direction: Annotated[PointsDirection, public(FieldKind.CODE)] = PointsDirection.TO_PARTNER

    @property
    def city(self) -> str:
        """Where the customer lives."""
        return self.customer.city


class PointsExchange(CanonicalModel):
    """Points taken from one programme and credited to the other."""

    operation: Annotated[Literal[Operation.LIFESTYLE_EXCHANGE_POINTS], public(FieldKind.CODE)] = (
        Operation.LIFESTYLE_EXCHANGE_POINTS
    )
    exchange_id: Annotated[PartnerReference, public(FieldKind.IDENTIFIER)]
    direction: Annotated[PointsDirection, public(FieldKind.CODE)]
    points_debited: _Points
    points_credited: _Points
    exchanged_at: Annotated[Timestamp, public(FieldKind.TIMESTAMP)]
