"""OAuth 2.0 client credentials toward partners, with the token shared by every gateway process.

authlib's httpx client speaks the token endpoint (client authentication,
error responses, ``expires_in``); this ``httpx.Auth`` flow keeps the token in
hot state, so N gateway processes ask the partner for one token, not N, and
sends it on each call. On a 401 the token is dropped and fetched once more,
and the call is repeated with the new one (partners rotate keys and revoke
tokens before their ``expires_in``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Final

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from adapters import PartnerAuthFailed, PartnerUnavailable
from contracts import OAuth2ClientCredentials, Timeouts
from gateway.hotstate import HotState, Keyspace

__all__ = ["PartnerOAuth2"]

# Refresh this long before the partner says the token expires.
_EARLY_SECONDS: Final = 30.0
_MIN_TTL_SECONDS: Final = 5.0


class PartnerOAuth2(httpx.Auth):
    """Bearer tokens from the partner's OAuth server, cached in hot state."""

    def __init__(
        self,
        partner_id: str,
        config: OAuth2ClientCredentials,
        secret: str,
        *,
        hot_state: HotState,
        keys: Keyspace,
        timeouts: Timeouts,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._partner_id = partner_id
        self._config = config
        self._hot = hot_state
        self._keys = keys
        self._oauth = AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=secret,
            scope=config.scope,
            token_endpoint=config.token_url,
            grant_type="client_credentials",
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
            transport=transport,
        )
        self._lock = asyncio.Lock()
        self._local: tuple[str, float] | None = None

    async def aclose(self) -> None:
        """Close the client of the token endpoint."""
        await self._oauth.aclose()

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send the cached token; on a 401 fetch a fresh one and send the request again."""
        token = await self._token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = await self._token(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def _token(self, stale: str | None = None) -> str:
        local = self._local
        if local is not None and local[0] != stale and local[1] > time.monotonic():
            return local[0]
        async with self._lock:
            local = self._local
            if local is not None and local[0] != stale and local[1] > time.monotonic():
                return local[0]
            key = self._keys.partner_token(self._partner_id, _MIN_TTL_SECONDS)
            shared = await self._hot.get(key)
            if shared is not None and shared.decode() != stale:
                value = shared.decode()
                # Another process fetched it; trust it for a short while locally.
                self._local = (value, time.monotonic() + _MIN_TTL_SECONDS)
                return value
            value, ttl = await self._fetch()
            await self._hot.set(self._keys.partner_token(self._partner_id, ttl), value.encode())
            self._local = (value, time.monotonic() + ttl)
            return value

    async def _fetch(self) -> tuple[str, float]:
        try:
            token = await self._oauth.fetch_token(
                self._config.token_url, grant_type="client_credentials"
            )
        except OAuthError as exc:
            raise PartnerAuthFailed(f"token endpoint refused us: {exc.error}") from exc
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            raise PartnerUnavailable(f"token endpoint answered HTTP {status}") from exc
        except ValueError as exc:
            raise PartnerUnavailable("token endpoint answered something not JSON") from exc
        except httpx.TimeoutException as exc:
            raise PartnerUnavailable("token endpoint timed out", timed_out=True) from exc
        except httpx.TransportError as exc:
            raise PartnerUnavailable(
                f"token endpoint unreachable: {type(exc).__name__}", sent=False
            ) from exc
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise PartnerAuthFailed("token endpoint answered without an access_token")
        expires_in = token.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 300.0
        return access, max(_MIN_TTL_SECONDS, lifetime - _EARLY_SECONDS)
