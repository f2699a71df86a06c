"""The scorecard as stored (``scorecards.metrics``) and answered over HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from contracts import PartnerTier, ServiceCategory
from gateway.persistence.tables import ScorecardRow
from gateway.scorecards.months import next_month

__all__ = [
    "CSV_COLUMNS",
    "ScoreComponents",
    "Scorecard",
    "ScorecardMetrics",
    "TermMetrics",
    "scorecards_csv",
]

CSV_COLUMNS = (
    "partner_id",
    "month",
    "category",
    "provisional",
    "score",
    "tier_in_force",
    "tier",
    "tier_effective_month",
    "sla_compliance",
    "sla_breached",
    "availability",
    "p95_latency_ms",
    "rating_average",
    "ratings",
    "complaints",
    "complaint_rate",
    "orders",
    "price_index",
    "tier_reason",
)
"""The columns of the CSV answer, in order."""


class TermMetrics(BaseModel):
    """One SLA term of one operation: the month's resolved clocks."""

    operation: str = Field(examples=["courtesy_car.book"])
    term: str = Field(examples=["delivery"])
    met: int
    breached: int
    compliance: float | None = Field(description="met / (met + breached); null without clocks.")
    median_ms: float | None = Field(description="Median elapsed time of the resolved clocks.")
    p95_ms: float | None = Field(description="95th percentile elapsed time.")


class ScoreComponents(BaseModel):
    """The evaluation score's components (0..100) and weighted total (docs/scoring.md)."""

    satisfaction: float
    response_speed: float
    complaint_handling: float
    price: float
    total: float


class ScorecardMetrics(BaseModel):
    """What the month measured for one partner (docs/scorecards.md defines each)."""

    orders: int = Field(description="Orders created in the month with the partner.")
    sla_compliance: float | None = Field(
        description="Share of the month's resolved SLA clocks that were met, all terms."
    )
    sla_met: int
    sla_breached: int = Field(description="Breaches: clocks resolved as breached.")
    sla_terms: list[TermMetrics]
    availability: float | None = Field(description="Successful call attempts / call attempts.")
    calls: int = Field(description="Call attempts to the partner's API.")
    p95_latency_ms: float | None = Field(description="95th percentile call attempt duration.")
    rating_average: float | None
    ratings: int
    complaints: int
    complaint_rate: float = Field(description="Complaints / orders.")
    complaints_resolved_rate: float | None
    median_resolution_hours: float | None
    average_price: float | None = Field(
        description="Mean price in fen of the month's orders whose result has a price."
    )
    priced_orders: int
    category_median_price: float | None = Field(
        description="Median of the average prices of the category's partners."
    )
    price_index: float | None = Field(description="average_price / category_median_price.")
    tier_in_force: PartnerTier = Field(description="The partner's tier during the month.")
    tier_provisional: bool = Field(
        description="Too few ratings to judge the month: the tier in force was kept."
    )
    min_ratings: int = Field(description="PGW_SCORECARD_MIN_RATINGS when computed.")
    score_breakdown: ScoreComponents


class Scorecard(BaseModel):
    """A partner's month: metrics, score, and the tier decided for the next month."""

    partner_id: str = Field(examples=["swiftrent"])
    month: str = Field(examples=["2026-10"])
    category: ServiceCategory
    provisional: bool = Field(description="True until the month is closed.")
    score: float | None = Field(description="The evaluation score (0..100).")
    tier_in_force: PartnerTier = Field(description="The tier during the month.")
    tier: PartnerTier = Field(description="The tier decided from this month.")
    tier_effective_month: str = Field(description="The month `tier` takes effect (the next one).")
    tier_reason: str
    computed_at: datetime
    closed_at: datetime | None
    metrics: ScorecardMetrics

    @classmethod
    def from_row(cls, row: ScorecardRow) -> Scorecard:
        """The answer for a stored or freshly computed scorecard row."""
        metrics = ScorecardMetrics.model_validate(row.metrics)
        return cls(
            partner_id=row.partner_id,
            month=row.month,
            category=ServiceCategory(row.category),
            provisional=row.provisional,
            score=row.score,
            tier_in_force=metrics.tier_in_force,
            tier=PartnerTier(row.tier),
            tier_effective_month=next_month(row.month),
            tier_reason=row.tier_reason,
            computed_at=row.computed_at,
            closed_at=row.closed_at,
            metrics=metrics,
        )

    def csv_row(self) -> dict[str, Any]:
        """The flat columns of the CSV answer (`CSV_COLUMNS`)."""
        m = self.metrics
        row = {
            "partner_id": self.partner_id,
            "month": self.month,
            "category": self.category.value,
            "provisional": str(self.provisional).lower(),
            "score": self.score,
            "tier_in_force": self.tier_in_force.value,
            "tier": self.tier.value,
            "tier_effective_month": self.tier_effective_month,
            "sla_compliance": m.sla_compliance,
            "sla_breached": m.sla_breached,
            "availability": m.availability,
            "p95_latency_ms": m.p95_latency_ms,
            "rating_average": m.rating_average,
            "ratings": m.ratings,
            "complaints": m.complaints,
            "complaint_rate": m.complaint_rate,
            "orders": m.orders,
            "price_index": m.price_index,
            "tier_reason": self.tier_reason,
        }
        return {column: row[column] for column in CSV_COLUMNS}


def scorecards_csv(cards: Iterable[Scorecard]) -> str:
    """The scorecards as CSV: a header of ``CSV_COLUMNS``, one row per partner."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(card.csv_row() for card in cards)
    return buffer.getvalue()
