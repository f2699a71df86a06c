"""The one registry of adapters: outbound APIs and webhook translators, by dialect id."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from adapters.canonical import CanonicalApi
from adapters.meilife import MeiLifeApi, MeiLifeWebhooks
from adapters.pingsure import PingSureApi, PingSureWebhooks
from adapters.protocol import PartnerAdapter, WebhookTranslator
from adapters.swiftrent import SwiftRentApi, SwiftRentWebhooks
from adapters.voltgrid import VoltGridApi, VoltGridWebhooks

__all__ = ["ADAPTERS", "WEBHOOK_TRANSLATORS", "UnknownDialect", "adapter_for", "translator_for"]

ADAPTERS: Final[Mapping[str, PartnerAdapter]] = MappingProxyType(
    {
        "canonical": CanonicalApi(),
        "swiftrent.v2": SwiftRentApi(),
        "pingsure.v1": PingSureApi(),
        "voltgrid.ocpi-lite": VoltGridApi(),
        "meilife.v1": MeiLifeApi(),
    }
)
"""Every partner API dialect the gateway can call, ``canonical`` included."""

WEBHOOK_TRANSLATORS: Final[Mapping[str, WebhookTranslator]] = MappingProxyType(
    {
        "swiftrent.v2": SwiftRentWebhooks(),
        "pingsure.v1": PingSureWebhooks(),
        "voltgrid.ocpi-lite": VoltGridWebhooks(),
        "meilife.v1": MeiLifeWebhooks(),
    }
)
"""Every partner webhook dialect we translate; ``canonical`` is parsed by the gateway itself."""


class UnknownDialect(KeyError):
    """No webhook translator is registered for the dialect id."""

    def __init__(self, dialect: str) -> None:
        super().__init__(dialect)
        self.dialect = dialect

    def __str__(self) -> str:
        # KeyError would print the bare quoted key; this reads as a sentence in logs.
        known = ", ".join(sorted(set(WEBHOOK_TRANSLATORS) | set(ADAPTERS)))
        return f"no adapter for dialect {self.dialect!r}; known: {known}"


def adapter_for(dialect: str) -> PartnerAdapter:
    """The outbound adapter of ``dialect``; raises ``UnknownDialect`` when none is registered."""
    try:
        return ADAPTERS[dialect]
    except KeyError:
        raise UnknownDialect(dialect) from None


def translator_for(dialect: str) -> WebhookTranslator:
    """The translator of ``dialect``; raises ``UnknownDialect`` when none is registered."""
    try:
        return WEBHOOK_TRANSLATORS[dialect]
    except KeyError:
        raise UnknownDialect(dialect) from None
