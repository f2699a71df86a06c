"""The partner agreement: every clause the gateway enforces, checked as a whole."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from contracts.base import CanonicalModel, Text
from contracts.commission import (
    Commission,
    OutcomeBasedPlan,
    PercentagePlan,
    RevenueProduct,
    RevenueSharePlan,
)
from contracts.events import EVENT_CATEGORY, EventType
from contracts.ids import PartnerId
from contracts.operations import (
    OPERATION_CATEGORY,
    PURPOSE_CATEGORY,
    Purpose,
    ServiceCategory,
)
from contracts.partner_api import PartnerApi, WebhookTerms
from contracts.people import CityName, EmailAddress
from contracts.sensitivity import DataClass
from contracts.sla_terms import DISPATCHED, SlaTerms

__all__ = [
    "AgreementStatus",
    "Contact",
    "DataSharing",
    "Exclusivity",
    "PartnerAgreement",
    "PartnerClass",
    "PartnerTier",
    "Validity",
]


class PartnerClass(StrEnum):
    """The partner's role in the ecosystem, as the playbook classifies it."""

    CAPABILITY = "capability"
    RESOURCE_SHARING = "resource_sharing"
    TRAFFIC = "traffic"
    CO_CREATION = "co_creation"


class AgreementStatus(StrEnum):
    """Whether the partner may receive orders."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


class PartnerTier(StrEnum):
    """Quality tier from the monthly scorecard; steers routing and commission."""

    GOLD = "gold"
    SILVER = "silver"
    BRONZE = "bronze"
    YELLOW_CARD = "yellow_card"
    TERMINATED = "terminated"


class DataSharing(CanonicalModel):
    """The data-sharing clause: the most protected class received, and what for."""

    tier: DataClass
    purposes: Annotated[list[Purpose], Field(min_length=1)]

    @field_validator("tier")
    @classmethod
    def _never_sensitive(cls, value: DataClass) -> DataClass:
        if value is DataClass.SENSITIVE:
            raise ValueError("a partner can never receive the sensitive class as is")
        return value

    def may_receive(self, data_class: DataClass) -> bool:
        """Whether a field of ``data_class`` may reach this partner after masking."""
        return data_class.within(self.tier)


class Exclusivity(CanonicalModel):
    """The exclusivity clause."""

    serves_competitors: bool = True
    exclusive_in_category: bool = False


class Validity(CanonicalModel):
    """The dates the agreement is in force, both inclusive."""

    valid_from: date
    valid_to: date

    @model_validator(mode="after")
    def _forward(self) -> Validity:
        if self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self

    def covers(self, day: date) -> bool:
        """Whether ``day`` falls within the agreement."""
        return self.valid_from <= day <= self.valid_to


class Contact(CanonicalModel):
    """Someone at the partner to call about the agreement."""

    role: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
    name: Text
    email: EmailAddress


class PartnerAgreement(CanonicalModel):
    """One partner's agreement, as its file in ``partners/`` states it."""

    id: PartnerId
    name: Text
    category: ServiceCategory
    partner_class: PartnerClass
    status: AgreementStatus = AgreementStatus.ACTIVE
    tier: PartnerTier = PartnerTier.SILVER
    volume_cap_share: Annotated[Decimal, Field(gt=0, le=1)] | None = None
    """Largest share of the category's monthly orders while bronze."""
    cities: Annotated[list[CityName], Field(min_length=1)]
    api: PartnerApi
    webhook: WebhookTerms
    sla: SlaTerms = SlaTerms()
    commission: Commission
    data: DataSharing
    exclusivity: Exclusivity = Exclusivity()
    validity: Validity
    contacts: list[Contact] = Field(default_factory=list)

    @field_validator("volume_cap_share", mode="before")
    @classmethod
    def _exact_share(cls, value: Any) -> Any:
        return Decimal(repr(value)) if isinstance(value, float) else value

    @model_validator(mode="after")
    def _clauses_agree(self) -> PartnerAgreement:
        problems = [*_sla_problems(self), *_commission_problems(self), *_other_problems(self)]
        if problems:
            # One error per broken rule, each at its own path, so a file shows them all.
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("agreement_rule", message),
                        loc=loc,
                        input=None,
                    )
                    for loc, message in problems
                ],
            )
        return self

    def serves(self, category: ServiceCategory, city: str) -> bool:
        """Whether the agreement covers ``category`` in ``city``."""
        return self.category is category and city in self.cities


