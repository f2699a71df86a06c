"""The ledger and settlement statements as the API, the CLI and the CSV show them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, Field

from contracts import Money
from gateway.persistence.tables import LedgerEntryRow

__all__ = [
    "CSV_COLUMNS",
    "LedgerEntry",
    "Section",
    "Statement",
    "StatementLine",
    "StatementTotal",
    "csv_row",
]

Section = Literal["opening_adjustments", "plans", "sla_credits", "platform_fee"]
"""Where a line sits on the statement."""

_EXAMPLE_MONEY: Final = {"amount": 9876, "currency": "CNY"}


class LedgerEntry(BaseModel):
    """One monetary effect, traceable to its order (or month) and the plan that priced it."""

    id: int
    partner_id: str = Field(examples=["swiftrent"])
    order_id: str | None = Field(description="The order; null for monthly fees and KPI bonuses.")
    event_id: str | None = Field(description="The partner event that caused it, if any.")
    kind: str = Field(examples=["commission"])
    plan_kind: str | None = Field(examples=["percentage"])
    plan: dict[str, Any] = Field(
        description="The plan's parameters as applied: rate after any tier reduction, tier, "
        "bounds, the plan's index in the agreement."
    )
    basis: Money | None = Field(description="What the rate or share was applied to.")
    rate: str | None = Field(description="Exact decimal rate applied.", examples=["0.08"])
    units: int | None = Field(description="Days or uses priced per unit.")
    amount: Money = Field(
        description="Signed, in minor units (fen): a reversal is the negated original.",
        examples=[_EXAMPLE_MONEY],
    )
    direction: Literal["receivable", "payable", "retained"] = Field(
        description="receivable: the partner pays the OEM; payable: the OEM pays the partner; "
        "retained: the OEM's own margin on resold services."
    )
    occurred_at: datetime
    occurred_month: str = Field(description="Month the effect happened in (Asia/Shanghai).")
    effective_month: str = Field(
        description="Month it settles in: later than occurred_month when that month was "
        "already closed (an opening adjustment)."
    )
    created_at: datetime
    reason: str
    reverses_id: int | None = Field(description="The entry this one reverses.")

    @classmethod
    def from_row(cls, row: LedgerEntryRow) -> LedgerEntry:
        """The entry of a ledger row."""
        return cls(
            id=row.id,
            partner_id=row.partner_id,
            order_id=row.order_id,
            event_id=row.event_id,
            kind=row.kind,
            plan_kind=row.plan_kind,
            plan=row.plan,
            basis=None
            if row.basis_amount is None
            else Money(amount=row.basis_amount, currency=row.currency),
            rate=row.rate,
            units=row.units,
            amount=Money(amount=row.amount, currency=row.currency),
            direction=row.direction,
            occurred_at=row.occurred_at,
            occurred_month=row.occurred_month,
            effective_month=row.effective_month,
            created_at=row.created_at,
            reason=row.reason,
            reverses_id=row.reverses_id,
        )


class StatementLine(BaseModel):
    """The sum of a statement's entries of one section, kind, direction and currency."""

    section: Section = Field(
        description="opening_adjustments: late effects of months already closed; plans: "
        "the month's order and plan entries; sla_credits; platform_fee."
    )
    kind: str = Field(examples=["commission"])
    direction: Literal["receivable", "payable", "retained"]
    entries: int
    amount: Money = Field(examples=[_EXAMPLE_MONEY])


class StatementTotal(BaseModel):
    """A statement's totals in one currency and who owes the net."""

    currency: str = Field(examples=["CNY"])
    receivable: Money = Field(description="What the partner owes the OEM.")
    payable: Money = Field(description="What the OEM owes the partner.")
    net: Money = Field(description="receivable - payable: positive when the partner pays.")
    owed_by: Literal["partner", "oem", "nobody"]
    retained: Money = Field(description="The OEM's margin on resold services (not owed).")
    entries: int


class Statement(BaseModel):
    """A partner's settlement statement of a month: a draft until the month is closed."""

    partner_id: str = Field(examples=["swiftrent"])
    month: str = Field(examples=["2026-10"])
    state: Literal["draft", "closed"]
    closed_at: datetime | None = None
    closed_by: str | None = None
    entry_count: int
    totals: list[StatementTotal]
    lines: list[StatementLine]


CSV_COLUMNS: Final = (
    "entry_id",
    "partner_id",
    "effective_month",
    "occurred_month",
    "occurred_at",
    "order_id",
    "event_id",
    "kind",
    "plan_kind",
    "direction",
    "basis",
    "rate",
    "units",
    "amount",
    "amount_minor",
    "currency",
    "reverses_id",
    "reason",
)
"""Columns of a statement's CSV: one row per ledger entry."""


def _major(amount: int | None, entry: LedgerEntry) -> str:
    if amount is None:
        return ""
    return str(Money(amount=amount, currency=entry.amount.currency).to_decimal())


def csv_row(entry: LedgerEntry) -> dict[str, Any]:
    """The entry as a CSV row: amounts in major units (yuan) and in minor units (fen)."""
    return {
        "entry_id": entry.id,
        "partner_id": entry.partner_id,
        "effective_month": entry.effective_month,
        "occurred_month": entry.occurred_month,
        "occurred_at": entry.occurred_at.isoformat(),
        "order_id": entry.order_id or "",
        "event_id": entry.event_id or "",
        "kind": entry.kind,
        "plan_kind": entry.plan_kind or "",
        "direction": entry.direction,
        "basis": _major(None if entry.basis is None else entry.basis.amount, entry),
        "rate": entry.rate or "",
        "units": "" if entry.units is None else entry.units,
        "amount": _major(entry.amount.amount, entry),
        "amount_minor": entry.amount.amount,
        "currency": entry.amount.currency,
        "reverses_id": "" if entry.reverses_id is None else entry.reverses_id,
        "reason": entry.reason,
    }
