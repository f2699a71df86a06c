"""Orders and their state machine.

Statuses are ranked by progress. Partners' events can arrive late, twice or out
of order, so an event never moves an order back: an event whose status ranks
at or below the current one is kept in the order's history and changes nothing
(``STALE`` or ``DUPLICATE``); one that ranks higher applies if the transitions
table allows it, and is ``IllegalTransition`` otherwise. The table is closed
under composition (if a -> b and b -> c are allowed, so is a -> c), so a
consistent history reaches the same status whatever order it is delivered in.
Time and sequence order events only within one status: the newest event of the
status that won carries the status' data.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

from pydantic import model_validator

from contracts.base import CanonicalModel, Text, Timestamp
from contracts.ids import CustomerId, OrderId, PartnerId, PartnerReference
from contracts.operations import OPERATION_CATEGORY, Operation, ServiceCategory
from contracts.services import ServiceRequest, ServiceResult

__all__ = [
    "ALLOWED_TRANSITIONS",
    "TERMINAL_STATUSES",
    "IllegalTransition",
    "Order",
    "OrderStatus",
    "RoutingDecision",
    "SkipReason",
    "SkippedPartner",
    "TransitionDecision",
    "can_transition",
    "decide_transition",
    "progress_rank",
]


class OrderStatus(StrEnum):
    """Where an order stands, from the gateway's request to its outcome."""

    REQUESTED = "requested"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


_S = OrderStatus
_RANK: Final = MappingProxyType(
    {
        _S.REQUESTED: 0,
        _S.DISPATCHED: 10,
        _S.ACCEPTED: 20,
        _S.IN_PROGRESS: 30,
        _S.DELIVERED: 40,
        _S.COMPLETED: 50,
        # Outcomes outrank progress: a rejection or failure is final news.
        _S.REJECTED: 60,
        _S.FAILED: 70,
        # Cancellation ranks last because it may follow completion (a refund).
        _S.CANCELLED: 80,
    }
)

ALLOWED_TRANSITIONS: Final = MappingProxyType(
    {
        # The partner may answer before the gateway records its own dispatch.
        _S.REQUESTED: frozenset(
            {
                _S.DISPATCHED,
                _S.ACCEPTED,
                _S.REJECTED,
                _S.IN_PROGRESS,
                _S.DELIVERED,
                _S.COMPLETED,
                _S.FAILED,
                _S.CANCELLED,
            }
        ),
        _S.DISPATCHED: frozenset(
            {
                _S.ACCEPTED,
                _S.REJECTED,
                _S.IN_PROGRESS,
                _S.DELIVERED,
                _S.COMPLETED,
                _S.FAILED,
                _S.CANCELLED,
            }
        ),
        _S.ACCEPTED: frozenset(
            {_S.IN_PROGRESS, _S.DELIVERED, _S.COMPLETED, _S.FAILED, _S.CANCELLED}
        ),
        _S.IN_PROGRESS: frozenset({_S.DELIVERED, _S.COMPLETED, _S.FAILED, _S.CANCELLED}),
        _S.DELIVERED: frozenset({_S.COMPLETED, _S.CANCELLED}),
        _S.COMPLETED: frozenset({_S.CANCELLED}),
        _S.REJECTED: frozenset(),
        _S.FAILED: frozenset(),
        _S.CANCELLED: frozenset(),
    }
)
"""Every status an order may move to from each status."""

TERMINAL_STATUSES: Final = frozenset(s for s, nxt in ALLOWED_TRANSITIONS.items() if not nxt)
"""Statuses nothing follows: rejected, failed, cancelled."""


class IllegalTransition(ValueError):
    """An event asked an order to move where the state machine does not allow."""

    def __init__(self, current: OrderStatus, target: OrderStatus) -> None:
        super().__init__(f"an order cannot move from {current.value} to {target.value}")
        self.current = current
        self.target = target


class TransitionDecision(StrEnum):
    """What applying an event's status to an order does."""

    APPLY = "apply"
    STALE = "stale"
    DUPLICATE = "duplicate"


def progress_rank(status: OrderStatus) -> int:
    """How far along an order in ``status`` is; higher never moves back to lower."""
    return _RANK[status]


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    """Whether the state machine allows ``current`` -> ``target``."""
    return target in ALLOWED_TRANSITIONS[current]


def decide_transition(current: OrderStatus, target: OrderStatus) -> TransitionDecision:
    """Apply, ignore as stale, or ignore as duplicate; raise ``IllegalTransition``."""
    if target is current:
        return TransitionDecision.DUPLICATE
    if progress_rank(target) < progress_rank(current):
        return TransitionDecision.STALE
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return TransitionDecision.APPLY


class SkipReason(StrEnum):
    """Why routing passed over a partner."""

    NOT_IN_CITY = "not_in_city"
    SUSPENDED = "suspended"
    OUTSIDE_VALIDITY = "outside_validity"
    TIER_EXCLUDED = "tier_excluded"
    VOLUME_CAP_REACHED = "volume_cap_reached"
    EXCLUSIVITY = "exclusivity"
    NOT_PINNED = "not_pinned"
    NO_CONSENT = "no_consent"
    CIRCUIT_OPEN = "circuit_open"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


class SkippedPartner(CanonicalModel):
    """A partner routing did not choose, and why."""

    partner_id: PartnerId
    reason: SkipReason
    detail: Text | None = None


class RoutingDecision(CanonicalModel):
    """The partner chosen for an order and the ones passed over."""

    chosen: PartnerId | None
    skipped: tuple[SkippedPartner, ...] = ()


class Order(CanonicalModel):
    """A service request placed with a partner, and where it stands."""

    id: OrderId
    category: ServiceCategory
    operation: Operation
    partner_id: PartnerId | None
    partner_reference: PartnerReference | None = None
    status: OrderStatus = OrderStatus.REQUESTED
    created_at: Timestamp
    updated_at: Timestamp
    customer_id: CustomerId | None = None
    request: ServiceRequest
    result: ServiceResult | None = None
    routing: RoutingDecision
    failure_reason: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Order:
        if self.request.operation is not self.operation:
            raise ValueError(f"request is for {self.request.operation}, order for {self.operation}")
        if OPERATION_CATEGORY[self.operation] is not self.category:
            raise ValueError(f"operation {self.operation} is not in category {self.category}")
        if self.result is not None and self.result.operation is not self.operation:
            raise ValueError(f"result is for {self.result.operation}, order for {self.operation}")
        if self.routing.chosen != self.partner_id:
            raise ValueError("routing.chosen must be the order's partner_id")
        if self.updated_at < self.created_at:
            raise ValueError("updated_at must not be before created_at")
        return self

    def advance(self, target: OrderStatus, at: Timestamp) -> Order:
        """This order moved to ``target`` if the state machine says so, else unchanged."""
        if decide_transition(self.status, target) is not TransitionDecision.APPLY:
            return self
        return self.model_copy(update={"status": target, "updated_at": max(at, self.updated_at)})