_Problem = tuple[tuple[str | int, ...], str]


def _sla_problems(agreement: PartnerAgreement) -> list[_Problem]:
    problems: list[_Problem] = []
    seen: set[str] = set()
    for index, term in enumerate(agreement.sla.terms):
        loc: tuple[str | int, ...] = ("sla", "terms", index)
        if OPERATION_CATEGORY[term.operation] is not agreement.category:
            problems.append(
                (
                    (*loc, "operation"),
                    f"operation {term.operation} is not a {agreement.category} operation",
                )
            )
        for field, moment in (("start", term.start), ("stop", term.stop)):
            if moment == DISPATCHED:
                continue
            category = EVENT_CATEGORY[EventType(moment)]
            if category is not None and category is not agreement.category:
                problems.append(
                    ((*loc, field), f"event {moment} does not occur in {agreement.category}")
                )
        if term.start == term.stop:
            problems.append(((*loc, "stop"), "stop must differ from start"))
        if term.name in seen:
            problems.append(((*loc, "name"), f"term name {term.name!r} is used twice"))
        seen.add(term.name)
    return problems


def _commission_problems(agreement: PartnerAgreement) -> list[_Problem]:
    problems: list[_Problem] = []
    plans = agreement.commission.plans
    validity = agreement.validity
    for index, plan in enumerate(plans):
        loc: tuple[str | int, ...] = ("commission", "plans", index)
        if plan.valid_from < validity.valid_from or (
            plan.valid_to is not None and plan.valid_to > validity.valid_to
        ):
            problems.append(((*loc, "valid_from"), "plan dates must lie within validity"))
        for other_index, other in enumerate(plans[:index]):
            if other.kind == plan.kind and _overlap(plan, other):
                problems.append(
                    (
                        (*loc, "valid_from"),
                        f"overlaps plan {other_index} of the same kind {plan.kind!r}",
                    )
                )
        if (
            isinstance(plan, RevenueSharePlan)
            and plan.product is RevenueProduct.INSURANCE_PREMIUM
            and agreement.category is not ServiceCategory.INSURANCE
        ):
            problems.append(((*loc, "product"), "insurance_premium is shared by insurers only"))
        reduction = agreement.commission.gold_rate_reduction_points / 100
        if isinstance(plan, PercentagePlan | RevenueSharePlan) and reduction > plan.rate:
            problems.append(
                (
                    ("commission", "gold_rate_reduction_points"),
                    f"reduction exceeds the rate of plan {index} ({plan.rate})",
                )
            )
    if agreement.category is ServiceCategory.INSURANCE and not any(
        isinstance(plan, RevenueSharePlan) for plan in plans
    ):
        problems.append(
            (("commission", "plans"), "an insurance partner needs a revenue_share plan")
        )
    if agreement.partner_class is not PartnerClass.TRAFFIC and any(
        isinstance(plan, OutcomeBasedPlan) for plan in plans
    ):
        problems.append((("commission", "plans"), "outcome_based plans are for traffic partners"))
    return problems


def _other_problems(agreement: PartnerAgreement) -> list[_Problem]:
    problems: list[_Problem] = []
    for index, purpose in enumerate(agreement.data.purposes):
        if PURPOSE_CATEGORY[purpose] is not agreement.category:
            problems.append(
                (("data", "purposes", index), f"{purpose} is not a {agreement.category} purpose")
            )
    if len(set(agreement.data.purposes)) != len(agreement.data.purposes):
        problems.append((("data", "purposes"), "purposes must not repeat"))
    if len(set(agreement.cities)) != len(agreement.cities):
        problems.append((("cities",), "cities must not repeat"))
    if (
        agreement.tier in (PartnerTier.YELLOW_CARD, PartnerTier.TERMINATED)
        and agreement.status is AgreementStatus.ACTIVE
    ):
        problems.append((("status",), f"a {agreement.tier} partner must be suspended"))
    return problems


def _overlap(a: Any, b: Any) -> bool:
    a_end = a.valid_to or date.max
    b_end = b.valid_to or date.max
    return bool(a.valid_from <= b_end and b.valid_from <= a_end)
