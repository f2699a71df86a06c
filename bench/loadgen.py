"""A Python HTTP load generator, run as its own process when wrk is not available.

`python -m bench.loadgen --url URL --connections 32 --duration 3` keeps N
connections busy with GET requests for a fixed time and prints one JSON object:
requests, duration_s, rps, p50_ms, p99_ms, errors. It is much slower than wrk:
on a small machine it can saturate before a fast server does, which compresses
ratios towards 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from dataclasses import asdict, dataclass

import httpx


@dataclass(frozen=True)
class LoadReport:
    """What one load run measured; latencies in milliseconds."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def _worker(
    client: httpx.AsyncClient, url: str, deadline: float, latencies: list[float]
) -> int:
    errors = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            response = await client.get(url)
            await response.aread()
        except httpx.HTTPError:
            errors += 1
            continue
        if response.is_success:
            latencies.append(time.perf_counter() - started)
        else:
            errors += 1
    return errors


async def generate(url: str, connections: int, duration: float) -> LoadReport:
    """Keep `connections` requests in flight against `url` for `duration` seconds."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        started = time.perf_counter()
        deadline = started + duration
        errors = await asyncio.gather(
            *(_worker(client, url, deadline, latencies) for _ in range(connections))
        )
        elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadReport(
        requests=len(latencies),
        duration_s=round(elapsed, 3),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(percentile(latencies, 50) * 1000, 3),
        p99_ms=round(percentile(latencies, 99) * 1000, 3),
        errors=sum(errors),
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the load, print the report as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=3.0)
    args = parser.parse_args(argv)
    if args.connections < 1 or not 0 < args.duration <= 120:
        parser.error("connections must be >= 1 and duration in (0, 120] seconds")
    try:
        import uvloop
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    report = run(generate(args.url, args.connections, args.duration))
    json.dump(asdict(report), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
