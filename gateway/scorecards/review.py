"""The quarterly ecosystem review: per category, whom to keep and grow and whom to replace.

DOMAIN.md: "each quarter recruit new partners and retire the worst; keep the
top 20 %, remove the bottom 10 %". From the three monthly scorecards of the
quarter (frozen ones for closed months, provisional ones computed now for open
months) each partner gets a quarter score, the mean of its months' scores
weighted by their orders, and is ranked within its category:

- keep and grow: the best ``ceil(20 % × scored)`` partners (at least 1 when
  the category has a scored partner), never one on a yellow card or terminated;
- replace: the worst ``ceil(10 % × scored)`` partners when the category has at
  least 3 scored partners (none below 3), plus every partner on a yellow card
  or terminated in the quarter, whatever its score;
- not enough data: partners without a month that has a score and an order.

docs/scorecards.md ("Quarterly review") has the rules and an example.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Final

import typer
from pydantic import BaseModel, Field

from contracts import PartnerTier, ServiceCategory
from gateway.bootstrap import Container, build_container
from gateway.logs import configure_logging
from gateway.persistence.migrate import upgrade
from gateway.problems import Problem
from gateway.scorecards.months import month_bounds
from gateway.scorecards.schemas import Scorecard
from gateway.scorecards.service import scorecards_of_month
from gateway.settings import Settings

__all__ = [
    "BOTTOM_MIN_PARTNERS",
    "BOTTOM_SHARE",
    "TOP_SHARE",
    "CategoryReview",
    "PartnerStanding",
    "Review",
    "bottom_count",
    "parse_quarter",
    "quarter_months",
    "quarter_review",
    "review",
    "review_app",
    "top_count",
]

TOP_SHARE: Final = 0.20
"""Share of a category's scored partners to keep and grow (rounded up)."""
BOTTOM_SHARE: Final = 0.10
"""Share of a category's scored partners to replace (rounded up)."""
BOTTOM_MIN_PARTNERS: Final = 3
"""Fewest scored partners a category needs before its bottom 10 % is replaced."""
_CARDED: Final = (PartnerTier.YELLOW_CARD, PartnerTier.TERMINATED)
_TIER_LABEL: Final = {PartnerTier.YELLOW_CARD: "yellow card", PartnerTier.TERMINATED: "terminated"}
_IN_FORCE: Final = {
    PartnerTier.YELLOW_CARD: "on a yellow card",
    PartnerTier.TERMINATED: "terminated",
}
_TOP: Final = f"{TOP_SHARE * 100:.0f} %"
_BOTTOM: Final = f"{BOTTOM_SHARE * 100:.0f} %"
_PATTERN: Final = re.compile(r"^(\d{4})Q([1-4])$")


def parse_quarter(value: str) -> str:
    """``value`` as ``YYYYQn`` (a lower-case q is accepted); else a 422 ``invalid-quarter``."""
    normalised = value.strip().upper()
    found = _PATTERN.fullmatch(normalised)
    if found is None or int(found.group(1)) < 1970:
        raise Problem(
            f"quarter must be YYYYQn with n from 1 to 4, such as 2026Q4; got {value[:20]!r}.",
            slug="invalid-quarter",
            title="Quarter is invalid",
            status=422,
        )
    return normalised


def quarter_months(quarter: str) -> list[str]:
    """The three months (``YYYY-MM``) of a ``YYYYQn`` quarter, oldest first."""
    quarter = parse_quarter(quarter)
    year, number = int(quarter[:4]), int(quarter[5])
    return [f"{year:04d}-{3 * (number - 1) + offset:02d}" for offset in (1, 2, 3)]


def top_count(scored: int) -> int:
    """How many partners to keep and grow among ``scored`` ranked ones: ceil(20 %)."""
    return math.ceil(round(scored * TOP_SHARE, 9)) if scored > 0 else 0


def bottom_count(scored: int) -> int:
    """How many of the worst to replace among ``scored`` ranked ones: ceil(10 %), none below 3."""
    return math.ceil(round(scored * BOTTOM_SHARE, 9)) if scored >= BOTTOM_MIN_PARTNERS else 0


