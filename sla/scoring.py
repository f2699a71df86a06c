"""The evaluation score: four normalised components (0..100) and their weighted total.

The formulas, with worked examples, are in docs/scoring.md. Arithmetic is done in
``Decimal`` from each float's shortest repr, so a rating of 4.6 scores exactly 90
and not 89.99999999999999.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Final

__all__ = [
    "WEIGHTS",
    "ScoreBreakdown",
    "ScoreInputs",
    "evaluation_score",
]

WEIGHTS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "satisfaction": 0.40,
        "response_speed": 0.25,
        "complaint_handling": 0.20,
        "price": 0.15,
    }
)
"""Weight of each component in the total (DOMAIN.md); they sum to 1."""

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_HUNDRED: Final = Decimal(100)
_NEUTRAL: Final = Decimal(50)
"""The score of a component whose input is unknown: neither reward nor penalty."""
_COMPLAINT_RATE_FLOOR: Final = Decimal("0.02")
"""The complaint rate at which the volume part of complaint handling reaches 0."""
_VOLUME_POINTS: Final = Decimal(60)
_RESOLUTION_POINTS: Final = Decimal(40)
_RESOLUTION_HOURS_LIMIT: Final = Decimal(72)
"""The median resolution time at which resolving earns nothing."""
_NEUTRAL_TIME_FACTOR: Final = Decimal("0.5")
_PRICE_SPAN: Final = Decimal("0.5")
"""How far above the category median (as a share of it) the price score reaches 0."""
_COMPONENT_STEP: Final = Decimal("0.0001")
_TOTAL_STEP: Final = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ScoreInputs:
    """One partner's month, as the score needs it.

    Raises ``ValueError`` for numbers that cannot occur: a rating outside 1..5,
    a share outside 0..1, negative hours, a non-positive price index, NaN.
    """

    rating_average: float | None
    """Mean stars (1..5), None when there were no ratings."""
    on_time_rate: float | None
    """Share of SLA clocks met among those resolved (0..1), None when none resolved."""
    complaint_rate: float
    """Complaints / orders (0..1); 0 when there were no orders."""
    complaints_resolved_rate: float | None
    """Resolved / complaints (0..1), None when there were no complaints."""
    median_resolution_hours: float | None
    """Median hours to resolve a complaint, None when none was resolved."""
    price_index: float | None
    """Partner's average order price / the category's median (1.0 = median), None if unknown."""

    def __post_init__(self) -> None:
        _check("rating_average", self.rating_average, 1, 5)
        _check("on_time_rate", self.on_time_rate, 0, 1)
        _check("complaint_rate", self.complaint_rate, 0, math.inf)
        _check("complaints_resolved_rate", self.complaints_resolved_rate, 0, 1)
        _check("median_resolution_hours", self.median_resolution_hours, 0, math.inf)
        _check("price_index", self.price_index, 0, math.inf)
        if self.price_index == 0:
            raise ValueError("price_index must be above 0")


@dataclass(frozen=True, slots=True)
class ScoreBreakdown:
    """The four components (each 0..100, 4 decimals) and the weighted total (2 decimals)."""

    satisfaction: float
    response_speed: float
    complaint_handling: float
    price: float
    total: float
    """Sum of each component times its weight in ``WEIGHTS``, rounded half up to 2 decimals."""


def evaluation_score(inputs: ScoreInputs) -> ScoreBreakdown:
    """The evaluation score of one partner's month (formulas: docs/scoring.md)."""
    components = {
        "satisfaction": _satisfaction(inputs.rating_average),
        "response_speed": _response_speed(inputs.on_time_rate),
        "complaint_handling": _complaint_handling(
            inputs.complaint_rate,
            inputs.complaints_resolved_rate,
            inputs.median_resolution_hours,
        ),
        "price": _price(inputs.price_index),
    }
    rounded = {
        name: _clamp(value).quantize(_COMPONENT_STEP, ROUND_HALF_UP)
        for name, value in components.items()
    }
    total = sum(
        (_decimal(WEIGHTS[name]) * value for name, value in rounded.items()),
        start=_ZERO,
    ).quantize(_TOTAL_STEP, ROUND_HALF_UP)
    return ScoreBreakdown(
        satisfaction=float(rounded["satisfaction"]),
        response_speed=float(rounded["response_speed"]),
        complaint_handling=float(rounded["complaint_handling"]),
        price=float(rounded["price"]),
        total=float(total),
    )


def _satisfaction(rating: float | None) -> Decimal:
    """(rating - 1) / 4 * 100: 1 star is 0, 5 stars are 100."""
    if rating is None:
        return _NEUTRAL
    return (_decimal(rating) - 1) / 4 * _HUNDRED


def _response_speed(on_time_rate: float | None) -> Decimal:
    """The share of SLA clocks met, in percent."""
    if on_time_rate is None:
        return _NEUTRAL
    return _decimal(on_time_rate) * _HUNDRED


def _complaint_handling(
    complaint_rate: float, resolved_rate: float | None, median_hours: float | None
) -> Decimal:
    """60 points for few complaints, 40 for resolving them completely and quickly."""
    volume = _ONE - min(_decimal(complaint_rate) / _COMPLAINT_RATE_FLOOR, _ONE)
    if resolved_rate is None:
        resolution = _ONE  # no complaints: nothing left unresolved
    else:
        if median_hours is None:
            speed = _NEUTRAL_TIME_FACTOR
        else:
            speed = max(_ZERO, _ONE - _decimal(median_hours) / _RESOLUTION_HOURS_LIMIT)
        resolution = _decimal(resolved_rate) * speed
    return _VOLUME_POINTS * volume + _RESOLUTION_POINTS * resolution


def _price(price_index: float | None) -> Decimal:
    """100 at or below the category median, falling to 0 at 1.5 times it."""
    if price_index is None:
        return _NEUTRAL
    above = max(_ZERO, _decimal(price_index) - _ONE)
    return _HUNDRED - min(_HUNDRED, above / _PRICE_SPAN * _HUNDRED)


def _clamp(value: Decimal) -> Decimal:
    return min(_HUNDRED, max(_ZERO, value))


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


def _check(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if not (math.isfinite(value) and low <= value <= high):
        bounds = f"within {low}..{high}" if math.isfinite(high) else f"finite and >= {low}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
