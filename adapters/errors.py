"""The adapters' error set: what can go wrong between a partner's dialect and ours.

The whole tree, one design::

    AdapterError                 anything an adapter reports
    ├── TranslationError         a partner payload cannot be put into canonical terms
    └── PartnerCallError         a call to the partner's API did not succeed
        ├── PartnerAuthFailed    the partner refused our credentials (not retryable)
        ├── PartnerRateLimited   the partner asked us to slow down (retry after a pause)
        ├── PartnerUnavailable   timeout, connection failure, 5xx (retryable)
        └── PartnerRejected      the partner understood and refused (not retryable)

Vendor details (status codes, error bodies, exceptions of the HTTP client) stay
inside the adapter and are chained with ``raise ... from e``, so the gateway
decides retries, failover and problem documents from the class alone.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AdapterError",
    "PartnerAuthFailed",
    "PartnerCallError",
    "PartnerRateLimited",
    "PartnerRejected",
    "PartnerUnavailable",
    "TranslationError",
]


class AdapterError(Exception):
    """Base of every error an adapter raises."""


class TranslationError(AdapterError):
    """A partner payload cannot be translated; ``field`` is the partner-side path, if known."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class PartnerCallError(AdapterError):
    """A call to the partner's API did not succeed."""

    retryable: ClassVar[bool] = False
    """Whether the same call may be tried again (the resilience policy reads this)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PartnerAuthFailed(PartnerCallError):
    """The partner refused our credentials, even after a fresh token."""


class PartnerRateLimited(PartnerCallError):
    """The partner throttled us; ``retry_after`` is its requested pause in seconds, if given."""

    retryable = True

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PartnerUnavailable(PartnerCallError):
    """The partner could not answer (timeout, connection failure, server error).

    ``sent`` is False when the request never reached the partner (connection
    refused, DNS failure), so even a non-idempotent call may be sent again;
    ``timed_out`` marks a read timeout, where the partner may have acted.
    """

    retryable = True

    def __init__(self, reason: str, *, sent: bool = True, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.sent = sent
        self.timed_out = timed_out


class PartnerRejected(PartnerCallError):
    """The partner understood the request and refused it; ``code`` is its own error code."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
