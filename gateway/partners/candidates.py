"""Candidate selection: the onboarding score of DOMAIN.md over ``partners/candidates/*.yaml``.

Each candidate gets four criteria, each normalised to 0..1 by the formulas of
docs/partners/selection.md, weighted 40/25/20/15 into a total of 0..100:

| criterion | weight | normalised value |
|---|---|---|
| quality | 0.40 | 0.7 × rating (Bayesian average, 1..5 stars -> 0..1) + 0.3 × certification share |
| coverage | 0.25 | 0.7 × share of the target cities served + 0.3 × response speed |
| cost | 0.20 | (1.5 − price index) / (1.5 − 0.5), clamped to 0..1 |
| integration | 0.15 | API openness level / 4 |

Arithmetic is ``Decimal`` from each float's shortest repr. A normalised value
is rounded half up to 4 decimals, a contribution (weight × value × 100) to 2
decimals, and the total is the sum of the contributions as published.

``pgw partners rank`` prints the ranking (``rank`` below); the loader lists
every problem of every file, like the registry.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final

import typer
import yaml
from pydantic import ValidationError

from contracts import ServiceCategory
from contracts.candidates import (
    BASELINE_CERTIFICATIONS,
    CATEGORY_LICENCE,
    ApiOpenness,
    Certification,
    PartnerCandidate,
)
from gateway.registry import (
    AGREEMENT_SUFFIXES,
    RegistryError,
    RegistryProblem,
    load_registry,
)
from gateway.settings import Settings

__all__ = [
    "CITY_SHARE",
    "CRITERIA",
    "PRICE_INDEX_BEST",
    "PRICE_INDEX_WORST",
    "RATING_PRIOR_REVIEWS",
    "RATING_PRIOR_STARS",
    "RATING_SHARE",
    "RESPONSE_MINUTES",
    "WEIGHTS",
    "CandidateError",
    "CandidateScore",
    "CriterionScore",
    "certification_share",
    "city_share",
    "cost",
    "coverage",
    "integration",
    "load_candidates",
    "quality",
    "rank",
    "rank_app",
    "rank_candidates",
    "rating_score",
    "relevant_certifications",
    "response_speed",
    "score_candidate",
    "target_cities",
    "validate_candidates",
]

CRITERIA: Final = ("quality", "coverage", "cost", "integration")
"""The criteria in the order of their weights."""

WEIGHTS: Final[Mapping[str, Decimal]] = MappingProxyType(
    {
        "quality": Decimal("0.40"),
        "coverage": Decimal("0.25"),
        "cost": Decimal("0.20"),
        "integration": Decimal("0.15"),
    }
)
"""Weight of each criterion in the total (DOMAIN.md, "Selecting a partner"); they sum to 1."""

RATING_SHARE: Final = Decimal("0.7")
"""Share of the customer rating in quality; certifications have the rest (0.3)."""
RATING_PRIOR_STARS: Final = Decimal(3)
"""The neutral rating a candidate's average is pulled towards when it has few reviews."""
RATING_PRIOR_REVIEWS: Final = Decimal(100)
"""How many reviews the neutral prior weighs: at 100 reviews the average counts half."""
CITY_SHARE: Final = Decimal("0.7")
"""Share of the target cities in coverage; response speed has the rest (0.3)."""
RESPONSE_MINUTES: Final[Mapping[ServiceCategory, tuple[Decimal, Decimal]]] = MappingProxyType(
    {
        ServiceCategory.RENTAL: (Decimal(20), Decimal(60)),
        ServiceCategory.INSURANCE: (Decimal(15), Decimal(120)),
        ServiceCategory.CHARGING: (Decimal(5), Decimal(60)),
        ServiceCategory.LIFESTYLE: (Decimal(5), Decimal(60)),
    }
)
"""Per category: median response minutes scoring 1 (at or below) and 0 (at or above)."""
PRICE_INDEX_BEST: Final = Decimal("0.5")
"""Price index (price / category median) at or below which cost scores 1."""
PRICE_INDEX_WORST: Final = Decimal("1.5")
"""Price index at or above which cost scores 0; the median (1.0) scores 0.5."""

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_HUNDRED: Final = Decimal(100)
_VALUE_STEP: Final = Decimal("0.0001")
_POINTS_STEP: Final = Decimal("0.01")
_TOP_OPENNESS: Final = max(level.level for level in ApiOpenness)


# -- loading --------------------------------------------------------------------------


