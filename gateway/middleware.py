"""The request envelope: request id, access log, metrics, and the last-resort 500 problem.

Written as a pure ASGI middleware rather than Starlette's BaseHTTPMiddleware:
it wraps every request, so it must not add a task hop or buffer bodies.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Container
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from fastapi import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.logs import get_logger
from gateway.metrics import GatewayMetrics
from gateway.problems import PROBLEM_JSON, FieldError, Problem, problem_type

__all__ = ["REQUEST_ID_HEADER", "RequestEnvelopeMiddleware"]

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UNMATCHED = "<unmatched>"
_log = get_logger("gateway.http")


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestEnvelopeMiddleware:
    """Binds a request id, measures and logs each request, and renders unhandled errors."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: GatewayMetrics,
        known_partners: Callable[[], Container[str]],
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.known_partners = known_partners

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        # A request served inside another (a sandbox partner reached in-process) must
        # hand the outer request its log context back when it is done.
        outer = structlog.contextvars.get_contextvars()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            field = _nul_field(scope)
            if field is None:
                await self.app(scope, _refusing_nul_escapes(scope, receive), send_wrapper)
            else:
                await self._send_nul_refusal(scope, send_wrapper, request_id, field)
        except ClientDisconnect:
            # The client went away mid-request (a load balancer timeout, a sender
            # giving up): nothing to answer and nothing broken on our side.
            status = 499
            _log.info("http.client_disconnected", path=scope.get("path"))
        except Exception:
            # Answer first: the client's 500 must not depend on logging working.
            if not response_started:
                status = 500
                await self._send_internal_error(scope, send_wrapper, request_id)
            _log.exception("http.unhandled_error", path=scope.get("path"))
        finally:
            self._record(scope, status, time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**outer)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or _UNMATCHED
        partner = _partner_label(scope, self.known_partners())
        method = scope.get("method", "")
        self.metrics.observe_request(
            route=template, method=method, status=status, partner=partner, seconds=seconds
        )
        _log.info(
            "http.request",
            method=method,
            route=template,
            status=status,
            partner_id=partner if partner != "-" else None,
            duration_ms=round(seconds * 1000, 3),
        )

    @staticmethod
    async def _send_nul_refusal(scope: Scope, send: Send, request_id: str, field: str) -> None:
        # No identifier, month or search term contains NUL, and PostgreSQL text cannot
        # hold one: refused here, before any route passes it to a query.
        reason = "contains a NUL character (%00)"
        body = orjson.dumps(
            {
                "type": problem_type("validation-error"),
                "title": "Request is invalid",
                "status": 422,
                "detail": f"1 field is invalid: {field}: {reason}",
                "instance": scope.get("path", "").replace("\x00", ""),
                "request_id": request_id,
                "errors": [{"field": field, "reason": reason, "type": "nul_character"}],
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _send_internal_error(scope: Scope, send: Send, request_id: str) -> None:
        body = orjson.dumps(
            {
                "type": problem_type("internal-error"),
                "title": "Internal error",
                "status": 500,
                "detail": "The gateway failed to handle this request; quote the request id "
                "when reporting it.",
                "instance": scope.get("path"),
                "request_id": request_id,
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _nul_field(scope: Scope) -> str | None:
    """Where a NUL character is in the request's path or query (`path`, `query.<name>`)."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"\x00" not in query and b"%00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return f"query.{name.replace(chr(0), '')}"
    return None


_NUL_ESCAPE = b"\\u0000"
_CARRY = 64  # bytes of the previous chunk kept, so an escape split between chunks is seen


class NulInBody(Problem, HTTPException):
    """A JSON body holding `\\u0000`: no field accepts it, and PostgreSQL text and JSONB
    cannot store it. Raised while the body is read, before anything is stored.

    Also an HTTPException, so FastAPI's body reader lets it through instead of turning it
    into a generic 400; the Problem handler (first in the MRO) renders it.
    """

    def __init__(self) -> None:
        reason = "contains a NUL character (\\u0000), which no field accepts"
        Exception.__init__(self, reason)
        self.detail = f"1 field is invalid: body: {reason}"
        self.slug, self.title = "validation-error", "Request is invalid"
        self.status = self.status_code = 422
        self.errors = [FieldError(field="body", reason=reason, type="nul_character")]
        self.headers: dict[str, str] = {}
        self.extensions: dict[str, Any] = {}


def has_nul_escape(data: bytes) -> bool:
    """Whether JSON text `data` holds a `\\u0000` escape (not an escaped backslash before
    a literal `u0000`)."""
    at = data.find(_NUL_ESCAPE)
    while at != -1:
        start = at
        while start > 0 and data[start - 1] == 0x5C:  # backslashes before this one
            start -= 1
        if (at - start) % 2 == 0:
            return True
        at = data.find(_NUL_ESCAPE, at + 1)
    return False


def _refusing_nul_escapes(scope: Scope, receive: Receive) -> Receive:
    """`receive`, raising NulInBody when a JSON request's body holds a NUL escape."""
    headers = dict(scope.get("headers", ()))
    if b"json" not in headers.get(b"content-type", b"") or scope.get("method") == "GET":
        return receive
    tail = b""

    async def checked() -> Message:
        nonlocal tail
        message = await receive()
        body: bytes = message.get("body", b"")
        if body:
            if has_nul_escape(tail + body):
                raise NulInBody()
            tail = (tail + body)[-_CARRY:]
        return message

    return checked


def _partner_label(scope: Scope, known: Container[str]) -> str:
    # Only registered partners become label values: a caller must not be able to
    # create unbounded metric series by inventing partner ids in the path.
    params: dict[str, Any] = scope.get("path_params") or {}
    partner = params.get("partner_id")
    return partner if isinstance(partner, str) and partner in known else "-"
