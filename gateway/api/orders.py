"""The OEM app's API: start partner services, read and cancel orders, report repair orders."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Depends, Header, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from contracts import (
    EXAMPLE_CUSTOMER,
    EXAMPLE_LOCATION,
    EXAMPLE_REQUESTS,
    EXAMPLE_VEHICLE,
    CourtesyCarRequest,
    RepairOrderNotice,
    ServiceRequest,
)
from gateway.api.deps import ContainerDep, problem_responses
from gateway.dispatch.idempotency import (
    IDEMPOTENCY_HEADER,
    Answer,
    Claim,
    IdempotencyKeys,
    fingerprint,
    require_key,
)
from gateway.dispatch.service import Dispatcher, KeyAlreadyPlaced, Placement
from gateway.dispatch.views import OrderView
from gateway.oauth.resource import Principal, require_scopes
from gateway.problems import PROBLEM_JSON, Problem

__all__ = ["EXAMPLE_ORDER_ID", "EXAMPLE_REPAIR_ORDER", "router"]

router = APIRouter(tags=["orders"])

EXAMPLE_ORDER_ID = "ord_01jq3v8y0a1b2c3d4e5f6g7h8j"

EXAMPLE_REPAIR_ORDER: dict[str, Any] = {
    "repair_order_id": "RO-2030-000123",
    "customer": EXAMPLE_CUSTOMER.model_dump(mode="json", exclude_none=True),
    "vehicle": EXAMPLE_VEHICLE.model_dump(mode="json", exclude_none=True),
    "dealer": EXAMPLE_LOCATION.model_dump(mode="json", exclude_none=True),
    "estimated_duration": "PT26H",
    "checked_in_at": "2030-05-20T08:30:00+08:00",
    "vehicle_class": "compact",
}

_SERVICE_EXAMPLES = {
    op.value: {"summary": op.value, "value": req.model_dump(mode="json", exclude_none=True)}
    for op, req in EXAMPLE_REQUESTS.items()
}

Writer = Annotated[Principal, Depends(require_scopes("services:write"))]
Reader = Annotated[Principal, Depends(require_scopes("orders:read", "services:write", any_of=True))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_HEADER,
        description="Unique per intended operation (e.g. a UUID). The same key and body get "
        "the stored answer for 24 h; the same key with another body is a 422.",
        examples=["5f0c1c9e-6d1b-4a51-9a57-2f1d2c8e7b10"],
    ),
]
OrderIdPath = Annotated[str, Path(examples=[EXAMPLE_ORDER_ID], max_length=40)]


def _dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


def _keys(request: Request) -> IdempotencyKeys:
    keys: IdempotencyKeys = request.app.state.idempotency
    return keys


def _render(request: Request, answer: Answer, *, replayed: bool = False) -> Response:
    body = dict(answer.body)
    media_type = "application/json"
    if answer.is_problem:
        media_type = PROBLEM_JSON
        body["instance"] = request.url.path
        request_id = request.scope.get("state", {}).get("request_id")
        if request_id:
            body["request_id"] = request_id
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(
        orjson.dumps(body), status_code=answer.status, media_type=media_type, headers=headers
    )


async def _idempotently(
    request: Request,
    principal: Principal,
    key_header: str | None,
    run: Callable[[Claim], Awaitable[Answer]],
) -> Response:
    key = require_key(key_header)
    raw = await request.body()
    body = orjson.loads(raw) if raw else None
    claim_or_answer = await _keys(request).begin(
        principal.client_id, key, fingerprint(request.method, request.url.path, body)
    )
    if isinstance(claim_or_answer, Answer):
        return _render(request, claim_or_answer, replayed=True)
    claim = claim_or_answer
    try:
        answer = await run(claim)
    except BaseException:
        # Nothing was stored under the key (refusals are not kept): the key may be reused.
        await _keys(request).release(claim)
        raise
    await _keys(request).finish(claim, answer)
    return _render(request, answer)


async def _place(
    dispatcher: Dispatcher,
    service_request: ServiceRequest,
    claim: Claim,
    *,
    repair_order_id: str | None = None,
) -> Answer:
    placement = Placement(
        client_id=claim.client_id,
        idempotency_key=claim.key,
        request_hash=claim.fingerprint,
        repair_order_id=repair_order_id,
    )
    try:
        return await dispatcher.place(service_request, placement)
    except KeyAlreadyPlaced as placed:
        # Hot state forgot the key (a Redis restart) but the order table did not.
        existing = placed.row
    if existing.request_hash != claim.fingerprint:
        raise Problem(
            f"{IDEMPOTENCY_HEADER} {claim.key!r} was used with a different request body; "
            "use a new key for a different request.",
            slug="idempotency-key-reused",
            title="Idempotency-Key reused with another request",
            status=422,
        )
    if existing.answer_status is not None and existing.answer is not None:
        return Answer(existing.answer_status, existing.answer)
    # Cut short before the partner's answer was stored: place it again under the same
    # order id, which the partner deduplicates on.
    return await dispatcher.place(service_request, replace(placement, resume_order_id=existing.id))


@router.post(
    "/v1/service-requests",
    status_code=201,
    response_model=OrderView,
    summary="Start a partner service",
    responses={
        **problem_responses(400, 401, 403, 409, 422),
        502: {"description": "No partner could serve the request (problem document)"},
    },
)
async def create_service_request(
    request: Request,
    principal: Writer,
    service_request: Annotated[ServiceRequest, Body(openapi_examples=_SERVICE_EXAMPLES)],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Route a canonical request to a partner and answer with the order.

    The `operation` picks the body's shape. Routing picks the partner (or the
    pinned `partner_id`) and fails over to the next eligible one; insurance
    quotes and station searches ask every eligible partner at once and merge
    the answers that arrive within the fan-out deadline.
    """
    dispatcher = _dispatcher(request)
    return await _idempotently(
        request,
        principal,
        idempotency_key,
        lambda claim: _place(dispatcher, service_request, claim),
    )


