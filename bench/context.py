"""What a benchmark's `run(ctx)` receives: run settings, servers and load, and a log."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.figures import LoadResult, median_result
from bench.loaders import LoadGenerator
from bench.replay import RequestFile
from bench.servers import Server, ServerSpec, running_server

__all__ = ["Comparison", "Context", "RunSettings"]


@dataclass(frozen=True)
class RunSettings:
    """Bounds of every measurement; benchmarks take these rather than inventing their own."""

    duration: float = 2.0
    warmup: float = 1.0
    rounds: int = 5
    connections: int = 32


@dataclass(frozen=True)
class Comparison:
    """Median results of baseline and subject over alternating rounds, plus every round."""

    baseline: LoadResult
    subject: LoadResult
    baseline_rounds: tuple[LoadResult, ...]
    subject_rounds: tuple[LoadResult, ...]

    def paired_ratios(self, measure: str) -> list[float]:
        """Subject / baseline per round for `measure` (e.g. "rps"): each pair ran seconds
        apart, so drifts in machine speed cancel out in these ratios."""
        return [
            getattr(s, measure) / getattr(b, measure)
            for s, b in zip(self.subject_rounds, self.baseline_rounds, strict=True)
            if getattr(b, measure)
        ]


@dataclass
class Context:
    """The harness's services to a benchmark module."""

    root: Path
    settings: RunSettings
    loadgen: LoadGenerator
    server_cpus: frozenset[int] | None = None
    notes: list[str] = field(default_factory=list)

    def log(self, message: str) -> None:
        """Progress line on stderr (figures go to stdout)."""
        print(f"  . {message}", file=sys.stderr, flush=True)

    def note(self, message: str) -> None:
        """A remark to print and keep in the report next to this benchmark's figures."""
        self.log(message)
        self.notes.append(message)

    @contextlib.contextmanager
    def server(self, spec: ServerSpec) -> Iterator[Server]:
        """Start a server under test (pinned to the server CPUs); stop it on exit."""
        self.log(f"starting {spec.name} ({spec.app})")
        with running_server(spec, cwd=self.root, cpus=self.server_cpus) as server:
            yield server
        self.log(f"stopped {spec.name}")

    def load(
        self, url: str, *, duration: float | None = None, requests: RequestFile | None = None
    ) -> LoadResult:
        """One load run against `url` with the run's connections and duration.

        With `requests`, the pre-generated requests of that file are sent in order to
        `url` (bench/replay.py) instead of GETs of `url`.
        """
        return self.loadgen.run(
            url,
            connections=self.settings.connections,
            duration=self.settings.duration if duration is None else duration,
            requests=requests,
        )

    def compare(self, baseline_url: str, subject_url: str) -> Comparison:
        """Warm both up, then alternate rounds (order swapped each round) and take medians."""
        settings = self.settings
        for url in (baseline_url, subject_url):
            self.load(url, duration=settings.warmup)
        baseline: list[LoadResult] = []
        subject: list[LoadResult] = []
        for round_no in range(settings.rounds):
            order = [(baseline_url, baseline), (subject_url, subject)]
            if round_no % 2:
                order.reverse()
            for url, results in order:
                results.append(self.load(url))
            self.log(
                f"round {round_no + 1}/{settings.rounds}: baseline {baseline[-1].rps:,.0f} req/s,"
                f" subject {subject[-1].rps:,.0f} req/s"
            )
        return Comparison(
            baseline=median_result(baseline),
            subject=median_result(subject),
            baseline_rounds=tuple(baseline),
            subject_rounds=tuple(subject),
        )