class PartnerStanding(BaseModel):
    """One partner's quarter: score, rank in its category, what the review decides, and why."""

    partner_id: str = Field(examples=["swiftrent"])
    category: ServiceCategory
    rank: int | None = Field(description="1 for the best scored partner of the category.")
    score: float | None = Field(
        description="Mean of the months' scores weighted by their orders (2 decimals); "
        "null without a month that has a score and an order."
    )
    orders: int = Field(description="Orders of the quarter's months.")
    months_scored: list[str] = Field(description="Months counted in the score.")
    rating_average: float | None = Field(description="Mean stars of the quarter's ratings.")
    ratings: int
    sla_compliance: float | None = Field(description="SLA clocks met / resolved, all months.")
    complaint_rate: float | None = Field(description="Complaints / orders, all months.")
    carded: list[str] = Field(
        description="Why the partner counts as on a yellow card or terminated in the quarter."
    )
    decision: str = Field(description="keep, replace, not_enough_data or none.")
    reason: str


class CategoryReview(BaseModel):
    """The review of one category."""

    category: ServiceCategory
    partners: int = Field(description="Partners of the category in the registry.")
    scored: int = Field(description="Partners with a quarter score (ranked).")
    keep_quota: int = Field(description="ceil(20 % of scored), at least 1 when any is scored.")
    bottom_quota: int = Field(description="ceil(10 % of scored); 0 below 3 scored partners.")
    keep: list[PartnerStanding]
    replace: list[PartnerStanding] = Field(description="Worst first, then unscored ones by id.")
    not_enough_data: list[PartnerStanding]
    ranking: list[PartnerStanding] = Field(description="Every scored partner, best first.")


class Review(BaseModel):
    """The quarterly review of every category with partners in the registry."""

    quarter: str = Field(examples=["2026Q4"])
    months: list[str]
    open_months: list[str] = Field(
        description="Months not closed: their scorecards are provisional (computed now)."
    )
    not_begun: list[str] = Field(description="Months that have not begun: nothing to score.")
    categories: list[CategoryReview]


@dataclass
class _Quarter:
    """A partner's scorecards of the quarter, summed up."""

    partner_id: str
    category: ServiceCategory
    cards: list[Scorecard] = field(default_factory=list)

    @property
    def scored(self) -> list[Scorecard]:
        return [c for c in self.cards if c.score is not None and c.metrics.orders > 0]

    @property
    def orders(self) -> int:
        return sum(c.metrics.orders for c in self.cards)

    def score(self) -> float | None:
        scored = self.scored
        weight = sum(c.metrics.orders for c in scored)
        if not weight:
            return None
        return round(sum((c.score or 0.0) * c.metrics.orders for c in scored) / weight, 2)

    def rating(self) -> tuple[float | None, int]:
        rated = [c.metrics for c in self.cards if c.metrics.rating_average is not None]
        count = sum(m.ratings for m in rated)
        if not count:
            return None, 0
        return sum((m.rating_average or 0.0) * m.ratings for m in rated) / count, count

    def sla(self) -> float | None:
        met = sum(c.metrics.sla_met for c in self.cards)
        resolved = met + sum(c.metrics.sla_breached for c in self.cards)
        return met / resolved if resolved else None

    def complaint_rate(self) -> float | None:
        orders = self.orders
        return sum(c.metrics.complaints for c in self.cards) / orders if orders else None

    def carded(self) -> list[str]:
        """Each way the partner was on a yellow card or terminated in the quarter."""
        found: list[str] = []
        for tier in _CARDED:
            months = [c.month for c in self.cards if c.metrics.tier_in_force is tier]
            if months:
                found.append(f"{_IN_FORCE[tier]} in {_and(months)}")
        decided = [c for c in self.cards if c.tier in _CARDED]
        if decided:
            last = decided[-1]
            provisional = " (provisional: month open)" if last.provisional else ""
            found.append(
                f"{last.month} scorecard decided {_TIER_LABEL[last.tier]}{provisional}: "
                f"{last.tier_reason}"
            )
        return found


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10)
    return f"{number}{suffix or 'th'}"


