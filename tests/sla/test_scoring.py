"""The evaluation score: each formula on hand-computed examples, the weights, monotonicity."""

from __future__ import annotations

import dataclasses
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla.scoring import WEIGHTS, ScoreBreakdown, ScoreInputs, evaluation_score


def inputs(**changes: Any) -> ScoreInputs:
    """A plain month: every component known and somewhere in the middle."""
    base = ScoreInputs(
        rating_average=4.6,
        on_time_rate=0.92,
        complaint_rate=0.004,
        complaints_resolved_rate=0.9,
        median_resolution_hours=12.0,
        price_index=1.1,
    )
    return dataclasses.replace(base, **changes)


def score(**changes: Any) -> ScoreBreakdown:
    return evaluation_score(inputs(**changes))


# --- the weights ----------------------------------------------------------------------


def test_weights_are_the_domain_weights() -> None:
    assert dict(WEIGHTS) == {
        "satisfaction": 0.40,
        "response_speed": 0.25,
        "complaint_handling": 0.20,
        "price": 0.15,
    }


def test_weights_sum_to_one() -> None:
    assert sum(Decimal(str(w)) for w in WEIGHTS.values()) == 1
    assert math.fsum(WEIGHTS.values()) == 1.0


def test_weights_name_the_components_and_cannot_be_changed() -> None:
    components = {f.name for f in dataclasses.fields(ScoreBreakdown)} - {"total"}
    assert set(WEIGHTS) == components
    with pytest.raises(TypeError):
        WEIGHTS["price"] = 1.0  # type: ignore[index]


# --- whole examples, computed by hand in docs/scoring.md ----------------------------------


def test_worked_example() -> None:
    # satisfaction (4.6 - 1) / 4 * 100 = 90; speed 92;
    # complaints 60 * (1 - 0.004 / 0.02) + 40 * 0.9 * (1 - 12 / 72) = 48 + 30 = 78;
    # price 100 - (1.1 - 1) / 0.5 * 100 = 80;
    # total 0.40 * 90 + 0.25 * 92 + 0.20 * 78 + 0.15 * 80 = 36 + 23 + 15.6 + 12 = 86.6
    assert score() == ScoreBreakdown(
        satisfaction=90.0, response_speed=92.0, complaint_handling=78.0, price=80.0, total=86.6
    )


def test_worked_example_with_rounding() -> None:
    # satisfaction 3.33 / 4 * 100 = 83.25; speed 87.1;
    # complaints 60 * 0.5 + 40 * 1 * (1 - 5 / 72) = 30 + 37.2222… = 67.2222;
    # price 100 - 0.07 / 0.5 * 100 = 86;
    # total 33.3 + 21.775 + 13.44444 + 12.9 = 81.41944 -> 81.42
    assert evaluation_score(
        ScoreInputs(
            rating_average=4.33,
            on_time_rate=0.871,
            complaint_rate=0.01,
            complaints_resolved_rate=1.0,
            median_resolution_hours=5.0,
            price_index=1.07,
        )
    ) == ScoreBreakdown(
        satisfaction=83.25,
        response_speed=87.1,
        complaint_handling=67.2222,
        price=86.0,
        total=81.42,
    )


def test_nothing_known_and_no_complaints() -> None:
    # 0.40 * 50 + 0.25 * 50 + 0.20 * 100 + 0.15 * 50 = 20 + 12.5 + 20 + 7.5
    assert evaluation_score(ScoreInputs(None, None, 0.0, None, None, None)) == ScoreBreakdown(
        satisfaction=50.0, response_speed=50.0, complaint_handling=100.0, price=50.0, total=60.0
    )


def test_best_and_worst_months() -> None:
    best = evaluation_score(ScoreInputs(5.0, 1.0, 0.0, None, None, 0.8))
    assert best == ScoreBreakdown(100.0, 100.0, 100.0, 100.0, 100.0)
    worst = evaluation_score(ScoreInputs(1.0, 0.0, 0.05, 0.0, None, 2.0))
    assert worst == ScoreBreakdown(0.0, 0.0, 0.0, 0.0, 0.0)


def test_total_rounds_half_up_exactly() -> None:
    # 0.40 * 50 + 0.25 * 0.1 + 0.20 * 100 + 0.15 * 50 = 47.525 exactly -> 47.53
    # (the same sum in floats, passed to round(), gives 47.52)
    result = evaluation_score(ScoreInputs(None, 0.001, 0.0, None, None, None))
    assert result.total == 47.53


# --- each formula ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rating", "expected"),
    [(1.0, 0.0), (2.0, 25.0), (3.0, 50.0), (4.6, 90.0), (4.8, 95.0), (5.0, 100.0), (None, 50.0)],
)
def test_satisfaction(rating: float | None, expected: float) -> None:
    assert score(rating_average=rating).satisfaction == expected


def test_components_are_rounded_half_up_to_four_decimals() -> None:
    assert score(rating_average=4.123456).satisfaction == 78.0864
    assert score(rating_average=4.12345).satisfaction == 78.0863  # 78.08625


