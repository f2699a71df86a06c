"""Monthly scorecards: compute a month (provisional), close it (frozen, tiers for next month).

A scorecard is computed for every partner of the registry from the month's
aggregates (``ScorecardRepository.month_aggregates``), scored with
``sla.evaluation_score`` and judged with ``sla.decide_tier`` against the tier in
force that month. Closing a month freezes its scorecards and records each tier
that changes, effective the next month. docs/scorecards.md explains the rules.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from contracts import PartnerAgreement, PartnerTier
from gateway.bootstrap import Container
from gateway.persistence.repositories import PartnerAggregates
from gateway.persistence.tables import ScorecardRow
from gateway.persistence.uow import UnitOfWork
from gateway.problems import Problem
from gateway.scorecards.months import (
    month_bounds,
    month_of,
    months_back,
    next_month,
    parse_month,
)
from gateway.scorecards.schemas import (
    ScorecardMetrics,
    ScoreComponents,
    TermMetrics,
)
from sla import ScoreInputs, TierInputs, decide_tier, evaluation_score

__all__ = [
    "MonthClosed",
    "MonthNotOver",
    "compute_month",
    "partner_trend",
    "scorecards_of_month",
    "tier_in_force",
    "tiers_in_force",
]

_CHEAPEST: Final = 1e-9
"""The price index given to the score for a partner whose priced orders were all free."""
_YELLOW_HISTORY: Final = 12
"""Closed months looked back at to count a run of yellow cards."""


class MonthClosed(Problem):
    """The month is already closed: its scorecards are frozen."""

    slug = "month-closed"
    title = "Month already closed"
    status = 409


class MonthNotOver(Problem):
    """The month has not ended yet (Asia/Shanghai), so it cannot be closed."""

    slug = "month-not-over"
    title = "Month not over"
    status = 409


def _rounded(value: float | None, places: int = 6) -> float | None:
    return None if value is None else round(value, places)


def _category_medians(
    agreements: Sequence[PartnerAgreement], aggregates: Mapping[str, PartnerAggregates]
) -> dict[str, float]:
    """Per category: the median of its partners' average order prices (partners with one)."""
    prices: dict[str, list[float]] = {}
    for agreement in agreements:
        found = aggregates.get(agreement.id)
        if found is not None and found.average_price is not None:
            prices.setdefault(agreement.category.value, []).append(found.average_price)
    return {category: statistics.median(values) for category, values in prices.items()}


def _scorecard(
    agreement: PartnerAgreement,
    month: str,
    found: PartnerAggregates,
    *,
    category_median: float | None,
    in_force: PartnerTier,
    yellow_months_before: int,
    min_ratings: int,
    now: datetime,
) -> dict[str, Any]:
    """One partner's scorecard row (as column values), provisional."""
    price_index = (
        found.average_price / category_median
        if found.average_price is not None and category_median
        else None
    )
    rating = found.rating_average if found.ratings else None
    decision = decide_tier(
        TierInputs(
            rating_average=rating,
            ratings=found.ratings,
            complaint_rate=found.complaint_rate,
            previous=in_force,
            yellow_months_before=yellow_months_before,
        ),
        min_ratings=min_ratings,
    )
    breakdown = evaluation_score(
        ScoreInputs(
            rating_average=rating,
            on_time_rate=found.sla_compliance,
            complaint_rate=found.complaint_rate,
            complaints_resolved_rate=found.complaints_resolved_rate,
            median_resolution_hours=found.median_resolution_hours,
            # Free orders (index 0) are the cheapest there are: scored as such.
            price_index=None if price_index is None else max(price_index, _CHEAPEST),
        )
    )
    metrics = ScorecardMetrics(
        orders=found.orders,
        sla_compliance=_rounded(found.sla_compliance),
        sla_met=found.sla_met,
        sla_breached=found.sla_breached,
        sla_terms=[
            TermMetrics(
                operation=t.operation,
                term=t.term,
                met=t.met,
                breached=t.breached,
                compliance=_rounded(t.compliance),
                median_ms=_rounded(t.median_ms, 3),
                p95_ms=_rounded(t.p95_ms, 3),
            )
            for t in found.terms
        ],
        availability=_rounded(found.availability),
        calls=found.calls,
        p95_latency_ms=_rounded(found.p95_call_ms, 3),
        rating_average=_rounded(rating),
        ratings=found.ratings,
        complaints=found.complaints,
        complaint_rate=round(found.complaint_rate, 6),
        complaints_resolved_rate=_rounded(found.complaints_resolved_rate),
        median_resolution_hours=_rounded(found.median_resolution_hours, 3),
        average_price=_rounded(found.average_price, 2),
        priced_orders=found.priced_orders,
        category_median_price=_rounded(category_median, 2),
        price_index=_rounded(price_index),
        tier_in_force=in_force,
        tier_provisional=decision.provisional,
        min_ratings=min_ratings,
        score_breakdown=ScoreComponents(
            satisfaction=breakdown.satisfaction,
            response_speed=breakdown.response_speed,
            complaint_handling=breakdown.complaint_handling,
            price=breakdown.price,
            total=breakdown.total,
        ),
    )
    return {
        "partner_id": agreement.id,
        "month": month,
        "category": agreement.category.value,
        "metrics": metrics.model_dump(mode="json"),
        "score": breakdown.total,
        "tier": decision.tier.value,
        "tier_reason": decision.reason,
        "provisional": True,
        "computed_at": now,
        "closed_at": None,
    }


