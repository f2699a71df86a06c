"""PingSure motor insurance, dialect ``pingsure.v1``."""

from __future__ import annotations

from adapters.pingsure.webhooks import PingSureWebhooks

__all__ = ["PingSureWebhooks"]
