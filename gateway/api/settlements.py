"""Commission statements and the ledger behind them: read, close a month, correct, KPIs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Final

from fastapi import APIRouter, Body, Depends, Header, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StringConstraints

from contracts.commission import Attribution
from gateway.api.deps import MAX_ROW_ID, ContainerDep, problem_responses, wants_csv
from gateway.ledger import (
    close_settlement_month,
    correct_entry,
    record_kpi,
    statement_csv,
    statement_of,
    statements_of_month,
)
from gateway.ledger.schemas import LedgerEntry, Statement, StatementTotal
from gateway.oauth.resource import Principal, require_scopes
from gateway.problems import NotFound
from gateway.registry import UnknownPartner
from gateway.scorecards.months import parse_month

__all__ = ["router"]

router = APIRouter(tags=["settlements"])

Admin = Annotated[Principal, Depends(require_scopes("admin"))]
Reader = Annotated[Principal, Depends(require_scopes("settlements:read", "admin", any_of=True))]

EXAMPLE_MONTH: Final = "2026-10"
CLOSE_EXAMPLE_MONTH: Final = "2026-09"
"""Over, and not closed in a fresh database: the close example works as it stands."""
EXAMPLE_ENTRY_ID: Final = 1
_CSV: Final = "text/csv"

Month = Annotated[str, Path(description="YYYY-MM, Asia/Shanghai.", examples=[EXAMPLE_MONTH])]
PartnerId = Annotated[str, Path(description="Partner id.", examples=["swiftrent"])]


class StatementSummary(BaseModel):
    """A partner's statement totals of the month."""

    partner_id: str = Field(examples=["swiftrent"])
    state: str = Field(examples=["draft"])
    entry_count: int
    totals: list[StatementTotal]

    @classmethod
    def of(cls, statement: Statement) -> StatementSummary:
        """The totals of a full statement."""
        return cls(
            partner_id=statement.partner_id,
            state=statement.state,
            entry_count=statement.entry_count,
            totals=statement.totals,
        )


class SettlementTable(BaseModel):
    """Every partner's statement totals of a month."""

    month: str = Field(examples=[EXAMPLE_MONTH])
    closed: bool = Field(description="Frozen statements; else drafts computed now.")
    statements: list[StatementSummary]


class SettlementClose(BaseModel):
    """The statements of a month just closed."""

    month: str = Field(examples=[CLOSE_EXAMPLE_MONTH])
    closed_at: datetime
    closed_by: str
    statements: list[StatementSummary]


class EntryPage(BaseModel):
    """Ledger entries by id; pass `next_after` as `after` for the next page."""

    entries: list[LedgerEntry]
    next_after: int | None = Field(
        description="Null when fewer than `limit` entries came back (no more pages)."
    )


class Correction(BaseModel):
    """Why an entry is corrected and, unless it is simply void, its right amount."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
    amount: int | None = Field(
        None,
        ge=0,
        le=10**15,
        description="The corrected amount in minor units (fen), same currency and direction; "
        "omit to only reverse the entry.",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [{"reason": "order value was keyed in twice", "amount": 4938}]
        }
    }


class CorrectionResult(BaseModel):
    """The reversal of the corrected entry and the entry replacing it, if any."""

    reversal: LedgerEntry
    replacement: LedgerEntry | None


class KpiValueIn(BaseModel):
    """A month's KPI value for an outcome-based plan, with where it comes from."""

    month: Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = Field(
        description="YYYY-MM (Asia/Shanghai); recorded before the month is closed."
    )
    kpi: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    value: Decimal = Field(
        description="Exact decimal, e.g. '3.5' (percent points).",
        ge=-(10**9),
        le=10**9,
        max_digits=20,
        decimal_places=8,
    )
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
    attribution: Attribution = Field(description="Must be the rule the agreement sets.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "month": EXAMPLE_MONTH,
                    "kpi": "lead_conversion_percent",
                    "value": "3.5",
                    "source": "roadmap lead report 2026-10, reconciled with OEM CRM",
                    "attribution": "last_click",
                }
            ]
        }
    }


