"""Partner adapters: one package per partner dialect, translating to and from contracts."""

from __future__ import annotations

from adapters.errors import (
    AdapterError,
    PartnerAuthFailed,
    PartnerCallError,
    PartnerRateLimited,
    PartnerRejected,
    PartnerUnavailable,
    TranslationError,
)
from adapters.protocol import OutboundCall, PartnerAdapter, WebhookTranslator
from adapters.registry import (
    ADAPTERS,
    WEBHOOK_TRANSLATORS,
    UnknownDialect,
    adapter_for,
    translator_for,
)

__all__ = [
    "ADAPTERS",
    "WEBHOOK_TRANSLATORS",
    "AdapterError",
    "OutboundCall",
    "PartnerAdapter",
    "PartnerAuthFailed",
    "PartnerCallError",
    "PartnerRateLimited",
    "PartnerRejected",
    "PartnerUnavailable",
    "TranslationError",
    "UnknownDialect",
    "WebhookTranslator",
    "adapter_for",
    "translator_for",
]
