"""Service-level terms: business promises measured between two canonical moments."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, field_validator

from contracts.base import CanonicalModel
from contracts.events import EventType
from contracts.operations import Operation

__all__ = [
    "DISPATCHED",
    "Percent",
    "SlaStart",
    "SlaTerm",
    "SlaTerms",
]

DISPATCHED: Final = "dispatched"
"""The start moment when the gateway hands the request to the partner."""


def _exact_decimal(value: Any) -> Any:
    # YAML reads 99.5 as a float; its shortest repr is what the author wrote.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return Decimal(repr(value)) if isinstance(value, float) else value


_EVENT_TYPES: Final = frozenset(t.value for t in EventType)


def _sla_start(value: str) -> str:
    if value != DISPATCHED and value not in _EVENT_TYPES:
        raise ValueError(f"start must be {DISPATCHED!r} or a canonical event type")
    return value


Percent = Annotated[Decimal, BeforeValidator(_exact_decimal), Field(gt=0, le=100)]
"""A percentage above 0 and at most 100 (``95`` means 95 %)."""

SlaStart = Annotated[str, AfterValidator(_sla_start)]
"""``dispatched``, or the canonical event type whose arrival starts the clock."""


class SlaTerm(CanonicalModel):
    """One promise: from ``start`` to the ``stop`` event within ``target``."""

    operation: Operation
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    start: SlaStart = DISPATCHED
    stop: EventType
    target: timedelta = Field(description="ISO 8601 duration (PT30M) or seconds.")
    compliance_percent: Percent = Decimal(95)

    @field_validator("target")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("target must be a positive duration")
        return value


class SlaTerms(CanonicalModel):
    """The service-level clause: business terms, API targets and breach credits."""

    terms: list[SlaTerm] = Field(default_factory=list)
    api_availability_percent: Percent = Decimal("99.5")
    api_latency_p95_ms: Annotated[int, Field(ge=1, le=600_000)] = 2_000
    breach_credit_percent: Annotated[
        Decimal, BeforeValidator(_exact_decimal), Field(ge=0, le=100)
    ] = Decimal(0)
    """Share of what an order moved between the OEM and the partner (its commission,
    revenue share, resale cost or covered cost) that the partner credits the OEM when one
    of its terms is breached; once per order (docs/commission.md)."""
