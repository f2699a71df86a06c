"""The partner guide's webhook samples (docs/partners/samples/) against a running gateway.

The gateway is served over real HTTP (uvicorn in this event loop, on a free
port); each sample runs as a subprocess with the variables the guide names,
gets a token, signs a canonical `rental.order.accepted` for an order placed
with CityCar (a partner posting canonical events) and posts it. The Python and
Node.js samples always run (under CI=true a missing `node` fails the run); the
Java and Go samples run when `javac`/`java` and `go` are on the PATH and are
skipped otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from gateway.oauth.credentials import IssuedCredentials
from tests.conftest import IN_CI, REPO
from tests.gateway.conftest import IssueCredentials
from tests.gateway.webhooks.conftest import OrderFactory

SAMPLES = REPO / "docs" / "partners" / "samples"
PARTNER = "citycar"  # its agreement says webhook.dialect: canonical
RUN_TIMEOUT_S = 120.0


class _Server(uvicorn.Server):
    """uvicorn in the test's event loop, leaving Ctrl-C to pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture
async def gateway(app: FastAPI) -> AsyncIterator[str]:
    """The `app` fixture's gateway served on a free port; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = _Server(
        uvicorn.Config(
            app,
            lifespan="off",  # the app fixture runs the lifespan
            log_level="warning",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="samples-uvicorn")
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
            deadline = asyncio.get_running_loop().time() + 15
            while True:
                assert not serving.done(), "uvicorn stopped before it answered /healthz"
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                assert asyncio.get_running_loop().time() < deadline, "/healthz never answered"
                await asyncio.sleep(0.05)
        yield base_url
    finally:
        server.should_exit = True
        await serving
        sock.close()


@pytest.fixture
async def credentials(app: FastAPI, issue_credentials: IssueCredentials) -> IssuedCredentials:
    """CityCar's client id, client secret and whsec_ webhook secret, as the OEM issues them."""
    return await issue_credentials(app, PARTNER)


@dataclass(frozen=True)
class Run:
    """A finished sample run."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def status(self) -> int:
        """The HTTP status the sample printed (its first line)."""
        return int(self.stdout.splitlines()[0])

    @property
    def answer(self) -> dict[str, Any]:
        """The answer body the sample printed (the rest)."""
        body: dict[str, Any] = orjson.loads(self.stdout.split("\n", 1)[1])
        return body

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def sample_env(
    base_url: str,
    creds: IssuedCredentials,
    order_id: str,
    *,
    webhook_secret: str | None = None,
    reference: str | None = None,
) -> dict[str, str]:
    """The environment the guide documents, over the test's own (without other PGW_ names)."""
    assert creds.webhook_secret is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGW_")}
    env |= {
        "PGW_BASE_URL": base_url,
        "PGW_PARTNER_ID": PARTNER,
        "PGW_CLIENT_ID": creds.client_id,
        "PGW_CLIENT_SECRET": creds.client_secret,
        "PGW_WEBHOOK_SECRET": webhook_secret or creds.webhook_secret,
        "PGW_ORDER_ID": order_id,
    }
    if reference is not None:
        env["PGW_PARTNER_REFERENCE"] = reference
    return env


async def run(argv: Sequence[str], env: dict[str, str], cwd: Path) -> Run:
    """Run a command to its end (the gateway keeps serving meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"{' '.join(argv)} did not finish within {RUN_TIMEOUT_S} s")
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def _toolchain(*tools: str, required: bool) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"{' and '.join(missing)} not on PATH"
    if required and IN_CI:
        pytest.fail(f"CI=true and {message}; this sample must run in CI", pytrace=False)
    pytest.skip(f"{message}: the sample is not run")


@dataclass(frozen=True)
class Sample:
    """How to run one language's sample; `build` runs once before it (in a scratch dir)."""

    tools: tuple[str, ...]
    required: bool
    command: tuple[str, ...]
    build: tuple[str, ...] = ()


SAMPLE_RUNS = {
    "python": Sample((), True, (sys.executable, str(SAMPLES / "send_event.py"))),
    "node": Sample(("node",), True, ("node", str(SAMPLES / "send_event.mjs"))),
    "java": Sample(
        ("javac", "java"),
        False,
        ("java", "-cp", "{out}", "SendEvent"),
        ("javac", "-d", "{out}", str(SAMPLES / "SendEvent.java")),
    ),
    "go": Sample(
        ("go",),
        False,
        ("{out}/send_event",),
        ("go", "build", "-o", "{out}/send_event", str(SAMPLES / "send_event.go")),
    ),
}


