"""The OAuth 2.0 authorization server over HTTP: token, revocation, introspection, metadata.

The three `/oauth/*` endpoints answer RFC 6749 error JSON rather than problem
documents, because OAuth client libraries parse those (docs/problems.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from authlib.oauth2.rfc6749 import InvalidRequestError
from fastapi import APIRouter, Request, Security
from fastapi.responses import Response
from fastapi.security.http import HTTPBase
from pydantic import BaseModel, Field

from gateway.api.deps import ContainerDep
from gateway.bootstrap import Container
from gateway.oauth.forms import FORM_MEDIA_TYPE, OAuthResponse, error_response
from gateway.oauth.introspection import introspect_token, revoke_token
from gateway.oauth.metadata import JWKS_PATH, METADATA_PATH, server_metadata
from gateway.oauth.server import issue_token

__all__ = ["router"]

router = APIRouter(tags=["oauth"])

_MAX_FORM_BYTES = 16 * 1024
_client_basic = HTTPBase(
    scheme="basic",
    scheme_name="client_secret_basic",
    description="The client id and secret as HTTP Basic credentials (or send them as the "
    "form parameters `client_id` and `client_secret`: `client_secret_post`).",
    auto_error=False,
)


class TokenAnswer(BaseModel):
    """An access token (RFC 6749 section 5.1)."""

    access_token: str = Field(description="A JWT (RFC 9068); send it as `Authorization: Bearer`.")
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(description="Seconds until it expires.", examples=[900])
    scope: str = Field(
        description="The scopes granted, space-separated.", examples=["events:write"]
    )


class OAuthErrorAnswer(BaseModel):
    """An OAuth error (RFC 6749 section 5.2)."""

    error: str = Field(examples=["invalid_scope"])
    error_description: str | None = Field(None, examples=["the client is not granted: admin"])


class IntrospectionAnswer(BaseModel):
    """Whether a token is active and, if so, its claims (RFC 7662 section 2.2)."""

    active: bool
    scope: str | None = None
    client_id: str | None = None
    sub: str | None = None
    exp: int | None = None
    iat: int | None = None
    nbf: int | None = None
    iss: str | None = None
    aud: str | None = None
    jti: str | None = None
    token_type: str | None = None
    partner_id: str | None = None


def _form_body(
    properties: Mapping[str, Any], required: list[str], examples: Mapping[str, Any]
) -> dict[str, Any]:
    schema = {"type": "object", "properties": dict(properties), "required": required}
    media = {"schema": schema, "examples": {k: {"value": v} for k, v in examples.items()}}
    return {"requestBody": {"required": True, "content": {FORM_MEDIA_TYPE: media}}}


_CLIENT_FIELDS = {
    "client_id": {"type": "string", "description": "With `client_secret_post` only."},
    "client_secret": {"type": "string", "description": "With `client_secret_post` only."},
}
_OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    "default": {
        "description": "RFC 6749 error JSON: `invalid_request` (400), `invalid_client` (401, "
        "with a `Basic` challenge), `invalid_grant`, `invalid_scope`, `unsupported_grant_type` "
        "(400)",
        "model": OAuthErrorAnswer,
    }
}
# A token's example needs no value: unknown tokens are answered as RFC 7009 and 7662 ask.
_SOME_TOKEN = "eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl"


async def _read_form(request: Request) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _render(answer: OAuthResponse) -> Response:
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-type"}
    return Response(
        orjson.dumps(answer.body),
        status_code=answer.status,
        media_type="application/json",
        headers=headers,
    )


_Flow = Callable[[Container, Mapping[str, str], str | None, bytes], Awaitable[OAuthResponse]]


async def _answer(flow: _Flow, request: Request, container: Container) -> Response:
    body = await _read_form(request)
    if body is None:
        too_large = InvalidRequestError(f"the form body exceeds {_MAX_FORM_BYTES} bytes")
        return _render(error_response(too_large))
    content_type = request.headers.get("content-type")
    return _render(await flow(container, request.headers, content_type, body))


@router.post(
    "/oauth/token",
    summary="Get an access token (client credentials)",
    response_model=TokenAnswer,
    responses=_OAUTH_ERRORS,
    dependencies=[Security(_client_basic)],
    openapi_extra=_form_body(
        {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "scope": {
                "type": "string",
                "description": "Space-separated scopes, each granted to the client; "
                "omitted: every scope the client holds.",
            },
            **_CLIENT_FIELDS,
        },
        ["grant_type"],
        {
            "all granted scopes": {"grant_type": "client_credentials"},
            "one scope": {"grant_type": "client_credentials", "scope": "events:write"},
        },
    ),
)
async def token(request: Request, container: ContainerDep) -> Response:
    """Exchange client credentials for a JWT access token (RFC 6749 section 4.4, RFC 9068).

    Authenticate with HTTP Basic (`client_secret_basic`) or with `client_id` and
    `client_secret` form parameters (`client_secret_post`), not both. The token
    lives `expires_in` seconds (at most 15 minutes); get a new one rather than
    refreshing. Answers are never cacheable.
    """
    return await _answer(issue_token, request, container)


@router.post(
    "/oauth/revoke",
    summary="Revoke an access token",
    response_model=dict[str, Any],
    responses=_OAUTH_ERRORS,
    dependencies=[Security(_client_basic)],
    openapi_extra=_form_body(
        {
            "token": {"type": "string", "description": "The access token to revoke."},
            "token_type_hint": {"type": "string", "enum": ["access_token"]},
            **_CLIENT_FIELDS,
        },
        ["token"],
        {"revoke": {"token": _SOME_TOKEN, "token_type_hint": "access_token"}},
    ),
)
async def revoke(request: Request, container: ContainerDep) -> Response:
    """Revoke one of the calling client's tokens everywhere, at once (RFC 7009).

    An unknown, invalid or expired token is answered 200 too (there is nothing
    left to revoke); another client's token is refused with `invalid_grant`.
    """
    return await _answer(revoke_token, request, container)


@router.post(
    "/oauth/introspect",
    summary="Inspect an access token",
    response_model=IntrospectionAnswer,
    response_model_exclude_none=True,
    responses=_OAUTH_ERRORS,
    dependencies=[Security(_client_basic)],
    openapi_extra=_form_body(
        {
            "token": {"type": "string", "description": "The access token to inspect."},
            "token_type_hint": {"type": "string", "enum": ["access_token"]},
            **_CLIENT_FIELDS,
        },
        ["token"],
        {"introspect": {"token": _SOME_TOKEN}},
    ),
)
async def introspect(request: Request, container: ContainerDep) -> Response:
    """Whether one of the calling client's tokens is active, with its claims (RFC 7662).

    Expired, revoked, malformed and other clients' tokens are `{"active": false}`.
    """
    return await _answer(introspect_token, request, container)


@router.get(
    JWKS_PATH,
    summary="The token signing keys (JWKS)",
    response_model=dict[str, list[dict[str, Any]]],
)
async def jwks(container: ContainerDep) -> Response:
    """Public keys of the access tokens' signatures (ES256), matched by `kid`.

    A rotated-out key stays listed until every token it signed has expired.
    Cache for at most a minute; re-read it when a token names an unknown `kid`.
    """
    keys = await container.tokens.keys.jwks()
    return Response(
        orjson.dumps(keys),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=60"},
    )


@router.get(
    METADATA_PATH,
    summary="Authorization server metadata (RFC 8414)",
    response_model=dict[str, Any],
)
async def metadata(container: ContainerDep) -> dict[str, Any]:
    """Endpoints, grant types, client authentication methods and scopes of this server."""
    return server_metadata(container.settings)
