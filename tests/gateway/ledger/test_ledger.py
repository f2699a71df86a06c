"""The ledger's promises: each order's entries are what its plan says, written once,
reversed to zero, summed exactly by the statements, and never changed in the database."""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from contracts import EventType
from gateway.bootstrap import Container
from gateway.ledger import statement_of
from gateway.persistence.tables import LedgerEntryRow
from tests.gateway.ledger.conftest import (
    COMPLETES,
    Partners,
    at,
    cancel,
    complete,
    completion_data,
    deliver,
    entries_of,
    place,
)

LEDGER_PACKAGE = Path(__file__).resolve().parents[3] / "gateway" / "ledger"


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up, in integers (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def expected_entries(sample: str, fen: int, days: int) -> list[tuple[str, str, int]]:
    """What the sample agreements (partners/*.yaml) say a completed order is worth,
    computed here with integers only, independently of the gateway's rules."""
    match sample:
        case "swiftrent":  # gold: 8 % less 1 point
            return [("commission", "receivable", half_up(fen * 7, 100))]
        case "pingsure":  # gold: 30 % less 2 points
            return [("revenue_share", "receivable", half_up(fen * 28, 100))]
        case "taicover":
            return [("revenue_share", "receivable", half_up(fen * 25, 100))]
        case "starcharge":  # 6 %, at least 0.50, at most 20.00
            return [("commission", "receivable", min(max(half_up(fen * 6, 100), 50), 2000))]
        case "citycar":  # bought at 100.00 a day, sold at 120.00
            return [
                ("resale_cost", "payable", 10000 * days),
                ("resale_margin", "retained", 2000 * days),
            ]
        case "meilife":  # 8.00 per redeemed benefit, paid by the OEM
            return [("subscription_cost", "payable", 800)]
    raise AssertionError(sample)


@dataclass(frozen=True)
class Story:
    """One order's life: its value, how often its completion arrives, whether it is cancelled."""

    sample: str
    fen: int
    days: int
    completion_deliveries: int
    cancelled: bool
    cancel_deliveries: int


stories = st.builds(
    Story,
    sample=st.sampled_from(
        ["swiftrent", "pingsure", "taicover", "starcharge", "citycar", "meilife"]
    ),
    fen=st.integers(min_value=0, max_value=10**9),
    days=st.integers(min_value=1, max_value=30),
    completion_deliveries=st.integers(min_value=1, max_value=3),
    cancelled=st.booleans(),
    cancel_deliveries=st.integers(min_value=1, max_value=2),
)


async def _sums(container: Container, partner_id: str, month: str) -> dict[str, int]:
    async with container.uow() as uow:
        session = uow.orders._session  # an independent check: plain SQL over the ledger
        rows = await session.execute(
            select(LedgerEntryRow.direction, func.sum(LedgerEntryRow.amount))
            .where(LedgerEntryRow.partner_id == partner_id, LedgerEntryRow.effective_month == month)
            .group_by(LedgerEntryRow.direction)
        )
        return {direction: int(total) for direction, total in rows.all()}


class TestProperties:
    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(story=stories)
    async def test_each_order_is_what_its_plan_says(
        self, container: Container, partners: Partners, story: Story
    ) -> None:
        partner_id = partners[story.sample]
        completed_at = at("2026-06")
        order_id = await place(container, partner_id, created_at=completed_at)
        event_type = COMPLETES[container.registry.get(partner_id).category.value]
        data = completion_data(event_type, story.fen, days=story.days)
        for delivery in range(story.completion_deliveries):
            # The same event redelivered (same id), and once under a new id: applied once.
            answer = await deliver(
                container,
                partner_id,
                order_id,
                event_type,
                data,
                occurred_at=completed_at,
                event_id=f"evt_{order_id[4:]}" if delivery < 2 else None,
            )
            assert answer.status == 200, answer.body
        expected = expected_entries(story.sample, story.fen, story.days)
        if story.cancelled:
            for _ in range(story.cancel_deliveries):
                await cancel(container, partner_id, order_id, occurred_at=at("2026-07", day=3))
        entries = await entries_of(container, order_id)
        originals = [e for e in entries if e.reverses_id is None]
        assert [(e.kind, e.direction, e.amount) for e in originals] == expected
        assert all(type(e.amount) is int for e in entries)
        reversals = [e for e in entries if e.reverses_id is not None]
        if story.cancelled:
            assert sorted(r.reverses_id or 0 for r in reversals) == sorted(e.id for e in originals)
            assert sum(e.amount for e in entries) == 0
            by_id = {e.id: e for e in originals}
            for reversal in reversals:
                assert reversal.amount == -by_id[reversal.reverses_id].amount  # type: ignore[index]
                assert reversal.effective_month == "2026-07"
        else:
            assert reversals == []
        for month in ("2026-06", "2026-07"):
            statement = await statement_of(container, partner_id, month)
            sums = await _sums(container, partner_id, month)
            totals = {t.currency: t for t in statement.totals}
            if not sums:
                assert statement.entry_count == 0
                continue
            (total,) = totals.values()
            assert total.receivable.amount == sums.get("receivable", 0)
            assert total.payable.amount == sums.get("payable", 0)
            assert total.retained.amount == sums.get("retained", 0)
            assert total.net.amount == sums.get("receivable", 0) - sums.get("payable", 0)
            assert sum(line.amount.amount for line in statement.lines) == sum(sums.values())


class TestExactlyOnce:
    async def test_a_replayed_completion_adds_nothing(
        self, container: Container, partners: Partners
    ) -> None:
        swiftrent = partners["swiftrent"]
        order_id = await place(container, swiftrent)
        data = completion_data(EventType.RENTAL_COMPLETED, 50000, days=2)
        moment = at("2026-06")
        for webhook_id, event_id in [("msg_a", "evt_a"), ("msg_a", "evt_a"), ("msg_b", "evt_b")]:
            answer = await deliver(
                container,
                swiftrent,
                order_id,
                EventType.RENTAL_COMPLETED,
                data,
                occurred_at=moment,
                event_id=f"{event_id}{order_id[6:20]}",
                webhook_id=f"{webhook_id}{order_id}",
            )
            assert answer.status == 200
        (entry,) = await entries_of(container, order_id)
        assert entry.amount == 3500  # 7 % (gold) of 500.00

    async def test_a_cancelled_order_without_completion_has_no_entries(
        self, container: Container, partners: Partners
    ) -> None:
        swiftrent = partners["swiftrent"]
        order_id = await place(container, swiftrent)
        answer = await cancel(container, swiftrent, order_id, occurred_at=at("2026-06"))
        assert answer.status == 200
        assert await entries_of(container, order_id) == []

    async def test_an_order_of_a_closed_month_settles_in_the_next(
        self, container: Container, partners: Partners
    ) -> None:
        # The month is closed in this database by this test only (see conftest).
        from gateway.ledger import close_settlement_month

        await close_settlement_month(container, "2025-02", closed_by="test")
        pingsure = partners["pingsure"]
        order_id = await complete(container, pingsure, 100000, occurred_at=at("2025-02"))
        (entry,) = await entries_of(container, order_id)
        assert (entry.occurred_month, entry.effective_month) == ("2025-02", "2025-03")
        statement = await statement_of(container, pingsure, "2025-03")
        assert [(line.section, line.amount.amount) for line in statement.lines] == [
            ("opening_adjustments", 28000)
        ]
        frozen = await statement_of(container, pingsure, "2025-02")
        assert frozen.state == "closed" and frozen.entry_count == 0


class TestAppendOnly:
    async def _one_entry(self, container: Container, partners: Partners) -> int:
        swiftrent = partners["swiftrent"]
        order_id = await complete(container, swiftrent, 10000, occurred_at=at("2026-06"))
        (entry,) = await entries_of(container, order_id)
        return entry.id

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE ledger_entries SET amount = amount + 1 WHERE id = :id",
            "DELETE FROM ledger_entries WHERE id = :id",
        ],
    )
    async def test_the_database_refuses_update_and_delete(
        self, container: Container, partners: Partners, statement: str
    ) -> None:
        entry_id = await self._one_entry(container, partners)
        async with container.uow() as uow:
            session = uow.orders._session
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement), {"id": entry_id})
        async with container.uow() as uow:
            entry = await uow.ledger.get(entry_id)
        assert entry is not None and entry.amount == 700

    async def test_emptying_the_table_is_refused(
        self, container: Container, partners: Partners
    ) -> None:
        """TRUNCATE on PostgreSQL; SQLite has none, its way is a DELETE without WHERE."""
        await self._one_entry(container, partners)
        async with container.uow() as uow:
            session = uow.orders._session
            postgresql = session.get_bind().dialect.name == "postgresql"
            emptying = (
                "TRUNCATE ledger_entries CASCADE" if postgresql else "DELETE FROM ledger_entries"
            )
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(emptying))


