"""Commission ledger, settlement statements and KPI values; append-only in the database.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APPEND_ONLY = ("ledger_entries", "settlement_months", "settlement_statements", "kpi_values")
"""Tables whose rows are never updated or deleted; the database refuses both."""

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION pgw_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: the table is append-only (write a reversal entry instead)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def _append_only(table: str) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION pgw_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION pgw_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{action} on {table} refused: the table is "
            "append-only (write a reversal entry instead)'); END"
        )


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("entry_key", sa.String(length=160), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("event_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("plan_kind", sa.String(length=24), nullable=True),
        sa.Column("plan", _JSON, nullable=False),
        sa.Column("basis_amount", _BIGID, nullable=True),
        sa.Column("rate", sa.String(length=32), nullable=True),
        sa.Column("units", sa.Integer(), nullable=True),
        sa.Column("amount", _BIGID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("direction", sa.String(length=12), nullable=False),
        sa.Column("occurred_at", _TS, nullable=False),
        sa.Column("occurred_month", sa.String(length=7), nullable=False),
        sa.Column("effective_month", sa.String(length=7), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reverses_id", _BIGID, nullable=True),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_entries_reverses_id_ledger_entries"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("entry_key", name="uq_ledger_entries_entry_key"),
        sa.UniqueConstraint("reverses_id", name="uq_ledger_entries_reverses_id"),
    )
    op.create_index(
        "ix_ledger_entries_month_partner", "ledger_entries", ["effective_month", "partner_id"]
    )
    op.create_index("ix_ledger_entries_order", "ledger_entries", ["order_id"])
    op.create_table(
        "settlement_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("closed_at", _TS, nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_settlement_months")),
    )
    op.create_table(
        "settlement_statements",
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("statement", _JSON, nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("closed_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "month", name=op.f("pk_settlement_statements")),
    )
    op.create_table(
        "kpi_values",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("kpi", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("attribution", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_values")),
    )
    op.create_index("ix_kpi_values_partner_month", "kpi_values", ["partner_id", "month", "kpi"])
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
    for table in APPEND_ONLY:
        _append_only(table)


def downgrade() -> None:
    for table in reversed(APPEND_ONLY):
        op.drop_table(table)
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS pgw_append_only()")
