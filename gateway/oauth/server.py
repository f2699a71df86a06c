"""The token endpoint, on authlib's RFC 6749 server (see docs/decisions/0004-oauth-server.md).

authlib's `AuthorizationServer` is synchronous and asks for the client through
`query_client(client_id)`. Here the request is read and its client row fetched
asynchronously first; then a small per-request server, answering
`query_client` from that pre-fetched row, runs authlib's own flow (grant
dispatch, `client_secret_basic`/`client_secret_post` authentication, scope
checks, the bearer token response, RFC 6749 errors) in a worker thread, since
checking an scrypt hash takes tens of milliseconds of CPU.
"""

from __future__ import annotations

import asyncio
import binascii
from base64 import b64decode
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientCredentialsGrant,
    ClientMixin,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Request,
    scope_to_list,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator

from gateway.logs import get_logger
from gateway.oauth.forms import NO_STORE, OAuthResponse, error_response, parse_form
from gateway.oauth.hashing import verify_secret
from gateway.oauth.scopes import SCOPES
from gateway.persistence.tables import ClientRow

if TYPE_CHECKING:
    from gateway.bootstrap import Container

__all__ = ["AUTH_METHODS", "GRANT_TYPES", "AuthenticatedClient", "authenticate", "issue_token"]

AUTH_METHODS = ("client_secret_basic", "client_secret_post")
GRANT_TYPES = ("client_credentials",)
_TOKEN_PATH = "/oauth/token"
_MAX_CLIENT_ID = 64
_log = get_logger("gateway.oauth")


def _basic_credentials(authorization: str) -> str:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClientError(description="use HTTP Basic or form parameters")
    try:
        decoded = b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClientError(description="malformed Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id or not secret:
        raise InvalidClientError(description="malformed Basic credentials")
    return unquote(client_id)


def claimed_client_id(headers: Mapping[str, str], form: Mapping[str, str]) -> str:
    """The client id the request authenticates as (one method only); raises `OAuth2Error`."""
    authorization = headers.get("authorization")
    if authorization is not None:
        client_id = _basic_credentials(authorization)
        if "client_secret" in form or form.get("client_id", client_id) != client_id:
            raise InvalidRequestError("authenticate with one method: HTTP Basic or form parameters")
        return client_id
    client_id = form.get("client_id", "")
    if not client_id or not form.get("client_secret"):
        raise InvalidClientError(description="client authentication is missing")
    return client_id


class AuthenticatedClient(ClientMixin):  # type: ignore[misc]
    """authlib's view of one active client row, checked at one instant."""

    def __init__(self, row: ClientRow, now: datetime) -> None:
        self.row = row
        self.client_id = row.client_id
        self.partner_id = row.partner_id
        self.scopes = tuple(row.scopes)
        self._now = now

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_client_secret(self, client_secret: str) -> bool:
        if verify_secret(client_secret, self.row.secret_hash):
            return True
        # The secret a rotation replaced is accepted until the overlap ends.
        previous, until = self.row.previous_secret_hash, self.row.previous_secret_valid_until
        if previous is None or until is None or self._now >= until:
            return False
        return verify_secret(client_secret, previous)

    def get_allowed_scope(self, scope: str | None) -> str:
        requested = scope_to_list(scope) or list(self.scopes)
        return " ".join(s for s in dict.fromkeys(requested) if s in self.scopes)


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, uri: str, headers: Mapping[str, str], form: dict[str, str]) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class _ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    def validate_requested_scope(self) -> None:
        # authlib refuses scopes the server does not define; a client also gets only its own.
        super().validate_requested_scope()
        requested = scope_to_list(self.request.payload.scope) or []
        lacking = [s for s in requested if s not in self.client.scopes]
        if lacking:
            raise InvalidScopeError(f"the client is not granted: {' '.join(lacking)}")


_Mint = Callable[[AuthenticatedClient, str], str]


class _Server(AuthorizationServer):  # type: ignore[misc]
    """One request's authorization server: its only client is the pre-fetched one."""

    def __init__(
        self, claimed_client_id: str, client: AuthenticatedClient | None, mint: _Mint, lifetime: int
    ) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.claimed_client_id = claimed_client_id
        self.client = client
        self.register_grant(_ClientCredentials)
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda client, grant_type, user, scope: mint(client, scope),
                expires_generator=lifetime,
            ),
        )

    def query_client(self, client_id: str) -> AuthenticatedClient | None:
        client = self.client
        return client if client is not None and client.client_id == client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained JWTs: nothing to store."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No framework signals."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> OAuthResponse:
        return OAuthResponse(status, dict(body), {**dict(headers), **NO_STORE})

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> OAuthResponse:
        return error_response(error)


async def _prepare(
    container: Container, headers: Mapping[str, str], form: dict[str, str]
) -> tuple[_Server, _Request]:
    client_id = claimed_client_id(headers, form)
    row = None
    # Issued ids are short printable ASCII; anything else (a NUL byte, which PostgreSQL
    # text refuses) cannot name a client and fails authentication without a lookup.
    if len(client_id) <= _MAX_CLIENT_ID and client_id.isascii() and client_id.isprintable():
        async with container.uow() as uow:
            row = await uow.clients.get(client_id)
    now = container.clock()
    client = AuthenticatedClient(row, now) if row is not None and row.status == "active" else None
    key = await container.tokens.keys.signing_key()

    def mint(authenticated: AuthenticatedClient, scope: str) -> str:
        return container.tokens.mint(
            key=key,
            client_id=authenticated.client_id,
            partner_id=authenticated.partner_id,
            scope=scope,
            now=now,
        )

    server = _Server(client_id, client, mint, container.settings.token_lifetime_seconds)
    # authlib refuses plain http unless the host is loopback; the issuer URL is what clients use.
    uri = container.settings.public_base_url.rstrip("/") + _TOKEN_PATH
    return server, _Request(uri, headers, form)


async def issue_token(
    container: Container, headers: Mapping[str, str], content_type: str | None, body: bytes
) -> OAuthResponse:
    """`POST /oauth/token`: the client credentials grant, with RFC 6749 answers and errors."""
    client_id: str | None = None
    try:
        form = parse_form(content_type, body)
        if not form.get("grant_type"):
            raise InvalidRequestError("grant_type is missing")
        server, request = await _prepare(container, headers, form)
        client_id = server.claimed_client_id[:_MAX_CLIENT_ID]
        response: OAuthResponse = await asyncio.to_thread(server.create_token_response, request)
    except OAuth2Error as error:
        response = error_response(error)
    if response.status == 200:
        _log.info("oauth.token_issued", client_id=client_id, scope=response.body["scope"])
    else:
        _log.info("oauth.token_refused", client_id=client_id, error=response.body["error"])
    return response


async def authenticate(
    container: Container, headers: Mapping[str, str], form: dict[str, str], endpoint: str
) -> AuthenticatedClient:
    """The client authenticated by authlib's `client_secret_basic`/`_post`; raises `OAuth2Error`."""
    server, request = await _prepare(container, headers, form)
    client: AuthenticatedClient = await asyncio.to_thread(
        server.authenticate_client, request, list(AUTH_METHODS), endpoint
    )
    return client
