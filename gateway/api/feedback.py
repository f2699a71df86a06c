"""Customer feedback on orders (ratings, complaints) and the fast-burn alerts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from gateway.api.deps import MANAGER_SCOPES, MAX_ROW_ID, ContainerDep, problem_responses
from gateway.api.orders import IdempotencyKey, OrderIdPath, _idempotently
from gateway.bootstrap import Container
from gateway.dispatch.idempotency import Answer, Claim
from gateway.oauth.resource import Principal, require_scopes
from gateway.persistence.tables import ComplaintRow, RatingRow
from gateway.problems import NotFound, Problem
from gateway.slo.alerts import AlertMonitor
from gateway.slo.clocks import month_of

__all__ = ["router"]

router = APIRouter(tags=["feedback"])

Writer = Annotated[Principal, Depends(require_scopes("services:write"))]
Operator = Annotated[Principal, Depends(require_scopes("services:write", "admin", any_of=True))]
Manager = Annotated[Principal, Depends(require_scopes(*MANAGER_SCOPES, "orders:read", any_of=True))]


class RatingIn(BaseModel):
    """The customer's rating of a finished order."""

    stars: int = Field(ge=1, le=5, examples=[5])
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = (
        Field(None, examples=["准时送达，车况很好"])
    )


ComplaintCategory = Literal[
    "late", "no_show", "vehicle_condition", "billing", "staff_conduct", "data_privacy", "other"
]


class ComplaintIn(BaseModel):
    """A customer's complaint about an order."""

    category: ComplaintCategory = Field(examples=["late"])
    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)
    ] = Field(examples=["代步车晚到了一个小时"])


class ResolutionIn(BaseModel):
    """How a complaint was resolved."""

    resolution: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)
    ] = Field(examples=["Apologised; the partner refunded the first day."])


def _complaint_json(row: ComplaintRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "order_id": row.order_id,
        "partner_id": row.partner_id,
        "category": row.category,
        "text": row.text,
        "created_at": row.created_at.isoformat(),
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "resolution": row.resolution,
    }


async def _order_partner(container: Container, order_id: str) -> str:
    async with container.uow() as uow:
        order = await uow.orders.get(order_id)
    if order is None:
        raise NotFound(f"No order {order_id}.")
    if order.partner_id is None:
        raise Problem(
            f"Order {order_id} has no partner to give feedback on (a quote, a search, or "
            "an order no partner took).",
            slug="no-partner-to-rate",
            title="Order has no partner",
            status=409,
        )
    return order.partner_id


@router.post(
    "/v1/orders/{order_id}/rating",
    status_code=201,
    summary="Rate an order",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def rate_order(
    request: Request,
    order_id: OrderIdPath,
    rating: Annotated[RatingIn, Body(examples=[{"stars": 5, "comment": "准时送达，车况很好"}])],
    principal: Writer,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """1 to 5 stars, once per order; feeds the partner's monthly scorecard."""
    partner_id = await _order_partner(container, order_id)

    async def run(_claim: Claim) -> Answer:
        now = container.clock()
        async with container.uow() as uow:
            if await uow.sla.rating_of(order_id) is not None:
                raise Problem(
                    f"Order {order_id} is already rated; a rating is given once.",
                    slug="already-rated",
                    title="Order already rated",
                    status=409,
                )
            row = RatingRow(
                order_id=order_id,
                partner_id=partner_id,
                stars=rating.stars,
                comment=rating.comment,
                created_at=now,
                month=month_of(now),
            )
            uow.sla.add_rating(row)
            await uow.commit()
        body = {
            "order_id": order_id,
            "partner_id": partner_id,
            "stars": rating.stars,
            "comment": rating.comment,
            "created_at": now.isoformat(),
        }
        return Answer(201, body)

    return await _idempotently(request, principal, idempotency_key, run)


@router.post(
    "/v1/orders/{order_id}/complaints",
    status_code=201,
    summary="Complain about an order",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def complain(
    request: Request,
    order_id: OrderIdPath,
    complaint: Annotated[
        ComplaintIn, Body(examples=[{"category": "late", "text": "代步车晚到了一个小时"}])
    ],
    principal: Writer,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A complaint about the partner's service; its resolution is recorded later."""
    partner_id = await _order_partner(container, order_id)

    async def run(_claim: Claim) -> Answer:
        now = container.clock()
        async with container.uow() as uow:
            row = ComplaintRow(
                order_id=order_id,
                partner_id=partner_id,
                category=complaint.category,
                text=complaint.text,
                created_at=now,
                month=month_of(now),
            )
            uow.sla.add_complaint(row)
            await uow.flush()
            body = _complaint_json(row)
            await uow.commit()
        return Answer(201, body)

    return await _idempotently(request, principal, idempotency_key, run)


@router.post(
    "/v1/complaints/{complaint_id}/resolve",
    summary="Record how a complaint was resolved",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def resolve_complaint(
    request: Request,
    complaint_id: Annotated[int, Path(examples=[1], ge=1, le=MAX_ROW_ID)],
    resolution: Annotated[
        ResolutionIn,
        Body(examples=[{"resolution": "Apologised; the partner refunded the first day."}]),
    ],
    principal: Operator,
    container: ContainerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """When and how the complaint was resolved (once)."""

    async def run(_claim: Claim) -> Answer:
        async with container.uow() as uow:
            row = await uow.sla.complaint(complaint_id, for_update=True)
            if row is None:
                raise NotFound(f"No complaint {complaint_id}.")
            if row.resolved_at is not None:
                raise Problem(
                    f"Complaint {complaint_id} was resolved at {row.resolved_at.isoformat()}.",
                    slug="already-resolved",
                    title="Complaint already resolved",
                    status=409,
                )
            row.resolved_at = container.clock()
            row.resolution = resolution.resolution
            body = _complaint_json(row)
            await uow.commit()
        return Answer(200, body)

    return await _idempotently(request, principal, idempotency_key, run)


@router.get(
    "/v1/alerts",
    summary="Partners burning their SLA error budget fast",
    responses=problem_responses(401, 403),
)
async def alerts(request: Request, _principal: Manager) -> dict[str, Any]:
    """Fast-burn alerts in force (multi-window burn rates); such partners are demoted."""
    monitor: AlertMonitor = request.app.state.alerts
    return {"alerts": [alert.as_json() for alert in monitor.active()]}
