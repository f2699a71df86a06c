"""The worked examples of docs/commission.md, through the real intake and ledger."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from contracts import PartnerTier
from contracts.commission import Attribution
from gateway.bootstrap import Container
from gateway.ledger import accrue_month, record_kpi, statement_of
from gateway.persistence.tables import SlaClockRow
from tests.gateway.ledger.conftest import (
    Partners,
    at,
    cancel,
    complete,
    copies,
    entries_of,
)
from tests.gateway.oauth.conftest import FakeClock


def _amounts(entries: object) -> list[tuple[str, str, int]]:
    return [(e.kind, e.direction, e.amount) for e in entries]  # type: ignore[attr-defined]


@pytest.fixture
def partners() -> Partners:
    # swiftrent and pingsure are gold in their agreements; as silver their plain rates apply.
    silver = {"tier": PartnerTier.SILVER}
    return copies(swiftrent=silver, pingsure=silver)


class TestWorkedExamples:
    async def test_eight_percent_of_a_1234_56_rental(
        self, container: Container, partners: Partners
    ) -> None:
        order_id = await complete(
            container, partners["swiftrent"], 123456, occurred_at=at("2026-03"), days=3
        )
        (entry,) = await entries_of(container, order_id)
        # 123456 fen x 0.08 = 9876.48 fen -> 9876 fen (half-up): 98.76 CNY receivable.
        assert (entry.kind, entry.direction, entry.amount) == ("commission", "receivable", 9876)
        assert entry.basis_amount == 123456 and entry.rate == "0.08"
        assert entry.effective_month == entry.occurred_month == "2026-03"

    async def test_thirty_percent_share_of_a_4321_premium(
        self, container: Container, partners: Partners
    ) -> None:
        order_id = await complete(
            container, partners["pingsure"], 432100, occurred_at=at("2026-03")
        )
        (entry,) = await entries_of(container, order_id)
        assert _amounts([entry]) == [("revenue_share", "receivable", 129630)]

    async def test_markup_100_to_120_for_three_days(
        self, container: Container, partners: Partners
    ) -> None:
        order_id = await complete(
            container, partners["citycar"], 36000, occurred_at=at("2026-03"), days=3
        )
        assert _amounts(await entries_of(container, order_id)) == [
            ("resale_cost", "payable", 30000),
            ("resale_margin", "retained", 6000),
        ]

    async def test_gold_partner_pays_one_point_less(
        self, container: Container, partners: Partners
    ) -> None:
        gold = copies()  # the sample swiftrent is gold, with a 1-point reduction
        container.registry = gold.registry
        order_id = await complete(container, gold["swiftrent"], 123456, occurred_at=at("2026-03"))
        (entry,) = await entries_of(container, order_id)
        # 123456 x 0.07 = 8641.92 -> 8642 fen.
        assert (entry.amount, entry.rate, entry.plan["tier"]) == (8642, "0.07", "gold")

    async def test_cancellation_after_completion_reverses_to_zero(
        self, container: Container, partners: Partners
    ) -> None:
        swiftrent = partners["swiftrent"]
        order_id = await complete(container, swiftrent, 123456, occurred_at=at("2026-03"))
        answer = await cancel(container, swiftrent, order_id, occurred_at=at("2026-04", day=2))
        assert answer.status == 200, answer.body
        original, reversal = await entries_of(container, order_id)
        assert reversal.reverses_id == original.id
        assert reversal.amount == -original.amount == -9876
        assert reversal.effective_month == "2026-04"
        march = await statement_of(container, swiftrent, "2026-03")
        april = await statement_of(container, swiftrent, "2026-04")
        assert march.totals[0].net.amount == 9876
        assert april.totals[0].net.amount == -9876

    async def test_sla_credit_of_a_breached_rental(
        self, container: Container, partners: Partners
    ) -> None:
        swiftrent = partners["swiftrent"]
        moment = at("2026-03")
        order_id = await complete(container, swiftrent, 123456, occurred_at=moment)
        async with container.uow() as uow:
            uow.sla.add_clock(
                SlaClockRow(
                    order_id=order_id,
                    partner_id=swiftrent,
                    operation="courtesy_car.book",
                    term="accept",
                    stop_event="rental.order.accepted",
                    target_ms=300_000,
                    started_at=moment - timedelta(hours=2),
                    deadline_at=moment - timedelta(hours=2) + timedelta(minutes=5),
                    status="breached",
                    month="2026-03",
                    late=False,
                )
            )
            await uow.commit()
        from gateway.ledger import credit_breached_orders

        assert await credit_breached_orders(container, [order_id, order_id]) == 1
        assert await credit_breached_orders(container, [order_id]) == 0
        _commission, credit = await entries_of(container, order_id)
        # 10 % (swiftrent's breach_credit_percent) of 98.76 = 9.876 -> 9.88 CNY to the OEM.
        assert (credit.kind, credit.direction, credit.amount) == ("sla_credit", "receivable", 988)
        statement = await statement_of(container, swiftrent, "2026-03")
        assert statement.totals[0].receivable.amount == 9876 + 988
        assert [line.section for line in statement.lines] == ["plans", "sla_credits"]

    async def test_platform_fee_and_outcome_bonus(
        self, container: Container, partners: Partners, clock: FakeClock
    ) -> None:
        async with container.uow() as uow:
            first = await accrue_month(uow, container.registry, "2026-05", clock())
            again = await accrue_month(uow, container.registry, "2026-05", clock())
            await uow.commit()
        assert again == []
        by_partner = {(e.partner_id, e.kind): e.amount for e in first}
        assert by_partner[(partners["voltgrid"], "platform_fee")] == 2_000_000
        assert by_partner[(partners["roadmap"], "outcome_base_fee")] == 5_000_000
        recorded = await record_kpi(
            container,
            partner_id=partners["roadmap"],
            month="2026-05",
            kpi="lead_conversion_percent",
            value=Decimal("3.5"),
            source="lead report",
            attribution=Attribution.LAST_CLICK,
            recorded_by="test",
        )
        # 1.5 points above 2.0, 10 % of 50,000.00 per point: 7,500.00 CNY payable.
        assert recorded.bonus is not None and recorded.bonus.amount == 750_000
        corrected = await record_kpi(
            container,
            partner_id=partners["roadmap"],
            month="2026-05",
            kpi="lead_conversion_percent",
            value=Decimal("3.0"),
            source="lead report, corrected",
            attribution=Attribution.LAST_CLICK,
            recorded_by="test",
        )
        assert corrected.superseded is not None
        assert corrected.superseded.amount == -750_000
        assert corrected.bonus is not None and corrected.bonus.amount == 500_000
        statement = await statement_of(container, partners["roadmap"], "2026-05")
        assert statement.totals[0].payable.amount == 5_000_000 + 500_000
        assert statement.totals[0].owed_by == "oem"
