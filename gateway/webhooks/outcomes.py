"""What handling a delivery came to, and the answer the partner gets (stored for replays)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.problems import FieldError, problem_type

__all__ = ["DeliveryOutcome", "InboxStatus", "Outcome"]


class InboxStatus(StrEnum):
    """Lifecycle of an inbox row."""

    RECEIVED = "received"  # stored, not yet applied (a crash here is recovered)
    PROCESSING = "processing"  # claimed inside the applying transaction
    APPLIED = "applied"
    DEAD_LETTERED = "dead_lettered"
    REJECTED = "rejected"


class Outcome(StrEnum):
    """Metric label of a delivery's outcome."""

    APPLIED = "applied"
    STALE = "stale"
    DUPLICATE_EVENT = "duplicate_event"
    RECORDED = "recorded"
    DEAD_LETTERED = "dead_lettered"
    REJECTED = "rejected"


@dataclass(frozen=True)
class DeliveryOutcome:
    """The inbox status, HTTP status and body a delivery resolved to."""

    inbox_status: InboxStatus
    outcome: Outcome
    http_status: int
    body: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def applied(
        cls, outcome: Outcome, *, event_id: str, order_id: str, order_status: str, detail: str
    ) -> DeliveryOutcome:
        """The event was recorded on its order (moving it, or kept as history)."""
        return cls(
            InboxStatus.APPLIED,
            outcome,
            200,
            {
                "status": "applied",
                "effect": outcome.value,
                "event_id": event_id,
                "order_id": order_id,
                "order_status": order_status,
                "detail": detail,
            },
        )

    @classmethod
    def dead_lettered(cls, *, reason: str, detail: str, dead_letter_id: int) -> DeliveryOutcome:
        """Kept for replay; the partner need not resend."""
        return cls(
            InboxStatus.DEAD_LETTERED,
            Outcome.DEAD_LETTERED,
            202,
            {
                "status": "dead_lettered",
                "reason": reason,
                "warning": detail,
                "dead_letter_id": dead_letter_id,
            },
        )

    @classmethod
    def rejected(
        cls,
        *,
        status: int,
        slug: str,
        title: str,
        detail: str,
        errors: list[FieldError] | None = None,
    ) -> DeliveryOutcome:
        """Refused with a problem document; the partner must fix something and send anew."""
        body: dict[str, Any] = {
            "type": problem_type(slug),
            "title": title,
            "status": status,
            "detail": detail,
        }
        if errors:
            body["errors"] = [e.model_dump() for e in errors]
        return cls(InboxStatus.REJECTED, Outcome.REJECTED, status, body)
