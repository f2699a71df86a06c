"""What each commission plan says an event is worth: pure functions, no I/O.

Every monetary effect is computed here, from the agreement's plans and the
facts of one event (an order completed), one month (fees) or one KPI value.
Amounts are integer minor units; rates are ``Decimal``; the one rounding step
is ``Money.apply_rate`` (half-up to the fen). docs/commission.md shows each
plan with a worked example.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from contracts import (
    CanonicalEvent,
    Commission,
    EventType,
    Money,
    PartnerTier,
)
from contracts.commission import (
    CommissionPlan,
    MarkupPlan,
    MarkupUnit,
    OutcomeBasedPlan,
    PercentagePlan,
    PlatformFeePlan,
    RevenueProduct,
    RevenueSharePlan,
    SubscriptionCoveredPlan,
)
from contracts.insurance import InsurancePolicy
from contracts.lifestyle import BenefitRedemption

__all__ = [
    "Completion",
    "Effect",
    "EntryDirection",
    "EntryKind",
    "completion_of",
    "completion_of_answer",
    "effective_rate",
    "kpi_bonus",
    "monthly_effects",
    "order_effects",
    "sla_credit",
]

_HUNDRED: Final = Decimal(100)


class EntryKind(StrEnum):
    """What a ledger entry is for; the statement groups entries by it."""

    COMMISSION = "commission"  # percentage plan
    REVENUE_SHARE = "revenue_share"
    RESALE_COST = "resale_cost"  # markup plan: what the OEM pays the partner
    RESALE_MARGIN = "resale_margin"  # markup plan: what the OEM keeps
    PLATFORM_FEE = "platform_fee"
    SUBSCRIPTION_COST = "subscription_cost"
    OUTCOME_BASE_FEE = "outcome_base_fee"
    OUTCOME_BONUS = "outcome_bonus"
    SLA_CREDIT = "sla_credit"


class EntryDirection(StrEnum):
    """Who owes whom. ``retained`` is the OEM's own margin: nobody owes it."""

    RECEIVABLE = "receivable"  # the partner pays the OEM
    PAYABLE = "payable"  # the OEM pays the partner
    RETAINED = "retained"


PLAN_KINDS: Final = frozenset(
    {
        EntryKind.COMMISSION,
        EntryKind.REVENUE_SHARE,
        EntryKind.RESALE_COST,
        EntryKind.SUBSCRIPTION_COST,
    }
)
"""Kinds an order's SLA credit is a share of (the margin the OEM keeps is not)."""


@dataclass(frozen=True, slots=True)
class Completion:
    """The money facts of an order's completing event."""

    event_type: EventType
    value: Money | None
    """What the customer paid (rental, charging session), the premium, or a benefit's value."""
    units: int = 1
    """Days of a rental; one for every other completion."""
    product: RevenueProduct | None = None


@dataclass(frozen=True, slots=True)
class Effect:
    """One monetary effect, before it becomes a ledger entry."""

    kind: EntryKind
    direction: EntryDirection
    amount: Money
    component: str
    """Unique among the effects of one source: part of the entry's key."""
    reason: str
    plan_kind: str | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    basis: Money | None = None
    rate: Decimal | None = None
    units: int | None = None


def completion_of(event: CanonicalEvent) -> Completion | None:
    """The money facts of a completing event, or None when it carries none."""
    data: Any = event.data
    match event.type:
        case EventType.RENTAL_COMPLETED:
            return Completion(event.type, data.amount, units=data.days)
        case EventType.INSURANCE_POLICY_ISSUED:
            return Completion(event.type, data.premium, product=RevenueProduct.INSURANCE_PREMIUM)
        case EventType.CHARGING_SESSION_COMPLETED | EventType.LIFESTYLE_BENEFIT_REDEEMED:
            return Completion(event.type, data.amount)
    return None


def completion_of_answer(result: object) -> Completion | None:
    """The money facts of a partner's answer that completes its order by itself (a bound
    policy, a redeemed benefit), or None."""
    if isinstance(result, InsurancePolicy):
        return Completion(
            EventType.INSURANCE_POLICY_ISSUED,
            result.premium,
            product=RevenueProduct.INSURANCE_PREMIUM,
        )
    if isinstance(result, BenefitRedemption):
        return Completion(EventType.LIFESTYLE_BENEFIT_REDEEMED, result.amount)
    return None


