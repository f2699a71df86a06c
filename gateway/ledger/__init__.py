"""Commission ledger and monthly settlement statements (docs/commission.md)."""

from gateway.ledger.service import (
    EntryAlreadyReversed,
    KpiRecorded,
    SettlementMonthClosed,
    accrue_month,
    accrue_open_months,
    correct_entry,
    credit_breached_orders,
    ensure_sla_credit,
    record_answer,
    record_kpi,
    record_order_event,
    reverse_order,
    run_accrual,
    settling_month,
)
from gateway.ledger.statements import (
    build_statement,
    close_settlement_month,
    statement_csv,
    statement_entries,
    statement_of,
    statements_of_month,
)

__all__ = [
    "EntryAlreadyReversed",
    "KpiRecorded",
    "SettlementMonthClosed",
    "accrue_month",
    "accrue_open_months",
    "build_statement",
    "close_settlement_month",
    "correct_entry",
    "credit_breached_orders",
    "ensure_sla_credit",
    "record_answer",
    "record_kpi",
    "record_order_event",
    "reverse_order",
    "run_accrual",
    "settling_month",
    "statement_csv",
    "statement_entries",
    "statement_of",
    "statements_of_month",
]
