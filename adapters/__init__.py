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
from adapters.protocol import WebhookTranslator
from adapters.registry import WEBHOOK_TRANSLATORS, UnknownDialect, translator_for

__all__ = [
    "WEBHOOK_TRANSLATORS",
    "AdapterError",
    "PartnerAuthFailed",
    "PartnerCallError",
    "PartnerRateLimited",
    "PartnerRejected",
    "PartnerUnavailable",
    "TranslationError",
    "UnknownDialect",
    "WebhookTranslator",
    "translator_for",
]
