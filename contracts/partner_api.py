"""How the gateway reaches a partner's API and how the partner posts webhooks back."""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from contracts.base import CanonicalModel

__all__ = [
    "CANONICAL_DIALECT",
    "ApiKeyAuth",
    "CircuitBreakerPolicy",
    "Dialect",
    "HmacAuth",
    "HttpUrl",
    "NoAuth",
    "OAuth2ClientCredentials",
    "OutboundAuth",
    "PartnerApi",
    "RetryPolicy",
    "SecretRef",
    "Timeouts",
    "WebhookTerms",
]

CANONICAL_DIALECT = "canonical"
"""The dialect id of partners that speak the published canonical API and events."""


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query string or fragment")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An absolute http(s) URL without query or fragment, trailing slash removed."""

SecretRef = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{2,63}$")]
"""The name of a secret held in the gateway's settings; never the secret itself."""

Dialect = Annotated[
    str, StringConstraints(pattern=r"^(canonical|[a-z][a-z0-9_-]*\.[a-z0-9][a-z0-9._-]*)$")
]
"""``canonical`` or an adapter dialect id such as ``swiftrent.v2``."""

_Seconds = Annotated[float, Field(gt=0, le=300)]


class OAuth2ClientCredentials(CanonicalModel):
    """The gateway gets a token from the partner's OAuth 2.0 server."""

    type: Literal["oauth2_client_credentials"]
    token_url: HttpUrl
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    secret_ref: SecretRef
    scope: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None


class ApiKeyAuth(CanonicalModel):
    """A static key sent in a request header."""

    type: Literal["api_key"]
    header: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,63}$")] = "X-Api-Key"
    secret_ref: SecretRef


class HmacAuth(CanonicalModel):
    """Every request body and timestamp signed with a shared key."""

    type: Literal["hmac"]
    key_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    secret_ref: SecretRef
    algorithm: Literal["hmac-sha256", "hmac-sha512"] = "hmac-sha256"


class NoAuth(CanonicalModel):
    """No credentials (a partner reached over a private link)."""

    type: Literal["none"]


OutboundAuth: TypeAlias = Annotated[
    OAuth2ClientCredentials | ApiKeyAuth | HmacAuth | NoAuth, Field(discriminator="type")
]
"""How the gateway authenticates to a partner, chosen by ``type``."""


class Timeouts(CanonicalModel):
    """Per-partner HTTP timeouts, in seconds."""

    connect: _Seconds = 2.0
    read: _Seconds = 10.0


class RetryPolicy(CanonicalModel):
    """Retries for idempotent calls: exponential backoff with jitter."""

    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    initial_backoff_s: _Seconds = 0.2
    max_backoff_s: _Seconds = 5.0


class CircuitBreakerPolicy(CanonicalModel):
    """Open after ``failure_threshold`` failures within ``window_s``; retry after cool-down."""

    failure_threshold: Annotated[int, Field(ge=1, le=1000)] = 5
    window_s: _Seconds = 60.0
    cooldown_s: _Seconds = 30.0


class PartnerApi(CanonicalModel):
    """The partner's API as the gateway calls it."""

    base_url: HttpUrl
    dialect: Dialect
    auth: OutboundAuth
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    circuit_breaker: CircuitBreakerPolicy = CircuitBreakerPolicy()


class WebhookTerms(CanonicalModel):
    """How the partner posts events to the gateway."""

    dialect: Dialect
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=1_000_000)] = 600
