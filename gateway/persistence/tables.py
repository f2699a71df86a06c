"""Relational schema of the gateway's durable state (Alembic migrations mirror it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.persistence.types import BigId, JsonDoc, UtcDateTime

__all__ = [
    "Base",
    "ClientRow",
    "ClosedMonthRow",
    "ComplaintRow",
    "ConsentEventRow",
    "ConsentRow",
    "ConsoleUserRow",
    "DeadLetterRow",
    "DisclosureRow",
    "InboxRow",
    "KpiValueRow",
    "LedgerEntryRow",
    "OrderEventRow",
    "OrderRow",
    "PartnerCallRow",
    "RatingRow",
    "RelayBindingRow",
    "ScorecardRow",
    "SettlementMonthRow",
    "SettlementStatementRow",
    "SigningKeyRow",
    "SlaClockRow",
    "TierChangeRow",
]

# Deterministic constraint names, so migrations can refer to them on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JsonDoc}  # noqa: RUF012


class ClientRow(Base):
    """An OAuth client: a partner system, the OEM app, or a manager's tool."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # partner | app
    partner_id: Mapped[str | None] = mapped_column(String(40), index=True)
    scopes: Mapped[list[str]] = mapped_column(JsonDoc)
    secret_hash: Mapped[str] = mapped_column(String(255))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(255))
    previous_secret_valid_until: Mapped[datetime | None]
    webhook_secret: Mapped[str | None] = mapped_column(String(255))
    previous_webhook_secret: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | revoked
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class OrderRow(Base):
    """An order placed with a partner and its current state."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("partner_id", "partner_reference", name="uq_orders_partner_reference"),
        UniqueConstraint("client_id", "idempotency_key", name="uq_orders_client_idempotency"),
        Index("ix_orders_partner_created", "partner_id", "created_at"),
        Index("ix_orders_category_created", "category", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    category: Mapped[str] = mapped_column(String(16))
    operation: Mapped[str] = mapped_column(String(40))
    # None while routing, and for fan-out requests (quotes, station searches) answered by several.
    partner_id: Mapped[str | None] = mapped_column(String(40))
    partner_reference: Mapped[str | None] = mapped_column(String(128))
    customer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24))
    # Time and sequence of the event that set `status`: later deliveries of older
    # events are recorded but do not move the state back.
    status_occurred_at: Mapped[datetime | None]
    status_sequence: Mapped[int] = mapped_column(Integer, default=0)
    request: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any] | None]
    routing: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # Who asked and under which Idempotency-Key: the durable twin of the hot-state record.
    client_id: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    answer_status: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[dict[str, Any] | None]
    repair_order_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class OrderEventRow(Base):
    """One canonical event of an order, kept whether or not it moved the state."""

    __tablename__ = "order_events"
    __table_args__ = (
        UniqueConstraint("order_id", "event_id", name="uq_order_events_order_event"),
        Index("ix_order_events_order_time", "order_id", "occurred_at", "sequence"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"))
    event_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(16))  # webhook | gateway | replay
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id", ondelete="RESTRICT"))
    data: Mapped[dict[str, Any]]
    moved_state: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime]


class InboxRow(Base):
    """A raw webhook delivery, stored before the partner gets any 2xx."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("partner_id", "webhook_id", name="uq_inbox_partner_webhook"),
        Index("ix_inbox_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(40))
    webhook_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime]
    headers: Mapped[dict[str, Any]]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # received -> applied | dead_lettered
    status: Mapped[str] = mapped_column(String(16), default="received")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None]
    processed_at: Mapped[datetime | None]


class DeadLetterRow(Base):
    """A delivery that could not be applied, kept with its reason until replayed."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_partner_created", "partner_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    inbox_id: Mapped[int | None] = mapped_column(ForeignKey("inbox.id", ondelete="RESTRICT"))
    partner_id: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    last_replayed_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]


class SigningKeyRow(Base):
    """A key the OAuth server signs access tokens with; published while its tokens live."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_jwk: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # Set when a newer key takes over signing; the public key stays published
    # until every token it signed has expired.
    retired_at: Mapped[datetime | None]


