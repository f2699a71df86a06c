"""What the benchmarks ran on: cores, memory, Python, PostgreSQL and Redis, date."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Machine", "describe_machine"]

_PROBE_TIMEOUT_S = 5


@dataclass(frozen=True)
class Machine:
    """A description of the benchmark machine, as text fields for the report."""

    cores: str
    memory: str
    python: str
    system: str
    postgresql: str
    redis: str
    date: str

    def rows(self) -> list[tuple[str, str]]:
        """Label and value of each field, in report order."""
        return [
            ("cores", self.cores),
            ("memory", self.memory),
            ("Python", self.python),
            ("system", self.system),
            ("PostgreSQL server", self.postgresql),
            ("Redis server", self.redis),
            ("date", self.date),
        ]


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cores() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return f"{os.cpu_count()} logical ({usable} usable), {_cpu_model()}"


def _memory() -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    return "unknown"


def _postgresql(dsn: str | None) -> str:
    if not shutil.which("psql"):
        return "not measured (no psql client)"
    command = ["psql", "-XAtq", "-c", "SHOW server_version"]
    if dsn:
        command[1:1] = ["-d", dsn.replace("+asyncpg", "")]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "3"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=_PROBE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return "not reachable (timeout)"
    if done.returncode != 0:
        return "not reachable"
    where = "PGW_BENCH_POSTGRES_URL" if dsn else "psql defaults"
    return f"{done.stdout.strip()} (via {where})"


def _redis(url: str) -> str:
    try:
        import redis
    except ImportError:
        return "not measured (redis-py missing)"
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        info = client.info("server")
    except redis.RedisError:
        return "not reachable"
    finally:
        client.close()
    return f"{info.get('redis_version', '?')} (at {url.rsplit('@', 1)[-1]})"


def describe_machine() -> Machine:
    """Probe the machine; database versions are informational and never fail the run."""
    return Machine(
        cores=_cores(),
        memory=_memory(),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        system=f"{platform.system()} {platform.release()} ({platform.machine()})",
        postgresql=_postgresql(os.environ.get("PGW_BENCH_POSTGRES_URL")),
        redis=_redis(os.environ.get("PGW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")),
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
