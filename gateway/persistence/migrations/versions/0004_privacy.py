"""Privacy bookkeeping: consents and their events, the disclosure audit, relay bindings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Partial unique indexes: they hold for open relay bindings only.
_OPEN_BINDING = "released_at IS NULL"

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(
        "ix_consents_customer_purpose", "consents", ["customer_id", "purpose"], unique=False
    )
    op.create_table(
        "consent_events",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("consent_id", _BIGID, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name=op.f("fk_consent_events_consent_id_consents"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    op.create_index(
        "ix_consent_events_customer_at", "consent_events", ["customer_id", "at"], unique=False
    )
    op.create_table(
        "disclosures",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("fields", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
    )
    op.create_index(
        "ix_disclosures_customer_created",
        "disclosures",
        ["customer_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "relay_bindings",
        sa.Column("id", _BIGID, autoincrement=True, nullable=False),
        sa.Column("virtual_number", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("real_number", sa.String(length=20), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_bindings")),
    )
    op.create_index(
        "uq_relay_bindings_open_virtual",
        "relay_bindings",
        ["virtual_number"],
        unique=True,
        sqlite_where=sa.text(_OPEN_BINDING),
        postgresql_where=sa.text(_OPEN_BINDING),
    )
    op.create_index(
        "uq_relay_bindings_open_order_number",
        "relay_bindings",
        ["order_id", "real_number"],
        unique=True,
        sqlite_where=sa.text(_OPEN_BINDING),
        postgresql_where=sa.text(_OPEN_BINDING),
    )


def downgrade() -> None:
    op.drop_index("uq_relay_bindings_open_order_number", table_name="relay_bindings")
    op.drop_index("uq_relay_bindings_open_virtual", table_name="relay_bindings")
    op.drop_table("relay_bindings")
    op.drop_index("ix_disclosures_customer_created", table_name="disclosures")
    op.drop_table("disclosures")
    op.drop_index("ix_consent_events_customer_at", table_name="consent_events")
    op.drop_table("consent_events")
    op.drop_index("ix_consents_customer_purpose", table_name="consents")
    op.drop_table("consents")
