"""Servers under test: uvicorn subprocesses with a fresh data directory each."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["Server", "ServerError", "ServerSpec", "running_server"]

_READY_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0


class ServerError(RuntimeError):
    """A server under test failed to prepare, start or become ready."""


@dataclass(frozen=True)
class ServerSpec:
    """How to run one server: a uvicorn app, its environment and preparation commands.

    `prepare` commands (e.g. `pgw db upgrade`) run to completion, with the same
    environment, before uvicorn starts. `env` values may contain `{data_dir}`,
    replaced by the server's fresh temporary `PGW_DATA_DIR`; a None value removes
    the variable from the inherited environment.
    """

    name: str
    app: str
    factory: bool = False
    env: Mapping[str, str | None] = field(default_factory=dict)
    prepare: Sequence[Sequence[str]] = ()
    ready_path: str = "/healthz"
    workers: int = 1


@dataclass(frozen=True)
class Server:
    """A running server under test."""

    name: str
    base_url: str
    pid: int
    log_path: Path

    def url(self, path: str) -> str:
        """Absolute URL of `path` on this server."""
        return f"{self.base_url}{path}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pin(cpus: frozenset[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerError(
                    f"server exited with code {proc.returncode} before it was ready:\n"
                    + _tail(log_path)
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return
            time.sleep(0.1)
    raise ServerError(f"{url} not ready after {_READY_TIMEOUT_S:.0f}s:\n" + _tail(log_path))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=_STOP_TIMEOUT_S)


@contextlib.contextmanager
def running_server(
    spec: ServerSpec, *, cwd: Path, cpus: frozenset[int] | None = None
) -> Iterator[Server]:
    """Prepare and start `spec` under uvicorn (`spec.workers` processes), yield it once
    ready, then stop it."""
    with tempfile.TemporaryDirectory(prefix=f"pgw-bench-{spec.name}-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        log_path = Path(tmp) / "server.log"
        env = {**os.environ, "PGW_DATA_DIR": str(data_dir)}
        for key, value in spec.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value.format(data_dir=data_dir)
        with log_path.open("wb") as log:
            for command in spec.prepare:
                done = subprocess.run(
                    list(command), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                    timeout=120, check=False,
                )  # fmt: skip
                if done.returncode != 0:
                    log.flush()
                    raise ServerError(
                        f"{' '.join(command)} failed with code {done.returncode}:\n"
                        + _tail(log_path)
                    )
            port = _free_port()
            command = [
                sys.executable, "-m", "uvicorn", spec.app,
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(spec.workers),
                "--no-access-log", "--log-level", "warning", "--app-dir", str(cwd),
            ]  # fmt: skip
            if spec.factory:
                command.append("--factory")
            proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, preexec_fn=lambda: _pin(cpus),
            )  # fmt: skip
            try:
                base_url = f"http://127.0.0.1:{port}"
                _wait_ready(proc, base_url + spec.ready_path, log_path)
                yield Server(spec.name, base_url, proc.pid, log_path)
            finally:
                _stop(proc)
