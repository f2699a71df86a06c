"""Typed identifiers: constrained strings, plus generators for the ids we mint."""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Final

from pydantic import StringConstraints

__all__ = [
    "CustomerId",
    "EventId",
    "OrderId",
    "PartnerId",
    "PartnerReference",
    "RepairOrderId",
    "new_event_id",
    "new_order_id",
    "new_ulid",
]

# Crockford base32 without I, L, O, U, lower-cased to read like the other slugs.
_CROCKFORD: Final = "0123456789abcdefghjkmnpqrstvwxyz"
_ULID_PATTERN: Final = "[0-9a-hjkmnp-tv-z]{26}"

PartnerId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
"""A partner's slug, equal to its agreement file's name (``swiftrent``)."""

OrderId = Annotated[str, StringConstraints(pattern=rf"^ord_{_ULID_PATTERN}$")]
"""An order minted by the gateway: ``ord_`` plus a time-ordered ULID."""

EventId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]
"""A canonical event's id, unique per partner (the gateway mints ``evt_`` ULIDs)."""

CustomerId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]
"""The OEM's own reference of a customer, as its CRM issues it."""

RepairOrderId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
]
"""A dealer system's repair order number (``RO-2024-000123``)."""

PartnerReference = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
]
"""An id issued by a partner (booking, quote, policy, session): printable ASCII."""


def new_ulid(now_ms: int | None = None) -> str:
    """A 26-character ULID: 48-bit millisecond time then 80 random bits, sortable by time."""
    millis = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def new_order_id() -> str:
    """A fresh order id such as ``ord_01j9zq6c8x4f6b7g0t3k2m5n8p``."""
    return f"ord_{new_ulid()}"


def new_event_id() -> str:
    """A fresh event id such as ``evt_01j9zq6c8x4f6b7g0t3k2m5n8p``."""
    return f"evt_{new_ulid()}"
