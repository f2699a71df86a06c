"""The partner registry: agreements loaded from ``partners/*.yaml`` and checked as a whole.

A bad file stops start-up with every problem of every file listed, one per line,
as ``file: path: reason``; ``pgw partners validate`` prints the same list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import ValidationError

from adapters import ADAPTERS, WEBHOOK_TRANSLATORS
from contracts import CANONICAL_DIALECT, PartnerAgreement, ServiceCategory

__all__ = [
    "AGREEMENT_SUFFIXES",
    "Registry",
    "RegistryError",
    "RegistryProblem",
    "UnknownPartner",
    "conflicts",
    "load_registry",
    "validate_directory",
]

AGREEMENT_SUFFIXES = (".yaml", ".yml")
"""File suffixes read as agreements; subdirectories (such as ``candidates/``) are not."""


@dataclass(frozen=True, slots=True)
class RegistryProblem:
    """One thing wrong with one agreement file."""

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.reason}"


class RegistryError(Exception):
    """The registry cannot be loaded; ``problems`` lists everything that is wrong."""

    def __init__(self, problems: Sequence[RegistryProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class UnknownPartner(KeyError):
    """No agreement in the registry has this partner id."""

    def __init__(self, partner_id: str) -> None:
        super().__init__(partner_id)
        self.partner_id = partner_id

    def __str__(self) -> str:
        return f"no partner {self.partner_id!r} in the registry"


class Registry:
    """An immutable set of partner agreements, indexed by id and category."""

    __slots__ = ("_by_category", "_by_id")

    def __init__(self, agreements: Iterable[PartnerAgreement]) -> None:
        by_id: dict[str, PartnerAgreement] = {}
        for agreement in sorted(agreements, key=lambda a: a.id):
            if agreement.id in by_id:
                raise ValueError(f"partner {agreement.id!r} appears twice")
            by_id[agreement.id] = agreement
        by_category: dict[ServiceCategory, tuple[PartnerAgreement, ...]] = {
            category: tuple(a for a in by_id.values() if a.category is category)
            for category in ServiceCategory
        }
        self._by_id: Mapping[str, PartnerAgreement] = MappingProxyType(by_id)
        self._by_category: Mapping[ServiceCategory, tuple[PartnerAgreement, ...]] = (
            MappingProxyType(by_category)
        )

    def get(self, partner_id: str) -> PartnerAgreement:
        """The agreement of ``partner_id``; raises ``UnknownPartner``."""
        try:
            return self._by_id[partner_id]
        except KeyError:
            raise UnknownPartner(partner_id) from None

    def all(self) -> tuple[PartnerAgreement, ...]:
        """Every agreement, ordered by partner id."""
        return tuple(self._by_id.values())

    def by_category(self, category: ServiceCategory) -> tuple[PartnerAgreement, ...]:
        """The agreements of one category, ordered by partner id."""
        return self._by_category[category]

    def ids(self) -> tuple[str, ...]:
        """Every partner id, sorted."""
        return tuple(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, partner_id: object) -> bool:
        return partner_id in self._by_id

    def __iter__(self) -> Iterator[PartnerAgreement]:
        return iter(self._by_id.values())

    def __repr__(self) -> str:
        return f"Registry({', '.join(self._by_id)})"


def load_registry(directory: Path | str) -> Registry:
    """Read and validate every agreement in ``directory``; raise ``RegistryError`` if any fail."""
    agreements, problems = _load(Path(directory))
    if problems:
        raise RegistryError(problems)
    return Registry(agreements)


def validate_directory(directory: Path | str) -> list[RegistryProblem]:
    """Every problem of every agreement in ``directory``; empty when all are valid."""
    return _load(Path(directory))[1]


def _load(directory: Path) -> tuple[list[PartnerAgreement], list[RegistryProblem]]:
    if not directory.is_dir():
        return [], [RegistryProblem(str(directory), "-", "is not a directory")]
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in AGREEMENT_SUFFIXES)
    if not files:
        return [], [RegistryProblem(str(directory), "-", "holds no *.yaml agreement")]
    agreements: list[PartnerAgreement] = []
    problems: list[RegistryProblem] = []
    first_file: dict[str, Path] = {}
    for file in files:
        agreement, file_problems = _load_file(file)
        problems.extend(file_problems)
        if agreement is None:
            continue
        if agreement.id in first_file:
            problems.append(
                RegistryProblem(
                    str(file), "id", f"{agreement.id!r} is also in {first_file[agreement.id]}"
                )
            )
            continue
        first_file[agreement.id] = file
        agreements.append(agreement)
    problems.extend(_exclusivity_problems(agreements, first_file))
    problems.extend(_dialect_problems(agreements, first_file))
    return agreements, problems


def _dialect_problems(
    agreements: list[PartnerAgreement], files: Mapping[str, Path]
) -> list[RegistryProblem]:
    # A webhook dialect nobody translates would dead-letter every delivery of the partner;
    # an API dialect without an adapter could never be dispatched to.
    problems = [
        RegistryProblem(
            str(files[a.id]),
            "webhook.dialect",
            f"no adapter translates {a.webhook.dialect!r}; known: canonical, "
            + ", ".join(sorted(WEBHOOK_TRANSLATORS)),
        )
        for a in agreements
        if a.webhook.dialect != CANONICAL_DIALECT and a.webhook.dialect not in WEBHOOK_TRANSLATORS
    ]
    problems.extend(
        RegistryProblem(
            str(files[a.id]),
            "api.dialect",
            f"no adapter speaks {a.api.dialect!r}; known: " + ", ".join(sorted(ADAPTERS)),
        )
        for a in agreements
        if a.api.dialect not in ADAPTERS
    )
    return problems


def _load_file(file: Path) -> tuple[PartnerAgreement | None, list[RegistryProblem]]:
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
        return None, [RegistryProblem(name, "-", "must be a mapping of agreement clauses")]
    try:
        agreement = PartnerAgreement.model_validate(raw)
    except ValidationError as e:
        return None, [
            RegistryProblem(name, _dotted(raw, error["loc"]), error["msg"])
            for error in e.errors(include_url=False)
        ]
    if agreement.id != file.stem:
        return None, [
            RegistryProblem(name, "id", f"{agreement.id!r} must equal the file name {file.stem!r}")
        ]
    return agreement, []


def _dotted(raw: Any, loc: tuple[int | str, ...]) -> str:
    """``sla.terms[0].target`` from a pydantic location, without union tags."""
    parts: list[str] = []
    node: Any = raw
    for element in loc:
        if isinstance(node, list) and isinstance(element, int):
            parts.append(f"[{element}]")
            node = node[element] if 0 <= element < len(node) else None
        elif isinstance(node, dict) and element in node:
            parts.append(f".{element}" if parts else str(element))
            node = node[element]
        elif isinstance(node, dict) and element in (node.get("kind"), node.get("type")):
            continue  # the tag pydantic adds for a discriminated union member
        elif isinstance(node, dict | type(None)) and isinstance(element, str):
            parts.append(f".{element}" if parts else element)  # a missing field
            node = None
        else:
            break  # a union member's name below a scalar: the path is complete
    return "".join(parts) or "-"


def conflicts(agreements: Sequence[PartnerAgreement]) -> list[tuple[str, str, str]]:
    """Problems between agreements, as (partner id, field path, reason).

    An exclusive partner must be the only one in its category for its cities.
    """
    found = []
    for agreement in agreements:
        if not agreement.exclusivity.exclusive_in_category:
            continue
        for other in agreements:
            shared = ", ".join(sorted(set(agreement.cities) & set(other.cities)))
            if other.id != agreement.id and other.category is agreement.category and shared:
                found.append(
                    (
                        agreement.id,
                        "exclusivity.exclusive_in_category",
                        f"{other.id} also serves {agreement.category} in {shared}",
                    )
                )
    return found


def _exclusivity_problems(
    agreements: list[PartnerAgreement], files: Mapping[str, Path]
) -> list[RegistryProblem]:
    return [
        RegistryProblem(str(files[partner_id]), path, reason)
        for partner_id, path, reason in conflicts(agreements)
    ]