@pytest.mark.parametrize(
    ("on_time", "expected"), [(0.0, 0.0), (0.5, 50.0), (0.955, 95.5), (1.0, 100.0), (None, 50.0)]
)
def test_response_speed(on_time: float | None, expected: float) -> None:
    assert score(on_time_rate=on_time).response_speed == expected


@pytest.mark.parametrize(
    ("rate", "resolved", "hours", "expected"),
    [
        (0.0, None, None, 100.0),  # no complaints
        (0.0, 1.0, 0.0, 100.0),  # complaints but no orders: rate 0, resolved at once
        (0.01, 1.0, 0.0, 70.0),  # half the volume points
        (0.02, 1.0, 0.0, 40.0),  # 2 % and more: no volume points
        (0.5, 1.0, 0.0, 40.0),
        (0.004, 0.9, 12.0, 78.0),  # 48 + 40 * 0.9 * 60 / 72
        (0.004, 0.5, 36.0, 58.0),  # 48 + 40 * 0.5 * 0.5
        (0.005, 1.0, 72.0, 45.0),  # resolved too slowly to earn anything
        (0.005, 1.0, 200.0, 45.0),
        (0.005, 0.0, None, 45.0),  # nothing resolved
        (0.005, 0.5, None, 55.0),  # resolved, time unknown: neutral 0.5 -> 40 * 0.25
        (0.005, None, None, 85.0),  # resolved rate unknown: treated as nothing to resolve
    ],
)
def test_complaint_handling(
    rate: float, resolved: float | None, hours: float | None, expected: float
) -> None:
    result = score(
        complaint_rate=rate, complaints_resolved_rate=resolved, median_resolution_hours=hours
    )
    assert result.complaint_handling == expected


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0.3, 100.0),  # below the median is not penalised
        (1.0, 100.0),
        (1.1, 80.0),
        (1.25, 50.0),
        (1.5, 0.0),
        (3.0, 0.0),
        (None, 50.0),
    ],
)
def test_price(index: float | None, expected: float) -> None:
    assert score(price_index=index).price == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rating_average", 0.9),
        ("rating_average", 5.1),
        ("rating_average", float("nan")),
        ("on_time_rate", 1.01),
        ("on_time_rate", -0.1),
        ("complaint_rate", -0.001),
        ("complaint_rate", float("inf")),
        ("complaints_resolved_rate", 1.5),
        ("median_resolution_hours", -1.0),
        ("price_index", 0.0),
        ("price_index", -1.0),
    ],
)
def test_impossible_inputs_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        inputs(**{field: value})


# --- properties ------------------------------------------------------------------------

ratings = st.floats(1, 5)
shares = st.floats(0, 1)
months = st.builds(
    ScoreInputs,
    rating_average=st.none() | ratings,
    on_time_rate=st.none() | shares,
    complaint_rate=shares,
    complaints_resolved_rate=st.none() | shares,
    median_resolution_hours=st.none() | st.floats(0, 1_000),
    price_index=st.none() | st.floats(0.01, 10),
)


@given(months, ratings, ratings)
def test_score_never_falls_as_the_rating_rises(month: ScoreInputs, a: float, b: float) -> None:
    low, high = sorted((a, b))
    worse = evaluation_score(dataclasses.replace(month, rating_average=low))
    better = evaluation_score(dataclasses.replace(month, rating_average=high))
    assert worse.satisfaction <= better.satisfaction
    assert worse.total <= better.total


@given(months, shares, shares)
def test_score_never_falls_as_the_on_time_rate_rises(
    month: ScoreInputs, a: float, b: float
) -> None:
    low, high = sorted((a, b))
    worse = evaluation_score(dataclasses.replace(month, on_time_rate=low))
    better = evaluation_score(dataclasses.replace(month, on_time_rate=high))
    assert worse.response_speed <= better.response_speed
    assert worse.total <= better.total


@given(months, shares, shares)
def test_score_never_rises_with_the_complaint_rate(month: ScoreInputs, a: float, b: float) -> None:
    low, high = sorted((a, b))
    fewer = evaluation_score(dataclasses.replace(month, complaint_rate=low))
    more = evaluation_score(dataclasses.replace(month, complaint_rate=high))
    assert more.total <= fewer.total


@given(months, st.floats(0.01, 10), st.floats(0.01, 10))
def test_score_never_rises_with_the_price(month: ScoreInputs, a: float, b: float) -> None:
    low, high = sorted((a, b))
    cheaper = evaluation_score(dataclasses.replace(month, price_index=low))
    dearer = evaluation_score(dataclasses.replace(month, price_index=high))
    assert dearer.total <= cheaper.total


@given(months)
def test_components_stay_within_bounds_and_the_total_is_their_weighted_sum(
    month: ScoreInputs,
) -> None:
    result = evaluation_score(month)
    weighted = Decimal(0)
    for name, weight in WEIGHTS.items():
        component = getattr(result, name)
        assert 0 <= component <= 100
        weighted += Decimal(str(weight)) * Decimal(repr(component))
    assert result.total == float(weighted.quantize(Decimal("0.01"), ROUND_HALF_UP))
    assert 0 <= result.total <= 100
