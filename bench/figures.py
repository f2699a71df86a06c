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
    """

    name: str
    value: float
    unit: str
    baseline_name: str
    baseline_value: float
    higher_is_better: bool = True
    note: str = ""

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
    """What one load run measured: throughput, latency percentiles (ms), errors."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    @classmethod
    def from_json(cls, data: dict[str, float]) -> LoadResult:
        """Build from the JSON line both load generators print."""
        return cls(
            requests=int(data["requests"]),
            duration_s=float(data["duration_s"]),
            rps=float(data["rps"]),
            p50_ms=float(data["p50_ms"]),
            p99_ms=float(data["p99_ms"]),
            errors=int(data["errors"]),
        )


def median_result(results: Sequence[LoadResult]) -> LoadResult:
    """Median of each measure over several rounds; requests and errors are summed."""
    if not results:
        raise ValueError("no load results to summarise")
    return LoadResult(
        requests=sum(r.requests for r in results),
        duration_s=sum(r.duration_s for r in results),
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
    )
