"""What the OEM app reads about an order (never the customer data it sent)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from contracts import (
    CourtesyCarBooking,
    Operation,
    OrderStatus,
    RoutingDecision,
    ServiceCategory,
    ServiceResult,
)
from gateway.persistence.tables import OrderRow

__all__ = ["OrderView"]


class OrderView(BaseModel):
    """An order as the OEM app sees it: who serves it, where it stands, what came back."""

    id: str = Field(examples=["ord_01jq3v8y0a1b2c3d4e5f6g7h8j"])
    category: ServiceCategory
    operation: Operation
    partner_id: str | None = Field(
        description="The partner serving the order; null for quotes and searches answered by "
        "several partners (each result names its partner)."
    )
    partner_reference: str | None = Field(description="The partner's own id of the order.")
    status: OrderStatus
    eta: datetime | None = Field(None, description="When the partner expects to deliver.")
    result: ServiceResult | None = Field(None, description="The partner's canonical answer.")
    routing: RoutingDecision
    failure_reason: str | None = None
    repair_order_id: str | None = None
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None = None

    @classmethod
    def of(cls, row: OrderRow) -> OrderView:
        """The view of a stored order."""
        routing: dict[str, Any] = row.routing or {"chosen": row.partner_id, "skipped": []}
        view = cls.model_validate(
            {
                "id": row.id,
                "category": row.category,
                "operation": row.operation,
                "partner_id": row.partner_id,
                "partner_reference": row.partner_reference,
                "status": row.status,
                "result": row.result,
                "routing": routing,
                "failure_reason": row.failure_reason,
                "repair_order_id": row.repair_order_id,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                "dispatched_at": row.dispatched_at,
            }
        )
        if isinstance(view.result, CourtesyCarBooking):
            view.eta = view.result.eta
        return view
