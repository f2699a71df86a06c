"""The typed ports every partner dialect implements: outbound calls and inbound webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import httpx

from contracts import CanonicalEvent, EventType, Operation, ServiceResult

__all__ = ["OutboundCall", "PartnerAdapter", "WebhookTranslator"]


@runtime_checkable
class WebhookTranslator(Protocol):
    """Turns one partner's webhook payloads into canonical events."""

    dialect: str
    """The dialect id the agreements name, such as ``swiftrent.v2``."""

    def event_types(self) -> frozenset[EventType]:
        """The canonical event types this dialect can produce."""
        ...

    def translate(self, payload: Mapping[str, Any], *, partner_id: str) -> CanonicalEvent:
        """The canonical event of one parsed JSON payload; raises ``TranslationError``."""
        ...


@dataclass(frozen=True, slots=True)
class OutboundCall:
    """One canonical service request on its way to one partner.

    ``payload`` is the canonical request as JSON *after masking*: the partner's
    view of it. A field the partner may not receive is absent, and a masked
    value (a relay number, a pseudonym, a partial name) stands where the real
    one was, so an adapter reads it with ``.get`` and never re-validates it
    against the canonical model.
    """

    partner_id: str
    order_id: str
    """Our order id; partners quote it back in their webhooks."""
    operation: Operation
    payload: Mapping[str, Any]
    idempotency_key: str
    """Stable for this order and partner across retries; sent where the dialect has a slot."""


@runtime_checkable
class PartnerAdapter(Protocol):
    """Speaks one partner API dialect: canonical request -> HTTP call -> canonical result.

    The ``http`` client given to every method is the partner's pooled client:
    its base URL is the agreement's ``api.base_url`` and its auth (OAuth 2.0,
    API key or HMAC, from the agreement) is already attached, so an adapter
    sends relative paths and never handles credentials. Failures are raised
    as ``PartnerCallError`` subclasses; a response that cannot be read is a
    ``PartnerUnavailable`` (the partner is not behaving).
    """

    dialect: str
    """The dialect id agreements name in ``api.dialect``."""

    def operations(self) -> frozenset[Operation]:
        """The canonical operations this dialect implements."""
        ...

    def retry_safe(self, operation: Operation) -> bool:
        """Whether sending ``operation`` twice cannot double its effect.

        True for reads, and for writes the partner deduplicates by the
        idempotency key or our order id. A call that failed before anything
        was sent (connection refused) may always be retried.
        """
        ...

    async def call(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        """Perform ``call.operation`` at the partner and return its canonical result."""
        ...

    async def cancel(
        self, http: httpx.AsyncClient, *, order_id: str, partner_reference: str | None
    ) -> None:
        """Ask the partner to cancel an order; ``PartnerRejected`` when it no longer can."""
        ...
