"""Scorecard fixtures: a registry of partners unique to the test, a movable clock, seeded months.

compute_month iterates the whole registry and closing a month writes tier
changes, so each test gets copies of the sample agreements under ids of its
own (``swiftrent-1a2b3c``): its scorecards and tier changes never touch the
sample partners other tests route orders to. Closed months are global, so
every test that closes one uses months no other test closes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.bootstrap import Container, build_container
from gateway.persistence.tables import (
    ComplaintRow,
    OrderRow,
    PartnerCallRow,
    RatingRow,
    SlaClockRow,
)
from gateway.registry import Registry, load_registry
from gateway.scorecards.months import SHANGHAI
from gateway.settings import Settings
from tests.conftest import PARTNERS_DIR
from tests.gateway.oauth.conftest import FakeClock

SAMPLE = load_registry(PARTNERS_DIR)
MIN_RATINGS = 5


@dataclass
class Partners:
    """The test's partners: sample id -> the test's copy id."""

    ids: dict[str, str]
    registry: Registry

    def __getitem__(self, sample_id: str) -> str:
        return self.ids[sample_id]


@pytest.fixture
def partners() -> Partners:
    """Copies of the sample agreements under ids unique to this test."""
    suffix = uuid.uuid4().hex[:6]
    ids = {a.id: f"{a.id}-{suffix}" for a in SAMPLE}
    copies = [a.model_copy(update={"id": ids[a.id]}) for a in SAMPLE]
    return Partners(ids, Registry(copies))


def scorecard_settings(database_url: str, data_dir: Path, **extra: object) -> Settings:
    """Settings on a given database, in-process hot state, a small minimum of ratings."""
    return Settings(
        environment="test",
        database_url=database_url,
        data_dir=data_dir,
        partners_dir=PARTNERS_DIR,
        scorecard_min_ratings=MIN_RATINGS,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def clock() -> FakeClock:
    """A clock tests set to the moment they need."""
    return FakeClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))


@pytest.fixture
async def container(
    database_url: str, tmp_path: Path, partners: Partners, clock: FakeClock
) -> AsyncIterator[Container]:
    """A container on the parametrised database with the test's partners and clock."""
    built = build_container(
        scorecard_settings(database_url, tmp_path / "var"), registry=partners.registry, clock=clock
    )
    yield built
    await built.aclose()


def in_month(month: str, day: int = 15, hour: int = 10) -> datetime:
    """A moment in the month (Asia/Shanghai wall time), as UTC."""
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, day, hour, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Seed:
    """One partner's month of measurements."""

    partner_id: str
    category: str = "rental"
    # Each order: a result with a price (the shape of the category's result) or None.
    orders: Sequence[dict[str, object] | None] = ()
    request: dict[str, object] = field(default_factory=dict)
    created_at: Sequence[datetime] = ()
    stars: Sequence[int] = ()
    # Hours to resolve each complaint (None: unresolved).
    complaints: Sequence[float | None] = ()
    # (operation, term, status, elapsed_ms or None, late)
    clocks: Sequence[tuple[str, str, str, int | None, bool]] = ()
    # (ok, duration_ms)
    calls: Sequence[tuple[bool, int]] = ()


def courtesy_car(daily_fen: int) -> dict[str, object]:
    """A courtesy car booking's result."""
    return {
        "operation": "courtesy_car.book",
        "partner_reference": f"R{uuid.uuid4().hex[:8]}",
        "daily_price": {"amount": daily_fen, "currency": "CNY"},
        "vehicle_class": "compact",
    }