class TestNoFloat:
    def test_the_ledger_code_never_makes_a_float(self) -> None:
        """Money is integer fen and Decimal rates: no float() call or float literal."""
        for path in sorted(LEDGER_PACKAGE.glob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), (
                    f"{path.name}:{node.lineno}: float literal"
                )
                assert not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "float"
                ), f"{path.name}:{node.lineno}: float()"
                assert not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)), (
                    f"{path.name}:{node.lineno}: true division"
                )


class TestSlaCreditOnce:
    async def test_the_sweep_credits_a_completed_order_once(
        self, container: Container, partners: Partners
    ) -> None:
        from gateway.ledger import credit_breached_orders
        from gateway.persistence.tables import SlaClockRow

        citycar = partners["citycar"]
        moment = at("2026-06")
        order_id = await complete(container, citycar, 36000, occurred_at=moment, days=3)
        async with container.uow() as uow:
            uow.sla.add_clock(
                SlaClockRow(
                    order_id=order_id,
                    partner_id=citycar,
                    operation="courtesy_car.book",
                    term="deliver",
                    stop_event="rental.vehicle.delivered",
                    target_ms=1_800_000,
                    started_at=moment - timedelta(hours=3),
                    deadline_at=moment - timedelta(hours=2, minutes=30),
                    status="breached",
                    month="2026-06",
                    late=False,
                )
            )
            await uow.commit()
        assert await credit_breached_orders(container, [order_id]) == 1
        assert await credit_breached_orders(container, [order_id]) == 0
        entries = await entries_of(container, order_id)
        credit = entries[-1]
        # citycar: 15 % of the 300.00 resale cost, to the OEM.
        assert (credit.kind, credit.direction, credit.amount) == ("sla_credit", "receivable", 4500)
        await cancel(container, citycar, order_id, occurred_at=at("2026-07"))
        assert sum(e.amount for e in await entries_of(container, order_id)) == 0
        by_kind: dict[str, int] = defaultdict(int)
        for e in await entries_of(container, order_id):
            by_kind[e.kind] += e.amount
        assert set(by_kind.values()) == {0}


