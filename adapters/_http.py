"""Outbound building blocks the dialect packages share: sending, and reading failures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from adapters.errors import (
    PartnerAuthFailed,
    PartnerCallError,
    PartnerRateLimited,
    PartnerUnavailable,
)

__all__ = ["canonical", "read_json", "read_model", "retry_after_seconds", "send", "status_error"]

M = TypeVar("M", bound=BaseModel)
_MAX_RETRY_AFTER: Final = 300.0


async def send(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Send one request; transport failures become ``PartnerUnavailable``.

    A connection that could not be made is ``sent=False`` (safe to repeat);
    a timeout after the request left is ``timed_out=True`` (the partner may
    have acted on it).
    """
    try:
        return await http.request(method, path, json=json, params=params, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise PartnerUnavailable(f"cannot connect: {type(exc).__name__}", sent=False) from exc
    except httpx.TimeoutException as exc:
        raise PartnerUnavailable(
            f"no answer in time: {type(exc).__name__}", timed_out=True
        ) from exc
    except httpx.TransportError as exc:
        raise PartnerUnavailable(f"transport failure: {type(exc).__name__}") from exc


def retry_after_seconds(response: httpx.Response, now: datetime | None = None) -> float | None:
    """The ``Retry-After`` pause in seconds (delta or HTTP date), capped at 5 minutes."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(delta, 0.0), _MAX_RETRY_AFTER)


def status_error(response: httpx.Response, detail: str = "") -> PartnerCallError | None:
    """The error the HTTP status alone implies (401/403, 429, 5xx), or None.

    Dialect-specific statuses (4xx rejections with the partner's own code) are
    left to the adapter, which knows where its partner puts the code.
    """
    status = response.status_code
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        return PartnerAuthFailed(f"HTTP {status}{suffix}")
    if status == 429:
        return PartnerRateLimited(f"HTTP 429{suffix}", retry_after=retry_after_seconds(response))
    if status >= 500 or status in (408, 425):
        return PartnerUnavailable(f"HTTP {status}{suffix}")
    return None


def read_json(response: httpx.Response) -> Any:
    """The body as JSON; an unreadable body means the partner is misbehaving."""
    try:
        return response.json()
    except ValueError as exc:
        raise PartnerUnavailable(f"HTTP {response.status_code} body is not JSON") from exc


def read_model(model: type[M], data: Any, *, what: str) -> M:
    """Validate a partner response section into a wire model, or ``PartnerUnavailable``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or what
        raise PartnerUnavailable(f"unreadable {what}: {where}: {first['msg']}") from exc


def canonical(build: Callable[[], M], *, what: str) -> M:
    """Build a canonical result; values the contract refuses make the answer unusable."""
    try:
        return build()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or what
        raise PartnerUnavailable(
            f"{what} does not fit the contract: {where}: {first['msg']}"
        ) from exc