def effective_rate(rate: Decimal, tier: PartnerTier, reduction_points: Decimal) -> Decimal:
    """The plan's rate, less the gold reduction (percentage points) while the partner is gold."""
    if tier is not PartnerTier.GOLD or not reduction_points:
        return rate
    return max(Decimal(0), rate - reduction_points.scaleb(-2))  # points to a fraction, exactly


def _params(plan: CommissionPlan, index: int, **extra: Any) -> dict[str, Any]:
    params = plan.model_dump(mode="json")
    params["index"] = index
    params.update(extra)
    return params


def _rated(
    plan: PercentagePlan | RevenueSharePlan,
    index: int,
    kind: EntryKind,
    basis: Money,
    tier: PartnerTier,
    reduction_points: Decimal,
    what: str,
) -> Effect:
    rate = effective_rate(plan.rate, tier, reduction_points)
    amount = basis.apply_rate(rate)
    note = f"{rate * _HUNDRED:f} % of {what} {basis}"
    if rate != plan.rate:
        note += f" (plan rate {plan.rate * _HUNDRED:f} % less {reduction_points:f} point(s): gold)"
    if isinstance(plan, PercentagePlan):
        if plan.min is not None and plan.min.currency == amount.currency and amount < plan.min:
            amount, note = plan.min, note + f", raised to the minimum {plan.min}"
        if plan.max is not None and plan.max.currency == amount.currency and amount > plan.max:
            amount, note = plan.max, note + f", capped at the maximum {plan.max}"
    return Effect(
        kind=kind,
        direction=EntryDirection(plan.direction.value),
        amount=amount,
        component=f"{index}:{kind.value}",
        reason=note,
        plan_kind=plan.kind,
        plan=_params(plan, index, tier=tier.value, applied_rate=str(rate)),
        basis=basis,
        rate=rate,
    )


def order_effects(
    commission: Commission, completion: Completion, day: date, tier: PartnerTier
) -> list[Effect]:
    """What the plans in force on ``day`` say the completed order is worth."""
    effects: list[Effect] = []
    value = completion.value
    for index, plan in enumerate(commission.plans):
        if not plan.active_on(day):
            continue
        if isinstance(plan, PercentagePlan) and value is not None:
            effects.append(
                _rated(
                    plan,
                    index,
                    EntryKind.COMMISSION,
                    value,
                    tier,
                    commission.gold_rate_reduction_points,
                    "the order value",
                )
            )
        elif (
            isinstance(plan, RevenueSharePlan)
            and value is not None
            and completion.product is plan.product
        ):
            effects.append(
                _rated(
                    plan,
                    index,
                    EntryKind.REVENUE_SHARE,
                    value,
                    tier,
                    commission.gold_rate_reduction_points,
                    plan.product.value.replace("_", " "),
                )
            )
        elif isinstance(plan, MarkupPlan):
            effects.extend(_markup(plan, index, completion))
        elif isinstance(plan, SubscriptionCoveredPlan) and value is not None:
            effects.append(
                Effect(
                    kind=EntryKind.SUBSCRIPTION_COST,
                    direction=EntryDirection.PAYABLE,
                    amount=plan.unit_cost,
                    component=f"{index}:{EntryKind.SUBSCRIPTION_COST.value}",
                    reason=f"member benefit covered by the subscription: {plan.unit_cost} per use",
                    plan_kind=plan.kind,
                    plan=_params(plan, index),
                    basis=value,
                    units=1,
                )
            )
    return effects


def _markup(plan: MarkupPlan, index: int, completion: Completion) -> list[Effect]:
    units = completion.units if plan.unit is MarkupUnit.DAY else 1
    cost, sale = plan.buy * units, plan.sell * units
    per = f"{units} {plan.unit.value}(s)"
    params = _params(plan, index)
    return [
        Effect(
            kind=EntryKind.RESALE_COST,
            direction=EntryDirection.PAYABLE,
            amount=cost,
            component=f"{index}:{EntryKind.RESALE_COST.value}",
            reason=f"bought {per} at {plan.buy}",
            plan_kind=plan.kind,
            plan=params,
            basis=sale,
            units=units,
        ),
        Effect(
            kind=EntryKind.RESALE_MARGIN,
            direction=EntryDirection.RETAINED,
            amount=sale - cost,
            component=f"{index}:{EntryKind.RESALE_MARGIN.value}",
            reason=f"sold {per} at {plan.sell}, bought at {plan.buy}: the OEM keeps the difference",
            plan_kind=plan.kind,
            plan=params,
            basis=sale,
            units=units,
        ),
    ]


