"""SwiftRent courtesy-car rental, dialect ``swiftrent.v2``."""

from __future__ import annotations

from adapters.swiftrent.webhooks import SwiftRentWebhooks

__all__ = ["SwiftRentWebhooks"]
