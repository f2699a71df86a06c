"""SwiftRent courtesy-car rental, dialect ``swiftrent.v2``."""

from __future__ import annotations

from adapters.swiftrent.outbound import SwiftRentApi
from adapters.swiftrent.webhooks import SwiftRentWebhooks

__all__ = ["SwiftRentApi", "SwiftRentWebhooks"]
