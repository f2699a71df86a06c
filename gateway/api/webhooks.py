"""Partner webhook intake (`POST /v1/partners/{partner_id}/events`) and the event catalog."""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from redis.exceptions import RedisError

from contracts import EventCatalogEntry, event_catalog
from gateway.api.deps import ContainerDep, problem_responses
from gateway.bootstrap import Container
from gateway.oauth.resource import Principal, require_scopes
from gateway.problems import NotFound, Problem, ServiceUnavailable
from gateway.webhooks.intake import Answer, WebhookIntake
from gateway.webhooks.signature import SignatureError, SignatureFailure, verify

__all__ = ["EXAMPLE_DELIVERY", "router"]

router = APIRouter(tags=["webhooks"])

# A canonical event from CityCar (a partner posting the published events as they are).
EXAMPLE_DELIVERY: dict[str, Any] = {
    "event_id": "evt_01jq3v9c2m7d8k4r5t6w7x8y9z",
    "type": "rental.order.accepted",
    "partner_id": "citycar",
    "order_id": "ord_01jq3v8y0a1b2c3d4e5f6g7h8j",
    "partner_reference": "CC-20261122-0042",
    "occurred_at": "2026-11-22T10:31:00+08:00",
    "sequence": 1,
    "data": {"eta": "2026-11-22T10:55:00+08:00"},
}

_JSON_TYPES = ("application/json",)


