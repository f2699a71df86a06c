"""PingSure motor insurance, dialect ``pingsure.v1``."""

from __future__ import annotations

from adapters.pingsure.outbound import PingSureApi
from adapters.pingsure.webhooks import PingSureWebhooks

__all__ = ["PingSureApi", "PingSureWebhooks"]
