"""Console accounts of partnership managers and administrators; breaches by day.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

_TS = sa.DateTime(timezone=True)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_sign_in_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_console_users")),
    )
    # The console's "breaches today": breached clocks by resolution time.
    op.create_index("ix_sla_clocks_status_resolved", "sla_clocks", ["status", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_sla_clocks_status_resolved", table_name="sla_clocks")
    op.drop_table("console_users")