async def _compute(
    container: Container,
    uow: UnitOfWork,
    month: str,
    agreements: Sequence[PartnerAgreement],
    now: datetime,
) -> list[dict[str, Any]]:
    """Provisional scorecard rows of `agreements` for the month; nothing is written."""
    start, end = month_bounds(month)
    repository = uow.scorecards
    aggregates = await repository.month_aggregates(month, start, end)
    changed = await repository.tiers_in_force(month)
    yellow = await repository.yellow_months_before(
        month, months_back(month, _YELLOW_HISTORY), PartnerTier.YELLOW_CARD.value
    )
    # The price index compares with every partner of the category, not only `agreements`.
    medians = _category_medians(container.registry.all(), aggregates)
    return [
        _scorecard(
            agreement,
            month,
            aggregates.get(agreement.id) or PartnerAggregates(agreement.id),
            category_median=medians.get(agreement.category.value),
            in_force=PartnerTier(changed.get(agreement.id, agreement.tier)),
            yellow_months_before=yellow.get(agreement.id, 0),
            min_ratings=container.settings.scorecard_min_ratings,
            now=now,
        )
        for agreement in agreements
    ]


async def compute_month(
    container: Container, month: str, *, close: bool = False, closed_by: str = "system"
) -> list[ScorecardRow]:
    """Compute and store the month's scorecards of every registry partner, by partner id.

    Open month: the scorecards are (re)written as provisional. Closed month:
    the frozen ones are returned unchanged. ``close=True`` also closes the
    month: refused with ``MonthNotOver`` before the month has ended in
    Asia/Shanghai and with ``MonthClosed`` when it already is; the scorecards
    are frozen and every partner whose decided tier differs from the one in
    force gets a ``tier_changes`` row effective the next month.
    """
    month = parse_month(month)
    now = container.clock()
    agreements = container.registry.all()
    async with container.uow() as uow:
        if close:
            end = month_bounds(month)[1]
            if now < end:
                raise MonthNotOver(
                    f"{month} ends at {next_month(month)}-01 00:00 Asia/Shanghai "
                    f"({end.isoformat()}); close it after that."
                )
            if not await uow.scorecards.close_month(month, at=now, by=closed_by[:64]):
                raise MonthClosed(f"{month} is already closed; its scorecards are frozen.")
        elif await uow.scorecards.closed_month(month) is not None:
            return list(await uow.scorecards.of_month(month))
        rows = await _compute(container, uow, month, agreements, now)
        if close:
            for row in rows:
                row["provisional"], row["closed_at"] = False, now
        await uow.scorecards.upsert(rows)
        if close:
            for row in rows:
                in_force = row["metrics"]["tier_in_force"]
                if row["tier"] != in_force:
                    await uow.scorecards.record_tier_change(
                        partner_id=row["partner_id"],
                        effective_month=next_month(month),
                        tier=row["tier"],
                        previous_tier=in_force,
                        reason=row["tier_reason"],
                        decided_at=now,
                    )
        await uow.commit()
        stored = await uow.scorecards.of_month(month)
    if close:
        return list(stored)
    ids = {a.id for a in agreements}
    return [row for row in stored if row.partner_id in ids]


async def scorecards_of_month(container: Container, month: str) -> list[ScorecardRow]:
    """The month's scorecards without writing: the frozen ones of a closed month, else
    provisional ones computed now (by partner id)."""
    month = parse_month(month)
    async with container.uow() as uow:
        if await uow.scorecards.closed_month(month) is not None:
            return list(await uow.scorecards.of_month(month))
        rows = await _compute(container, uow, month, container.registry.all(), container.clock())
    return [ScorecardRow(**row) for row in rows]


async def partner_trend(
    container: Container, partner_id: str, months: int, *, until: str | None = None
) -> list[ScorecardRow]:
    """The partner's scorecards of the `months` months up to `until` (default: the current
    month), oldest first: frozen ones for closed months, provisional ones computed now
    for open months. Raises ``UnknownPartner``."""
    agreement = container.registry.get(partner_id)
    now = container.clock()
    last = parse_month(until) if until else month_of(now)
    window = [*reversed(months_back(last, months - 1)), last]
    async with container.uow() as uow:
        closed = {row.month for row in await uow.scorecards.closed_months(window)}
        stored = await uow.scorecards.of_partner_months(partner_id, closed)
        trend: list[ScorecardRow] = []
        for month in window:
            if month in closed:
                if month in stored:
                    trend.append(stored[month])
                continue
            (row,) = await _compute(container, uow, month, [agreement], now)
            trend.append(ScorecardRow(**row))
    return trend


async def tier_in_force(container: Container, partner_id: str, month: str) -> PartnerTier:
    """The partner's tier in `month`: its latest tier change effective by then, else the
    agreement's tier. Raises ``UnknownPartner``."""
    agreement = container.registry.get(partner_id)
    async with container.uow() as uow:
        tier = await uow.scorecards.tier_in_force(partner_id, month)
    return PartnerTier(tier) if tier is not None else agreement.tier


async def tiers_in_force(container: Container, month: str) -> dict[str, PartnerTier]:
    """Every registry partner's tier in `month` (one query): for routing many partners."""
    async with container.uow() as uow:
        changed = await uow.scorecards.tiers_in_force(month)
    return {a.id: PartnerTier(changed.get(a.id, a.tier)) for a in container.registry.all()}