async def _prepare(language: str, tmp_path: Path) -> tuple[str, ...]:
    """The sample's command line, built first if it is compiled; skips without its toolchain."""
    sample = SAMPLE_RUNS[language]
    _toolchain(*sample.tools, required=sample.required)
    out = tmp_path / "out"
    out.mkdir()
    if sample.build:
        # Go needs a build cache: the user's own, or a scratch one where there is no HOME.
        env = {"GOCACHE": str(tmp_path / "gocache")} if "HOME" not in os.environ else {}
        build = [part.format(out=out) for part in sample.build]
        built = await run(build, env | dict(os.environ), tmp_path)
        assert built.returncode == 0, f"{language} sample does not build:\n{built}"
    return tuple(part.format(out=out) for part in sample.command)


async def _order_state(app: FastAPI, order_id: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The order's status and its events as (event id, type, webhook id of the delivery)."""
    async with app.state.container.uow() as uow:
        row = await uow.orders.get(order_id)
        assert row is not None
        events = []
        for recorded in await uow.orders.events(order_id):
            delivery = await uow.inbox.get(recorded.inbox_id)
            assert delivery is not None
            events.append((recorded.event_id, recorded.event_type, delivery.webhook_id))
    return row.status, events


async def _read_order(base_url: str, token: str, order_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.get(
            f"/v1/orders/{order_id}", headers={"authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def _reader_token(base_url: str, app: FastAPI, issue: IssueCredentials) -> str:
    creds = await issue(app, name="samples-reader", scopes="orders:read")
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds.client_id, creds.client_secret),
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.mark.parametrize("language", list(SAMPLE_RUNS))
async def test_sample_delivers_a_signed_event_that_moves_the_order(
    language: str,
    app: FastAPI,
    gateway: str,
    credentials: IssuedCredentials,
    order: OrderFactory,
    issue_credentials: IssueCredentials,
    tmp_path: Path,
) -> None:
    command = await _prepare(language, tmp_path)
    reader = await _reader_token(gateway, app, issue_credentials)
    seen_events: set[str] = set()
    seen_messages: set[str] = set()
    for _ in range(2):  # twice: every run mints its own webhook-id and event id
        order_id = await order(PARTNER)
        reference = f"CC-{language.upper()}-{secrets.token_hex(4).upper()}"
        env = sample_env(gateway, credentials, order_id, reference=reference)
        result = await run(command, env, SAMPLES)
        assert result.returncode == 0, str(result)
        assert result.status == 200, str(result)
        answer = result.answer
        assert answer["status"] == "applied" and answer["effect"] == "applied", answer
        assert answer["order_id"] == order_id and answer["order_status"] == "accepted"

        status, events = await _order_state(app, order_id)
        assert status == "accepted"
        assert len(events) == 1, events
        event_id, event_type, webhook_id = events[0]
        assert event_type == "rental.order.accepted" and event_id == answer["event_id"]
        seen_events.add(event_id)
        seen_messages.add(webhook_id)

        view = await _read_order(gateway, reader, order_id)
        assert view["status"] == "accepted" and view["partner_id"] == PARTNER
        assert view["partner_reference"] == reference
    assert len(seen_events) == 2 and len(seen_messages) == 2


def _other_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.mark.parametrize("language", ["python", "node"])
async def test_sample_signed_with_a_wrong_secret_is_refused(
    language: str,
    app: FastAPI,
    gateway: str,
    credentials: IssuedCredentials,
    order: OrderFactory,
    tmp_path: Path,
) -> None:
    command = await _prepare(language, tmp_path)
    order_id = await order(PARTNER)
    env = sample_env(gateway, credentials, order_id, webhook_secret=_other_secret())
    result = await run(command, env, SAMPLES)
    assert result.returncode != 0, str(result)
    assert result.status == 401, str(result)
    assert result.answer["type"] == "/problems/invalid-signature", result.answer
    assert await _order_state(app, order_id) == ("dispatched", [])


async def test_sample_with_a_wrong_client_secret_stops_at_the_token(
    app: FastAPI, gateway: str, credentials: IssuedCredentials, order: OrderFactory
) -> None:
    order_id = await order(PARTNER)
    env = sample_env(gateway, credentials, order_id)
    env["PGW_CLIENT_SECRET"] = uuid.uuid4().hex
    result = await run(SAMPLE_RUNS["python"].command, env, SAMPLES)
    assert result.returncode == 1, str(result)
    assert "token request refused: 401" in result.stderr and "invalid_client" in result.stderr
    assert await _order_state(app, order_id) == ("dispatched", [])
