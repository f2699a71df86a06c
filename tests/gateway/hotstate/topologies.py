"""Private Redis topologies for the hot-state tests: a Sentinel-watched master and a cluster.

Each runs as its own `redis-server` processes on free ports in a temporary directory, and
is stopped at the end of the session; the shared Redis on 6379 is never touched.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

__all__ = ["redis_cluster", "redis_sentinel", "unavailable_reason"]

_READY_S = 20.0


def unavailable_reason() -> str | None:
    """Why private topologies cannot run here, or None."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        return "redis-server and redis-cli are not installed"
    return None


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    """A free port whose cluster bus port (+10000) is free too; Redis wants it <= 55535."""
    for _ in range(200):
        port = random.randint(20_000, 55_000)
        if _bindable(port) and _bindable(port + 10_000):
            return port
    raise RuntimeError("no free port pair found for a private Redis")


def _wait(check: object, what: str) -> None:
    deadline = time.monotonic() + _READY_S
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError):
            if check():  # type: ignore[operator]
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {_READY_S:.0f}s")


@contextlib.contextmanager
def _servers(commands: list[list[str]], cwd: Path) -> Iterator[None]:
    procs = [
        subprocess.Popen(c, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for c in commands
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _raw(client: redis.Redis, *command: str) -> bytes:
    """A command's reply as the server sent it (no response parsing)."""
    reply = client.execute_command(*command, NEVER_DECODE=True)
    return reply if isinstance(reply, bytes) else str(reply).encode()


def _server(port: int, *extra: str) -> list[str]:
    return [
        "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
        "--appendonly", "no", *extra,
    ]  # fmt: skip


@contextlib.contextmanager
def redis_sentinel(workdir: Path, service: str = "pgwmaster") -> Iterator[str]:
    """A master and one Sentinel watching it; yields the `redis+sentinel://` URL."""
    master, sentinel = _free_port(), _free_port()
    config = workdir / "sentinel.conf"
    config.write_text(
        f"port {sentinel}\nbind 127.0.0.1\n"
        f"sentinel monitor {service} 127.0.0.1 {master} 1\n"
        f"sentinel down-after-milliseconds {service} 5000\n"
    )
    with _servers([_server(master), ["redis-server", str(config), "--sentinel"]], workdir):
        watcher = redis.Redis(port=sentinel, socket_timeout=1)
        _wait(lambda: watcher.sentinel_get_master_addr_by_name(service), "Sentinel")
        watcher.close()
        yield f"redis+sentinel://127.0.0.1:{sentinel}/{service}/0"


@contextlib.contextmanager
def redis_cluster(workdir: Path, nodes: int = 3) -> Iterator[str]:
    """A cluster of `nodes` masters covering every slot; yields the `redis+cluster://` URL."""
    ports = [_free_port() for _ in range(nodes)]
    cluster = ("--cluster-enabled", "yes", "--cluster-node-timeout", "5000")
    commands = [_server(port, *cluster, "--cluster-config-file", f"n{port}.conf") for port in ports]
    with _servers(commands, workdir):
        for port in ports:
            _wait(redis.Redis(port=port, socket_timeout=1).ping, f"cluster node {port}")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        first = redis.Redis(port=ports[0], socket_timeout=1)
        _wait(lambda: b"cluster_state:ok" in _raw(first, "CLUSTER", "INFO"), "cluster")
        first.close()
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