async def _intake(request: Request) -> WebhookIntake:
    intake: WebhookIntake = request.app.state.webhook_intake
    return intake


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _check_rate(container: Container, partner_id: str, limit: int) -> None:
    now = time.time()
    window = int(now // 60)
    try:
        count = await container.hot_state.increment(
            container.keys.webhook_rate_window(partner_id, window)
        )
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable("Rate limits cannot be checked right now; retry.") from exc
    if count > limit:
        retry_after = max(1, 60 - int(now % 60))
        raise Problem(
            f"{partner_id} may send {limit} deliveries a minute (its agreement); "
            f"retry after {retry_after} s",
            slug="rate-limited",
            title="Too many deliveries",
            status=429,
            headers={"Retry-After": str(retry_after)},
        )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = Problem(
        f"The body exceeds {limit} bytes; split the delivery or send less.",
        slug="payload-too-large",
        title="Payload too large",
        status=413,
    )
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _signature_problem(error: SignatureError) -> Problem:
    slug = {
        SignatureFailure.MISSING_HEADERS: "missing-signature",
        SignatureFailure.INVALID_TIMESTAMP: "invalid-signature",
        SignatureFailure.STALE_TIMESTAMP: "stale-timestamp",
        SignatureFailure.BAD_SIGNATURE: "invalid-signature",
        SignatureFailure.NO_SECRET: "invalid-signature",
        SignatureFailure.INVALID_ID: "invalid-webhook-id",
    }[error.failure]
    return Problem(
        error.detail + " (Standard Webhooks: HMAC-SHA256 over webhook-id.webhook-timestamp.body)",
        slug=slug,
        title="Webhook signature refused",
        status=401,
        headers={"WWW-Authenticate": 'Webhook-Signature realm="partner-gateway"'},
    )


def _respond(answer: Answer, request: Request) -> Response:
    headers = {"X-Webhook-Replay": "true"} if answer.replay else {}
    media = "application/problem+json" if answer.status >= 400 else "application/json"
    body = answer.body
    if answer.status >= 400:
        # A problem document names this request, as every other problem does.
        body = {
            **body,
            "instance": request.url.path,
            "request_id": request.scope.get("state", {}).get("request_id"),
        }
    # Sorted keys: a replay read back from JSONB is then byte-identical to the first answer.
    content = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return Response(content, answer.status, headers=headers, media_type=media)


@router.post(
    "/v1/partners/{partner_id}/events",
    summary="Deliver a partner event (Standard Webhooks signed)",
    status_code=200,
    responses={
        202: {"description": "Stored; kept as a dead letter (with a warning) or applied shortly"},
        **problem_responses(401, 403, 404, 409, 413, 415, 422, 429, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/CanonicalEvent"},
                    "example": EXAMPLE_DELIVERY,
                }
            },
        }
    },
)
async def receive_event(
    request: Request,
    container: ContainerDep,
    partner_id: Annotated[str, Path(description="The sending partner.", examples=["citycar"])],
    principal: Annotated[Principal, Depends(require_scopes("events:write"))],
    intake: Annotated[WebhookIntake, Depends(_intake)],
) -> Response:
    """Accept one signed delivery: stored durably before any 2xx, applied to its order once.

    Partners posting the published dialect send a canonical event (see
    `GET /v1/events/catalog`); others post their own dialect, which their
    adapter translates. A repeated `webhook-id` returns the first answer
    (with `X-Webhook-Replay: true`) and changes nothing. 200: applied (or
    recorded as history when older than the order's state); 202: kept as a
    dead letter (unknown order, untranslatable dialect) for replay, nothing to
    resend; 422: a canonical event that breaks the schema; 409: an event the
    order's state machine refuses; 403: another partner's order.
    """
    started = time.perf_counter()
    if partner_id not in container.registry:
        raise NotFound(
            f"No partner '{partner_id}' in the registry.",
            slug="unknown-partner",
            title="Unknown partner",
        )
    if principal.partner_id != partner_id:
        raise Problem(
            f"This token belongs to {principal.partner_id or 'a non-partner client'}; "
            f"it may not deliver events as {partner_id}.",
            slug="wrong-partner",
            title="Token of another partner",
            status=403,
        )
    agreement = container.registry.get(partner_id)
    await _check_rate(container, partner_id, agreement.webhook.rate_limit_per_minute)
    media_type = _media_type(request)
    if media_type not in _JSON_TYPES and not media_type.endswith("+json"):
        raise Problem(
            f"Content-Type must be application/json, not {media_type or 'missing'}.",
            slug="unsupported-media-type",
            title="Unsupported media type",
            status=415,
        )
    body = await _read_body(request, container.settings.webhook_body_limit_bytes)
    headers = {
        k: request.headers.get(k, "")
        for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    try:
        webhook_id, timestamp = await _verify(intake, partner_id, headers, body, container)
    except SignatureError as error:
        container.metrics.webhook_signature_failures.labels(partner_id, error.failure).inc()
        container.metrics.webhook_deliveries.labels(partner_id, "refused").inc()
        raise _signature_problem(error) from error
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            f"The body is not valid JSON: {exc}.",
            slug="malformed-payload",
            title="Delivery is not a JSON object",
            status=422,
        ) from exc
    if not isinstance(parsed, dict):
        raise Problem(
            "The body must be a JSON object (one event per delivery).",
            slug="malformed-payload",
            title="Delivery is not a JSON object",
            status=422,
        )
    stored = await intake.store(
        partner_id=partner_id,
        webhook_id=webhook_id,
        headers={
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "client_id": principal.client_id,
        },
        body=body,
    )
    answer = await intake.process(stored.row.id, replay=not stored.created)
    if answer.replay:
        container.metrics.webhook_replays.labels(partner_id).inc()
    container.metrics.webhook_deliveries.labels(partner_id, answer.outcome).inc()
    container.metrics.webhook_intake_latency.labels(partner_id).observe(
        time.perf_counter() - started
    )
    return _respond(answer, request)


async def _verify(
    intake: WebhookIntake,
    partner_id: str,
    headers: dict[str, str],
    body: bytes,
    container: Container,
) -> tuple[str, int]:
    tolerance = container.settings.webhook_tolerance_seconds
    now = time.time()
    try:
        secrets = await intake.secrets_for(partner_id)
        return verify(headers, body, secrets, now=now, tolerance_seconds=tolerance)
    except SignatureError as error:
        if error.failure not in (SignatureFailure.BAD_SIGNATURE, SignatureFailure.NO_SECRET):
            raise
    # The cached secrets may predate a rotation: check once more with fresh ones.
    secrets = await intake.secrets_for(partner_id, fresh=True)
    return verify(headers, body, secrets, now=now, tolerance_seconds=tolerance)


@router.get(
    "/v1/events/catalog",
    response_model=list[EventCatalogEntry],
    summary="Canonical event types, their JSON Schemas and examples",
)
async def catalog() -> list[EventCatalogEntry]:
    """Every canonical event type a partner can deliver, with its data schema and an example."""
    return event_catalog()