class KpiValueOut(BaseModel):
    """A recorded KPI value."""

    id: int
    partner_id: str
    month: str
    kpi: str
    value: str
    source: str
    attribution: Attribution
    recorded_at: datetime
    recorded_by: str


class KpiRecordResult(BaseModel):
    """The KPI value recorded, the bonus it earned and the bonus it superseded (reversed)."""

    kpi_value: KpiValueOut
    bonus: LedgerEntry | None
    superseded: LedgerEntry | None = Field(description="Reversal of the earlier value's bonus.")


def _unknown_partner(partner_id: str) -> NotFound:
    return NotFound(
        f"No partner '{partner_id}' in the registry; GET /v1/partners lists them.",
        slug="unknown-partner",
        title="Unknown partner",
    )


@router.get(
    "/v1/settlements",
    response_model=SettlementTable,
    summary="Every partner's statement totals of a month",
    responses=problem_responses(401, 403, 422),
)
async def list_settlements(
    container: ContainerDep,
    _reader: Reader,
    month: Annotated[str, Query(description="YYYY-MM, Asia/Shanghai.", examples=[EXAMPLE_MONTH])],
) -> SettlementTable:
    """Totals each way per partner: frozen once the month is closed, else drafts."""
    closed, statements = await statements_of_month(container, month)
    return SettlementTable(
        month=parse_month(month),
        closed=closed,
        statements=[StatementSummary.of(s) for s in statements],
    )


@router.get(
    "/v1/partners/{partner_id}/settlements/{month}",
    response_model=Statement,
    summary="A partner's statement of a month (JSON, or its entries as CSV)",
    responses={
        200: {
            "content": {_CSV: {"schema": {"type": "string"}}},
            "description": "The statement; for `Accept: text/csv`, one row per ledger entry.",
        },
        **problem_responses(401, 403, 404, 422),
    },
)
async def partner_statement(
    container: ContainerDep,
    _reader: Reader,
    partner_id: PartnerId,
    month: Month,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Statement | StreamingResponse:
    """Opening adjustments, the month's entries by plan type, SLA credits, the platform
    fee and the net owed each way: frozen once the month is closed, else a draft."""
    month = parse_month(month)
    if partner_id not in container.registry:
        async with container.uow() as uow:
            known = await uow.ledger.page(partner_id=partner_id, limit=1)
        if not known:
            raise _unknown_partner(partner_id)
    if wants_csv(accept):
        return StreamingResponse(
            statement_csv(container, partner_id, month),
            media_type=f"{_CSV}; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="statement-{partner_id}-{month}.csv"'
            },
        )
    return await statement_of(container, partner_id, month)


@router.post(
    "/v1/settlements/{month}/close",
    response_model=SettlementClose,
    summary="Close a month's statements: freeze them, send later effects to the next month",
    responses=problem_responses(401, 403, 409, 422),
)
async def close_settlements(
    container: ContainerDep,
    principal: Admin,
    month: Annotated[
        str, Path(description="YYYY-MM, Asia/Shanghai.", examples=[CLOSE_EXAMPLE_MONTH])
    ],
) -> SettlementClose:
    """Accrue the month's fixed fees, credit SLA breaches not yet credited, and freeze every
    partner's statement. Only after the month has ended (409 `month-not-over`) and only
    once (409 `month-closed`). Effects arriving later settle in the next open month."""
    statements = await close_settlement_month(container, month, closed_by=principal.client_id)
    closed_at = next((s.closed_at for s in statements if s.closed_at), container.clock())
    return SettlementClose(
        month=parse_month(month),
        closed_at=closed_at,
        closed_by=principal.client_id,
        statements=[StatementSummary.of(s) for s in statements],
    )