async def seed(container: Container, month: str, *seeds: Seed) -> dict[str, list[str]]:
    """Insert the seeds' rows in `month`; the order ids per partner."""
    at = in_month(month)
    created: dict[str, list[str]] = {}
    async with container.uow() as uow:
        session = uow.orders._session  # test setup writes rows directly
        for s in seeds:
            order_ids: list[str] = []
            moments = list(s.created_at) or [at] * len(s.orders)
            for result, moment in zip(s.orders, moments, strict=True):
                order_id = f"ord_{uuid.uuid4().hex}"
                order_ids.append(order_id)
                uow.orders.add(
                    OrderRow(
                        id=order_id,
                        category=s.category,
                        operation=str((result or {}).get("operation", "courtesy_car.book")),
                        partner_id=s.partner_id,
                        customer_id="cus_scorecards",
                        status="completed",
                        status_sequence=0,
                        request=s.request or {"days": 2},
                        result=result,
                        created_at=moment,
                        updated_at=moment,
                    )
                )
            await uow.flush()
            for order_id, stars in zip(order_ids, s.stars, strict=False):
                session.add(
                    RatingRow(
                        order_id=order_id,
                        partner_id=s.partner_id,
                        stars=stars,
                        created_at=at,
                        month=month,
                    )
                )
            for order_id, hours in zip(order_ids, s.complaints, strict=False):
                session.add(
                    ComplaintRow(
                        order_id=order_id,
                        partner_id=s.partner_id,
                        category="late",
                        text="late",
                        created_at=at,
                        resolved_at=None if hours is None else at + timedelta(hours=hours),
                        resolution=None if hours is None else "refunded",
                        month=month,
                    )
                )
            used: dict[str, int] = {}
            for operation, term, status, elapsed, late in s.clocks:
                # One clock per order and term (unique): the term's n-th clock on the n-th order.
                index = used[term] = used.get(term, -1) + 1
                session.add(
                    SlaClockRow(
                        order_id=order_ids[index],
                        partner_id=s.partner_id,
                        operation=operation,
                        term=term,
                        stop_event="rental.vehicle.delivered",
                        target_ms=8000,
                        started_at=at,
                        deadline_at=at + timedelta(seconds=8),
                        status=status,
                        stopped_at=(
                            None if elapsed is None else at + timedelta(milliseconds=elapsed)
                        ),
                        elapsed_ms=elapsed,
                        resolved_at=None if status == "open" else at + timedelta(minutes=1),
                        month=month,
                        late=late,
                    )
                )
            for ok, duration in s.calls:
                session.add(
                    PartnerCallRow(
                        partner_id=s.partner_id,
                        operation="courtesy_car.book",
                        at=at,
                        duration_ms=duration,
                        ok=ok,
                        outcome="ok" if ok else "timeout",
                        month=month,
                    )
                )
            created[s.partner_id] = order_ids
        await uow.commit()
    return created


def _boundaries(month: str) -> list[datetime]:
    """Just inside the month's first hour, just before it, just after it (Asia/Shanghai)."""
    year, number = (int(part) for part in month.split("-"))
    first = datetime(year, number, 1, 0, 30, tzinfo=SHANGHAI)
    after_year, after_number = (year + 1, 1) if number == 12 else (year, number + 1)
    return [
        first.astimezone(UTC),
        (first - timedelta(hours=1)).astimezone(UTC),
        datetime(after_year, after_number, 1, 0, 30, tzinfo=SHANGHAI).astimezone(UTC),
    ]


def standard_month(partners: Partners, month: str) -> list[Seed]:
    """A month with known aggregates (asserted in test_aggregates.py).

    swiftrent: 14 orders in the month (one in its first Shanghai hour; one just
    before and one just after the month are not counted), 60000 fen each; ten
    5-star ratings; SLA clocks and calls. citycar: 5 orders (4 priced 100000),
    ratings averaging 3.4, two complaints. pingsure: 3 policies, 3 ratings (too
    few to judge). voltgrid: 2 sessions, one priced 1234.
    """
    deliver = "courtesy_car.book"
    swift_clocks: list[tuple[str, str, str, int | None, bool]] = [
        (deliver, "deliver", "met" if ms <= 8000 else "breached", ms, False)
        for ms in range(1000, 10001, 1000)
    ]
    swift_clocks += [
        (deliver, "deliver", "breached", None, False),  # breached by the sweep, no event yet
        (deliver, "deliver", "open", None, False),  # still running: not counted
        (deliver, "deliver", "met", 50, True),  # resolved after the close: not counted
        (deliver, "accept", "met", 100, False),
        (deliver, "accept", "met", 300, False),
    ]
    mid = in_month(month)
    return [
        Seed(
            partners["swiftrent"],
            orders=[courtesy_car(30000)] * 16,
            request={"days": 2},
            created_at=[mid] * 13 + _boundaries(month),
            stars=[5] * 10,
            clocks=swift_clocks,
            calls=[(index != 7, 10 * (index + 1)) for index in range(20)],
        ),
        Seed(
            partners["citycar"],
            orders=[courtesy_car(50000)] * 4 + [None],
            request={"days": 2},
            stars=[3, 3, 4, 4, 3],
            complaints=[10.0, None],
        ),
        Seed(
            partners["pingsure"],
            category="insurance",
            orders=[
                {"operation": "insurance.bind", "premium": {"amount": 432100, "currency": "CNY"}}
            ]
            * 3,
            stars=[5, 5, 5],
        ),
        Seed(
            partners["voltgrid"],
            category="charging",
            orders=[
                {"operation": "charging.start", "amount": {"amount": 1234, "currency": "CNY"}},
                {"operation": "charging.start", "amount": None},
            ],
        ),
    ]
