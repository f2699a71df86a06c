"""The typed port every partner dialect implements for inbound webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from contracts import CanonicalEvent, EventType

__all__ = ["WebhookTranslator"]


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
