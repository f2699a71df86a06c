"""`pgw serve --workers 2`: `/metrics` answers the sum over both workers, whichever answers."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.metrics import MULTIPROCESS_ENV

REPO = Path(__file__).resolve().parents[2]
REQUESTS = 40
_HEALTHZ = re.compile(
    r'^pgw_http_requests_total\{[^}]*route="/healthz"[^}]*\} ([0-9.e+]+)$', re.MULTILINE
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthz_count(text: str) -> float:
    return sum(float(value) for value in _HEALTHZ.findall(text))


def test_metrics_are_summed_over_workers(
    tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str
) -> None:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != MULTIPROCESS_ENV},
        "PGW_DATABASE_URL": postgres_url,
        "PGW_REDIS_URL": redis_url,
        "PGW_REDIS_PREFIX": redis_prefix,
        "PGW_DATA_DIR": str(tmp_path / "var"),
        "PGW_PARTNERS_DIR": str(REPO / "partners"),
        "PGW_PORT": str(port),
        "PGW_LOG_LEVEL": "warning",
    }
    pgw = Path(sys.executable).with_name("pgw")
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(pgw), "serve", "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        # a new connection each, so both workers answer some of them
        for _ in range(REQUESTS - 1):
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        shared = tmp_path / "var" / "metrics" / str(port)
        written_by = {p.name.rsplit("_", 1)[-1].removesuffix(".db") for p in shared.glob("*.db")}
        scrapes = [httpx.get(f"{base}/metrics", timeout=5).text for _ in range(6)]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    # every scrape, whichever worker took it, counts all the requests of both
    assert [_healthz_count(text) for text in scrapes] == [REQUESTS] * len(scrapes)
    assert len(written_by) == 2, f"one worker answered every request: {written_by}"
