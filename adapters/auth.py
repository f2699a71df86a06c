"""Outbound credentials that need no server state: API keys and HMAC-signed requests.

Both are ``httpx.Auth`` flows attached to a partner's pooled client, so an
adapter never sees a secret. The HMAC scheme is the one the sample partners
document (and the sandboxes verify)::

    X-Key-Id:     the agreement's key_id
    X-Timestamp:  Unix seconds
    X-Nonce:      16 random bytes, hex
    X-Signature:  hex(HMAC(secret, "{timestamp}\\n{nonce}\\n{METHOD}\\n{path?query}\\n" + body))

OAuth 2.0 client credentials need a token cache shared by every gateway
process, so that flow lives in the gateway (``gateway.dispatch.partner_auth``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Generator, Mapping
from typing import Final, Literal

import httpx

__all__ = [
    "HMAC_TOLERANCE_SECONDS",
    "ApiKeyHeader",
    "HmacSigner",
    "hmac_signature",
    "verify_hmac",
]

HMAC_TOLERANCE_SECONDS: Final = 300
_DIGESTS: Final = {"hmac-sha256": hashlib.sha256, "hmac-sha512": hashlib.sha512}


class ApiKeyHeader(httpx.Auth):
    """Sends a static key in a named header."""

    def __init__(self, header: str, key: str) -> None:
        self._header = header
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._key
        yield request


def hmac_signature(
    secret: str,
    *,
    algorithm: str,
    timestamp: str,
    nonce: str,
    method: str,
    target: str,
    body: bytes,
) -> str:
    """The hex signature of one request under the scheme above."""
    digest = _DIGESTS[algorithm]
    message = f"{timestamp}\n{nonce}\n{method.upper()}\n{target}\n".encode() + body
    return hmac.new(secret.encode(), message, digest).hexdigest()


class HmacSigner(httpx.Auth):
    """Signs every request's method, path, query and body with a shared key."""

    requires_request_body = True

    def __init__(
        self,
        key_id: str,
        secret: str,
        algorithm: Literal["hmac-sha256", "hmac-sha512"] = "hmac-sha256",
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key_id = key_id
        self._secret = secret
        self._algorithm = algorithm
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        timestamp = str(int(self._clock()))
        nonce = secrets.token_hex(16)
        target = request.url.raw_path.decode("ascii")
        request.headers["X-Key-Id"] = self._key_id
        request.headers["X-Timestamp"] = timestamp
        request.headers["X-Nonce"] = nonce
        request.headers["X-Signature"] = hmac_signature(
            self._secret,
            algorithm=self._algorithm,
            timestamp=timestamp,
            nonce=nonce,
            method=request.method,
            target=target,
            body=request.content,
        )
        yield request


def verify_hmac(
    headers: Mapping[str, str],
    *,
    key_id: str,
    secret: str,
    algorithm: str,
    method: str,
    target: str,
    body: bytes,
    now: float | None = None,
) -> str | None:
    """None when the request is signed correctly and recently, else what is wrong."""
    lowered = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in ("x-key-id", "x-timestamp", "x-nonce", "x-signature") if h not in lowered]
    if missing:
        return f"missing header(s): {', '.join(missing)}"
    if lowered["x-key-id"] != key_id:
        return "unknown key id"
    timestamp = lowered["x-timestamp"]
    if not timestamp.isdigit():
        return "X-Timestamp must be Unix seconds"
    if abs((now if now is not None else time.time()) - int(timestamp)) > HMAC_TOLERANCE_SECONDS:
        return "timestamp outside the tolerance"
    expected = hmac_signature(
        secret,
        algorithm=algorithm,
        timestamp=timestamp,
        nonce=lowered["x-nonce"],
        method=method,
        target=target,
        body=body,
    )
    if not hmac.compare_digest(expected, lowered["x-signature"]):
        return "signature does not match"
    return None
