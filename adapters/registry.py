"""The one registry of webhook translators, keyed by the dialect id agreements name."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from adapters.meilife import MeiLifeWebhooks
from adapters.pingsure import PingSureWebhooks
from adapters.protocol import WebhookTranslator
from adapters.swiftrent import SwiftRentWebhooks
from adapters.voltgrid import VoltGridWebhooks

__all__ = ["WEBHOOK_TRANSLATORS", "UnknownDialect", "translator_for"]

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
        known = ", ".join(sorted(WEBHOOK_TRANSLATORS))
        return f"no webhook translator for dialect {self.dialect!r}; known: {known}"


def translator_for(dialect: str) -> WebhookTranslator:
    """The translator of ``dialect``; raises ``UnknownDialect`` when none is registered."""
    try:
        return WEBHOOK_TRANSLATORS[dialect]
    except KeyError:
        raise UnknownDialect(dialect) from None
