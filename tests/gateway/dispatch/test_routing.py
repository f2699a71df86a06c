"""Routing rules over plain agreements: coverage, tiers, bronze cap, suspension, exclusivity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from contracts import PartnerAgreement, PartnerTier, ServiceCategory, SkipReason
from gateway.dispatch.routing import MonthVolume, plan_route
from gateway.registry import load_registry

PARTNERS = Path(__file__).resolve().parents[3] / "partners"
TODAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def rental() -> list[PartnerAgreement]:
    return list(load_registry(PARTNERS).by_category(ServiceCategory.RENTAL))


def _with(agreement: PartnerAgreement, **changes: object) -> PartnerAgreement:
    return PartnerAgreement.model_validate(agreement.model_dump() | changes)


def _ids(plan: object) -> list[str]:
    return [a.id for a in plan.candidates]  # type: ignore[attr-defined]


def _reasons(plan: object) -> dict[str, SkipReason]:
    return {s.partner_id: s.reason for s in plan.skipped}  # type: ignore[attr-defined]


def test_gold_before_bronze_in_a_shared_city(rental: list[PartnerAgreement]) -> None:
    plan = plan_route(rental, category=ServiceCategory.RENTAL, city="Shenzhen", today=TODAY)
    assert _ids(plan) == ["swiftrent", "citycar"]
    assert plan.skipped == ()


def test_city_coverage(rental: list[PartnerAgreement]) -> None:
    plan = plan_route(rental, category=ServiceCategory.RENTAL, city="Shanghai", today=TODAY)
    assert _ids(plan) == ["swiftrent"]
    assert _reasons(plan) == {"citycar": SkipReason.NOT_IN_CITY}
    nowhere = plan_route(rental, category=ServiceCategory.RENTAL, city="Lhasa", today=TODAY)
    assert _ids(nowhere) == []
    assert set(_reasons(nowhere).values()) == {SkipReason.NOT_IN_CITY}


def test_suspended_and_expired_are_skipped(rental: list[PartnerAgreement]) -> None:
    swift, city = sorted(rental, key=lambda a: a.id != "swiftrent")
    suspended = _with(swift, status="suspended")
    plan = plan_route(
        [suspended, city], category=ServiceCategory.RENTAL, city="Shenzhen", today=TODAY
    )
    assert _ids(plan) == ["citycar"]
    assert _reasons(plan) == {"swiftrent": SkipReason.SUSPENDED}
    later = plan_route(
        rental, category=ServiceCategory.RENTAL, city="Shenzhen", today=date(2028, 6, 1)
    )
    assert _reasons(later) == {"swiftrent": SkipReason.OUTSIDE_VALIDITY}


def test_tier_order_then_score_then_id(rental: list[PartnerAgreement]) -> None:
    swift, city = sorted(rental, key=lambda a: a.id != "swiftrent")
    silver_a = _with(swift, id="alpha", tier="silver")
    silver_b = _with(swift, id="beta", tier="silver")
    plan = plan_route(
        [city, silver_b, silver_a, swift],
        category=ServiceCategory.RENTAL,
        city="Shenzhen",
        today=TODAY,
        scores={"beta": 91.0, "alpha": 80.0},
    )
    assert _ids(plan) == ["swiftrent", "beta", "alpha", "citycar"]
    unscored = plan_route(
        [silver_b, silver_a], category=ServiceCategory.RENTAL, city="Shenzhen", today=TODAY
    )
    assert _ids(unscored) == ["alpha", "beta"]


@pytest.mark.parametrize(
    ("taken", "total", "eligible"),
    [(0, 0, True), (0, 3, True), (1, 4, False), (1, 5, True), (25, 100, False), (24, 100, True)],
)
def test_bronze_volume_cap(
    rental: list[PartnerAgreement], taken: int, total: int, eligible: bool
) -> None:
    city = next(a for a in rental if a.id == "citycar")
    assert city.tier is PartnerTier.BRONZE and city.volume_cap_share == Decimal("0.25")
    plan = plan_route(
        [city],
        category=ServiceCategory.RENTAL,
        city="Shenzhen",
        today=TODAY,
        volume=MonthVolume(total=total, by_partner={"citycar": taken}),
    )
    assert (_ids(plan) == ["citycar"]) is eligible
    if not eligible:
        assert _reasons(plan) == {"citycar": SkipReason.VOLUME_CAP_REACHED}


def test_the_cap_binds_only_bronze(rental: list[PartnerAgreement]) -> None:
    city = next(a for a in rental if a.id == "citycar")
    promoted = _with(city, tier="silver")
    plan = plan_route(
        [promoted],
        category=ServiceCategory.RENTAL,
        city="Shenzhen",
        today=TODAY,
        volume=MonthVolume(total=4, by_partner={"citycar": 4}),
    )
    assert _ids(plan) == ["citycar"]


def test_exclusivity_leaves_only_the_exclusive_partner(rental: list[PartnerAgreement]) -> None:
    swift, city = sorted(rental, key=lambda a: a.id != "swiftrent")
    exclusive = _with(city, exclusivity={"serves_competitors": True, "exclusive_in_category": True})
    plan = plan_route(
        [swift, exclusive], category=ServiceCategory.RENTAL, city="Shenzhen", today=TODAY
    )
    assert _ids(plan) == ["citycar"]
    assert _reasons(plan) == {"swiftrent": SkipReason.EXCLUSIVITY}
    # Where the exclusive partner does not serve, the others still do.
    elsewhere = plan_route(
        [swift, exclusive], category=ServiceCategory.RENTAL, city="Shanghai", today=TODAY
    )
    assert _ids(elsewhere) == ["swiftrent"]


def test_pinned_request_goes_to_that_partner_only(rental: list[PartnerAgreement]) -> None:
    plan = plan_route(
        rental, category=ServiceCategory.RENTAL, city="Shenzhen", today=TODAY, pinned="citycar"
    )
    assert _ids(plan) == ["citycar"]
    unknown = plan_route(
        rental, category=ServiceCategory.RENTAL, city="Shenzhen", today=TODAY, pinned="nobody"
    )
    assert _ids(unknown) == []


def test_yellow_card_takes_no_orders(rental: list[PartnerAgreement]) -> None:
    swift = next(a for a in rental if a.id == "swiftrent")
    carded = _with(swift, tier="yellow_card", status="suspended")
    plan = plan_route([carded], category=ServiceCategory.RENTAL, city="Shenzhen", today=TODAY)
    assert _ids(plan) == []


def test_a_partner_demoted_to_bronze_gets_the_default_cap(rental: list[PartnerAgreement]) -> None:
    swift = next(a for a in rental if a.id == "swiftrent")
    assert swift.volume_cap_share is None
    capped = plan_route(
        [swift],
        category=ServiceCategory.RENTAL,
        city="Shenzhen",
        today=TODAY,
        tiers={"swiftrent": PartnerTier.BRONZE},
        volume=MonthVolume(total=8, by_partner={"swiftrent": 2}),
        bronze_cap=Decimal("0.25"),
    )
    assert _reasons(capped) == {"swiftrent": SkipReason.VOLUME_CAP_REACHED}
    gold = plan_route(
        [swift],
        category=ServiceCategory.RENTAL,
        city="Shenzhen",
        today=TODAY,
        volume=MonthVolume(total=8, by_partner={"swiftrent": 8}),
        bronze_cap=Decimal("0.25"),
    )
    assert _ids(gold) == ["swiftrent"]
