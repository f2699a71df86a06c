"""The monthly tier decision: every boundary of the DOMAIN.md table, provisional months, cards."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.agreement import PartnerTier
from sla.tiers import DEFAULT_MIN_RATINGS, TierDecision, TierInputs, decide_tier

GOLD, SILVER, BRONZE = PartnerTier.GOLD, PartnerTier.SILVER, PartnerTier.BRONZE
YELLOW, TERMINATED = PartnerTier.YELLOW_CARD, PartnerTier.TERMINATED


def month(
    rating: float | None,
    complaint_rate: float = 0.0,
    *,
    ratings: int = 100,
    previous: PartnerTier = SILVER,
    yellow_before: int = 0,
) -> TierInputs:
    return TierInputs(
        rating_average=rating,
        ratings=ratings if rating is not None else 0,
        complaint_rate=complaint_rate,
        previous=previous,
        yellow_months_before=yellow_before,
    )


def tier(rating: float, complaint_rate: float = 0.0) -> PartnerTier:
    return decide_tier(month(rating, complaint_rate)).tier


def test_the_example_of_the_brief() -> None:
    decision = decide_tier(month(4.86, 0.0031))
    assert decision == TierDecision(
        GOLD,
        provisional=False,
        reason="rating 4.86 > 4.8 and complaint rate 0.31 % < 0.5 %: gold",
    )


def test_default_minimum_is_thirty() -> None:
    assert DEFAULT_MIN_RATINGS == 30


@pytest.mark.parametrize(
    ("rating", "rate", "expected"),
    [
        # rating boundaries, with a complaint rate that allows gold
        (4.81, 0.0, GOLD),
        (4.8, 0.0, SILVER),  # exactly 4.8 is not gold
        (4.51, 0.0, SILVER),
        (4.5, 0.0, BRONZE),  # exactly 4.5 is not silver
        (4.01, 0.0, BRONZE),
        (4.0, 0.0, YELLOW),  # exactly 4.0 is not bronze
        (1.0, 0.0, YELLOW),
        (5.0, 0.0, GOLD),
        # complaint rate boundaries, with a rating that allows gold
        (4.9, 0.0049, GOLD),
        (4.9, 0.005, SILVER),  # exactly 0.5 % is not gold
        (4.9, 0.0099, SILVER),
        (4.9, 0.01, BRONZE),  # exactly 1 % is not silver
        (4.9, 0.0199, BRONZE),
        (4.9, 0.02, YELLOW),  # exactly 2 % is not bronze
        (4.9, 1.0, YELLOW),
        # both limits at once: the worse one decides
        (4.6, 0.012, BRONZE),
        (4.3, 0.001, BRONZE),
        (4.85, 0.021, YELLOW),
    ],
)
def test_tier_boundaries_are_strict(rating: float, rate: float, expected: PartnerTier) -> None:
    assert tier(rating, rate) is expected


@pytest.mark.parametrize(
    ("rating", "rate"),
    [
        (4.800000000000001, 0.0),  # float noise above 4.8 is still 4.8
        (sum([4.8] * 10) / 10, 0.0),
        (4.9, 0.005000000000000001),  # and above 0.5 % is still 0.5 %
        (4.9, 1 / 200),
        (4.9, 0.1 * 0.05),  # 0.005000000000000001 in binary
    ],
)
def test_float_noise_at_a_boundary_is_not_a_better_tier(rating: float, rate: float) -> None:
    assert tier(rating, rate) is SILVER


def test_a_real_difference_beyond_noise_counts() -> None:
    # 49,999 complaints in 9,999,801 orders: 0.5 % less 1 / (200 * orders), about 5e-10
    decision = decide_tier(month(4.9, 49_999 / 9_999_801))
    assert decision.tier is GOLD
    assert "complaint rate 0.4999999 % < 0.5 %" in decision.reason
    # 99,999 ratings averaging just above 4.8
    assert tier(480_000 / 99_999, 0.0) is GOLD


def test_reason_names_the_failed_check_of_the_better_tier() -> None:
    assert decide_tier(month(4.8, 0.002)).reason == (
        "rating 4.80 > 4.5 and complaint rate 0.20 % < 1 %, but rating 4.80 is not > 4.8: silver"
    )
    assert decide_tier(month(4.9, 0.005)).reason == (
        "rating 4.90 > 4.5 and complaint rate 0.50 % < 1 %, "
        "but complaint rate 0.50 % is not < 0.5 %: silver"
    )


def test_reason_shows_enough_digits_not_to_look_like_the_threshold() -> None:
    reason = decide_tier(month(4.8004, 0.004999)).reason
    assert reason == "rating 4.8004 > 4.8 and complaint rate 0.4999 % < 0.5 %: gold"


def test_yellow_reason_lists_every_failure() -> None:
    decision = decide_tier(month(3.9, 0.025))
    assert decision.tier is YELLOW
    assert decision.reason == (
        "rating 3.90 is not > 4.0 and complaint rate 2.50 % is not < 2 %: yellow card"
    )


def test_too_few_ratings_keep_the_previous_tier_provisionally() -> None:
    decision = decide_tier(month(2.0, 0.5, ratings=29, previous=GOLD))
    assert decision == TierDecision(
        GOLD,
        provisional=True,
        reason="29 ratings, fewer than the minimum of 30: gold kept (provisional)",
    )
    assert not decide_tier(month(4.9, ratings=30, previous=GOLD)).provisional


def test_no_ratings_at_all_is_provisional() -> None:
    decision = decide_tier(month(None, 0.0, previous=YELLOW, yellow_before=5))
    assert decision.tier is YELLOW
    assert decision.provisional
    assert decision.reason.startswith("0 ratings, fewer than the minimum of 30")


def test_the_minimum_is_a_parameter() -> None:
    inputs = month(4.9, ratings=5, previous=BRONZE)
    assert decide_tier(inputs).provisional
    assert decide_tier(inputs, min_ratings=5) == TierDecision(
        GOLD, provisional=False, reason="rating 4.90 > 4.8 and complaint rate 0.00 % < 0.5 %: gold"
    )
    assert decide_tier(month(4.9, ratings=1), min_ratings=2).reason.startswith("1 rating,")
    with pytest.raises(ValueError, match="min_ratings"):
        decide_tier(inputs, min_ratings=0)


def test_yellow_cards_count_up_to_termination() -> None:
    first = decide_tier(month(3.5, previous=SILVER, yellow_before=0))
    second = decide_tier(month(3.5, previous=YELLOW, yellow_before=1))
    third = decide_tier(month(3.5, previous=YELLOW, yellow_before=2))
    assert (first.tier, second.tier, third.tier) == (YELLOW, YELLOW, TERMINATED)
    assert first.reason == "rating 3.50 is not > 4.0: yellow card"
    assert second.reason == "rating 3.50 is not > 4.0: yellow card (2 months in a row)"
    assert third.reason == (
        "rating 3.50 is not > 4.0, so a yellow card 3 months in a row: terminated"
    )
    assert not third.provisional


def test_a_longer_streak_terminates_too() -> None:
    assert decide_tier(month(3.5, previous=YELLOW, yellow_before=7)).tier is TERMINATED


def test_two_yellow_cards_then_a_good_month_recovers_to_what_the_numbers_give() -> None:
    assert decide_tier(month(4.9, 0.001, previous=YELLOW, yellow_before=2)).tier is GOLD
    assert decide_tier(month(4.6, 0.001, previous=YELLOW, yellow_before=2)).tier is SILVER
    assert decide_tier(month(4.1, 0.015, previous=YELLOW, yellow_before=2)).tier is BRONZE


def test_a_provisional_month_never_terminates() -> None:
    decision = decide_tier(month(1.0, 1.0, ratings=3, previous=YELLOW, yellow_before=2))
    assert (decision.tier, decision.provisional) == (YELLOW, True)


@pytest.mark.parametrize(("rating", "ratings"), [(4.95, 500), (1.0, 500), (None, 0), (4.9, 3)])
def test_terminated_stays_terminated(rating: float | None, ratings: int) -> None:
    decision = decide_tier(month(rating, ratings=ratings, previous=TERMINATED))
    assert decision == TierDecision(
        TERMINATED,
        provisional=False,
        reason="terminated before this month, and termination is final: terminated",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ratings": -1, "rating_average": None}, "ratings"),
        ({"yellow_months_before": -1}, "yellow_months_before"),
        ({"rating_average": None}, "rating_average must be None exactly"),
        ({"ratings": 0}, "rating_average must be None exactly"),
        ({"rating_average": 5.01}, "1..5"),
        ({"rating_average": 0.5}, "1..5"),
        ({"complaint_rate": -0.01}, "complaint_rate"),
        ({"complaint_rate": float("nan")}, "complaint_rate"),
    ],
)
def test_impossible_inputs_are_refused(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "rating_average": 4.5,
        "ratings": 40,
        "complaint_rate": 0.0,
        "previous": SILVER,
        "yellow_months_before": 0,
    }
    with pytest.raises(ValueError, match=message):
        TierInputs(**{**values, **kwargs})  # type: ignore[arg-type]


_RANK = {GOLD: 0, SILVER: 1, BRONZE: 2, YELLOW: 3}


@given(
    rating=st.floats(1, 5),
    better_rating=st.floats(1, 5),
    rate=st.floats(0, 1),
    lower_rate=st.floats(0, 1),
)
def test_better_numbers_never_give_a_worse_tier(
    rating: float, better_rating: float, rate: float, lower_rate: float
) -> None:
    better_rating, lower_rate = max(rating, better_rating), min(rate, lower_rate)
    assert _RANK[tier(better_rating, lower_rate)] <= _RANK[tier(rating, rate)]


@given(rating=st.floats(1, 5), rate=st.floats(0, 1), streak=st.integers(0, 10))
def test_every_judged_decision_explains_itself(rating: float, rate: float, streak: int) -> None:
    decision = decide_tier(month(rating, rate, previous=YELLOW, yellow_before=streak))
    assert not decision.provisional
    assert decision.reason.endswith(": " + decision.tier.value.replace("_", " ")) or (
        decision.tier is YELLOW and decision.reason.endswith("in a row)")
    )
    assert decision.reason.startswith(("rating ", "complaint rate "))
