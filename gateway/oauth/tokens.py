"""Access tokens: RFC 9068 JWTs signed with ES256, checked in well under a millisecond.

Minting is synchronous (it runs inside the token endpoint's flow); checking is
async because, besides the signature and the claims, every check asks the hot
state whether the token was revoked (no local copy: a revocation is seen by
every process on its next request) and whether its client is still active
(cached per process for at most a second, see `ClientStatus`).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jws import JWSRegistry, extract_compact, validate_compact
from joserfc.jwt import JWTClaimsRegistry

from gateway.hotstate import HotState, Keyspace
from gateway.oauth.keys import ALGORITHM, KeyStore, SigningKey
from gateway.oauth.status import ClientStatus

__all__ = [
    "LEEWAY_SECONDS",
    "REVOCATION_RECHECK_SECONDS",
    "AccessToken",
    "InvalidToken",
    "TokenService",
]

LEEWAY_SECONDS = 30
_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_MAX_TOKEN_LENGTH = 4096
_VERIFIED_CACHE_SIZE = 10_000
REVOCATION_RECHECK_SECONDS = 0.5


class InvalidToken(Exception):
    """The access token cannot be used; the message says why (safe to show the client)."""


@dataclass(frozen=True)
class AccessToken:
    """A verified access token."""

    client_id: str
    partner_id: str | None
    scopes: frozenset[str]
    jti: str
    issued_at: datetime
    expires_at: datetime
    claims: Mapping[str, Any]


class TokenService:
    """Mints, checks and revokes the gateway's access tokens."""

    def __init__(
        self,
        *,
        keys: KeyStore,
        client_status: ClientStatus,
        hot_state: HotState,
        keyspace: Keyspace,
        issuer: str,
        audience: str,
        lifetime_seconds: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.keys = keys
        self.client_status = client_status
        self.issuer = issuer
        self.audience = audience
        self.lifetime_seconds = lifetime_seconds
        self._hot_state = hot_state
        self._keyspace = keyspace
        self.clock = clock
        self._registry = JWSRegistry(algorithms=[ALGORITHM])
        # token -> (verified token, monotonic time its revocation was last read)
        self._verified: OrderedDict[str, tuple[AccessToken, float | None]] = OrderedDict()
        self._claims = JWTClaimsRegistry(
            now=lambda: int(self.clock().timestamp()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            jti={"essential": True},
            client_id={"essential": True},
        )

    def mint(
        self,
        *,
        key: SigningKey,
        client_id: str,
        partner_id: str | None,
        scope: str,
        now: datetime,
    ) -> str:
        """A signed access token for `client_id` with the (already narrowed) `scope`."""
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": client_id,
            "aud": self.audience,
            "exp": issued + self.lifetime_seconds,
            "iat": issued,
            "nbf": issued,
            "jti": secrets.token_urlsafe(16),
            "client_id": client_id,
            "scope": scope,
        }
        if partner_id is not None:
            claims["partner_id"] = partner_id
        header = {"alg": ALGORITHM, "typ": "at+jwt", "kid": key.kid}
        return jwt.encode(header, claims, key.private, registry=self._registry)

    async def decode(self, token: str) -> AccessToken:
        """Check signature and claims (not revocation); raises `InvalidToken`."""
        if not token or len(token) > _MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidToken("the access token is not a signed JWT")
        try:
            compact = extract_compact(token.encode("ascii"), None, self._registry)
            header = compact.headers()
            if str(header.get("typ", "")).lower() not in _TOKEN_TYPES:
                raise InvalidToken("the token is not an access token (typ must be at+jwt)")
            kid = header.get("kid")
            keys = await self.keys.verification_keys(kid if isinstance(kid, str) else None)
            if not validate_compact(compact, keys, registry=self._registry):
                raise InvalidToken("the access token signature does not verify")
            claims = orjson.loads(compact.payload or b"")
            if not isinstance(claims, dict):
                raise InvalidToken("the access token payload is not a JSON object")
            self._claims.validate(claims)
        except ExpiredTokenError as exc:
            raise InvalidToken("the access token has expired; request a new one") from exc
        except (JoseError, ValueError, UnicodeError) as exc:
            raise InvalidToken("the access token is invalid or was not issued here") from exc
        return _access_token(claims)

    async def verify(self, token: str, *, fresh: bool = False) -> AccessToken:
        """A usable token: valid, not revoked, its client still active; else `InvalidToken`.

        Partners reuse one token for many requests, so a verified token is kept
        per process until it expires, and its revocation is re-read from the hot
        state at most every `REVOCATION_RECHECK_SECONDS` (a revocation reaches
        every process within that, well inside the promised second). `fresh`
        skips both caches (introspection answers with the authoritative state).
        """
        cached = None if fresh else self._verified.get(token)
        if cached is not None and cached[0].expires_at.timestamp() + LEEWAY_SECONDS < (
            self.clock().timestamp()
        ):
            del self._verified[token]
            cached = None
        if cached is None:
            access, checked_at = await self.decode(token), None
        else:
            access, checked_at = cached
        now = time.monotonic()
        if checked_at is None or now - checked_at >= REVOCATION_RECHECK_SECONDS:
            revoked = await self._hot_state.get(self._keyspace.revoked_token(access.jti, 0))
            if revoked is not None:
                self._verified.pop(token, None)
                raise InvalidToken("the access token has been revoked")
            checked_at = now
        if not await self.client_status.is_active(access.client_id):
            raise InvalidToken("the client's credentials have been revoked")
        self._verified[token] = (access, checked_at)
        self._verified.move_to_end(token)
        if len(self._verified) > _VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return access

    async def revoke(self, access: AccessToken) -> None:
        """Refuse this token everywhere from now until it would have expired anyway."""
        remaining = (access.expires_at - self.clock()).total_seconds() + LEEWAY_SECONDS
        key = self._keyspace.revoked_token(access.jti, remaining)
        await self._hot_state.set(key, b"1")
        for token, (cached, _) in list(self._verified.items()):
            if cached.jti == access.jti:
                del self._verified[token]


def _access_token(claims: dict[str, Any]) -> AccessToken:
    client_id, scope = claims["client_id"], claims.get("scope", "")
    partner_id = claims.get("partner_id")
    if not isinstance(client_id, str) or claims["sub"] != client_id or not isinstance(scope, str):
        raise InvalidToken("the access token's client claims are inconsistent")
    if partner_id is not None and not isinstance(partner_id, str):
        raise InvalidToken("the access token's partner claim is not a string")
    return AccessToken(
        client_id=client_id,
        partner_id=partner_id,
        scopes=frozenset(scope.split()),
        jti=claims["jti"],
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        claims=claims,
    )
