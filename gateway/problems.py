"""Problem details (RFC 9457): the one place that turns errors into HTTP answers.

Exception tree::

    Problem                       any error with a stable type, title and status
    ├── Unauthorized              401 no usable credentials; carries WWW-Authenticate
    ├── Forbidden                 403 the credentials do not allow this request
    ├── NotFound                  404 a named resource does not exist
    └── ServiceUnavailable        503 a dependency is down; carries Retry-After

Framework errors (validation, unknown routes, wrong methods, malformed JSON)
are rendered by the handlers registered in `install_problem_handlers`, and so is
a database or Redis that cannot be reached wherever a route meets it: a 503
with Retry-After, never the last-resort 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

__all__ = [
    "PROBLEM_JSON",
    "FieldError",
    "Forbidden",
    "NotFound",
    "Problem",
    "ProblemDocument",
    "ServiceUnavailable",
    "Unauthorized",
    "install_problem_handlers",
    "problem_body",
    "problem_response",
    "problem_type",
]

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "/problems/"


def problem_type(slug: str) -> str:
    """The stable `type` URI reference of a problem slug (documented in docs/problems.md)."""
    return _TYPE_BASE + slug


class FieldError(BaseModel):
    """One offending field of a request."""

    field: str = Field(description="Dotted location, e.g. `body.customer.phone`.")
    reason: str = Field(description="What is wrong with it.")
    type: str = Field(description="Machine-readable error kind, e.g. `missing`.")


class ProblemDocument(BaseModel):
    """The body of every error answer (RFC 9457)."""

    type: str = Field(examples=["/problems/validation-error"])
    title: str = Field(examples=["Request is invalid"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["1 field is invalid: body.category: Field required"])
    instance: str | None = Field(None, examples=["/v1/agreements/validate"])
    request_id: str | None = Field(None, examples=["4b1d0c3e9a6f4f7e8c2d5a1b3c4d5e6f"])
    errors: list[FieldError] | None = None


class Problem(Exception):
    """An error the gateway answers with a problem document."""

    slug = "error"
    title = "Request failed"
    status = 400

    def __init__(
        self,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        status: int | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.slug = slug or self.slug
        self.title = title or self.title
        self.status = status or self.status
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})


class Unauthorized(Problem):
    """The request carries no usable credentials (give the challenge in `WWW-Authenticate`)."""

    slug = "unauthorized"
    title = "Authentication required"
    status = 401


class Forbidden(Problem):
    """The credentials are valid but do not allow this request."""

    slug = "forbidden"
    title = "Forbidden"
    status = 403


class NotFound(Problem):
    """A named resource does not exist."""

    slug = "not-found"
    title = "Not found"
    status = 404


class ServiceUnavailable(Problem):
    """A dependency the request needs is down; the client should retry later."""

    slug = "service-unavailable"
    title = "Service unavailable"
    status = 503

    def __init__(self, detail: str, *, retry_after_seconds: int = 5, **kwargs: Any) -> None:
        headers = {"Retry-After": str(retry_after_seconds), **kwargs.pop("headers", {})}
        super().__init__(detail, headers=headers, **kwargs)


def problem_body(problem: Problem) -> dict[str, Any]:
    """The JSON document of a problem, without the per-request `instance` and `request_id`."""
    body: dict[str, Any] = {
        **problem.extensions,
        "type": problem_type(problem.slug),
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors:
        body["errors"] = [e.model_dump() for e in problem.errors]
    return body


def problem_response(
    request: Request | None,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> Response:
    """Render one problem document as an `application/problem+json` response."""
    body: dict[str, Any] = {
        **(extensions or {}),
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = request.scope.get("state", {}).get("request_id")
        if request_id:
            body["request_id"] = request_id
    if errors:
        body["errors"] = [e.model_dump() for e in errors]
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def _field_path(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif parts:
            parts.append(f".{item}")
        else:
            parts.append(str(item))
    return "".join(parts)


def _validation_problem(request: Request, exc: RequestValidationError) -> Response:
    raw = list(exc.errors())
    malformed = [e for e in raw if e.get("type") == "json_invalid"]
    if malformed:
        ctx = malformed[0].get("ctx") or {}
        loc = malformed[0].get("loc", ())
        position = f" at character {loc[1]}" if len(loc) > 1 else ""
        reason = ctx.get("error", "invalid JSON")
        return problem_response(
            request,
            status=400,
            slug="malformed-json",
            title="Request body is not valid JSON",
            detail=f"The body could not be parsed as JSON{position}: {reason}.",
            errors=[FieldError(field="body", reason=str(reason), type="json_invalid")],
        )
    errors = [
        FieldError(field=_field_path(e.get("loc", ())), reason=e.get("msg", ""), type=e["type"])
        for e in raw
    ]
    count = f"{len(errors)} field{'s are' if len(errors) != 1 else ' is'} invalid"
    summary = "; ".join(f"{e.field}: {e.reason}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return problem_response(
        request,
        status=422,
        slug="validation-error",
        title="Request is invalid",
        detail=f"{count}: {summary}{more}.",
        errors=errors,
    )


def _http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        detail = exc.detail if exc.detail != "Not Found" else None
        return problem_response(
            request,
            status=404,
            slug="not-found",
            title="Not found",
            detail=detail or f"No resource at {request.method} {request.url.path}.",
            headers=headers,
        )
    if exc.status_code == 405:
        allowed = headers.get("Allow", headers.get("allow", ""))
        return problem_response(
            request,
            status=405,
            slug="method-not-allowed",
            title="Method not allowed",
            detail=f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}.",
            headers=headers,
        )
    return problem_response(
        request,
        status=exc.status_code,
        slug=f"http-{exc.status_code}",
        title=str(exc.detail) if exc.detail else "HTTP error",
        detail=str(exc.detail),
        headers=headers,
    )


def _domain_problem(request: Request, exc: Problem) -> Response:
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extensions=exc.extensions,
    )


def _is_outage(exc: Exception) -> bool:
    """The database or Redis cannot be reached (down, restarting): a 503, not a 500."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | ConnectionError)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error as problem+json."""

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _validation_problem(request, exc)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return _http_problem(request, exc)

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return _domain_problem(request, exc)

    async def on_outage(request: Request, exc: Exception) -> Response:
        if not _is_outage(exc):
            raise exc  # a defect, not an outage: the envelope's last-resort 500
        return _domain_problem(
            request,
            ServiceUnavailable(
                "A service the gateway depends on cannot be reached right now; nothing was "
                "accepted. Retry after the time in Retry-After."
            ),
        )

    for outage in (DBAPIError, RedisConnectionError, RedisTimeoutError, ConnectionError):
        app.add_exception_handler(outage, on_outage)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Problem, on_problem)
