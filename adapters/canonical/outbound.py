"""The published canonical partner API (dialect ``canonical``), as the gateway calls it.

Partners without a custom adapter implement this API (the partner-facing page
is ``docs/partners/canonical-api.md``). Every request carries the agreement's
auth (API key header, HMAC signature or OAuth 2.0 bearer token); every body is
JSON in the canonical contract's own terms: money as ``{"amount": <fen>,
"currency": "CNY"}``, times as ISO 8601 with an offset, enums as their
lower-case values.

Place an order (every operation but ``charging.search``)::

    POST /v1/orders
    Idempotency-Key: <stable per order and partner>
    {"order_id": "ord_...", "operation": "courtesy_car.book",
     "request": <the canonical request JSON, as the agreement's masking left it>}

    201 {"partner_reference": "...", "status": "accepted" | "dispatched" | "completed",
         "result": <the canonical result JSON of the operation (contracts.RESULT_MODELS)>}

``request`` is the canonical request after masking: fields the agreement does
not disclose are absent and masked values stand in for others, so partners
read it tolerantly. ``result.operation`` may be omitted and must otherwise be
the order's operation; a result carrying a ``partner_reference`` (a courtesy
car booking) must repeat the top-level one. The partner deduplicates on
``order_id`` and the ``Idempotency-Key``: a repeated order answers ``200`` with
the first answer's body, so the gateway may resend any order after a timeout.

Cancel an order::

    POST /v1/orders/{partner_reference}/cancel     {"order_id": "ord_..."}
    200 {"status": "cancelled"}         (also when it already was cancelled)
    409 problem                         too late (delivered, completed, issued)

Search charging stations (a read)::

    GET /v1/stations?lat=22.5405&lon=113.9346&radius_m=3000&connector=gbt_dc&limit=20
    GET /v1/stations?city=Shenzhen&limit=20      (partners cleared for public data only:
                                                  no point, stations in id order, no distance)
                    [&cursor=<next_cursor of the previous page>]
    200 {"stations": [<canonical ChargingStation JSON>, ...], "next_cursor": "..." | null}

Stations come nearest first; a page may hold fewer than ``limit``. The adapter
asks for the stations still missing and follows ``next_cursor`` until it has
``limit`` stations, the cursor is null, or ``MAX_STATION_PAGES`` pages were
read (a partner that never stops paging does not hold the call forever).

Errors are RFC 9457 ``application/problem+json``: ``{"type", "title",
"status", "detail", "code"}`` with ``code`` a stable snake_case string. The
adapter maps them by status: 401/403 -> ``PartnerAuthFailed``; 429 ->
``PartnerRateLimited`` (``Retry-After`` seconds or HTTP date); 408/425/5xx ->
``PartnerUnavailable``; 409 on cancel -> ``PartnerRejected(code=
"not_cancellable")``; any other 4xx with a ``code`` -> ``PartnerRejected(code=
<code lower-cased>)``. A 4xx that is not a problem document with a code, any
other status, and a success body that does not fit the contract are the
partner not keeping to the published API -> ``PartnerUnavailable``. Messages
quote statuses, codes and operations only, never ``detail`` (it may carry
personal data).

Partners report what happens next by posting canonical events
(``contracts.CanonicalEvent``) to the gateway's webhook intake as they are;
the gateway parses those itself (``docs/webhooks.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from adapters._http import canonical, read_json, read_model, send, status_error
from adapters._wire import WireModel
from adapters.errors import PartnerCallError, PartnerRejected, PartnerUnavailable
from adapters.protocol import OutboundCall
from contracts import (
    CANONICAL_DIALECT,
    SERVICE_RESULT_ADAPTER,
    CourtesyCarBooking,
    Operation,
    PartnerReference,
    ServiceResult,
    StationSearchRequest,
)

__all__ = ["MAX_STATION_PAGES", "CanonicalApi"]

MAX_STATION_PAGES: Final = 10
"""The most pages of one station search the adapter reads."""

_ORDERS: Final = "/v1/orders"
_STATIONS: Final = "/v1/stations"
_DEFAULT_LIMIT: Final[int] = StationSearchRequest.model_fields["limit"].default
_NOT_CANCELLABLE: Final = "not_cancellable"


class _OrderAnswer(WireModel):
    partner_reference: PartnerReference
    status: Literal["accepted", "dispatched", "completed"]
    result: dict[str, Any]


class _StationPage(WireModel):
    stations: list[dict[str, Any]]
    next_cursor: str | None = None


class _Cancelled(WireModel):
    status: Literal["cancelled"]


class _Problem(WireModel):
    code: str


def _problem_code(response: httpx.Response) -> str | None:
    """The ``code`` of an RFC 9457 problem body, or None when the body is not one."""
    try:
        return _Problem.model_validate(response.json()).code.lower() or None
    except (ValueError, ValidationError):
        return None


def _failure(response: httpx.Response, what: str) -> PartnerCallError:
    """The error an unsuccessful answer to ``what`` means."""
    code = _problem_code(response)
    shown = f"{what}: {code}" if code else what
    implied = status_error(response, shown)
    if implied is not None:
        return implied
    status = response.status_code
    if 400 <= status < 500 and code is not None:
        return PartnerRejected(f"{what} refused: HTTP {status} {code}", code=code)
    return PartnerUnavailable(f"HTTP {status} to {what} is not an answer of the published API")


class CanonicalApi:
    """The adapter of the published canonical partner API (see the module docstring)."""

    dialect = CANONICAL_DIALECT

    def operations(self) -> frozenset[Operation]:
        """Every canonical operation: the published API serves them all."""
        return frozenset(Operation)

    def retry_safe(self, operation: Operation) -> bool:
        """True for every operation.

        ``charging.search`` is a read; every order is deduplicated by the
        partner on our ``order_id`` and the ``Idempotency-Key`` (the published
        API requires it and answers a repeat with the first answer).
        """
        return True

    async def call(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        """Place the order (or run the search) and return the canonical result."""
        if call.operation is Operation.CHARGING_SEARCH:
            return await self._search(http, call.payload)
        response = await send(
            http,
            "POST",
            _ORDERS,
            json={
                "order_id": call.order_id,
                "operation": call.operation.value,
                "request": dict(call.payload),
            },
            headers={"Idempotency-Key": call.idempotency_key},
        )
        if response.status_code not in (200, 201):
            raise _failure(response, call.operation.value)
        answer = read_model(_OrderAnswer, read_json(response), what=f"{call.operation} answer")
        result = canonical(
            lambda: SERVICE_RESULT_ADAPTER.validate_python(
                {"operation": call.operation.value, **answer.result}
            ),
            what=f"{call.operation} result",
        )
        if result.operation != call.operation:
            raise PartnerUnavailable(f"{call.operation} answered with a {result.operation} result")
        if (
            isinstance(result, CourtesyCarBooking)
            and result.partner_reference != answer.partner_reference
        ):
            raise PartnerUnavailable(f"{call.operation} result names another partner_reference")
        return result

    async def cancel(
        self, http: httpx.AsyncClient, *, order_id: str, partner_reference: str | None
    ) -> None:
        """Cancel by the partner's reference; 409 (too late) -> ``not_cancellable``."""
        if partner_reference is None:
            raise PartnerRejected(
                "cancel: the partner gave no reference for this order", code=_NOT_CANCELLABLE
            )
        response = await send(
            http,
            "POST",
            f"{_ORDERS}/{quote(partner_reference, safe='')}/cancel",
            json={"order_id": order_id},
        )
        if response.status_code == 409:
            code = _problem_code(response)
            raise PartnerRejected(
                f"cancel refused: too late (HTTP 409 {code or 'without a code'})",
                code=_NOT_CANCELLABLE,
            )
        if response.status_code != 200:
            raise _failure(response, "cancel")
        read_model(_Cancelled, read_json(response), what="cancel answer")

    async def _search(self, http: httpx.AsyncClient, payload: Mapping[str, Any]) -> ServiceResult:
        location = payload.get("location")
        location = location if isinstance(location, Mapping) else {}
        limit = payload.get("limit") or _DEFAULT_LIMIT
        query: dict[str, Any]
        if location.get("lat") is not None and location.get("lon") is not None:
            query = {"lat": location["lat"], "lon": location["lon"]}
            if payload.get("radius_m") is not None:
                query["radius_m"] = payload["radius_m"]
        elif location.get("city"):
            # A partner cleared for public data only gets the city, not the point.
            query = {"city": location["city"]}
        else:
            raise PartnerRejected(
                "charging.search: neither location.lat/lon nor location.city disclosed",
                code="missing_field",
            )
        for field in ("connector",):
            if payload.get(field) is not None:
                query[field] = payload[field]
        stations: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_STATION_PAGES):
            page_query = {**query, "limit": limit - len(stations)}
            if cursor is not None:
                page_query["cursor"] = cursor
            response = await send(http, "GET", _STATIONS, params=page_query)
            if response.status_code != 200:
                raise _failure(response, "charging.search")
            page = read_model(_StationPage, read_json(response), what="station page")
            stations.extend(page.stations[: limit - len(stations)])
            cursor = page.next_cursor
            if cursor is None or len(stations) >= limit:
                break
        return canonical(
            lambda: SERVICE_RESULT_ADAPTER.validate_python(
                {"operation": Operation.CHARGING_SEARCH.value, "stations": stations}
            ),
            what="charging.search result",
        )
