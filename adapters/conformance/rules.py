"""What a partner of each category must offer, and the example requests the kit sends."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from adapters.protocol import PartnerAdapter
from contracts import (
    EVENT_CATEGORY,
    EXAMPLE_REQUESTS,
    EventType,
    Operation,
    PartnerAgreement,
    ServiceCategory,
    ServiceRequest,
    operations_of,
)

__all__ = [
    "REQUIRED_EVENTS",
    "category_events",
    "example_request",
    "order_id_in",
    "served_operations",
]

_T = EventType
REQUIRED_EVENTS: Final[Mapping[ServiceCategory, frozenset[EventType]]] = MappingProxyType(
    {
        ServiceCategory.RENTAL: frozenset(
            {
                _T.RENTAL_ORDER_ACCEPTED,
                _T.RENTAL_ORDER_REJECTED,
                _T.RENTAL_VEHICLE_DISPATCHED,
                _T.RENTAL_VEHICLE_DELIVERED,
                _T.RENTAL_COMPLETED,
                _T.ORDER_CANCELLED,
            }
        ),
        ServiceCategory.INSURANCE: frozenset(
            {_T.INSURANCE_POLICY_ISSUED, _T.INSURANCE_CLAIM_OPENED, _T.INSURANCE_CLAIM_SETTLED}
        ),
        ServiceCategory.CHARGING: frozenset(
            {_T.CHARGING_SESSION_STARTED, _T.CHARGING_SESSION_COMPLETED}
        ),
        ServiceCategory.LIFESTYLE: frozenset(
            {
                _T.LIFESTYLE_MEMBERSHIP_LINKED,
                _T.LIFESTYLE_BENEFIT_REDEEMED,
                _T.LIFESTYLE_POINTS_EXCHANGED,
            }
        ),
    }
)
"""The events a partner of each category must be able to report (its orders' lifecycle)."""

_ORDER_ID: Final = re.compile(r"^ord_[0-9a-hjkmnp-tv-z]{26}$")


def category_events(category: ServiceCategory) -> frozenset[EventType]:
    """Every event type that may concern an order of ``category`` (``order.*`` included)."""
    return frozenset(t for t, c in EVENT_CATEGORY.items() if c in (category, None))


def served_operations(agreement: PartnerAgreement, adapter: PartnerAdapter) -> list[Operation]:
    """The operations of the agreement's category the adapter claims, in declaration order."""
    claimed = adapter.operations()
    return [op for op in operations_of(agreement.category) if op in claimed]


def example_request(agreement: PartnerAgreement, operation: Operation) -> ServiceRequest:
    """The published example of ``operation``, addressed to this partner where it names one."""
    request = EXAMPLE_REQUESTS[operation]
    if getattr(request, "partner_id", None) is not None:
        return request.model_copy(update={"partner_id": agreement.id})
    return request


def order_id_in(value: Any) -> str | None:
    """The first order id (``ord_`` + ULID) found anywhere in a JSON value, or None."""
    if isinstance(value, str):
        return value if _ORDER_ID.match(value) else None
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, list):
        for child in value:
            found = order_id_in(child)
            if found is not None:
                return found
    return None
