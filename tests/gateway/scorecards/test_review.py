"""The quarterly review: quarter scores, top 20 % kept, bottom 10 % and carded partners replaced.

Closed months are global, so each test closes months of its own quarter
(2018 and 2019, which no other test uses), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from contracts import PartnerTier
from gateway.bootstrap import Container, build_container
from gateway.persistence.migrate import upgrade
from gateway.problems import Problem
from gateway.registry import Registry
from gateway.scorecards.review import (
    CategoryReview,
    PartnerStanding,
    Review,
    bottom_count,
    parse_quarter,
    quarter_months,
    quarter_review,
    review_app,
    top_count,
)
from gateway.scorecards.schemas import ScorecardMetrics, ScoreComponents
from gateway.scorecards.service import scorecards_of_month
from gateway.settings import Settings
from tests.conftest import PARTNERS_DIR
from tests.gateway.oauth.conftest import FakeClock
from tests.gateway.scorecards.conftest import (
    MIN_RATINGS,
    SAMPLE,
    Seed,
    courtesy_car,
    scorecard_settings,
    seed,
)

runner = CliRunner()


# -- quarters and quotas ----------------------------------------------------------------


class TestQuarters:
    @pytest.mark.parametrize(
        ("value", "expected"), [("2026Q4", "2026Q4"), ("2026q1", "2026Q1"), (" 1970Q1 ", "1970Q1")]
    )
    def test_valid(self, value: str, expected: str) -> None:
        assert parse_quarter(value) == expected

    @pytest.mark.parametrize("value", ["2026Q5", "2026Q0", "2026-Q4", "Q4 2026", "1969Q4", ""])
    def test_invalid_is_a_422_problem(self, value: str) -> None:
        with pytest.raises(Problem) as raised:
            parse_quarter(value)
        assert (raised.value.slug, raised.value.status) == ("invalid-quarter", 422)
        assert "YYYYQn" in raised.value.detail and "2026Q4" in raised.value.detail

    def test_months(self) -> None:
        assert quarter_months("2026Q4") == ["2026-10", "2026-11", "2026-12"]
        assert quarter_months("2027Q1") == ["2027-01", "2027-02", "2027-03"]

    @pytest.mark.parametrize(
        ("scored", "top", "bottom"),
        [
            (0, 0, 0),
            (1, 1, 0),
            (2, 1, 0),
            (3, 1, 1),
            (5, 1, 1),
            (10, 2, 1),
            (11, 3, 2),
            (20, 4, 2),
            (21, 5, 3),
        ],
    )
    def test_quotas_round_up(self, scored: int, top: int, bottom: int) -> None:
        assert (top_count(scored), bottom_count(scored)) == (top, bottom)


# -- fixtures ---------------------------------------------------------------------------


@dataclass
class Ecosystem:
    """Ten rental partners r0..r9, two insurers i0 and i1, one lifestyle partner l0."""

    ids: dict[str, str]
    registry: Registry

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


@pytest.fixture
def ecosystem() -> Ecosystem:
    suffix = uuid.uuid4().hex[:6]
    by_id = {a.id: a for a in SAMPLE}
    sources = {f"r{i}": by_id["swiftrent"] for i in range(10)}
    sources |= {"i0": by_id["pingsure"], "i1": by_id["pingsure"], "l0": by_id["meilife"]}
    ids = {name: f"{name}-{suffix}" for name in sources}
    copies = [a.model_copy(update={"id": ids[name]}) for name, a in sources.items()]
    return Ecosystem(ids, Registry(copies))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))


@pytest.fixture
async def container(
    database_url: str, tmp_path: Path, ecosystem: Ecosystem, clock: FakeClock
) -> AsyncIterator[Container]:
    built = build_container(
        scorecard_settings(database_url, tmp_path / "var"), registry=ecosystem.registry, clock=clock
    )
    yield built
    await built.aclose()


def card(
    partner_id: str,
    month: str,
    score: float,
    orders: int,
    *,
    category: str = "rental",
    tier_in_force: str = "silver",
    tier: str = "silver",
    tier_reason: str = "rating 4.60 > 4.5 and complaint rate 0.00 % < 1 %: silver",
    rating: float | None = 4.6,
    ratings: int | None = None,
    sla: tuple[int, int] = (98, 2),
    complaints: int = 0,
) -> dict[str, Any]:
    """A closed scorecard row as `ScorecardRepository.upsert` takes it."""
    count = orders if ratings is None else ratings
    metrics = ScorecardMetrics(
        orders=orders,
        sla_compliance=sla[0] / sum(sla) if sum(sla) else None,
        sla_met=sla[0],
        sla_breached=sla[1],
        sla_terms=[],
        availability=None,
        calls=0,
        p95_latency_ms=None,
        rating_average=rating if count else None,
        ratings=count if rating is not None else 0,
        complaints=complaints,
        complaint_rate=complaints / orders if orders else 0.0,
        complaints_resolved_rate=None,
        median_resolution_hours=None,
        average_price=None,
        priced_orders=0,
        category_median_price=None,
        price_index=None,
        tier_in_force=PartnerTier(tier_in_force),
        tier_provisional=False,
        min_ratings=MIN_RATINGS,
        score_breakdown=ScoreComponents(
            satisfaction=score,
            response_speed=score,
            complaint_handling=score,
            price=score,
            total=score,
        ),
    )
    at = datetime(2020, 1, 1, tzinfo=UTC)
    return {
        "partner_id": partner_id,
        "month": month,
        "category": category,
        "metrics": metrics.model_dump(mode="json"),
        "score": score,
        "tier": tier,
        "tier_reason": tier_reason,
        "provisional": False,
        "computed_at": at,
        "closed_at": at,
    }


async def close_with(container: Container, month: str, rows: list[dict[str, Any]]) -> None:
    """Close `month` with exactly these frozen scorecards."""
    async with container.uow() as uow:
        assert await uow.scorecards.close_month(
            month, at=datetime(2020, 1, 1, tzinfo=UTC), by="test"
        ), f"{month} was closed by another test"
        await uow.scorecards.upsert(rows)
        await uow.commit()


def _category(result: Review, name: str) -> CategoryReview:
    [found] = [c for c in result.categories if c.category.value == name]
    return found


def _names(standings: list[PartnerStanding], ecosystem: Ecosystem) -> list[str]:
    mine = {copy: name for name, copy in ecosystem.ids.items()}
    return [mine[s.partner_id] for s in standings]


def _steady(ecosystem: Ecosystem, month: str, **overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """r0..r9 score 95, 90 ... 50 on 100 orders; i0 80 and i1 70 on 50 orders.

    ``overrides`` replace a partner's card arguments (``r3={"score": 60, "orders": 300}``).
    """
    rows = []
    for index in range(10):
        name = f"r{index}"
        arguments: dict[str, Any] = {"score": 95 - 5 * index, "orders": 100}
        arguments |= overrides.get(name, {})
        rows.append(card(ecosystem[name], month, **arguments))
    for name, score in (("i0", 80.0), ("i1", 70.0)):
        arguments = {"score": score, "orders": 50, "category": "insurance"}
        arguments |= overrides.get(name, {})
        rows.append(card(ecosystem[name], month, **arguments))
    return rows


# -- the review ----------------------------------------------------------------------------


async def test_top_20_and_bottom_10_percent(container: Container, ecosystem: Ecosystem) -> None:
    # r3: 90 on 100 orders, then 60 on 300 orders, then a month without orders (skipped):
    # (90 * 100 + 60 * 300) / 400 = 67.50, between r5 (70) and r6 (65).
    await close_with(container, "2018-01", _steady(ecosystem, "2018-01", r3={"score": 90}))
    await close_with(
        container, "2018-02", _steady(ecosystem, "2018-02", r3={"score": 60, "orders": 300})
    )
    await close_with(
        container, "2018-03", _steady(ecosystem, "2018-03", r3={"score": 50, "orders": 0})
    )
    result = await quarter_review(container, "2018q1")
    assert (result.quarter, result.months) == ("2018Q1", ["2018-01", "2018-02", "2018-03"])
    assert result.open_months == result.not_begun == []
    assert [c.category.value for c in result.categories] == ["rental", "insurance", "lifestyle"]

    rental = _category(result, "rental")
    assert (rental.partners, rental.scored, rental.keep_quota, rental.bottom_quota) == (
        10,
        10,
        2,
        1,
    )
    ranking = _names(rental.ranking, ecosystem)
    assert ranking == ["r0", "r1", "r2", "r4", "r5", "r3", "r6", "r7", "r8", "r9"]
    assert [s.rank for s in rental.ranking] == list(range(1, 11))
    r3 = rental.ranking[5]
    assert (r3.score, r3.orders, r3.months_scored) == (67.5, 400, ["2018-01", "2018-02"])
    assert _names(rental.keep, ecosystem) == ["r0", "r1"]
    assert _names(rental.replace, ecosystem) == ["r9"]
    assert rental.not_enough_data == []
    best = rental.keep[0]
    assert best.decision == "keep"
    assert best.reason == (
        "score 95.00 over 300 orders, 1st of 10 rental partners: top 20 %; "
        "rating 4.60 (300 ratings), SLA 98.0 %, complaints 0.00 %"
    )
    worst = rental.replace[0]
    assert worst.decision == "replace"
    assert worst.reason.startswith(
        "score 50.00 over 300 orders, 10th of 10 rental partners: bottom 10 %; rating 4.60"
    )
    assert {s.decision for s in rental.ranking[2:9]} == {"none"}

    insurance = _category(result, "insurance")  # two scored: no bottom 10 %
    assert (insurance.keep_quota, insurance.bottom_quota) == (1, 0)
    assert _names(insurance.keep, ecosystem) == ["i0"]
    assert insurance.replace == []
    assert "1st of 2 insurance partners" in insurance.keep[0].reason

    lifestyle = _category(result, "lifestyle")  # no scorecard at all
    assert (lifestyle.scored, lifestyle.keep, lifestyle.replace) == (0, [], [])
    [unscored] = lifestyle.not_enough_data
    assert unscored.decision == "not_enough_data" and unscored.rank is None
    assert unscored.reason == "not enough data: no month of 2018Q1 with a score and orders"


async def test_yellow_card_or_termination_is_always_replaced(
    container: Container, ecosystem: Ecosystem
) -> None:
    yellow_reason = "rating 3.90 is not > 4.0: yellow card"
    terminated: dict[str, Any] = {
        "tier_in_force": "terminated",
        "tier": "terminated",
        "tier_reason": "terminated before this month, and termination is final: terminated",
        "orders": 0,
    }
    carded: dict[str, dict[str, Any]] = {
        # The best score, but on a yellow card in May: replaced, and the next two are kept.
        "r0": {"tier_in_force": "yellow_card"},
        "i1": terminated,
    }
    await close_with(container, "2018-04", _steady(ecosystem, "2018-04"))
    await close_with(container, "2018-05", _steady(ecosystem, "2018-05", **carded))
    await close_with(
        container,
        "2018-06",
        _steady(
            ecosystem,
            "2018-06",
            # A middling partner whose June decides a yellow card for July.
            r5={"tier": "yellow_card", "tier_reason": yellow_reason, "rating": 3.9},
            i1=terminated,
        ),
    )
    result = await quarter_review(container, "2018Q2")

    rental = _category(result, "rental")
    assert _names(rental.keep, ecosystem) == ["r1", "r2"]
    assert _names(rental.replace, ecosystem) == ["r9", "r5", "r0"]  # worst first
    r9, r5, r0 = rental.replace
    assert r0.reason.startswith(
        "on a yellow card in 2018-05; score 95.00 over 300 orders, 1st of 10 rental partners; "
    )
    assert r0.carded == ["on a yellow card in 2018-05"]
    assert r5.reason.startswith(f"2018-06 scorecard decided yellow card: {yellow_reason}; ")
    assert "6th of 10 rental partners; rating 4.37 (300 ratings)" in r5.reason
    assert r9.carded == [] and "bottom 10 %" in r9.reason
    assert all(s.decision == "replace" for s in rental.replace)

    insurance = _category(result, "insurance")
    # i1 scored in April only; terminated in May and June.
    assert _names(insurance.keep, ecosystem) == ["i0"]
    [i1] = insurance.replace
    assert i1.reason.startswith("terminated in 2018-05 and 2018-06; 2018-06 scorecard decided")
    assert "2nd of 2 insurance partners" in i1.reason


async def test_a_carded_partner_without_data_is_replaced_not_left_out(
    container: Container, ecosystem: Ecosystem
) -> None:
    for month in ("2018-07", "2018-08", "2018-09"):
        rows = [
            card(ecosystem["r0"], month, 80, 10),
            card(ecosystem["r1"], month, 50, 0, tier_in_force="terminated", tier="terminated"),
        ]
        await close_with(container, month, rows)
    rental = _category(await quarter_review(container, "2018Q3"), "rental")
    assert (rental.scored, _names(rental.keep, ecosystem)) == (1, ["r0"])
    [r1] = rental.replace
    assert r1.rank is None and r1.score is None
    assert r1.reason.startswith("terminated in 2018-07, 2018-08 and 2018-09; ")
    assert r1.reason.endswith("not enough data: no month of 2018Q3 with a score and orders")
    assert _names(rental.not_enough_data, ecosystem) == [f"r{i}" for i in range(2, 10)]


async def test_open_months_use_provisional_scorecards(
    container: Container, ecosystem: Ecosystem, clock: FakeClock
) -> None:
    clock.now = datetime(2019, 8, 20, 4, 0, tzinfo=UTC)  # 2019-09 has not begun
    await close_with(
        container,
        "2019-07",
        [card(ecosystem["r0"], "2019-07", 80, 100), card(ecosystem["r1"], "2019-07", 85, 100)],
    )
    await seed(
        container,
        "2019-08",
        Seed(ecosystem["r0"], orders=[courtesy_car(30000)] * 5, stars=[5] * 5),
        Seed(ecosystem["r1"], orders=[courtesy_car(30000)] * 5, stars=[3] * 5),
    )
    august = {row.partner_id: row for row in await scorecards_of_month(container, "2019-08")}
    result = await quarter_review(container, "2019Q3")
    assert result.open_months == ["2019-08", "2019-09"]
    assert result.not_begun == ["2019-09"]

    rental = _category(result, "rental")
    scores = {s.partner_id: s for s in rental.ranking}
    for name, july in (("r0", 80.0), ("r1", 85.0)):
        provisional = august[ecosystem[name]].score
        assert provisional is not None
        assert scores[ecosystem[name]].score == round((july * 100 + provisional * 5) / 105, 2)
        assert scores[ecosystem[name]].months_scored == ["2019-07", "2019-08"]
    # r1's open August decides a yellow card (rated 3 stars): replaced, flagged provisional.
    [r1] = rental.replace
    assert r1.partner_id == ecosystem["r1"]
    assert r1.reason.startswith(
        "2019-08 scorecard decided yellow card (provisional: month open): rating 3.00 is not > 4.0"
    )
    assert _names(rental.keep, ecosystem) == ["r0"]
    # Reading did not store the open month's scorecards.
    async with container.uow() as uow:
        assert await uow.scorecards.of_month("2019-08") == []


async def test_a_bad_quarter_is_refused(container: Container) -> None:
    with pytest.raises(Problem) as raised:
        await quarter_review(container, "2019-07")
    assert raised.value.slug == "invalid-quarter" and raised.value.status == 422


# -- the command --------------------------------------------------------------------------


@pytest.fixture
def embedded_env(embedded_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI's environment on a fresh embedded SQLite file with the sample registry."""
    monkeypatch.setenv("PGW_DATA_DIR", str(embedded_settings.data_dir))
    monkeypatch.setenv("PGW_PARTNERS_DIR", str(PARTNERS_DIR))
    monkeypatch.setenv("PGW_SCORECARD_MIN_RATINGS", str(MIN_RATINGS))
    for name in ("PGW_DATABASE_URL", "PGW_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return embedded_settings


def _invoke(args: list[str]) -> Result:
    return runner.invoke(review_app, args)


async def test_cli_lists_keep_and_replace_per_category(embedded_env: Settings) -> None:
    container = build_container(embedded_env)
    try:
        await upgrade(container.engine)
        for month in ("2019-10", "2019-11", "2019-12"):
            citycar = "yellow_card" if month == "2019-12" else "bronze"
            await close_with(
                container,
                month,
                [
                    card("swiftrent", month, 92.5, 120, rating=4.9),
                    card("citycar", month, 61.0, 40, rating=3.8, tier_in_force=citycar),
                    card("voltgrid", month, 77.0, 300, category="charging"),
                ],
            )
    finally:
        await container.aclose()

    # The CLI runs its own event loop: call it from a thread, as a shell would.
    shown = await asyncio.to_thread(_invoke, ["--quarter", "2019Q4"])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == "quarterly review of 2019Q4 (2019-10, 2019-11, 2019-12)"
    start = lines.index("rental: 2 partner(s), 2 scored")
    assert lines[start + 1 : start + 6] == [
        "  KEEP & GROW (top 20 %: 1)",
        "    swiftrent  score 92.50 over 360 orders, 1st of 2 rental partners: top 20 %; "
        "rating 4.90 (360 ratings), SLA 98.0 %, complaints 0.00 %",
        "  REPLACE (no bottom 10 % below 3 scored partners; plus yellow card or terminated)",
        "    citycar    on a yellow card in 2019-12; score 61.00 over 120 orders, 2nd of 2 "
        "rental partners; rating 3.80 (120 ratings), SLA 98.0 %, complaints 0.00 %",
        "",
    ]
    charging = lines.index("charging: 2 partner(s), 1 scored")
    assert lines[charging + 2].split()[:3] == ["voltgrid", "score", "77.00"]
    assert lines[charging + 3 : charging + 7] == [
        "  REPLACE (no bottom 10 % below 3 scored partners; plus yellow card or terminated)",
        "    none",
        "  NOT ENOUGH DATA",
        "    starcharge  not enough data: no month of 2019Q4 with a score and orders",
    ]

    as_json = await asyncio.to_thread(_invoke, ["--quarter", "2019Q4", "--json"])
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    rental = document["categories"][0]
    assert rental["category"] == "rental"
    assert [s["partner_id"] for s in rental["keep"]] == ["swiftrent"]
    assert [s["partner_id"] for s in rental["replace"]] == ["citycar"]
    assert rental["replace"][0]["carded"] == ["on a yellow card in 2019-12"]

    invalid = await asyncio.to_thread(_invoke, ["--quarter", "2019-Q4"])
    assert invalid.exit_code == 1 and "YYYYQn" in invalid.output
