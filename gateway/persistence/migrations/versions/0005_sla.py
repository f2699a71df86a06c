"""SLA measurements, customer feedback, scorecards and tiers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("stop_event", sa.String(length=64), nullable=False),
        sa.Column("target_ms", _BIGID, nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("deadline_at", _TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stopped_at", _TS, nullable=True),
        sa.Column("elapsed_ms", _BIGID, nullable=True),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_sla_clocks_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clocks")),
        sa.UniqueConstraint("order_id", "term", name="uq_sla_clocks_order_term"),
    )
    op.create_index("ix_sla_clocks_status_deadline", "sla_clocks", ["status", "deadline_at"])
    op.create_index("ix_sla_clocks_partner_month", "sla_clocks", ["partner_id", "month"])
    op.create_index("ix_sla_clocks_partner_resolved", "sla_clocks", ["partner_id", "resolved_at"])
    op.create_table(
        "partner_calls",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_calls")),
    )
    op.create_index("ix_partner_calls_partner_at", "partner_calls", ["partner_id", "at"])
    op.create_index("ix_partner_calls_partner_month", "partner_calls", ["partner_id", "month"])
    op.create_table(
        "ratings",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_ratings_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_ratings")),
    )
    op.create_index("ix_ratings_partner_month", "ratings", ["partner_id", "month"])
    op.create_table(
        "complaints",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_complaints_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    op.create_index("ix_complaints_partner_month", "complaints", ["partner_id", "month"])
    op.create_table(
        "scorecards",
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("metrics", _JSON, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("tier_reason", sa.Text(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("computed_at", _TS, nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("partner_id", "month", name=op.f("pk_scorecards")),
    )
    op.create_table(
        "tier_changes",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("effective_month", sa.String(length=7), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("previous_tier", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_changes")),
        sa.UniqueConstraint("partner_id", "effective_month", name="uq_tier_changes_partner_month"),
    )
    op.create_table(
        "closed_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("closed_at", _TS, nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_closed_months")),
    )


def downgrade() -> None:
    for table in (
        "closed_months",
        "tier_changes",
        "scorecards",
        "complaints",
        "ratings",
        "partner_calls",
        "sla_clocks",
    ):
        op.drop_table(table)
