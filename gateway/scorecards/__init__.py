"""Monthly partner scorecards: metrics from SQL aggregates, the score, tiers, month close."""

from gateway.scorecards.service import (
    MonthClosed,
    MonthNotOver,
    compute_month,
    partner_trend,
    scorecards_of_month,
    tier_in_force,
    tiers_in_force,
)

__all__ = [
    "MonthClosed",
    "MonthNotOver",
    "compute_month",
    "partner_trend",
    "scorecards_of_month",
    "tier_in_force",
    "tiers_in_force",
]