def _month_days(month: str) -> tuple[date, date]:
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


def _active_in(plan: CommissionPlan, month: str) -> bool:
    first, last = _month_days(month)
    return plan.valid_from <= last and (plan.valid_to is None or plan.valid_to >= first)


def monthly_effects(commission: Commission, month: str) -> list[Effect]:
    """The month's fixed amounts: platform fees and outcome-based base fees.

    A plan in force on any day of the month accrues its whole monthly amount.
    """
    effects: list[Effect] = []
    for index, plan in enumerate(commission.plans):
        if not _active_in(plan, month):
            continue
        if isinstance(plan, PlatformFeePlan):
            effects.append(
                Effect(
                    kind=EntryKind.PLATFORM_FEE,
                    direction=EntryDirection.RECEIVABLE,
                    amount=plan.monthly,
                    component=f"{index}:{EntryKind.PLATFORM_FEE.value}",
                    reason=f"platform fee of {month}",
                    plan_kind=plan.kind,
                    plan=_params(plan, index),
                )
            )
        elif isinstance(plan, OutcomeBasedPlan):
            effects.append(
                Effect(
                    kind=EntryKind.OUTCOME_BASE_FEE,
                    direction=EntryDirection.PAYABLE,
                    amount=plan.base_fee,
                    component=f"{index}:{EntryKind.OUTCOME_BASE_FEE.value}",
                    reason=f"outcome-based base fee of {month}",
                    plan_kind=plan.kind,
                    plan=_params(plan, index),
                )
            )
    return effects


def kpi_bonus(plan: OutcomeBasedPlan, index: int, month: str, value: Decimal) -> Effect | None:
    """The bonus a KPI value earns: ``bonus_rate_per_point`` of the base fee for each point
    above the baseline (fractions of a point pro rata); None at or below the baseline."""
    points = value - plan.baseline
    if points <= 0:
        return None
    rate = plan.bonus_rate_per_point * points
    return Effect(
        kind=EntryKind.OUTCOME_BONUS,
        direction=EntryDirection.PAYABLE,
        amount=plan.base_fee.apply_rate(rate),
        component=f"{index}:{EntryKind.OUTCOME_BONUS.value}",
        reason=(
            f"{plan.kpi} {value:f} in {month} is {points:f} point(s) above the baseline "
            f"{plan.baseline:f}: {plan.bonus_rate_per_point * _HUNDRED:f} % of the base fee "
            f"{plan.base_fee} per point ({plan.attribution.value} attribution)"
        ),
        plan_kind=plan.kind,
        plan=_params(plan, index, kpi_value=str(value)),
        basis=plan.base_fee,
        rate=rate,
    )


def sla_credit(percent: Decimal, order_entries: Iterable[tuple[str, Money]]) -> Effect | None:
    """The credit an order with a breached SLA term owes the OEM: ``percent`` of what its
    plan entries moved between the two (``(kind, signed amount)`` pairs, reversals included).
    None when the agreement sets no credit or nothing is left to share."""
    if not percent:
        return None
    totals: dict[str, int] = {}
    for kind, amount in order_entries:
        if kind in PLAN_KINDS:
            totals[amount.currency] = totals.get(amount.currency, 0) + amount.amount
    live = [(currency, total) for currency, total in sorted(totals.items()) if total]
    if len(live) != 1:
        return None  # nothing left (reversed), or an order in two currencies: no share defined
    currency, total = live[0]
    basis = Money(amount=abs(total), currency=currency)
    rate = percent.scaleb(-2)
    amount = basis.apply_rate(rate)
    if not amount.amount:
        return None
    return Effect(
        kind=EntryKind.SLA_CREDIT,
        direction=EntryDirection.RECEIVABLE,
        amount=amount,
        component=EntryKind.SLA_CREDIT.value,
        reason=f"SLA breached: {percent:f} % of the order's {basis} is credited to the OEM",
        basis=basis,
        rate=rate,
    )
