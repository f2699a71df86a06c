"""A month's aggregates, computed in SQL, on SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

import pytest

from gateway.bootstrap import Container
from gateway.scorecards.months import month_bounds
from tests.gateway.scorecards.conftest import Partners, seed, standard_month

MONTH = "2025-01"


class TestMonthAggregates:
    async def test_every_source_table_is_summed_per_partner(
        self, container: Container, partners: Partners
    ) -> None:
        await seed(container, MONTH, *standard_month(partners, MONTH))
        start, end = month_bounds(MONTH)
        async with container.uow() as uow:
            found = await uow.scorecards.month_aggregates(MONTH, start, end)

        swift = found[partners["swiftrent"]]
        # 13 mid-month + 1 in the first Shanghai hour; the ones just outside are not counted.
        assert swift.orders == 14 and swift.priced_orders == 14
        assert swift.average_price == pytest.approx(60000)  # 30000 a day for 2 days
        assert swift.ratings == 10 and swift.rating_average == pytest.approx(5.0)
        assert swift.complaints == 0 and swift.complaint_rate == 0
        assert swift.complaints_resolved_rate is None and swift.median_resolution_hours is None
        accept, deliver = swift.terms
        assert (accept.term, accept.met, accept.breached) == ("accept", 2, 0)
        assert accept.median_ms == pytest.approx(200)
        assert accept.p95_ms == pytest.approx(290)  # 100 + 0.95 * (300 - 100)
        # 8 met, 2 breached with times, 1 breached by the sweep; open and late not counted.
        assert (deliver.term, deliver.met, deliver.breached) == ("deliver", 8, 3)
        assert deliver.compliance == pytest.approx(8 / 11)
        assert deliver.median_ms == pytest.approx(5500)
        assert deliver.p95_ms == pytest.approx(9550)  # rank 9.55 between 9000 and 10000
        assert (swift.sla_met, swift.sla_breached) == (10, 3)
        assert swift.sla_compliance == pytest.approx(10 / 13)
        assert swift.calls == 20 and swift.ok_calls == 19
        assert swift.availability == pytest.approx(0.95)
        assert swift.p95_call_ms == pytest.approx(190.5)  # rank 19.05 between 190 and 200

        city = found[partners["citycar"]]
        assert (city.orders, city.priced_orders) == (5, 4)
        assert city.average_price == pytest.approx(100000)
        assert city.ratings == 5 and city.rating_average == pytest.approx(3.4)
        assert city.complaints == 2 and city.complaint_rate == pytest.approx(0.4)
        assert city.complaints_resolved_rate == pytest.approx(0.5)
        assert city.median_resolution_hours == pytest.approx(10.0, abs=1e-3)
        assert city.terms == [] and city.sla_compliance is None
        assert city.calls == 0 and city.availability is None and city.p95_call_ms is None

        policy = found[partners["pingsure"]]
        assert policy.orders == 3 and policy.average_price == pytest.approx(432100)
        assert policy.ratings == 3

        charging = found[partners["voltgrid"]]
        assert (charging.orders, charging.priced_orders) == (2, 1)
        assert charging.average_price == pytest.approx(1234)
        assert charging.ratings == 0 and charging.rating_average is None

        assert partners["meilife"] not in found

    async def test_other_months_are_left_out(
        self, container: Container, partners: Partners
    ) -> None:
        await seed(container, "2025-02", *standard_month(partners, "2025-02"))
        start, end = month_bounds("2024-12")
        async with container.uow() as uow:
            found = await uow.scorecards.month_aggregates("2024-12", start, end)
        assert set(found) & set(partners.ids.values()) == set()
        # The order created in the last Shanghai hour of January belongs to January.
        start, end = month_bounds("2025-01")
        async with container.uow() as uow:
            found = await uow.scorecards.month_aggregates("2025-01", start, end)
        swift = found[partners["swiftrent"]]
        assert swift.orders == 1 and swift.ratings == 0 and swift.terms == []
