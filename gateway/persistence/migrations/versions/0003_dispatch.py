"""Orders placed by the OEM app: idempotency, routing outcome, repair-order link.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("partner_id", existing_type=sa.String(length=40), nullable=True)
        batch.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("client_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("answer_status", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("answer", _JSON, nullable=True))
        batch.add_column(sa.Column("repair_order_id", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(
            "uq_orders_client_idempotency", ["client_id", "idempotency_key"]
        )
        batch.create_unique_constraint(op.f("uq_orders_repair_order_id"), ["repair_order_id"])
        batch.create_index("ix_orders_category_created", ["category", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_category_created")
        batch.drop_constraint(op.f("uq_orders_repair_order_id"), type_="unique")
        batch.drop_constraint("uq_orders_client_idempotency", type_="unique")
        for column in (
            "repair_order_id",
            "answer",
            "answer_status",
            "request_hash",
            "idempotency_key",
            "client_id",
            "failure_reason",
            "dispatched_at",
        ):
            batch.drop_column(column)
        batch.alter_column("partner_id", existing_type=sa.String(length=40), nullable=False)
