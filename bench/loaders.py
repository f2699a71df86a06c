"""Load generators, always run as a separate process: wrk when available, else bench/loadgen.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from bench.figures import LoadResult
from bench.replay import RequestFile

__all__ = ["LoadGenerator", "PythonLoadGenerator", "WrkLoadGenerator", "choose_load_generator"]

_WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
_WRK_REPLAY_SCRIPT = Path(__file__).with_name("wrk_replay.lua")
_WRK_THREADS = 1
_APT_TIMEOUT_S = 300


class LoadGenerator(Protocol):
    """Runs one bounded load against a URL in a child process and reports what it measured."""

    @property
    def description(self) -> str:
        """Name and version of the tool and how it is run, for the report."""
        ...

    def run(
        self,
        url: str,
        *,
        connections: int,
        duration: float,
        requests: RequestFile | None = None,
    ) -> LoadResult:
        """Send load to `url` for `duration` seconds over `connections` connections.

        Without `requests`, every request is a GET of `url`; with a request file, its
        requests are sent in order to `url`'s host (bench/replay.py).
        """
        ...


def _last_json_line(output: str, tool: str) -> LoadResult:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return LoadResult.from_json(json.loads(line))
    raise RuntimeError(f"{tool} printed no JSON summary:\n{output[-2000:]}")


def _pinned(cpus: frozenset[int] | None) -> list[str]:
    if cpus and shutil.which("taskset"):
        return ["taskset", "-c", ",".join(str(c) for c in sorted(cpus))]
    return []


@dataclass(frozen=True)
class WrkLoadGenerator:
    """wrk with one thread and a Lua hook that prints a JSON summary."""

    binary: str
    cpus: frozenset[int] | None = None
    installed_now: bool = False

    @property
    def description(self) -> str:
        """E.g. `wrk 4.1.0 (Debian package), 1 thread, pinned to CPU 1`."""
        done = subprocess.run([self.binary, "-v"], capture_output=True, text=True, check=False)
        version = (done.stdout + done.stderr).split("[")[0].strip() or "wrk"
        text = f"{version}, 1 thread, keep-alive"
        if self.installed_now:
            text += ", installed by the harness with apt-get"
        if _pinned(self.cpus):
            text += f", pinned to CPU {','.join(map(str, sorted(self.cpus or ())))}"
        return text

    def run(
        self,
        url: str,
        *,
        connections: int,
        duration: float,
        requests: RequestFile | None = None,
    ) -> LoadResult:
        """Run wrk for a whole number of seconds (at least 1)."""
        seconds = max(1, round(duration))
        script = [str(_WRK_SCRIPT), url]
        if requests is not None:
            script = [str(_WRK_REPLAY_SCRIPT), url, "--", str(requests.path), str(_WRK_THREADS)]
        command = [
            *_pinned(self.cpus), self.binary, f"-t{_WRK_THREADS}", f"-c{connections}",
            f"-d{seconds}s", "--timeout", "10s", "-s", *script,
        ]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 30, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
        return _last_json_line(done.stdout, "wrk")


@dataclass(frozen=True)
class PythonLoadGenerator:
    """bench/loadgen.py (httpx.AsyncClient) in a child Python process."""

    cpus: frozenset[int] | None = None
    reason: str = ""

    @property
    def description(self) -> str:
        """Says that the Python generator was used and why."""
        text = "bench/loadgen.py (httpx.AsyncClient, uvloop) in a separate process"
        if _pinned(self.cpus):
            text += f", pinned to CPU {','.join(map(str, sorted(self.cpus or ())))}"
        if self.reason:
            text += f"; {self.reason}"
        return text

    def run(
        self,
        url: str,
        *,
        connections: int,
        duration: float,
        requests: RequestFile | None = None,
    ) -> LoadResult:
        """Run the Python generator and parse its JSON line."""
        command = [
            *_pinned(self.cpus), sys.executable, "-m", "bench.loadgen",
            "--url", url, "--connections", str(connections), "--duration", str(duration),
        ]  # fmt: skip
        if requests is not None:
            command += ["--requests", str(requests.path)]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=duration + 60,
            cwd=Path(__file__).resolve().parent.parent,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"loadgen failed ({done.returncode}): {done.stderr.strip()}")
        return _last_json_line(done.stdout, "bench/loadgen.py")


def _apt_install_wrk(log: _Log) -> bool:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in ("install", "update-then-install"):
        log(f"wrk is missing: trying `apt-get install -y wrk` ({attempt})")
        if attempt == "update-then-install":
            subprocess.run(
                ["apt-get", "update"], env=env, capture_output=True, timeout=_APT_TIMEOUT_S
            )
        try:
            subprocess.run(
                ["apt-get", "install", "-y", "--no-install-recommends", "wrk"],
                env=env, capture_output=True, timeout=_APT_TIMEOUT_S, check=True,
            )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            continue
        if shutil.which("wrk"):
            return True
    return False


class _Log(Protocol):
    def __call__(self, message: str, /) -> None: ...


def choose_load_generator(
    preference: Literal["auto", "wrk", "python"],
    *,
    allow_install: bool,
    cpus: frozenset[int] | None,
    log: _Log,
) -> LoadGenerator:
    """wrk if installed (or installable as root with apt-get), else the Python generator."""
    if preference == "python":
        return PythonLoadGenerator(cpus, reason="chosen with --loadgen python")
    binary = shutil.which("wrk")
    installed_now = False
    if binary is None and allow_install and _apt_install_wrk(log):
        binary, installed_now = shutil.which("wrk"), True
    if binary is not None:
        return WrkLoadGenerator(binary, cpus, installed_now)
    if preference == "wrk":
        raise RuntimeError("--loadgen wrk given but wrk is not installed (apt-get install wrk)")
    log("wrk unavailable: falling back to the Python load generator (lower ceiling)")
    return PythonLoadGenerator(cpus, reason="wrk was not available")