@router.get(
    "/v1/ledger/entries",
    response_model=EntryPage,
    summary="Ledger entries, by partner, settlement month or order",
    responses=problem_responses(401, 403, 422),
)
async def list_entries(
    container: ContainerDep,
    _reader: Reader,
    partner_id: Annotated[str | None, Query(max_length=40, examples=["swiftrent"])] = None,
    month: Annotated[
        str | None, Query(description="Settlement month, YYYY-MM.", examples=[EXAMPLE_MONTH])
    ] = None,
    order_id: Annotated[str | None, Query(max_length=40)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="Entries with a larger id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EntryPage:
    """Every entry with its order, event, plan parameters, basis, rate and reason."""
    if month is not None:
        month = parse_month(month)
    async with container.uow() as uow:
        rows = await uow.ledger.page(
            partner_id=partner_id, month=month, order_id=order_id, after_id=after, limit=limit
        )
    entries = [LedgerEntry.from_row(row) for row in rows]
    return EntryPage(entries=entries, next_after=entries[-1].id if len(entries) == limit else None)


@router.post(
    "/v1/ledger/entries/{entry_id}/corrections",
    response_model=CorrectionResult,
    status_code=201,
    summary="Correct a ledger entry: reverse it, and write the right amount",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def correct(
    container: ContainerDep,
    principal: Admin,
    entry_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID, examples=[EXAMPLE_ENTRY_ID])],
    correction: Annotated[Correction, Body()],
) -> CorrectionResult:
    """Entries are never changed: the correction is a reversal referencing the entry and,
    with `amount`, a replacement. Both settle in the current open month. An entry is
    corrected once (409 `entry-already-reversed`); correct its replacement after that."""
    reversal, replacement = await correct_entry(
        container,
        entry_id,
        reason=correction.reason,
        amount=correction.amount,
        corrected_by=principal.client_id,
    )
    return CorrectionResult(
        reversal=LedgerEntry.from_row(reversal),
        replacement=None if replacement is None else LedgerEntry.from_row(replacement),
    )


def _kpi_out(row: object) -> KpiValueOut:
    return KpiValueOut.model_validate(row, from_attributes=True)


@router.post(
    "/v1/partners/{partner_id}/kpis",
    response_model=KpiRecordResult,
    status_code=201,
    summary="Record a month's KPI value for an outcome-based plan",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def post_kpi(
    container: ContainerDep,
    principal: Admin,
    partner_id: Annotated[str, Path(description="Partner id.", examples=["roadmap"])],
    kpi: Annotated[KpiValueIn, Body()],
) -> KpiRecordResult:
    """The bonus is the plan's share of the base fee per KPI point above the baseline. A
    newer value for the same month and KPI supersedes the earlier one (its bonus is
    reversed). Refused once the month is closed (409 `month-closed`)."""
    try:
        recorded = await record_kpi(
            container,
            partner_id=partner_id,
            month=parse_month(kpi.month),
            kpi=kpi.kpi,
            value=kpi.value,
            source=kpi.source,
            attribution=kpi.attribution,
            recorded_by=principal.client_id,
        )
    except UnknownPartner as exc:
        raise _unknown_partner(partner_id) from exc
    return KpiRecordResult(
        kpi_value=_kpi_out(recorded.value),
        bonus=None if recorded.bonus is None else LedgerEntry.from_row(recorded.bonus),
        superseded=None
        if recorded.superseded is None
        else LedgerEntry.from_row(recorded.superseded),
    )


@router.get(
    "/v1/partners/{partner_id}/kpis",
    response_model=list[KpiValueOut],
    summary="A partner's recorded KPI values",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_kpis(
    container: ContainerDep,
    _reader: Reader,
    partner_id: Annotated[str, Path(description="Partner id.", examples=["roadmap"])],
    month: Annotated[str | None, Query(examples=[EXAMPLE_MONTH])] = None,
) -> list[KpiValueOut]:
    """Every value recorded, oldest first; the latest of a month and KPI counts."""
    if partner_id not in container.registry:
        raise _unknown_partner(partner_id)
    async with container.uow() as uow:
        rows = await uow.ledger.kpis(partner_id, None if month is None else parse_month(month))
    return [_kpi_out(row) for row in rows]
