"""The gateway's `/healthz` through its whole middleware stack (request id, metrics, access
log, problem handlers) against a bare FastAPI app with the same single route, both under
uvicorn with one worker, no access log, log level warning. The ratio is the price of the
stack on the cheapest possible request; the gateway runs on its embedded defaults
(SQLite in a fresh data directory, in-process hot state) with JSON logs at level info,
as it ships.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from bench.context import Comparison, Context
from bench.figures import Figure
from bench.servers import ServerSpec

ROUTE = "/healthz"
SUBJECT = "gateway"
BASELINE = "bare FastAPI"

_EMBEDDED_ENV: dict[str, str | None] = {
    "PGW_DATABASE_URL": None,
    "PGW_REDIS_URL": None,
    "PGW_LOG_LEVEL": "info",
    "PGW_LOG_JSON": "true",
}


def _pgw() -> str:
    script = Path(sys.executable).with_name("pgw")
    if not script.exists():
        raise RuntimeError(f"{script} not found: install the project (make setup) first")
    return str(script)


def gateway_spec(root: Path) -> ServerSpec:
    """The gateway as `uvicorn --factory gateway.main:app_factory`, migrated first."""
    return ServerSpec(
        name=SUBJECT,
        app="gateway.main:app_factory",
        factory=True,
        env={**_EMBEDDED_ENV, "PGW_PARTNERS_DIR": str(root / "partners")},
        prepare=[[_pgw(), "db", "upgrade"]],
    )


BARE_SPEC = ServerSpec(name="bare", app="bench.apps.bare:app")


def figures(comparison: Comparison) -> list[Figure]:
    """Throughput and p50/p99 latency of the gateway, each against the bare app."""
    subject, baseline = comparison.subject, comparison.baseline
    return [
        Figure(f"{SUBJECT} {ROUTE} throughput", subject.rps, "req/s", BASELINE, baseline.rps),
        Figure(
            f"{SUBJECT} {ROUTE} latency p50", subject.p50_ms, "ms", BASELINE, baseline.p50_ms,
            higher_is_better=False,
        ),
        Figure(
            f"{SUBJECT} {ROUTE} latency p99", subject.p99_ms, "ms", BASELINE, baseline.p99_ms,
            higher_is_better=False,
        ),
    ]  # fmt: skip


def _round_notes(ctx: Context, comparison: Comparison) -> None:
    for label, rounds in (
        (SUBJECT, comparison.subject_rounds),
        (BASELINE, comparison.baseline_rounds),
    ):
        spread = ", ".join(f"{r.rps:,.0f}" for r in rounds)
        ctx.note(f"{label} req/s per round: {spread}")
    paired = comparison.paired_ratios("rps")
    if paired:
        ctx.note(
            f"throughput ratio per round: median {statistics.median(paired):.3f}, "
            f"range {min(paired):.3f}..{max(paired):.3f}"
        )
    errors = comparison.subject.errors + comparison.baseline.errors
    if errors:
        ctx.note(
            f"{errors} failed requests ({SUBJECT}: {comparison.subject.errors}, "
            f"{BASELINE}: {comparison.baseline.errors}): the figures are suspect"
        )


def run(ctx: Context) -> list[Figure]:
    """Start both servers, alternate load rounds between them, return the figures."""
    with ctx.server(BARE_SPEC) as bare, ctx.server(gateway_spec(ctx.root)) as gateway:
        comparison = ctx.compare(bare.url(ROUTE), gateway.url(ROUTE))
    _round_notes(ctx, comparison)
    return figures(comparison)
