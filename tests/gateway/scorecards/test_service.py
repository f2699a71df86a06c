"""compute_month: provisional scorecards, the month close, tiers from the next month on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts import PartnerTier
from gateway.bootstrap import Container
from gateway.persistence.tables import ScorecardRow
from gateway.registry import UnknownPartner
from gateway.scorecards import (
    MonthClosed,
    MonthNotOver,
    compute_month,
    partner_trend,
    scorecards_of_month,
    tier_in_force,
    tiers_in_force,
)
from sla import ScoreInputs, evaluation_score
from tests.gateway.oauth.conftest import FakeClock
from tests.gateway.scorecards.conftest import Partners, Seed, courtesy_car, seed, standard_month


def _by_partner(rows: list[ScorecardRow], partners: Partners) -> dict[str, ScorecardRow]:
    mine = {copy: sample for sample, copy in partners.ids.items()}
    return {mine[row.partner_id]: row for row in rows if row.partner_id in mine}


def _yellow_month(partners: Partners) -> Seed:
    """citycar rated 3.4 on average: a yellow card."""
    return Seed(partners["citycar"], orders=[courtesy_car(50000)] * 5, stars=[3, 3, 4, 4, 3])


class TestOpenMonth:
    async def test_scorecards_are_provisional_scored_and_judged(
        self, container: Container, partners: Partners
    ) -> None:
        await seed(container, "2025-04", *standard_month(partners, "2025-04"))
        rows = await compute_month(container, "2025-04")
        cards = _by_partner(rows, partners)
        assert len(rows) == len(partners.ids) == 8
        assert all(row.provisional and row.closed_at is None for row in rows)

        swift = cards["swiftrent"]
        assert (swift.tier, swift.metrics["tier_in_force"]) == ("gold", "gold")
        assert swift.tier_reason == "rating 5.00 > 4.8 and complaint rate 0.00 % < 0.5 %: gold"
        assert swift.metrics["price_index"] == pytest.approx(0.75)  # 60000 / median(60000, 100000)
        assert swift.metrics["category_median_price"] == pytest.approx(80000)
        expected = evaluation_score(
            ScoreInputs(
                rating_average=5.0,
                on_time_rate=10 / 13,
                complaint_rate=0.0,
                complaints_resolved_rate=None,
                median_resolution_hours=None,
                price_index=0.75,
            )
        )
        assert swift.score == expected.total == pytest.approx(94.23)
        assert swift.metrics["score_breakdown"]["response_speed"] == expected.response_speed

        city = cards["citycar"]
        assert (city.tier, city.metrics["tier_in_force"]) == ("yellow_card", "bronze")
        assert city.metrics["price_index"] == pytest.approx(1.25)
        assert city.metrics["complaint_rate"] == pytest.approx(0.4)

        policy = cards["pingsure"]  # 3 ratings, fewer than 5: the tier is kept, provisionally
        assert policy.tier == "gold" and policy.metrics["tier_provisional"] is True
        assert policy.metrics["price_index"] == pytest.approx(1.0)
        assert cards["meilife"].metrics["orders"] == 0 and cards["meilife"].tier == "silver"

        # Nothing changes before the month is closed.
        assert await tier_in_force(container, partners["citycar"], "2025-05") is PartnerTier.BRONZE
        async with container.uow() as uow:
            stored = _by_partner(list(await uow.scorecards.of_month("2025-04")), partners)
        assert stored["citycar"].tier == "yellow_card" and stored["citycar"].provisional

    async def test_recomputing_replaces_the_provisional_scorecards(
        self, container: Container, partners: Partners, clock: FakeClock
    ) -> None:
        await seed(container, "2025-08", _yellow_month(partners))
        first = _by_partner(await compute_month(container, "2025-08"), partners)["citycar"]
        await seed(
            container,
            "2025-08",
            Seed(partners["citycar"], orders=[courtesy_car(50000)] * 5, stars=[5] * 5),
        )
        clock.advance(minutes=5)
        again = _by_partner(await compute_month(container, "2025-08"), partners)["citycar"]
        assert again.metrics["ratings"] == 10 and again.metrics["rating_average"] == 4.2
        assert again.computed_at > first.computed_at and again.provisional
        # Reading does not write: the same numbers, computed now.
        read = _by_partner(await scorecards_of_month(container, "2025-08"), partners)
        assert read["citycar"].metrics == again.metrics

    async def test_invalid_month_is_refused(self, container: Container) -> None:
        with pytest.raises(Exception, match="YYYY-MM") as raised:
            await compute_month(container, "2025-13")
        assert getattr(raised.value, "slug", None) == "invalid-month"


class TestClose:
    async def test_close_freezes_the_month_and_sets_next_months_tiers(
        self, container: Container, partners: Partners, clock: FakeClock
    ) -> None:
        await seed(container, "2025-05", *standard_month(partners, "2025-05"))
        city = partners["citycar"]
        # 23:59:59 on 31 May in Shanghai: the month is not over yet.
        clock.now = datetime(2025, 5, 31, 15, 59, 59, tzinfo=UTC)
        with pytest.raises(MonthNotOver):
            await compute_month(container, "2025-05", close=True)
        clock.now = datetime(2025, 5, 31, 16, 0, tzinfo=UTC)  # 1 June 00:00 in Shanghai
        rows = await compute_month(container, "2025-05", close=True, closed_by="manager-1")
        cards = _by_partner(rows, partners)
        assert all(not row.provisional and row.closed_at == clock.now for row in cards.values())
        assert cards["citycar"].tier == "yellow_card"
        async with container.uow() as uow:
            closed = await uow.scorecards.closed_month("2025-05")
            changes = await uow.scorecards.tier_changes(partner_id=city)
            others = [
                change
                for sample, copy in partners.ids.items()
                if sample != "citycar"
                for change in await uow.scorecards.tier_changes(partner_id=copy)
            ]
        assert closed is not None and closed.closed_by == "manager-1"
        assert [(c.effective_month, c.previous_tier, c.tier) for c in changes] == [
            ("2025-06", "bronze", "yellow_card")
        ]
        assert changes[0].reason == cards["citycar"].tier_reason
        assert others == []  # unchanged tiers leave no change row
        assert await tier_in_force(container, city, "2025-05") is PartnerTier.BRONZE
        assert await tier_in_force(container, city, "2025-06") is PartnerTier.YELLOW_CARD
        assert await tier_in_force(container, city, "2026-01") is PartnerTier.YELLOW_CARD
        in_june = await tiers_in_force(container, "2025-06")
        assert in_june[city] is PartnerTier.YELLOW_CARD
        assert in_june[partners["swiftrent"]] is PartnerTier.GOLD

        with pytest.raises(MonthClosed):
            await compute_month(container, "2025-05", close=True)
        # Later measurements do not move a frozen scorecard.
        await seed(container, "2025-05", Seed(city, orders=[courtesy_car(1)] * 5, stars=[5] * 5))
        frozen = _by_partner(await compute_month(container, "2025-05"), partners)["citycar"]
        assert frozen.metrics == cards["citycar"].metrics and frozen.closed_at == clock.now
        read = _by_partner(await scorecards_of_month(container, "2025-05"), partners)
        assert read["citycar"].metrics["ratings"] == 5

    async def test_three_yellow_cards_in_a_row_terminate(
        self, container: Container, partners: Partners, clock: FakeClock
    ) -> None:
        city = partners["citycar"]
        decided = []
        for month, ends in (("2025-09", 30), ("2025-10", 31), ("2025-11", 30)):
            await seed(container, month, _yellow_month(partners))
            clock.now = datetime(int(month[:4]), int(month[5:]), ends, 16, 0, tzinfo=UTC)
            rows = await compute_month(container, month, close=True)
            decided.append(_by_partner(rows, partners)["citycar"])
        assert [row.tier for row in decided] == ["yellow_card", "yellow_card", "terminated"]
        assert decided[1].tier_reason.endswith("yellow card (2 months in a row)")
        assert decided[2].tier_reason.endswith("3 months in a row: terminated")
        async with container.uow() as uow:
            changes = await uow.scorecards.tier_changes(partner_id=city)
        assert [(c.effective_month, c.tier) for c in changes] == [
            ("2025-10", "yellow_card"),
            ("2025-12", "terminated"),
        ]
        assert await tier_in_force(container, city, "2025-11") is PartnerTier.YELLOW_CARD
        assert await tier_in_force(container, city, "2025-12") is PartnerTier.TERMINATED

    async def test_trend_has_frozen_and_provisional_months_newest_last(
        self, container: Container, partners: Partners, clock: FakeClock
    ) -> None:
        await seed(container, "2024-02", _yellow_month(partners))
        clock.now = datetime(2024, 3, 10, tzinfo=UTC)
        await compute_month(container, "2024-02", close=True)
        await seed(container, "2024-03", *standard_month(partners, "2024-03"))
        trend = await partner_trend(container, partners["citycar"], 3)
        assert [row.month for row in trend] == ["2024-01", "2024-02", "2024-03"]
        assert [row.provisional for row in trend] == [True, False, True]
        assert trend[1].tier == "yellow_card"
        assert trend[2].metrics["tier_in_force"] == "yellow_card"
        assert trend[2].metrics["orders"] == 5
        with pytest.raises(UnknownPartner):
            await partner_trend(container, "nobody", 3)
        with pytest.raises(UnknownPartner):
            await tier_in_force(container, "nobody", "2024-03")
