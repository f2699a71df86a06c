"""Aggregates for de-identified partners, with small groups suppressed (k-anonymity).

A partner cleared for de-identified data may receive statistics about many
customers (e.g. charging usage by station and time of day), never rows about
one. ``k_anonymous`` groups records by the given keys, counts and sums each
group, and leaves out every group of fewer than ``k`` records, so no cell of
the export can single out a person. What was suppressed is reported as
totals only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["DEFAULT_K", "Cell", "KAnonymousExport", "k_anonymous"]

DEFAULT_K: Final = 5


@dataclass(frozen=True, slots=True)
class Cell:
    """One group: its key values, how many records, and the sums of the summed fields."""

    key: tuple[str, ...]
    count: int
    sums: Mapping[str, int] = field(default_factory=dict)

    def as_json(self, by: Sequence[str]) -> dict[str, Any]:
        """The cell as a JSON object keyed by the grouping fields."""
        return {**dict(zip(by, self.key, strict=True)), "count": self.count, **self.sums}


@dataclass(frozen=True, slots=True)
class KAnonymousExport:
    """The cells shown, and how much was suppressed."""

    by: tuple[str, ...]
    k: int
    cells: tuple[Cell, ...]
    suppressed_groups: int
    suppressed_records: int

    def as_json(self) -> dict[str, Any]:
        """The export as JSON."""
        return {
            "group_by": list(self.by),
            "k": self.k,
            "cells": [cell.as_json(self.by) for cell in self.cells],
            "suppressed_groups": self.suppressed_groups,
            "suppressed_records": self.suppressed_records,
        }


def k_anonymous(
    records: Iterable[Mapping[str, Any]],
    *,
    by: Sequence[str],
    sums: Sequence[str] = (),
    k: int = DEFAULT_K,
) -> KAnonymousExport:
    """Group ``records`` by ``by``, sum ``sums``, drop groups smaller than ``k``.

    A record missing a grouping field is counted as suppressed (it cannot be
    placed safely); a missing or non-integer summed value adds nothing.
    """
    if k < 2:
        raise ValueError("k must be at least 2")
    if not by:
        raise ValueError("group by at least one field")
    counts: dict[tuple[str, ...], int] = {}
    totals: dict[tuple[str, ...], dict[str, int]] = {}
    unplaced = 0
    for record in records:
        if any(record.get(name) is None for name in by):
            unplaced += 1
            continue
        key = tuple(str(record[name]) for name in by)
        counts[key] = counts.get(key, 0) + 1
        group = totals.setdefault(key, dict.fromkeys(sums, 0))
        for name in sums:
            value = record.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                group[name] += value
    shown = [Cell(key, count, totals[key]) for key, count in sorted(counts.items()) if count >= k]
    small = {key: count for key, count in counts.items() if count < k}
    return KAnonymousExport(
        by=tuple(by),
        k=k,
        cells=tuple(shown),
        suppressed_groups=len(small),
        suppressed_records=sum(small.values()) + unplaced,
    )
