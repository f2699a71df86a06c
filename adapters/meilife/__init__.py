"""MeiLife food and leisure memberships, dialect ``meilife.v1``."""

from __future__ import annotations

from adapters.meilife.outbound import MeiLifeApi
from adapters.meilife.webhooks import MeiLifeWebhooks

__all__ = ["MeiLifeApi", "MeiLifeWebhooks"]