@router.get(
    "/v1/orders/{order_id}",
    response_model=OrderView,
    summary="Read an order",
    responses=problem_responses(401, 403, 404),
)
async def get_order(request: Request, order_id: OrderIdPath, _principal: Reader) -> OrderView:
    """Where the order stands, who serves it, and what the partner answered."""
    return await _dispatcher(request).get(order_id)


@router.post(
    "/v1/orders/{order_id}/cancel",
    response_model=OrderView,
    summary="Cancel an order",
    responses=problem_responses(400, 401, 403, 404, 409, 503),
)
async def cancel_order(
    request: Request,
    order_id: OrderIdPath,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Ask the partner to cancel; a 409 problem says why an order can no longer be cancelled."""
    dispatcher = _dispatcher(request)

    async def run(_claim: Claim) -> Answer:
        view = await dispatcher.cancel(order_id)
        return Answer(200, view.model_dump(mode="json"))

    return await _idempotently(request, principal, idempotency_key, run)


class RepairOrderAnswer(BaseModel):
    """What the gateway did about a repair order."""

    repair_order_id: str
    courtesy_car: Literal["requested", "already_requested", "not_needed"]
    threshold_hours: float = Field(description="Repairs estimated longer get a courtesy car.")
    order: OrderView | None = None


def _courtesy_car(notice: RepairOrderNotice, now_window_start: Any) -> CourtesyCarRequest:
    start = max(notice.checked_in_at, now_window_start)
    days = max(1, math.ceil(notice.estimated_duration / timedelta(days=1)))
    return CourtesyCarRequest(
        customer=notice.customer,
        vehicle=notice.vehicle,
        pickup=notice.dealer,
        window_start=start,
        window_end=start + timedelta(hours=2),
        days=min(days, 60),
        vehicle_class=notice.vehicle_class,
        repair_order_id=notice.repair_order_id,
    )


@router.post(
    "/v1/oem/repair-orders",
    response_model=RepairOrderAnswer,
    status_code=201,
    summary="Report a repair order",
    responses={
        200: {"description": "No courtesy car needed, or one was already requested"},
        **problem_responses(400, 401, 403, 409, 422),
        502: {"description": "No partner could serve the courtesy car (problem document)"},
    },
)
async def report_repair_order(
    request: Request,
    principal: Writer,
    container: ContainerDep,
    notice: Annotated[RepairOrderNotice, Body(examples=[EXAMPLE_REPAIR_ORDER])],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A long repair (over `PGW_COURTESY_CAR_THRESHOLD_HOURS`) gets a courtesy car, once.

    The courtesy car is delivered to the dealer from the check-in time for as
    many days as the repair is estimated to take; reporting the same repair
    order again returns the order already placed.
    """
    dispatcher = _dispatcher(request)
    threshold = container.settings.courtesy_car_threshold_hours

    def answer(
        status: int,
        outcome: Literal["requested", "already_requested", "not_needed"],
        view: OrderView | None,
    ) -> Answer:
        body = RepairOrderAnswer(
            repair_order_id=notice.repair_order_id,
            courtesy_car=outcome,
            threshold_hours=threshold,
            order=view,
        )
        return Answer(status, body.model_dump(mode="json"))

    async def existing() -> OrderView | None:
        async with container.uow() as uow:
            row = await uow.orders.by_repair_order(notice.repair_order_id)
        return None if row is None else OrderView.of(row)

    async def run(claim: Claim) -> Answer:
        if notice.estimated_duration <= timedelta(hours=threshold):
            return answer(200, "not_needed", None)
        placed = await existing()
        if placed is not None:
            return answer(200, "already_requested", placed)
        service_request = _courtesy_car(notice, container.clock())
        try:
            result = await _place(
                dispatcher,
                service_request,
                claim,
                repair_order_id=notice.repair_order_id,
            )
        except IntegrityError:
            # Another report of the same repair order won the race.
            placed = await existing()
            if placed is None:
                raise
            return answer(200, "already_requested", placed)
        if result.is_problem:
            return result
        return answer(201, "requested", OrderView.model_validate(result.body))

    return await _idempotently(request, principal, idempotency_key, run)