# Partial unique indexes hold for open relay bindings only (both databases support them).
_OPEN_BINDING = "released_at IS NULL"


class ConsentRow(Base):
    """A customer's consent to share data with a category (or one partner) for a purpose.

    A row with source `contract_default` and `withdrawn_at` set records that the
    customer withdrew a purpose the OEM's service contract covers by default.
    """

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_customer_purpose", "customer_id", "purpose"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(40))
    # None: every partner of the category.
    partner_id: Mapped[str | None] = mapped_column(String(40))
    granted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(32))  # app | contract_default
    evidence: Mapped[str | None] = mapped_column(String(200))


class ConsentEventRow(Base):
    """A grant or a withdrawal of consent, kept for the data protection officer."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id", ondelete="RESTRICT"))
    action: Mapped[str] = mapped_column(String(16))  # granted | withdrawn
    at: Mapped[datetime]
    client_id: Mapped[str | None] = mapped_column(String(64))


class DisclosureRow(Base):
    """Which fields of a customer went to a partner, for which purpose (never a value)."""

    __tablename__ = "disclosures"
    __table_args__ = (Index("ix_disclosures_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    partner_id: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(40))
    policy_version: Mapped[str] = mapped_column(String(32))
    # [{"path", "data_class", "kind", "operator"}, ...]
    fields: Mapped[list[dict[str, str]]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime]


class RelayBindingRow(Base):
    """A virtual number of the OEM's telephony provider standing for a customer's number."""

    __tablename__ = "relay_bindings"
    __table_args__ = (
        Index(
            "uq_relay_bindings_open_virtual",
            "virtual_number",
            unique=True,
            sqlite_where=text(_OPEN_BINDING),
            postgresql_where=text(_OPEN_BINDING),
        ),
        Index(
            "uq_relay_bindings_open_order_number",
            "order_id",
            "real_number",
            unique=True,
            sqlite_where=text(_OPEN_BINDING),
            postgresql_where=text(_OPEN_BINDING),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    virtual_number: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[str] = mapped_column(String(40))
    partner_id: Mapped[str] = mapped_column(String(40))
    real_number: Mapped[str] = mapped_column(String(20))
    bound_at: Mapped[datetime]
    released_at: Mapped[datetime | None]


class SlaClockRow(Base):
    """One SLA term of one order: started at dispatch, stopped by the partner's event."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("order_id", "term", name="uq_sla_clocks_order_term"),
        # The sweep's index: open clocks by deadline.
        Index("ix_sla_clocks_status_deadline", "status", "deadline_at"),
        Index("ix_sla_clocks_partner_month", "partner_id", "month"),
        Index("ix_sla_clocks_partner_resolved", "partner_id", "resolved_at"),
        Index("ix_sla_clocks_status_resolved", "status", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"))
    partner_id: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(40))
    term: Mapped[str] = mapped_column(String(64))
    stop_event: Mapped[str] = mapped_column(String(64))
    target_ms: Mapped[int] = mapped_column(BigId)
    started_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    # open -> met | breached; a breach found by the sweep stays a breach if the event comes later.
    status: Mapped[str] = mapped_column(String(16))
    stopped_at: Mapped[datetime | None]
    elapsed_ms: Mapped[int | None] = mapped_column(BigId)
    resolved_at: Mapped[datetime | None]
    month: Mapped[str] = mapped_column(String(7))
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class PartnerCallRow(Base):
    """One call attempt to a partner's API: for availability and latency."""

    __tablename__ = "partner_calls"
    __table_args__ = (
        Index("ix_partner_calls_partner_at", "partner_id", "at"),
        Index("ix_partner_calls_partner_month", "partner_id", "month"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(16))
    month: Mapped[str] = mapped_column(String(7))


class RatingRow(Base):
    """The customer's rating of an order, once per order."""

    __tablename__ = "ratings"
    __table_args__ = (Index("ix_ratings_partner_month", "partner_id", "month"),)

    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.id", ondelete="RESTRICT"), primary_key=True
    )
    partner_id: Mapped[str] = mapped_column(String(40))
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    month: Mapped[str] = mapped_column(String(7))


