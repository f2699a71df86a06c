"""Partner scorecards for partnership managers: a month's table, a partner's trend, month close."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from contracts import PartnerTier, ServiceCategory
from gateway.api.deps import ContainerDep, ManagerDep, problem_responses, wants_csv
from gateway.oauth.resource import Principal, require_scopes
from gateway.problems import NotFound
from gateway.registry import UnknownPartner
from gateway.scorecards import compute_month, partner_trend, scorecards_of_month
from gateway.scorecards.months import next_month, parse_month
from gateway.scorecards.schemas import Scorecard, scorecards_csv

__all__ = ["router"]

router = APIRouter(tags=["scorecards"])

Admin = Annotated[Principal, Depends(require_scopes("admin"))]

EXAMPLE_MONTH: Final = "2026-10"
"""Over, and not closed in a fresh database: the close example works as it stands."""

_TIER_RANK: Final = {tier: rank for rank, tier in enumerate(PartnerTier)}
_CSV: Final = "text/csv"

Month = Annotated[
    str,
    Path(description="YYYY-MM, Asia/Shanghai.", examples=[EXAMPLE_MONTH]),
]


class ScorecardTable(BaseModel):
    """A month's scorecards."""

    month: str = Field(examples=[EXAMPLE_MONTH])
    closed: bool = Field(description="Frozen scorecards; else provisional, computed now.")
    scorecards: list[Scorecard]


class PartnerScorecardTrend(BaseModel):
    """A partner's scorecards of the last months, oldest first (newest last)."""

    partner_id: str = Field(examples=["swiftrent"])
    scorecards: list[Scorecard]


class TierChange(BaseModel):
    """A tier decided at a month close, in force from `effective_month`."""

    partner_id: str
    effective_month: str
    tier: PartnerTier
    previous_tier: PartnerTier
    reason: str


class MonthClose(BaseModel):
    """The frozen scorecards of a month just closed, and the tiers that change."""

    month: str = Field(examples=[EXAMPLE_MONTH])
    closed_at: datetime
    closed_by: str
    scorecards: list[Scorecard]
    tier_changes: list[TierChange]


def _sorted(cards: list[Scorecard], sort: str) -> list[Scorecard]:
    by_score = sorted(cards, key=lambda c: (c.score is None, -(c.score or 0.0), c.partner_id))
    if sort == "score":
        return by_score
    if sort == "tier":
        return sorted(by_score, key=lambda c: _TIER_RANK[c.tier])
    return sorted(cards, key=lambda c: c.partner_id)


def _csv_answer(month: str, cards: list[Scorecard]) -> Response:
    return Response(
        scorecards_csv(cards),
        media_type=f"{_CSV}; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="scorecards-{month}.csv"'},
    )


@router.get(
    "/v1/scorecards",
    response_model=ScorecardTable,
    summary="A month's partner scorecards (JSON or CSV)",
    responses={
        200: {
            "content": {_CSV: {"schema": {"type": "string"}}},
            "description": "The scorecards; CSV (one row per partner) for `Accept: text/csv`.",
        },
        **problem_responses(401, 403, 422),
    },
)
async def list_scorecards(
    container: ContainerDep,
    _manager: ManagerDep,
    month: Annotated[str, Query(description="YYYY-MM, Asia/Shanghai.", examples=[EXAMPLE_MONTH])],
    sort: Annotated[
        Literal["score", "tier", "partner"],
        Query(description="Best score first; best tier first (then score); or partner id."),
    ] = "score",
    category: Annotated[
        ServiceCategory | None, Query(description="Only partners of this category.")
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ScorecardTable | Response:
    """Every partner's scorecard of the month: the frozen ones once the month is closed,
    else provisional ones computed from the measurements so far. The `tier` of each is
    the tier decided from the month, in force from the next month."""
    month = parse_month(month)
    rows = await scorecards_of_month(container, month)
    closed = any(not row.provisional for row in rows)
    cards = [Scorecard.from_row(row) for row in rows]
    if category is not None:
        cards = [card for card in cards if card.category is category]
    cards = _sorted(cards, sort)
    if wants_csv(accept):
        return _csv_answer(month, cards)
    return ScorecardTable(month=month, closed=closed, scorecards=cards)


@router.get(
    "/v1/partners/{partner_id}/scorecard",
    response_model=PartnerScorecardTrend,
    summary="A partner's scorecard trend",
    responses=problem_responses(401, 403, 404, 422),
)
async def partner_scorecard(
    container: ContainerDep,
    _manager: ManagerDep,
    partner_id: Annotated[str, Path(description="Partner id.", examples=["swiftrent"])],
    months: Annotated[
        int, Query(ge=1, le=24, description="How many months, up to the current one.")
    ] = 6,
) -> PartnerScorecardTrend:
    """The partner's scorecards of the last `months` months up to the current one (Asia/
    Shanghai), newest last: frozen for closed months, provisional (computed now) otherwise."""
    try:
        rows = await partner_trend(container, partner_id, months)
    except UnknownPartner as exc:
        raise NotFound(
            f"No partner '{partner_id}' in the registry; GET /v1/partners lists them.",
            slug="unknown-partner",
            title="Unknown partner",
        ) from exc
    return PartnerScorecardTrend(
        partner_id=partner_id, scorecards=[Scorecard.from_row(row) for row in rows]
    )


@router.post(
    "/v1/scorecards/{month}/close",
    response_model=MonthClose,
    summary="Close a month: freeze its scorecards, set next month's tiers",
    responses=problem_responses(401, 403, 409, 422),
)
async def close_month(
    request: Request, container: ContainerDep, principal: Admin, month: Month
) -> MonthClose:
    """Freeze the month's scorecards and record every tier that changes, effective the next
    month. Only after the month has ended (Asia/Shanghai; else 409 `month-not-over`), and
    only once (409 `month-closed`). Events arriving later are kept but marked late."""
    month = parse_month(month)
    rows = await compute_month(container, month, close=True, closed_by=principal.client_id)
    request.app.state.tiers.forget()  # this process routes by the new tiers at once
    cards = [Scorecard.from_row(row) for row in rows]
    closed_at = next((row.closed_at for row in rows if row.closed_at), container.clock())
    return MonthClose(
        month=month,
        closed_at=closed_at,
        closed_by=principal.client_id,
        scorecards=cards,
        tier_changes=[
            TierChange(
                partner_id=card.partner_id,
                effective_month=next_month(month),
                tier=card.tier,
                previous_tier=card.tier_in_force,
                reason=card.tier_reason,
            )
            for card in cards
            if card.tier is not card.tier_in_force
        ],
    )