def _figures(quarter: _Quarter) -> str:
    """``rating 4.90, SLA 98.1 %, complaints 0.20 %`` from what is known."""
    rating, ratings = quarter.rating()
    sla, complaints = quarter.sla(), quarter.complaint_rate()
    parts = [
        "no ratings" if rating is None else f"rating {rating:.2f} ({ratings} ratings)",
        "no SLA clocks" if sla is None else f"SLA {sla * 100:.1f} %",
    ]
    if complaints is not None:
        parts.append(f"complaints {complaints * 100:.2f} %")
    return ", ".join(parts)


def _standing(
    quarter: _Quarter,
    *,
    rank: int | None,
    of: int,
    decision: str,
    note: str,
    quarter_name: str,
) -> PartnerStanding:
    score = quarter.score()
    rating, ratings = quarter.rating()
    sla = quarter.sla()
    complaints = quarter.complaint_rate()
    carded = quarter.carded()
    if score is None or rank is None:
        measured = f"not enough data: no month of {quarter_name} with a score and orders"
    else:
        measured = (
            f"score {score:.2f} over {quarter.orders} orders, {_ordinal(rank)} of {of} "
            f"{quarter.category.value} partner{'s' if of > 1 else ''}{note}; {_figures(quarter)}"
        )
    reason = "; ".join([*carded, measured]) if decision == "replace" else measured
    return PartnerStanding(
        partner_id=quarter.partner_id,
        category=quarter.category,
        rank=rank,
        score=score,
        orders=quarter.orders,
        months_scored=[c.month for c in quarter.scored],
        rating_average=None if rating is None else round(rating, 4),
        ratings=ratings,
        sla_compliance=None if sla is None else round(sla, 6),
        complaint_rate=None if complaints is None else round(complaints, 6),
        carded=carded,
        decision=decision,
        reason=reason,
    )


def _category_review(
    category: ServiceCategory, quarters: Sequence[_Quarter], quarter_name: str
) -> CategoryReview:
    scored = sorted(
        (q for q in quarters if q.score() is not None),
        key=lambda q: (-(q.score() or 0.0), -q.orders, q.partner_id),
    )
    ranks = {q.partner_id: index for index, q in enumerate(scored, start=1)}
    count = len(scored)
    keep_quota, bottom_quota = top_count(count), bottom_count(count)
    keep = [q for q in scored if not q.carded()][:keep_quota]
    kept = {q.partner_id for q in keep}
    bottom = [q for q in scored if q.partner_id not in kept][::-1][:bottom_quota]
    bottom_ids = {q.partner_id for q in bottom}
    carded = [q for q in quarters if q.carded()]
    replace_ids = bottom_ids | {q.partner_id for q in carded}
    replace = sorted(
        (q for q in quarters if q.partner_id in replace_ids),
        key=lambda q: (q.partner_id not in ranks, -ranks.get(q.partner_id, 0), q.partner_id),
    )
    unscored = sorted(
        (q for q in quarters if q.partner_id not in ranks and q.partner_id not in replace_ids),
        key=lambda q: q.partner_id,
    )

    def standing(q: _Quarter) -> PartnerStanding:
        if q.partner_id in kept:
            decision, note = "keep", f": top {_TOP}"
        elif q.partner_id in replace_ids:
            decision = "replace"
            note = f": bottom {_BOTTOM}" if q.partner_id in bottom_ids else ""
        elif q.partner_id in ranks:
            decision, note = "none", ""
        else:
            decision, note = "not_enough_data", ""
        return _standing(
            q,
            rank=ranks.get(q.partner_id),
            of=count,
            decision=decision,
            note=note,
            quarter_name=quarter_name,
        )

    standings = {q.partner_id: standing(q) for q in quarters}
    return CategoryReview(
        category=category,
        partners=len(quarters),
        scored=count,
        keep_quota=keep_quota,
        bottom_quota=bottom_quota,
        keep=[standings[q.partner_id] for q in keep],
        replace=[standings[q.partner_id] for q in replace],
        not_enough_data=[standings[q.partner_id] for q in unscored],
        ranking=[standings[q.partner_id] for q in scored],
    )


