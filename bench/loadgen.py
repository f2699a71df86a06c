"""A Python HTTP load generator, run as its own process when wrk is not available.

`python -m bench.loadgen --url URL --connections 32 --duration 3` keeps N
connections busy with GET requests for a fixed time and prints one JSON object:
requests, duration_s, rps, p50_ms, p99_ms, errors. With `--requests FILE` it sends
the pre-generated requests of that file (bench/replay.py) in order instead, each
connection taking the next unused one, and also reports sent, status_200,
status_other, other_statuses and wrapped (sent again after the file ran out).
It is much slower than wrk:
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.replay import Replayed, read_request_file


@dataclass(frozen=True)
class LoadReport:
    """What one load run measured; latencies in milliseconds."""

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


@dataclass
class _Supply:
    """The requests of a file, handed out in order; counts what was sent and answered."""

    requests: list[Replayed]
    next_index: int = 0
    wrapped: int = 0
    status_200: int = 0
    status_other: int = 0
    statuses: set[int] = field(default_factory=set)

    def take(self) -> Replayed:
        index = self.next_index
        self.next_index += 1
        if index >= len(self.requests):
            self.wrapped += 1
        return self.requests[index % len(self.requests)]

    def answered(self, status: int) -> None:
        if status == 200:
            self.status_200 += 1
        else:
            self.status_other += 1
            self.statuses.add(status)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


async def _send(client: httpx.AsyncClient, url: str, supply: _Supply | None) -> httpx.Response:
    if supply is None:
        return await client.get(url)
    replayed = supply.take()
    origin = urlsplit(url)
    response = await client.request(
        replayed.method,
        f"{origin.scheme}://{origin.netloc}{replayed.path}",
        headers=replayed.headers,
        content=replayed.body,
    )
    supply.answered(response.status_code)
    return response


async def _worker(
    client: httpx.AsyncClient,
    url: str,
    deadline: float,
    latencies: list[float],
    supply: _Supply | None,
) -> int:
    errors = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            response = await _send(client, url, supply)
            await response.aread()
        except httpx.HTTPError:
            errors += 1
            continue
        if response.is_success:
            latencies.append(time.perf_counter() - started)
        else:
            errors += 1
    return errors


async def generate(
    url: str, connections: int, duration: float, requests: Path | None = None
) -> LoadReport:
    """Keep `connections` requests in flight against `url` for `duration` seconds."""
    supply = _Supply(read_request_file(requests)) if requests is not None else None
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        started = time.perf_counter()
        deadline = started + duration
        errors = await asyncio.gather(
            *(_worker(client, url, deadline, latencies, supply) for _ in range(connections))
        )
        elapsed = time.perf_counter() - started
    latencies.sort()
    report = LoadReport(
        requests=len(latencies),
        duration_s=round(elapsed, 3),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(percentile(latencies, 50) * 1000, 3),
        p99_ms=round(percentile(latencies, 99) * 1000, 3),
        errors=sum(errors),
    )
    if supply is None:
        return report
    return replace(
        report,
        sent=supply.next_index,
        status_200=supply.status_200,
        status_other=supply.status_other,
        wrapped=supply.wrapped,
        other_statuses=",".join(map(str, sorted(supply.statuses))),
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the load, print the report as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--requests", type=Path, help="replay this request file (bench/replay.py)")
    args = parser.parse_args(argv)
    if args.connections < 1 or not 0 < args.duration <= 120:
        parser.error("connections must be >= 1 and duration in (0, 120] seconds")
    try:
        import uvloop
    except ImportError:
        run = asyncio.run
    else:
        run = uvloop.run
    report = run(generate(args.url, args.connections, args.duration, args.requests))
    json.dump(asdict(report), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
