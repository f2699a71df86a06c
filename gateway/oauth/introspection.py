"""`POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662).

authlib authenticates the calling client (as at the token endpoint); the rest
is ours, because authlib's JWT profile treats JWT access tokens as
irrevocable, while the gateway revokes them by `jti` in the hot state, an
async store authlib's synchronous endpoints cannot wait on.

A client may revoke and introspect only the tokens issued to it: another
client's token is reported inactive by introspection and refused by
revocation (`invalid_grant`, as RFC 7009 section 2.1 asks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Error

from gateway.logs import get_logger
from gateway.oauth.forms import NO_STORE, OAuthResponse, error_response, parse_form
from gateway.oauth.server import AuthenticatedClient, authenticate
from gateway.oauth.tokens import AccessToken, InvalidToken

if TYPE_CHECKING:
    from gateway.bootstrap import Container

__all__ = ["introspect_token", "revoke_token"]

_log = get_logger("gateway.oauth")
_INACTIVE = OAuthResponse(200, {"active": False}, dict(NO_STORE))


async def _caller_and_token(
    container: Container,
    headers: Mapping[str, str],
    content_type: str | None,
    body: bytes,
    endpoint: str,
) -> tuple[AuthenticatedClient, str]:
    form = parse_form(content_type, body)
    token = form.get("token")
    if not token:
        raise InvalidRequestError("token is missing")
    # token_type_hint is only a hint (RFC 7009 section 2.1): the gateway has one token type.
    return await authenticate(container, headers, form, endpoint), token


def _introspection(access: AccessToken) -> dict[str, Any]:
    claims = access.claims
    body: dict[str, Any] = {
        "active": True,
        "scope": claims["scope"],
        "client_id": access.client_id,
        "sub": claims["sub"],
        "exp": claims["exp"],
        "iat": claims["iat"],
        "iss": claims["iss"],
        "aud": claims["aud"],
        "jti": access.jti,
        "token_type": "Bearer",
    }
    if "nbf" in claims:
        body["nbf"] = claims["nbf"]
    if access.partner_id is not None:
        body["partner_id"] = access.partner_id
    return body


async def introspect_token(
    container: Container, headers: Mapping[str, str], content_type: str | None, body: bytes
) -> OAuthResponse:
    """The token's claims when it is active and the caller's; `{"active": false}` otherwise."""
    try:
        caller, token = await _caller_and_token(
            container, headers, content_type, body, "introspection"
        )
    except OAuth2Error as error:
        return error_response(error)
    try:
        access = await container.tokens.verify(token, fresh=True)
    except InvalidToken:
        return _INACTIVE
    if access.client_id != caller.client_id:
        return _INACTIVE
    return OAuthResponse(200, _introspection(access), dict(NO_STORE))


async def revoke_token(
    container: Container, headers: Mapping[str, str], content_type: str | None, body: bytes
) -> OAuthResponse:
    """Revoke the caller's token everywhere; unknown, invalid or expired tokens are a no-op."""
    try:
        caller, token = await _caller_and_token(
            container, headers, content_type, body, "revocation"
        )
        try:
            access = await container.tokens.decode(token)
        except InvalidToken:
            return OAuthResponse(200, {}, dict(NO_STORE))
        if access.client_id != caller.client_id:
            raise InvalidGrantError("the token was issued to another client")
    except OAuth2Error as error:
        return error_response(error)
    await container.tokens.revoke(access)
    _log.info("oauth.token_revoked", client_id=caller.client_id, jti=access.jti)
    return OAuthResponse(200, {}, dict(NO_STORE))