class ComplaintRow(Base):
    """A customer complaint about an order, and how it was resolved."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_partner_month", "partner_id", "month"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"))
    partner_id: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    month: Mapped[str] = mapped_column(String(7))


class ScorecardRow(Base):
    """A partner's scorecard of one month: provisional until the month is closed."""

    __tablename__ = "scorecards"

    partner_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    category: Mapped[str] = mapped_column(String(16))
    metrics: Mapped[dict[str, Any]]
    score: Mapped[float | None] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(16))
    tier_reason: Mapped[str] = mapped_column(Text)
    provisional: Mapped[bool] = mapped_column(Boolean)
    computed_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class TierChangeRow(Base):
    """A partner's tier from a month on, and why; the latest effective one is in force."""

    __tablename__ = "tier_changes"
    __table_args__ = (
        UniqueConstraint("partner_id", "effective_month", name="uq_tier_changes_partner_month"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(40))
    effective_month: Mapped[str] = mapped_column(String(7))
    tier: Mapped[str] = mapped_column(String(16))
    previous_tier: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime]


class ClosedMonthRow(Base):
    """A month whose scorecards are frozen."""

    __tablename__ = "closed_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[datetime]
    closed_by: Mapped[str] = mapped_column(String(64))


class LedgerEntryRow(Base):
    """One monetary effect between the OEM and a partner; never updated or deleted.

    ``amount`` is signed integer minor units: a reversal carries the negated
    amount of the entry it reverses (``reverses_id``), so the two net to zero.
    The database refuses UPDATE and DELETE on this table (migration 0006).
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("entry_key", name="uq_ledger_entries_entry_key"),
        UniqueConstraint("reverses_id", name="uq_ledger_entries_reverses_id"),
        Index("ix_ledger_entries_month_partner", "effective_month", "partner_id"),
        Index("ix_ledger_entries_order", "order_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # What makes the entry unique: its source (order event, month, KPI record, reversal).
    entry_key: Mapped[str] = mapped_column(String(160))
    partner_id: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(40))
    event_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(24))
    plan_kind: Mapped[str | None] = mapped_column(String(24))
    # The plan's parameters as applied (rate after any tier reduction, the tier, bounds).
    plan: Mapped[dict[str, Any]]
    basis_amount: Mapped[int | None] = mapped_column(BigId)
    rate: Mapped[str | None] = mapped_column(String(32))  # exact decimal text, e.g. "0.07"
    units: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigId)
    currency: Mapped[str] = mapped_column(String(3))
    direction: Mapped[str] = mapped_column(String(12))  # receivable | payable | retained
    occurred_at: Mapped[datetime]
    occurred_month: Mapped[str] = mapped_column(String(7))
    effective_month: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    reverses_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("ledger_entries.id", ondelete="RESTRICT")
    )


class SettlementMonthRow(Base):
    """A month whose settlement statements are closed: no entry lands in it any more."""

    __tablename__ = "settlement_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    closed_at: Mapped[datetime]
    closed_by: Mapped[str] = mapped_column(String(64))


class SettlementStatementRow(Base):
    """A partner's statement of a closed month, frozen as it was closed."""

    __tablename__ = "settlement_statements"

    partner_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    statement: Mapped[dict[str, Any]]
    entry_count: Mapped[int] = mapped_column(Integer)
    closed_at: Mapped[datetime]


class KpiValueRow(Base):
    """A partner's KPI value of a month for an outcome-based plan; the latest one counts."""

    __tablename__ = "kpi_values"
    __table_args__ = (Index("ix_kpi_values_partner_month", "partner_id", "month", "kpi"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(40))
    month: Mapped[str] = mapped_column(String(7))
    kpi: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(32))  # exact decimal text
    source: Mapped[str] = mapped_column(Text)
    attribution: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(64))


class ConsoleUserRow(Base):
    """A partnership manager's or administrator's console account."""

    __tablename__ = "console_users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # manager | admin
    password_hash: Mapped[str] = mapped_column(String(255))  # scrypt, gateway/oauth/hashing.py
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]
