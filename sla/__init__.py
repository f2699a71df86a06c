"""SLA domain logic: monthly tiers, the evaluation score and error-budget burn alerts."""

from __future__ import annotations

from sla.burn import FAST_BURN, BurnAlert, BurnWindow, WindowCounts, burn_rate, fast_burn
from sla.scoring import WEIGHTS, ScoreBreakdown, ScoreInputs, evaluation_score
from sla.tiers import DEFAULT_MIN_RATINGS, TierDecision, TierInputs, decide_tier

__all__ = [
    "DEFAULT_MIN_RATINGS",
    "FAST_BURN",
    "WEIGHTS",
    "BurnAlert",
    "BurnWindow",
    "ScoreBreakdown",
    "ScoreInputs",
    "TierDecision",
    "TierInputs",
    "WindowCounts",
    "burn_rate",
    "decide_tier",
    "evaluation_score",
    "fast_burn",
]
