"""Routing: which partners may take a service request, in which order, and why others not.

Pure over its inputs (agreements, the request's city, the day, this month's
order counts, scores), so every rule is testable with plain values:

- the partner's category is the request's, and it covers the request's city;
- its agreement is active (not suspended) and in force today;
- its tier is gold, silver or bronze (yellow card and terminated take no orders);
- a bronze partner is under its share of the category's orders this month
  (its agreement's ``volume_cap_share``, else ``bronze_cap``): it is eligible
  while ``its orders < cap x max(category orders, 1)``;
- when a partner in the city is exclusive in the category, only it is eligible;
- a request pinned to a partner (``partner_id``) goes to that partner only.

Eligible partners are ordered gold, silver, bronze, then by score (higher
first; the SLA scorecards provide scores, absent ones rank last), then by id.
A partner burning its SLA error budget fast (``demoted``) keeps its
eligibility but goes behind every partner that is not. The tier used is the
one in force this month (``tiers``, from the closed scorecards), else the
agreement's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from contracts import (
    AgreementStatus,
    PartnerAgreement,
    PartnerTier,
    ServiceCategory,
    SkippedPartner,
    SkipReason,
)

__all__ = ["TIER_ORDER", "MonthVolume", "RoutePlan", "plan_route"]

TIER_ORDER: Final = MappingProxyType(
    {PartnerTier.GOLD: 0, PartnerTier.SILVER: 1, PartnerTier.BRONZE: 2}
)
"""Rank of each tier that takes orders; lower is offered first."""


@dataclass(frozen=True, slots=True)
class MonthVolume:
    """Orders of one category this month: in all, and per partner."""

    total: int = 0
    by_partner: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """The partners to try, in order, and the ones passed over with the reason."""

    candidates: tuple[PartnerAgreement, ...]
    skipped: tuple[SkippedPartner, ...]


def _skip(agreement: PartnerAgreement, reason: SkipReason, detail: str) -> SkippedPartner:
    return SkippedPartner(partner_id=agreement.id, reason=reason, detail=detail)


def _ineligibility(
    agreement: PartnerAgreement,
    tier: PartnerTier,
    city: str | None,
    today: date,
    volume: MonthVolume,
    bronze_cap: Decimal | None,
) -> SkippedPartner | None:
    if city is not None and city not in agreement.cities:
        return _skip(agreement, SkipReason.NOT_IN_CITY, f"does not serve {city}")
    if agreement.status is AgreementStatus.SUSPENDED:
        return _skip(agreement, SkipReason.SUSPENDED, "agreement suspended")
    if not agreement.validity.covers(today):
        return _skip(
            agreement,
            SkipReason.OUTSIDE_VALIDITY,
            f"agreement in force {agreement.validity.valid_from} to {agreement.validity.valid_to}",
        )
    if tier not in TIER_ORDER:
        return _skip(agreement, SkipReason.TIER_EXCLUDED, f"tier {tier} takes no orders")
    cap = agreement.volume_cap_share or bronze_cap
    if tier is PartnerTier.BRONZE and cap is not None:
        taken = volume.by_partner.get(agreement.id, 0)
        if taken >= cap * max(volume.total, 1):
            return _skip(
                agreement,
                SkipReason.VOLUME_CAP_REACHED,
                f"{taken} of {volume.total} orders this month; bronze cap {cap:%}",
            )
    return None


def plan_route(
    agreements: Iterable[PartnerAgreement],
    *,
    category: ServiceCategory,
    city: str | None,
    today: date,
    pinned: str | None = None,
    volume: MonthVolume | None = None,
    scores: Mapping[str, float] | None = None,
    tiers: Mapping[str, PartnerTier] | None = None,
    demoted: Collection[str] = (),
    bronze_cap: Decimal | None = None,
) -> RoutePlan:
    """The eligible partners of ``category`` for a request in ``city``, best first."""
    volume = volume or MonthVolume()
    scores = scores or {}
    tiers = tiers or {}

    def tier_of(agreement: PartnerAgreement) -> PartnerTier:
        return tiers.get(agreement.id, agreement.tier)

    of_category = [a for a in agreements if a.category is category]
    if pinned is not None:
        of_category = [a for a in of_category if a.id == pinned]
    eligible: list[PartnerAgreement] = []
    skipped: list[SkippedPartner] = []
    for agreement in of_category:
        refusal = _ineligibility(agreement, tier_of(agreement), city, today, volume, bronze_cap)
        if refusal is None:
            eligible.append(agreement)
        else:
            skipped.append(refusal)
    exclusive = [a for a in eligible if a.exclusivity.exclusive_in_category]
    if exclusive and pinned is None:
        holder = min(exclusive, key=lambda a: (TIER_ORDER[tier_of(a)], a.id))
        for agreement in eligible:
            if agreement.id != holder.id:
                skipped.append(
                    _skip(agreement, SkipReason.EXCLUSIVITY, f"{holder.id} is exclusive here")
                )
        eligible = [holder]
    eligible.sort(
        key=lambda a: (
            a.id in demoted,
            TIER_ORDER[tier_of(a)],
            -scores.get(a.id, float("-inf")),
            a.id,
        )
    )
    return RoutePlan(candidates=tuple(eligible), skipped=tuple(skipped))
