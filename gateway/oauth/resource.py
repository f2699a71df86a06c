"""The resource-server side: a FastAPI dependency that admits a bearer token with scopes.

Usage::

    principal: Annotated[Principal, Depends(require_scopes("events:write"))]

Refusals are problem documents with an RFC 6750 challenge: no or malformed
`Authorization` -> 401 `unauthorized`; invalid, expired or revoked token ->
401 `invalid-token` (`error="invalid_token"`); a valid token without a needed
scope -> 403 `insufficient-scope` (`error="insufficient_scope"`, `scope=`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from gateway.oauth.forms import REALM
from gateway.oauth.scopes import SCOPES, check_scopes
from gateway.oauth.tokens import InvalidToken
from gateway.problems import Forbidden, ServiceUnavailable, Unauthorized

__all__ = ["Principal", "require_scopes"]


@dataclass(frozen=True)
class Principal:
    """Who called, as their access token says."""

    client_id: str
    partner_id: str | None
    scopes: frozenset[str]
    jti: str
    expires_at: datetime


# Documents the bearer scheme in OpenAPI (and lets /docs fetch a token); the header is
# parsed below, so missing or malformed credentials get the gateway's own problem.
_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth/token", scopes=dict(SCOPES))
    ),
    scheme_name="oauth2",
    description="OAuth 2.0 client credentials; send the access token as `Bearer`.",
    auto_error=False,
)


def _challenge(error: str | None = None, description: str | None = None, **extra: str) -> str:
    params = [f'realm="{REALM}"']
    if error:
        params.append(f'error="{error}"')
    if description:
        params.append(f'error_description="{description}"')
    params.extend(f'{name}="{value}"' for name, value in extra.items())
    return "Bearer " + ", ".join(params)


def _bearer(authorization: str | None) -> str:
    if authorization is None:
        raise Unauthorized(
            "This operation needs an access token: send `Authorization: Bearer <token>` "
            "(get one from POST /oauth/token).",
            headers={"WWW-Authenticate": _challenge()},
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthorized(
            "The Authorization header is malformed: send `Authorization: Bearer <token>`.",
            # RFC 6750 section 3.1: no error code for an unsupported or unusable scheme.
            headers={"WWW-Authenticate": _challenge()},
        )
    return token


def require_scopes(*scopes: str, any_of: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting a valid, unrevoked token carrying every one of `scopes`.

    With `any_of=True` one of them is enough (e.g. any manager scope reads the registry).
    """
    needed = check_scopes(scopes)

    # A default rather than `Annotated`: the scopes are local to this call, and FastAPI
    # resolves (postponed) annotations from the module's globals.
    async def principal(
        request: Request,
        authorization: str | None = Security(_scheme, scopes=list(needed)),
    ) -> Principal:
        token = _bearer(authorization)
        try:
            access = await request.app.state.container.tokens.verify(token)
        except (SQLAlchemyError, RedisError, OSError) as exc:
            # Revocation and client status cannot be checked: refuse for now, never admit.
            raise ServiceUnavailable(
                "The access token cannot be checked right now; retry shortly."
            ) from exc
        except InvalidToken as exc:
            reason = str(exc)
            raise Unauthorized(
                f"The access token was refused: {reason}.",
                slug="invalid-token",
                title="Invalid access token",
                headers={"WWW-Authenticate": _challenge("invalid_token", reason)},
            ) from exc
        missing = [s for s in needed if s not in access.scopes]
        if missing and (not any_of or len(missing) == len(needed)):
            wanted = " or ".join(missing) if any_of else " ".join(missing)
            raise Forbidden(
                f"The access token lacks the scope {wanted}; request a token with "
                f"`scope={missing[0] if any_of else ' '.join(needed)}` from a client granted it.",
                slug="insufficient-scope",
                title="Insufficient scope",
                headers={
                    "WWW-Authenticate": _challenge(
                        "insufficient_scope", f"needs scope {wanted}", scope=" ".join(needed)
                    )
                },
            )
        return Principal(
            client_id=access.client_id,
            partner_id=access.partner_id,
            scopes=access.scopes,
            jti=access.jti,
            expires_at=access.expires_at,
        )

    return principal
