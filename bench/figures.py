"""The values a benchmark hands back: figures compared with a baseline of the same run."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Figure", "LoadResult", "median_result"]


@dataclass(frozen=True)
class Figure:
    """One measured value of the subject next to the same measure of its baseline.

    `ratio` is subject / baseline. Whether above 1 is good depends on the
    measure, which `higher_is_better` records (throughput: yes; latency: no).
    `reading`, when given, replaces the "x % better/worse" verdict, for figures
    that are checks rather than costs (e.g. rows counted against answers counted).
    """

    name: str
    value: float
    unit: str
    baseline_name: str
    baseline_value: float
    higher_is_better: bool = True
    note: str = ""
    reading: str = ""

    @property
    def ratio(self) -> float:
        """Subject value divided by baseline value (NaN when the baseline is 0)."""
        if self.baseline_value == 0:
            return math.nan
        return self.value / self.baseline_value

    @property
    def cost_percent(self) -> float:
        """How much worse than the baseline, in percent (negative: better)."""
        if self.higher_is_better:
            return (1 - self.ratio) * 100
        return (self.ratio - 1) * 100


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured: throughput, latency percentiles (ms), errors.

    When a request file was replayed (bench/replay.py), also how many requests were
    sent (answered or not), how many answers were 200 and how many were not (with
    their statuses), and how many requests were sent again after the file ran out.
    """

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    sent: int | None = None
    status_200: int | None = None
    status_other: int | None = None
    wrapped: int = 0
    other_statuses: str = ""

    @classmethod
    def from_json(cls, data: dict[str, float | str]) -> LoadResult:
        """Build from the JSON line both load generators print."""

        def optional(key: str) -> int | None:
            value = data.get(key)
            return None if value is None else int(value)

        return cls(
            requests=int(data["requests"]),
            duration_s=float(data["duration_s"]),
            rps=float(data["rps"]),
            p50_ms=float(data["p50_ms"]),
            p99_ms=float(data["p99_ms"]),
            errors=int(data["errors"]),
            sent=optional("sent"),
            status_200=optional("status_200"),
            status_other=optional("status_other"),
            wrapped=int(data.get("wrapped") or 0),
            other_statuses=str(data.get("other_statuses") or ""),
        )


def _total(values: Sequence[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v or 0 for v in values)


def median_result(results: Sequence[LoadResult]) -> LoadResult:
    """Median of each measure over several rounds; counts (requests, errors...) are summed."""
    if not results:
        raise ValueError("no load results to summarise")
    statuses = sorted({s for r in results for s in r.other_statuses.split(",") if s})
    return LoadResult(
        requests=sum(r.requests for r in results),
        duration_s=sum(r.duration_s for r in results),
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
        sent=_total([r.sent for r in results]),
        status_200=_total([r.status_200 for r in results]),
        status_other=_total([r.status_other for r in results]),
        wrapped=sum(r.wrapped for r in results),
        other_statuses=",".join(statuses),
    )