class TestCloseUnderLoad:
    async def test_nothing_lands_in_a_month_after_its_statements_are_frozen(
        self, container: Container, partners: Partners
    ) -> None:
        """Orders of the month complete while the month is closed: each entry is either in
        the frozen statement or settles in the next month, never lost in between."""
        import asyncio

        from gateway.ledger import close_settlement_month

        month = "2025-04"  # closed by this test only (see conftest)
        swiftrent = partners["swiftrent"]
        orders = [await place(container, swiftrent, created_at=at(month)) for _ in range(12)]

        async def finish(order_id: str) -> None:
            answer = await deliver(
                container,
                swiftrent,
                order_id,
                EventType.RENTAL_COMPLETED,
                completion_data(EventType.RENTAL_COMPLETED, 10000),
                occurred_at=at(month, day=20),
            )
            assert answer.status == 200, answer.body

        results = await asyncio.gather(
            *(finish(o) for o in orders[:6]),
            close_settlement_month(container, month, closed_by="test"),
            *(finish(o) for o in orders[6:]),
        )
        frozen = next(s for s in results[6] if s.partner_id == swiftrent)  # type: ignore[union-attr]
        async with container.uow() as uow:
            session = uow.orders._session
            rows = (
                await session.execute(
                    select(LedgerEntryRow.effective_month, func.count())
                    .where(LedgerEntryRow.order_id.in_(orders))
                    .group_by(LedgerEntryRow.effective_month)
                )
            ).all()
        counts = dict(rows)
        assert sum(counts.values()) == 12
        assert set(counts) <= {month, "2025-05"}
        assert frozen.entry_count == counts.get(month, 0)
        later = await statement_of(container, swiftrent, "2025-05")
        assert later.entry_count == counts.get("2025-05", 0)
        assert all(line.section == "opening_adjustments" for line in later.lines)
