"""Commission plans: how value is shared with a partner, each plan with its validity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from contracts.base import CanonicalModel
from contracts.money import Money

__all__ = [
    "AgreementMoney",
    "Attribution",
    "Commission",
    "CommissionPlan",
    "Direction",
    "MarkupPlan",
    "MarkupUnit",
    "OutcomeBasedPlan",
    "PercentagePlan",
    "PlatformFeePlan",
    "Rate",
    "RevenueProduct",
    "RevenueSharePlan",
    "SubscriptionCoveredPlan",
    "parse_money_text",
]


def _exact_rate(value: Any) -> Any:
    # YAML reads 0.08 as a float; its shortest repr is exactly what the author wrote.
    if isinstance(value, bool):
        raise ValueError("a rate must be a decimal such as '0.08', not true/false")
    return Decimal(repr(value)) if isinstance(value, float) else value


def parse_money_text(value: Any) -> Any:
    """Accept ``"100.00 CNY"`` in agreements, where fen integers would be error-prone."""
    if not isinstance(value, str):
        return value
    amount, _, currency = value.strip().partition(" ")
    if not currency:
        raise ValueError("money must be written as '<amount> <currency>', e.g. '100.00 CNY'")
    return Money.of(amount, currency.strip())


Rate = Annotated[Decimal, BeforeValidator(_exact_rate), Field(ge=0, le=1)]
"""A fraction from 0 to 1 (``"0.08"`` is 8 %)."""

AgreementMoney = Annotated[Money, BeforeValidator(parse_money_text)]
"""Money written as ``"100.00 CNY"`` or ``{amount: 10000, currency: CNY}``."""


class Direction(StrEnum):
    """Who pays whom under a plan."""

    RECEIVABLE = "receivable"  # the partner pays the OEM
    PAYABLE = "payable"  # the OEM pays the partner


class RevenueProduct(StrEnum):
    """Financial products whose revenue is shared."""

    INSURANCE_PREMIUM = "insurance_premium"
    LOAN_INTEREST = "loan_interest"


class MarkupUnit(StrEnum):
    """What a resold price is quoted per."""

    DAY = "day"
    ORDER = "order"
    SESSION = "session"


class Attribution(StrEnum):
    """How an outcome is credited to the partner."""

    LAST_CLICK = "last_click"
    WEIGHTED = "weighted"


class _Plan(CanonicalModel):
    direction: ClassVar[Direction] = Direction.RECEIVABLE
    valid_from: date
    valid_to: date | None = None

    @model_validator(mode="after")
    def _window(self) -> Any:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self

    def active_on(self, day: date) -> bool:
        """Whether the plan applies on ``day``."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class PercentagePlan(_Plan):
    """A share of each order's value, optionally clamped per order."""

    kind: Literal["percentage"]
    rate: Rate
    min: AgreementMoney | None = None
    max: AgreementMoney | None = None

    @model_validator(mode="after")
    def _bounds(self) -> PercentagePlan:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class RevenueSharePlan(_Plan):
    """A share of a financial product's revenue (e.g. 30 % of the premium)."""

    kind: Literal["revenue_share"]
    rate: Rate
    product: RevenueProduct


class MarkupPlan(_Plan):
    """The OEM buys at ``buy`` and sells at ``sell`` per unit, keeping the difference."""

    kind: Literal["markup"]
    buy: AgreementMoney
    sell: AgreementMoney
    unit: MarkupUnit = MarkupUnit.DAY

    @model_validator(mode="after")
    def _sells_above_cost(self) -> MarkupPlan:
        if self.sell < self.buy:
            raise ValueError("sell must not be below buy")
        return self


class PlatformFeePlan(_Plan):
    """A fixed fee the partner pays each month for the platform."""

    kind: Literal["platform_fee"]
    monthly: AgreementMoney


class SubscriptionCoveredPlan(_Plan):
    """Free to the member; the OEM pays the partner's cost per use."""

    direction: ClassVar[Direction] = Direction.PAYABLE
    kind: Literal["subscription_covered"]
    unit_cost: AgreementMoney


class OutcomeBasedPlan(_Plan):
    """A base fee plus a bonus share of it per KPI point above a baseline."""

    direction: ClassVar[Direction] = Direction.PAYABLE
    kind: Literal["outcome_based"]
    base_fee: AgreementMoney
    bonus_rate_per_point: Rate
    kpi: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    baseline: Annotated[Decimal, BeforeValidator(_exact_rate)]
    attribution: Attribution


CommissionPlan: TypeAlias = Annotated[
    PercentagePlan
    | RevenueSharePlan
    | MarkupPlan
    | PlatformFeePlan
    | SubscriptionCoveredPlan
    | OutcomeBasedPlan,
    Field(discriminator="kind"),
]
"""Any commission plan, chosen by ``kind``."""


class Commission(CanonicalModel):
    """The pricing clause: the partner's plans and its gold-tier rate reduction."""

    plans: Annotated[list[CommissionPlan], Field(min_length=1)]
    gold_rate_reduction_points: Annotated[
        Decimal, BeforeValidator(_exact_rate), Field(ge=0, le=100)
    ] = Decimal(0)
    """Percentage points taken off rate-based plans while the partner is gold."""

    def plans_on(self, day: date) -> list[CommissionPlan]:
        """The plans in force on ``day``."""
        return [plan for plan in self.plans if plan.active_on(day)]
