"""VoltGrid public charging network, dialect ``voltgrid.ocpi-lite``."""

from __future__ import annotations

from adapters.voltgrid.outbound import VoltGridApi
from adapters.voltgrid.webhooks import VoltGridWebhooks

__all__ = ["VoltGridApi", "VoltGridWebhooks"]
