"""The monthly tier decision: the tier table of DOMAIN.md applied to one month's numbers.

Comparisons are exact: each float is rounded to 9 decimal places and compared as
a ``Decimal`` with the thresholds, so float noise (a mean of 4.800000000000001) is
not a better score than 4.8, while any real difference from a threshold stays
visible (docs/scoring.md gives the bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from contracts.agreement import PartnerTier

__all__ = [
    "DEFAULT_MIN_RATINGS",
    "TierDecision",
    "TierInputs",
    "decide_tier",
]

DEFAULT_MIN_RATINGS: Final = 30
"""Fewer ratings in a month than this, and the month is not judged."""

_PLACES: Final = 9
_TERMINATING_STREAK: Final = 3
"""Yellow cards in a row that end the agreement."""


@dataclass(frozen=True, slots=True)
class _Rule:
    tier: PartnerTier
    rating_above: Decimal
    complaint_percent_below: Decimal


_RULES: Final = (
    _Rule(PartnerTier.GOLD, Decimal("4.8"), Decimal("0.5")),
    _Rule(PartnerTier.SILVER, Decimal("4.5"), Decimal("1")),
    _Rule(PartnerTier.BRONZE, Decimal("4.0"), Decimal("2")),
)
_RATING_THRESHOLDS: Final = tuple(rule.rating_above for rule in _RULES)
_PERCENT_THRESHOLDS: Final = tuple(rule.complaint_percent_below for rule in _RULES)


@dataclass(frozen=True, slots=True)
class TierInputs:
    """One month's numbers for one partner, and where the partner stands.

    Raises ``ValueError`` for numbers that cannot occur: a rating outside 1..5, a
    rating without ratings (or ratings without one), negative counts or rates.
    """

    rating_average: float | None
    """Mean stars of the month's ratings (1..5), None when there were no ratings."""
    ratings: int
    """Number of ratings in the month."""
    complaint_rate: float
    """Complaints / orders of the month (0..1); 0 when there were no orders."""
    previous: PartnerTier
    """The tier in force this month."""
    yellow_months_before: int
    """Consecutive yellow-card months immediately before this month (0 if last month was not)."""

    def __post_init__(self) -> None:
        if self.ratings < 0:
            raise ValueError(f"ratings must not be negative, got {self.ratings}")
        if self.yellow_months_before < 0:
            raise ValueError(
                f"yellow_months_before must not be negative, got {self.yellow_months_before}"
            )
        if (self.rating_average is None) != (self.ratings == 0):
            raise ValueError("rating_average must be None exactly when there are no ratings")
        if self.rating_average is not None and not 1 <= self.rating_average <= 5:
            raise ValueError(f"rating_average must be within 1..5, got {self.rating_average}")
        if not (math.isfinite(self.complaint_rate) and self.complaint_rate >= 0):
            raise ValueError(f"complaint_rate must be a rate >= 0, got {self.complaint_rate}")


@dataclass(frozen=True, slots=True)
class TierDecision:
    """The tier for next month, and why."""

    tier: PartnerTier
    provisional: bool
    """True when the month had too few ratings to judge and the previous tier was kept."""
    reason: str
    """One sentence with the numbers compared, ending in the tier."""


def decide_tier(inputs: TierInputs, *, min_ratings: int = DEFAULT_MIN_RATINGS) -> TierDecision:
    """The tier for next month from this month's ``inputs``.

    Gold, silver and bronze need a rating strictly above and a complaint rate
    strictly below their thresholds; anything else is a yellow card, and the
    third yellow card in a row terminates. Termination is final. A month with
    fewer than ``min_ratings`` ratings keeps the previous tier, provisionally.
    """
    if min_ratings < 1:
        raise ValueError(f"min_ratings must be at least 1, got {min_ratings}")
    if inputs.previous is PartnerTier.TERMINATED:
        return TierDecision(
            PartnerTier.TERMINATED,
            provisional=False,
            reason="terminated before this month, and termination is final: terminated",
        )
    if inputs.rating_average is None or inputs.ratings < min_ratings:
        count = "1 rating" if inputs.ratings == 1 else f"{inputs.ratings} ratings"
        return TierDecision(
            inputs.previous,
            provisional=True,
            reason=(
                f"{count}, fewer than the minimum of {min_ratings}: "
                f"{_name(inputs.previous)} kept (provisional)"
            ),
        )
    rating = _exact(inputs.rating_average)
    percent = _exact(inputs.complaint_rate) * 100
    rating_text = _shown(rating, _RATING_THRESHOLDS)
    percent_text = _shown(percent, _PERCENT_THRESHOLDS)

    def failures(rule: _Rule) -> list[str]:
        found = []
        if not rating > rule.rating_above:
            found.append(f"rating {rating_text} is not > {rule.rating_above}")
        if not percent < rule.complaint_percent_below:
            found.append(
                f"complaint rate {percent_text} % is not < {rule.complaint_percent_below} %"
            )
        return found

    for index, rule in enumerate(_RULES):
        if failures(rule):
            continue
        met = (
            f"rating {rating_text} > {rule.rating_above} and "
            f"complaint rate {percent_text} % < {rule.complaint_percent_below} %"
        )
        if index > 0:
            met += ", but " + " and ".join(failures(_RULES[index - 1]))
        return TierDecision(rule.tier, provisional=False, reason=f"{met}: {_name(rule.tier)}")

    failed = " and ".join(failures(_RULES[-1]))
    streak = inputs.yellow_months_before + 1
    if streak >= _TERMINATING_STREAK:
        return TierDecision(
            PartnerTier.TERMINATED,
            provisional=False,
            reason=f"{failed}, so a yellow card {streak} months in a row: terminated",
        )
    in_a_row = f" ({streak} months in a row)" if streak > 1 else ""
    return TierDecision(
        PartnerTier.YELLOW_CARD,
        provisional=False,
        reason=f"{failed}: yellow card{in_a_row}",
    )


def _exact(value: float) -> Decimal:
    """``value`` rounded to 9 decimal places, as an exact decimal."""
    return Decimal(repr(round(value, _PLACES)))


def _shown(value: Decimal, thresholds: tuple[Decimal, ...]) -> str:
    """``value`` with 2 decimals, or more when 2 would make it look like a threshold."""
    for places in range(2, _PLACES + 1):
        text = f"{value:.{places}f}"
        if value in thresholds or Decimal(text) not in thresholds:
            return text
    return f"{value:.{_PLACES}f}"


def _name(tier: PartnerTier) -> str:
    return tier.value.replace("_", " ")
