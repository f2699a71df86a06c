"""Candidate selection: the normalisation formulas, the weights, the sample ranking, the CLI."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts import ServiceCategory
from contracts.candidates import ApiOpenness, Certification, PartnerCandidate
from gateway.partners.candidates import (
    WEIGHTS,
    CandidateError,
    certification_share,
    city_share,
    cost,
    coverage,
    integration,
    load_candidates,
    quality,
    rank_app,
    rank_candidates,
    rating_score,
    response_speed,
    score_candidate,
    target_cities,
    validate_candidates,
)
from tests.conftest import PARTNERS_DIR

CANDIDATES_DIR = PARTNERS_DIR / "candidates"
TARGETS = target_cities(PARTNERS_DIR)
runner = CliRunner()


def candidate(**fields: object) -> PartnerCandidate:
    """A rental candidate with neutral facts, overridden by ``fields``."""
    document: dict[str, object] = {
        "id": "testcar",
        "name": "Test Car",
        "category": "rental",
        "cities": ["Shenzhen"],
        "price_index": 1.0,
        "response_minutes": 40,
        "api": "rest_api",
    }
    document.update(fields)
    return PartnerCandidate.model_validate(document)


class TestWeights:
    def test_weights_are_domains_and_sum_to_one(self) -> None:
        assert dict(WEIGHTS) == {
            "quality": Decimal("0.40"),
            "coverage": Decimal("0.25"),
            "cost": Decimal("0.20"),
            "integration": Decimal("0.15"),
        }
        assert sum(WEIGHTS.values()) == Decimal(1)

    def test_the_best_candidate_scores_100_and_the_worst_0(self) -> None:
        best = candidate(
            rating={"average": 5, "reviews": 10**9},
            certifications=["iso_9001", "iso_27001", "mlps_3", "rental_filing"],
            cities=sorted(TARGETS),
            response_minutes=5,
            price_index=0.4,
            api="rest_webhooks_sandbox_oauth",
        )
        worst = candidate(
            rating={"average": 1, "reviews": 10**9},
            cities=["Lhasa"],
            response_minutes=600,
            price_index=2.0,
            api="none",
        )
        assert score_candidate(best, TARGETS).total == Decimal("100.00")
        assert score_candidate(worst, TARGETS).total == Decimal("0.00")


class TestNormalisation:
    @pytest.mark.parametrize(
        ("average", "reviews", "expected"),
        [
            (None, 0, "0.5"),  # no reviews: the 3-star prior
            (5.0, 100, "0.75"),  # (100*5 + 100*3) / 200 = 4 stars
            (1.0, 100, "0.25"),  # 2 stars
            (5.0, 10**9, "1"),
            (1.0, 10**9, "0"),
            (4.8, 3200, "0.9364"),  # (3200*4.8 + 300) / 3300 = 4.7455
        ],
    )
    def test_rating_is_a_bayesian_average_on_0_to_1(
        self, average: float | None, reviews: int, expected: str
    ) -> None:
        assert rating_score(average, reviews) == Decimal(expected)

    def test_certification_share_counts_the_categorys_four(self) -> None:
        rental = ServiceCategory.RENTAL
        assert certification_share([], rental) == 0
        assert certification_share([Certification.ISO_9001], rental) == Decimal("0.25")
        every = [
            Certification.ISO_9001,
            Certification.ISO_27001,
            Certification.MLPS_3,
            Certification.RENTAL_FILING,
        ]
        assert certification_share(every, rental) == 1
        # Another trade's licence and unscored certifications count nothing.
        others = [Certification.INSURANCE_LICENCE, Certification.ISO_14001]
        assert certification_share(others, rental) == 0

    def test_quality_is_seven_tenths_rating_three_tenths_certifications(self) -> None:
        held = candidate(rating={"average": 5, "reviews": 100}, certifications=["iso_9001"])
        assert quality(held) == Decimal("0.7") * Decimal("0.75") + Decimal("0.3") * Decimal("0.25")

    def test_city_share_counts_target_cities_only(self) -> None:
        targets = {"Shenzhen", "Shanghai", "Beijing", "Chengdu"}
        assert city_share([], targets) == 0
        assert city_share(["Lhasa"], targets) == 0
        assert city_share(["Shenzhen", "Lhasa"], targets) == Decimal("0.25")
        assert city_share(sorted(targets), targets) == 1
        with pytest.raises(ValueError, match="no target cities"):
            city_share(["Shenzhen"], set())

    @pytest.mark.parametrize(
        ("minutes", "expected"),
        [(1, "1"), (20, "1"), (40, "0.5"), (60, "0"), (600, "0"), (30, "0.75")],
    )
    def test_rental_response_speed_is_linear_from_20_to_60_minutes(
        self, minutes: float, expected: str
    ) -> None:
        assert response_speed(minutes, ServiceCategory.RENTAL) == Decimal(expected)

    def test_each_category_has_its_own_response_bounds(self) -> None:
        assert response_speed(15, ServiceCategory.INSURANCE) == 1
        assert response_speed(120, ServiceCategory.INSURANCE) == 0
        assert response_speed(5, ServiceCategory.CHARGING) == 1
        assert response_speed(60, ServiceCategory.LIFESTYLE) == 0

    def test_coverage_is_seven_tenths_cities_three_tenths_speed(self) -> None:
        targets = {"Shenzhen", "Shanghai"}
        assert coverage(candidate(cities=["Shenzhen"], response_minutes=40), targets) == Decimal(
            "0.5"
        )
        assert coverage(candidate(cities=["Shenzhen"], response_minutes=20), targets) == Decimal(
            "0.65"
        )

    @pytest.mark.parametrize(
        ("index", "expected"),
        [(0.1, "1"), (0.5, "1"), (0.92, "0.58"), (1.0, "0.5"), (1.5, "0"), (3.0, "0")],
    )
    def test_cost_falls_linearly_from_half_to_one_and_a_half_times_the_median(
        self, index: float, expected: str
    ) -> None:
        assert cost(index) == Decimal(expected)

    def test_integration_is_the_openness_level_over_four(self) -> None:
        assert [integration(level) for level in ApiOpenness] == [
            Decimal(0),
            Decimal("0.25"),
            Decimal("0.5"),
            Decimal("0.75"),
            Decimal(1),
        ]


class TestSampleRanking:
    def test_the_sample_candidates_load(self) -> None:
        assert validate_candidates(CANDIDATES_DIR) == []
        found = load_candidates(CANDIDATES_DIR)
        assert 6 <= len(found) <= 8
        assert {c.category for c in found} == set(ServiceCategory)

    def test_ranking_per_category(self) -> None:
        ranked = rank_candidates(load_candidates(CANDIDATES_DIR), TARGETS)
        assert [(s.candidate.category.value, s.rank, s.candidate.id) for s in ranked] == [
            ("rental", 1, "metrofleet"),
            ("rental", 2, "quickwheels"),
            ("rental", 3, "bluelane"),
            ("insurance", 1, "jadeshield"),
            ("insurance", 2, "trustway"),
            ("charging", 1, "greenamp"),
            ("charging", 2, "sparkpile"),
            ("lifestyle", 1, "tripjoy"),
        ]

    def test_worked_example_of_the_docs(self) -> None:
        """docs/partners/selection.md works metrofleet out by hand."""
        [best, *_] = rank_candidates(
            load_candidates(CANDIDATES_DIR), TARGETS, ServiceCategory.RENTAL
        )
        assert len(TARGETS) == 12
        values = {name: c.value for name, c in best.criteria.items()}
        points = {name: c.contribution for name, c in best.criteria.items()}
        assert values == {
            "quality": Decimal("0.9555"),
            "coverage": Decimal("0.6933"),
            "cost": Decimal("0.58"),
            "integration": Decimal(1),
        }
        assert points == {
            "quality": Decimal("38.22"),
            "coverage": Decimal("17.33"),
            "cost": Decimal("11.60"),
            "integration": Decimal("15.00"),
        }
        assert best.total == Decimal("82.15")

    def test_contributions_sum_to_the_total(self) -> None:
        for scored in rank_candidates(load_candidates(CANDIDATES_DIR), TARGETS):
            assert sum(c.contribution for c in scored.criteria.values()) == scored.total
            assert Decimal(0) <= scored.total <= Decimal(100)
            for c in scored.criteria.values():
                assert Decimal(0) <= c.value <= Decimal(1)
                exact = c.weight * c.value * 100
                assert c.contribution == exact.quantize(Decimal("0.01"), ROUND_HALF_UP)

    def test_one_category_only(self) -> None:
        ranked = rank_candidates(
            load_candidates(CANDIDATES_DIR), TARGETS, ServiceCategory.INSURANCE
        )
        assert [s.candidate.id for s in ranked] == ["jadeshield", "trustway"]

    def test_ties_break_on_quality_then_the_other_criteria_then_id(self) -> None:
        # Same total (49.00): one more certification (+3.00 quality points) against a
        # price index 0.15 lower (+3.00 cost points).
        certified = candidate(id="bcar", certifications=["iso_9001", "iso_27001"])
        twin = candidate(id="acar", certifications=["iso_9001", "iso_27001"])
        cheaper = candidate(id="aacar", certifications=["iso_9001"], price_index=0.85)
        ranked = rank_candidates([cheaper, certified, twin], {"Shenzhen"})
        assert len({s.total for s in ranked}) == 1
        assert [(s.rank, s.candidate.id) for s in ranked] == [
            (1, "acar"),
            (2, "bcar"),
            (3, "aacar"),
        ]


BROKEN = """\
id: broken
name: Broken Rental
category: rental
cities: [Shenzhen, Shenzhen]
rating: {average: 6, reviews: 10}
certifications: [iso_9001, iso9001]
price_index: 0.9
response_minutes: 25
"""


class TestLoading:
    def test_every_problem_names_file_and_field(self, tmp_path: Path) -> None:
        (tmp_path / "broken.yaml").write_text(BROKEN, encoding="utf-8")
        (tmp_path / "renamed.yaml").write_text(
            (CANDIDATES_DIR / "tripjoy.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
        (tmp_path / "syntax.yaml").write_text("id: [unclosed\n", encoding="utf-8")
        problems = validate_candidates(tmp_path)
        found = {(Path(p.file).name, p.path): p.reason for p in problems}
        assert "less than or equal to 5" in found["broken.yaml", "rating.average"]
        assert "'iso_9001'" in found["broken.yaml", "certifications[1]"]
        assert found["broken.yaml", "api"] == "Field required"
        assert found["renamed.yaml", "id"] == "'tripjoy' must equal the file name 'renamed'"
        [syntax] = [p for p in problems if p.file.endswith("syntax.yaml")]
        assert syntax.path.startswith("line ") and "YAML syntax error" in syntax.reason
        with pytest.raises(CandidateError) as raised:
            load_candidates(tmp_path)
        assert f"{tmp_path / 'broken.yaml'}: rating.average: " in str(raised.value)
        assert len(raised.value.problems) == len(problems)

    def test_rule_violations_point_at_their_field(self, tmp_path: Path) -> None:
        (tmp_path / "repeats.yaml").write_text(
            BROKEN.replace("broken", "repeats")
            .replace("average: 6", "average: 4.5")
            .replace("iso9001", "iso_9001")
            + "api: rest_api\n",
            encoding="utf-8",
        )
        problems = {p.path: p.reason for p in validate_candidates(tmp_path)}
        assert problems == {
            "cities": "must not repeat: Shenzhen",
            "certifications": "must not repeat: iso_9001",
        }

    def test_an_average_needs_reviews(self) -> None:
        with pytest.raises(ValueError, match="must be above 0 when an average is given"):
            candidate(rating={"average": 4.5})
        with pytest.raises(ValueError, match="is missing for 3 reviews"):
            candidate(rating={"reviews": 3})

    def test_empty_and_missing_directories(self, tmp_path: Path) -> None:
        [empty] = validate_candidates(tmp_path)
        assert "no *.yaml candidate" in empty.reason
        [missing] = validate_candidates(tmp_path / "absent")
        assert "not a directory" in missing.reason


class TestCli:
    @pytest.fixture(autouse=True)
    def _registry(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PGW_PARTNERS_DIR", str(PARTNERS_DIR))

    def test_prints_the_ranking_with_each_contribution(self) -> None:
        result = runner.invoke(rank_app, ["--category", "rental", "--dir", str(CANDIDATES_DIR)])
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert "quality 40 %, coverage 25 %, cost 20 %, integration 15 %" in lines[0]
        assert "12 target cities" in lines[0]
        assert lines[2] == "rental (3)"
        assert lines[3].split()[:8] == [
            "RANK",
            "CANDIDATE",
            "TOTAL",
            "QUALITY",
            "/40",
            "COVERAGE",
            "/25",
            "COST",
        ]
        assert lines[4].split()[:7] == [
            "1",
            "metrofleet",
            "82.15",
            "38.22",
            "17.33",
            "11.60",
            "15.00",
        ]
        assert [line.split()[1] for line in lines[5:]] == ["quickwheels", "bluelane"]
        assert "insurance" not in result.stdout

    def test_default_directory_and_every_category(self) -> None:
        result = runner.invoke(rank_app, [])
        assert result.exit_code == 0, result.output
        headings = [line for line in result.stdout.splitlines() if line.endswith(")")]
        assert headings == ["rental (3)", "insurance (2)", "charging (2)", "lifestyle (1)"]

    def test_json(self) -> None:
        result = runner.invoke(rank_app, ["--category", "charging", "--json"])
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert document["weights"] == {
            "quality": 0.4,
            "coverage": 0.25,
            "cost": 0.2,
            "integration": 0.15,
        }
        assert len(document["target_cities"]) == 12
        first, second = document["candidates"]
        assert (first["id"], first["rank"], second["id"]) == ("greenamp", 1, "sparkpile")
        points = sum(c["contribution"] for c in first["criteria"].values())
        assert points == pytest.approx(first["total"])
        assert first["criteria"]["integration"]["inputs"] == {
            "api": "rest_webhooks_sandbox_oauth",
            "level": 4,
        }

    def test_target_cities_can_be_given(self) -> None:
        result = runner.invoke(
            rank_app, ["--category", "rental", "--city", "Chengdu", "--city", "Chongqing"]
        )
        assert result.exit_code == 0, result.output
        assert "2 target cities" in result.stdout
        # BlueLane serves both: 0.25 * (0.7 * 1 + 0.3 * 0.625) = 22.19 coverage points.
        rows = {line.split()[1]: line.split() for line in result.stdout.splitlines()[4:]}
        assert rows["bluelane"][4] == "22.19"
        assert rows["metrofleet"][4] == "7.13"  # neither city: response speed only

    def test_a_broken_file_fails_with_every_problem(self, tmp_path: Path) -> None:
        (tmp_path / "broken.yaml").write_text(BROKEN, encoding="utf-8")
        result = runner.invoke(rank_app, ["--dir", str(tmp_path)])
        assert result.exit_code == 1
        assert f"{tmp_path / 'broken.yaml'}: rating.average: " in result.stderr
        assert "problem(s) in" in result.stderr
        assert result.stdout == ""

    def test_no_candidate_of_the_category(self, tmp_path: Path) -> None:
        (tmp_path / "metrofleet.yaml").write_text(
            (CANDIDATES_DIR / "metrofleet.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
        result = runner.invoke(rank_app, ["--dir", str(tmp_path), "--category", "insurance"])
        assert result.exit_code == 0
        assert result.stdout.strip() == f"no insurance candidates in {tmp_path}"

    def test_an_unknown_category_is_refused(self) -> None:
        result = runner.invoke(rank_app, ["--category", "rentals"])
        assert result.exit_code == 2
        assert "rental" in result.output