class CandidateError(Exception):
    """The candidates cannot be loaded; ``problems`` lists everything that is wrong."""

    def __init__(self, problems: Sequence[RegistryProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def load_candidates(directory: Path | str) -> list[PartnerCandidate]:
    """Every candidate of ``directory`` by id; raises ``CandidateError`` listing all problems."""
    candidates, problems = _load(Path(directory))
    if problems:
        raise CandidateError(problems)
    return sorted(candidates, key=lambda c: c.id)


def validate_candidates(directory: Path | str) -> list[RegistryProblem]:
    """Every problem of every candidate file in ``directory``; empty when all are valid."""
    return _load(Path(directory))[1]


def _load(directory: Path) -> tuple[list[PartnerCandidate], list[RegistryProblem]]:
    if not directory.is_dir():
        return [], [RegistryProblem(str(directory), "-", "is not a directory")]
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in AGREEMENT_SUFFIXES)
    if not files:
        return [], [RegistryProblem(str(directory), "-", "holds no *.yaml candidate")]
    candidates: list[PartnerCandidate] = []
    problems: list[RegistryProblem] = []
    for file in files:
        candidate, file_problems = _load_file(file)
        problems.extend(file_problems)
        if candidate is not None:
            candidates.append(candidate)
    return candidates, problems


def _load_file(file: Path) -> tuple[PartnerCandidate | None, list[RegistryProblem]]:
    name = str(file)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "-"
        return None, [RegistryProblem(name, where, f"YAML syntax error: {e.problem or e}")]
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as e:
        return None, [RegistryProblem(name, "-", f"cannot be read: {e}")]
    if not isinstance(raw, dict):
        return None, [RegistryProblem(name, "-", "must be a mapping of candidate fields")]
    try:
        candidate = PartnerCandidate.model_validate(raw)
    except ValidationError as e:
        return None, [
            RegistryProblem(name, _dotted(error["loc"]), error["msg"])
            for error in e.errors(include_url=False)
        ]
    if candidate.id != file.stem:
        return None, [
            RegistryProblem(name, "id", f"{candidate.id!r} must equal the file name {file.stem!r}")
        ]
    return candidate, []


def _dotted(loc: tuple[int | str, ...]) -> str:
    """``rating.average`` or ``certifications[1]`` from a pydantic location."""
    parts: list[str] = []
    for element in loc:
        if isinstance(element, int):
            parts.append(f"[{element}]")
        else:
            parts.append(f".{element}" if parts else element)
    return "".join(parts) or "-"


# -- normalisation ----------------------------------------------------------------------


def _decimal(value: float | int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def _unit(value: Decimal) -> Decimal:
    """Clamped to 0..1 and rounded half up to 4 decimals."""
    return min(_ONE, max(_ZERO, value)).quantize(_VALUE_STEP, ROUND_HALF_UP)


def rating_score(average: float | None, reviews: int) -> Decimal:
    """The customer rating, 0..1: the Bayesian average of the stars mapped from 1..5.

    ``adjusted = (reviews × average + 100 × 3) / (reviews + 100)`` pulls a thin
    record towards 3 stars; ``(adjusted − 1) / 4`` maps 1 star to 0 and 5 to 1.
    No reviews score the prior, 0.5.
    """
    if average is None or reviews == 0:
        adjusted = RATING_PRIOR_STARS
    else:
        count = Decimal(reviews)
        adjusted = (count * _decimal(average) + RATING_PRIOR_REVIEWS * RATING_PRIOR_STARS) / (
            count + RATING_PRIOR_REVIEWS
        )
    return _unit((adjusted - 1) / 4)


def relevant_certifications(category: ServiceCategory) -> tuple[Certification, ...]:
    """The certifications scored for a category: the baseline three and its trade licence."""
    return (*BASELINE_CERTIFICATIONS, CATEGORY_LICENCE[category])


def certification_share(
    certifications: Collection[Certification], category: ServiceCategory
) -> Decimal:
    """Held / scored certifications of the category (0..1); others held count nothing."""
    relevant = relevant_certifications(category)
    held = sum(1 for code in relevant if code in certifications)
    return _unit(Decimal(held) / Decimal(len(relevant)))


def quality(candidate: PartnerCandidate) -> Decimal:
    """Service quality, 0..1: 0.7 × rating score + 0.3 × certification share."""
    rating = rating_score(candidate.rating.average, candidate.rating.reviews)
    share = certification_share(candidate.certifications, candidate.category)
    return _unit(RATING_SHARE * rating + (_ONE - RATING_SHARE) * share)


def city_share(cities: Iterable[str], targets: Collection[str]) -> Decimal:
    """Share of the target cities the candidate serves (0..1); other cities count nothing."""
    if not targets:
        raise ValueError("there are no target cities to compare coverage with")
    served = len(set(cities) & set(targets))
    return _unit(Decimal(served) / Decimal(len(set(targets))))


def response_speed(minutes: float, category: ServiceCategory) -> Decimal:
    """1 at or below the category's fast bound, 0 at or above its slow bound, linear between."""
    fast, slow = RESPONSE_MINUTES[category]
    return _unit((slow - _decimal(minutes)) / (slow - fast))


def coverage(candidate: PartnerCandidate, targets: Collection[str]) -> Decimal:
    """Coverage, 0..1: 0.7 × city share + 0.3 × response speed."""
    share = city_share(candidate.cities, targets)
    speed = response_speed(candidate.response_minutes, candidate.category)
    return _unit(CITY_SHARE * share + (_ONE - CITY_SHARE) * speed)


def cost(price_index: float) -> Decimal:
    """Cost competitiveness, 0..1: ``(1.5 − index) / (1.5 − 0.5)`` clamped; lower is better."""
    return _unit(
        (PRICE_INDEX_WORST - _decimal(price_index)) / (PRICE_INDEX_WORST - PRICE_INDEX_BEST)
    )


def integration(api: ApiOpenness) -> Decimal:
    """Integration capability, 0..1: the API openness level (0..4) / 4."""
    return _unit(Decimal(api.level) / Decimal(_TOP_OPENNESS))


# -- scoring and ranking ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CriterionScore:
    """One criterion of one candidate: normalised value, weight, points in the total."""

    name: str
    value: Decimal
    """0..1, 4 decimals."""
    weight: Decimal
    contribution: Decimal
    """``weight × value × 100``, 2 decimals: the criterion's points in the total."""
    inputs: Mapping[str, Any]
    """What the value was computed from (for the JSON answer and the docs' example)."""


@dataclass(frozen=True, slots=True)
class CandidateScore:
    """A candidate's four criteria, total (0..100) and rank within its category."""

    candidate: PartnerCandidate
    criteria: Mapping[str, CriterionScore]
    total: Decimal
    """The sum of the four contributions (2 decimals)."""
    rank: int = 0
    """1 for the best of its category; 0 until ranked."""

    def sort_key(self) -> tuple[Any, ...]:
        """Best first: total, then each criterion's points in weight order, then id."""
        return (
            -self.total,
            *(-self.criteria[name].contribution for name in CRITERIA),
            self.candidate.id,
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON answer of one candidate (numbers as floats)."""
        return {
            "rank": self.rank,
            "id": self.candidate.id,
            "name": self.candidate.name,
            "category": self.candidate.category.value,
            "total": float(self.total),
            "criteria": {
                name: {
                    "weight": float(c.weight),
                    "value": float(c.value),
                    "contribution": float(c.contribution),
                    "inputs": dict(c.inputs),
                }
                for name, c in self.criteria.items()
            },
        }


def target_cities(directory: Path | str) -> frozenset[str]:
    """The OEM's target cities: every city a partner of the registry serves, any category.

    Raises ``RegistryError`` when the registry does not load.
    """
    return frozenset(city for agreement in load_registry(directory) for city in agreement.cities)


def score_candidate(candidate: PartnerCandidate, targets: Collection[str]) -> CandidateScore:
    """The candidate's criteria and total against the target cities (unranked)."""
    rating = candidate.rating
    relevant = relevant_certifications(candidate.category)
    values: dict[str, tuple[Decimal, dict[str, Any]]] = {
        "quality": (
            quality(candidate),
            {
                "rating_average": rating.average,
                "reviews": rating.reviews,
                "rating_score": float(rating_score(rating.average, rating.reviews)),
                "certifications_held": [c.value for c in relevant if c in candidate.certifications],
                "certifications_scored": [c.value for c in relevant],
                "certification_share": float(
                    certification_share(candidate.certifications, candidate.category)
                ),
            },
        ),
        "coverage": (
            coverage(candidate, targets),
            {
                "target_cities_served": sorted(set(candidate.cities) & set(targets)),
                "target_cities": len(set(targets)),
                "city_share": float(city_share(candidate.cities, targets)),
                "response_minutes": candidate.response_minutes,
                "response_speed": float(
                    response_speed(candidate.response_minutes, candidate.category)
                ),
            },
        ),
        "cost": (cost(candidate.price_index), {"price_index": candidate.price_index}),
        "integration": (
            integration(candidate.api),
            {"api": candidate.api.value, "level": candidate.api.level},
        ),
    }
    criteria = {
        name: CriterionScore(
            name=name,
            value=value,
            weight=WEIGHTS[name],
            contribution=(WEIGHTS[name] * value * _HUNDRED).quantize(_POINTS_STEP, ROUND_HALF_UP),
            inputs=MappingProxyType(inputs),
        )
        for name, (value, inputs) in values.items()
    }
    total = sum((c.contribution for c in criteria.values()), start=_ZERO)
    return CandidateScore(candidate, MappingProxyType(criteria), total)


def rank_candidates(
    candidates: Iterable[PartnerCandidate],
    targets: Collection[str],
    category: ServiceCategory | None = None,
) -> list[CandidateScore]:
    """Scored candidates (of ``category`` only, when given), by category in the order of
    ``ServiceCategory``, best first within each; ``rank`` restarts at 1 per category."""
    chosen = [c for c in candidates if category is None or c.category is category]
    ranked: list[CandidateScore] = []
    for each in ServiceCategory:
        scores = sorted(
            (score_candidate(c, targets) for c in chosen if c.category is each),
            key=CandidateScore.sort_key,
        )
        ranked.extend(
            CandidateScore(s.candidate, s.criteria, s.total, rank=index)
            for index, s in enumerate(scores, start=1)
        )
    return ranked


# -- `pgw partners rank` ----------------------------------------------------------------

rank_app = typer.Typer(
    help="Rank candidate partners by the onboarding score.",
    add_completion=False,
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _percent(weight: Decimal) -> str:
    return f"{weight * 100:.0f} %"


def table(scores: Sequence[CandidateScore], targets: Collection[str]) -> list[str]:
    """The ranking as text lines: a heading, then per category a table of contributions."""
    weights = ", ".join(f"{name} {_percent(WEIGHTS[name])}" for name in CRITERIA)
    lines = [
        f"candidates by onboarding score (0..100; {weights}); {len(set(targets))} target cities"
    ]
    header = (
        "RANK",
        "CANDIDATE",
        "TOTAL",
        *(f"{name.upper()} /{WEIGHTS[name] * 100:.0f}" for name in CRITERIA),
        "NAME",
    )
    for category in ServiceCategory:
        rows = [s for s in scores if s.candidate.category is category]
        if not rows:
            continue
        cells = [header]
        cells.extend(
            (
                str(s.rank),
                s.candidate.id,
                f"{s.total:.2f}",
                *(f"{s.criteria[name].contribution:.2f}" for name in CRITERIA),
                s.candidate.name,
            )
            for s in rows
        )
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        numeric = {0, *range(2, 2 + 1 + len(CRITERIA))}
        lines.append("")
        lines.append(f"{category.value} ({len(rows)})")
        lines.extend(
            "  ".join(
                value.rjust(width) if index in numeric else value.ljust(width)
                for index, (value, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in cells
        )
    return lines


@rank_app.command()
def rank(
    category: Annotated[
        ServiceCategory | None,
        typer.Option("--category", help="Only this category (default: every category)."),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Candidates directory (default PGW_PARTNERS_DIR/candidates)."),
    ] = None,
    cities: Annotated[
        list[str] | None,
        typer.Option(
            "--city",
            help="A target city (repeat the option); default: every city of the registry.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Score candidate partners (quality 40 %, coverage 25 %, cost 20 %, integration 15 %)."""
    partners_dir = Settings().partners_dir
    directory = directory or partners_dir / "candidates"
    try:
        candidates = load_candidates(directory)
    except CandidateError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise _fail(f"{len(exc.problems)} problem(s) in {directory}") from None
    if cities:
        targets: frozenset[str] = frozenset(city.strip() for city in cities if city.strip())
    else:
        try:
            targets = target_cities(partners_dir)
        except RegistryError as exc:
            raise _fail(
                f"the target cities come from the registry in {partners_dir}, which does not "
                f"load (or give them with --city):\n{exc}"
            ) from None
    if not targets:
        raise _fail("no target cities: give at least one with --city")
    scores = rank_candidates(candidates, targets, category)
    if as_json:
        document = {
            "target_cities": sorted(targets),
            "weights": {name: float(WEIGHTS[name]) for name in CRITERIA},
            "candidates": [s.as_dict() for s in scores],
        }
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    if not scores:
        which = f"{category.value} candidates" if category else "candidates"
        typer.echo(f"no {which} in {directory}")
        return
    for line in table(scores, targets):
        typer.echo(line)