async def quarter_review(container: Container, quarter: str) -> Review:
    """The review of ``quarter`` (``YYYYQn``) over every partner of the registry.

    Closed months give their frozen scorecards; open months that have begun give
    provisional ones computed now and not stored (``scorecards_of_month``);
    months not begun give none. Raises an ``invalid-quarter`` problem (422).
    """
    quarter = parse_quarter(quarter)
    months = quarter_months(quarter)
    now = container.clock()
    agreements = container.registry.all()
    by_partner = {a.id: _Quarter(a.id, a.category) for a in agreements}
    open_months: list[str] = []
    not_begun: list[str] = []
    async with container.uow() as uow:
        closed = {row.month for row in await uow.scorecards.closed_months(months)}
    for month in months:
        if month not in closed:
            open_months.append(month)
            if month_bounds(month)[0] > now:
                not_begun.append(month)
                continue
        for row in await scorecards_of_month(container, month):
            found = by_partner.get(row.partner_id)
            if found is not None:
                found.cards.append(Scorecard.from_row(row))
    per_category: Mapping[ServiceCategory, list[_Quarter]] = {
        category: [q for q in by_partner.values() if q.category is category]
        for category in ServiceCategory
    }
    return Review(
        quarter=quarter,
        months=months,
        open_months=open_months,
        not_begun=not_begun,
        categories=[
            _category_review(category, quarters, quarter)
            for category, quarters in per_category.items()
            if quarters
        ],
    )


# -- `pgw review --quarter` -------------------------------------------------------------

review_app = typer.Typer(
    help="Quarterly ecosystem review: keep the top 20 %, replace the bottom 10 %.",
    add_completion=False,
)


def lines(result: Review) -> list[str]:
    """The review as text: per category KEEP & GROW, REPLACE and NOT ENOUGH DATA."""
    heading = f"quarterly review of {result.quarter} ({', '.join(result.months)})"
    provisional = [m for m in result.open_months if m not in result.not_begun]
    notes = []
    if provisional:
        notes.append(f"provisional scorecards of open months: {', '.join(provisional)}")
    if result.not_begun:
        notes.append(f"not begun: {', '.join(result.not_begun)}")
    text = [heading + (f"; {'; '.join(notes)}" if notes else "")]
    text.append("quarter score: the months' scores weighted by their orders")
    for category in result.categories:
        name = category.category.value
        text.append("")
        text.append(f"{name}: {category.partners} partner(s), {category.scored} scored")
        bottom = (
            f"bottom {_BOTTOM}: {category.bottom_quota}"
            if category.scored >= BOTTOM_MIN_PARTNERS
            else f"no bottom {_BOTTOM} below {BOTTOM_MIN_PARTNERS} scored partners"
        )
        sections = (
            (f"KEEP & GROW (top {_TOP}: {category.keep_quota})", category.keep),
            (f"REPLACE ({bottom}; plus yellow card or terminated)", category.replace),
            ("NOT ENOUGH DATA", category.not_enough_data),
        )
        width = max((len(s.partner_id) for _, listed in sections for s in listed), default=0)
        for title, standings in sections:
            if not standings and title == "NOT ENOUGH DATA":
                continue
            text.append(f"  {title}")
            if not standings:
                text.append("    none")
            text.extend(f"    {s.partner_id.ljust(width)}  {s.reason}" for s in standings)
    return text


async def _review(quarter: str) -> Review:
    settings = Settings()
    container = build_container(settings)
    try:
        if settings.uses_embedded_database:
            await upgrade(container.engine)
        return await quarter_review(container, quarter)
    finally:
        await container.aclose()


@review_app.command()
def review(
    quarter: Annotated[
        str, typer.Option("--quarter", help="YYYYQn, such as 2026Q4 (months in Asia/Shanghai).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per category: the top 20 % to keep and grow, the bottom 10 % to replace, and why."""
    configure_logging(level="warning")
    try:
        result = asyncio.run(_review(quarter))
    except Problem as problem:
        typer.secho(problem.detail, err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    for line in lines(result):
        typer.echo(line)
