"""Security suite fixtures: a gateway on partners of the test's own, attackers' tools, snapshots.

Each test runs the real app (PostgreSQL + Redis of the run; some also on the
embedded SQLite + in-process variant) with copies of the sample agreements
under ids unique to the test (``citycar-1a2b3c``), so whatever it sends never
touches another test's partners. `Gateway.snapshot()` counts the rows of every
table a request can write and lists the hot-state keys, so a refused attack
can be shown to have stored nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, or_, select

from contracts import new_order_id
from gateway.app import create_app
from gateway.bootstrap import Container, build_container
from gateway.hotstate.memory import MemoryHotState
from gateway.hotstate.redis import RedisHotState
from gateway.oauth.credentials import IssuedCredentials, create_client, create_partner_credentials
from gateway.persistence import tables
from gateway.settings import Settings
from gateway.webhooks.signature import sign
from tests.conftest import PARTNERS_DIR, RUN_ID
from tests.gateway.ledger.conftest import Partners, copies
from tests.gateway.webhooks.conftest import order_row

PROBLEM = "application/problem+json"
BASE = "http://gateway.test"

# Tables only requests (or the CLI) write; the background loops (SLA sweep, scorecard
# refresh, fee accrual) write others, which are counted where a request could reach them.
_REQUEST_TABLES = (
    tables.ClientRow,
    tables.OrderRow,
    tables.OrderEventRow,
    tables.InboxRow,
    tables.DeadLetterRow,
    tables.ConsentRow,
    tables.ConsentEventRow,
    tables.DisclosureRow,
    tables.RelayBindingRow,
    tables.RatingRow,
    tables.ComplaintRow,
    tables.KpiValueRow,
    tables.ClosedMonthRow,
    tables.SettlementMonthRow,
    tables.SigningKeyRow,
    tables.ConsoleUserRow,
)
# Hot-state keys a refused request may leave: its partner's delivery count of the minute
# (counted before the body is read) and the readiness probe.
_VOLATILE_KEYS = (":webhooks:rate:", "readyz")


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    """The answer is a problem document with this status (and `type`), naming what is wrong."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"].startswith("/problems/")
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    assert body["title"] and body["detail"], body
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """An RFC 6749 error of the token endpoint (the documented exception to problem+json)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    assert body.get("error_description"), body
    return body


@dataclass
class Snapshot:
    """Row counts of the writable tables and the hot-state keys at one moment."""

    rows: dict[str, int]
    keys: frozenset[str]


@dataclass
class SignedPartner:
    """A partner's credentials and `events:write` token; signs deliveries like a sender."""

    partner_id: str
    credentials: IssuedCredentials
    token: str
    http: httpx.AsyncClient

    @property
    def secret(self) -> str:
        assert self.credentials.webhook_secret is not None
        return self.credentials.webhook_secret

    def headers(
        self,
        body: bytes,
        *,
        webhook_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        """Bearer token, JSON content type and a valid Standard Webhooks signature."""
        webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        timestamp = int(datetime.now(UTC).timestamp()) if timestamp is None else timestamp
        return {
            "authorization": f"Bearer {self.token}",
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret or self.secret, webhook_id, timestamp, body),
        }

    async def post(
        self, body: bytes, headers: Mapping[str, str], *, path_partner: str | None = None
    ) -> httpx.Response:
        partner = path_partner or self.partner_id
        # Latin-1 on the wire, as servers decode header bytes.
        encoded = {name: value.encode("latin-1") for name, value in headers.items()}
        return await self.http.post(f"/v1/partners/{partner}/events", content=body, headers=encoded)


@dataclass
class Gateway:
    """The running app, its HTTP client and the test's partner copies."""

    app: FastAPI
    http: httpx.AsyncClient
    partners: Partners
    _signed: dict[str, SignedPartner] = field(default_factory=dict)
    _clients: dict[str, IssuedCredentials] = field(default_factory=dict)

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container

    async def token_for(self, credentials: IssuedCredentials, scope: str | None = None) -> str:
        form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
        response = await self.http.post(
            "/oauth/token", data=form, auth=(credentials.client_id, credentials.client_secret)
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def partner(self, sample_id: str = "citycar") -> SignedPartner:
        """The copy of a sample partner, with credentials and an `events:write` token."""
        if sample_id not in self._signed:
            partner_id = self.partners[sample_id]
            creds = await create_partner_credentials(self.container, partner_id)
            token = await self.token_for(creds, "events:write")
            self._signed[sample_id] = SignedPartner(partner_id, creds, token, self.http)
        return self._signed[sample_id]

    async def app_client(self, scopes: str) -> IssuedCredentials:
        """A non-partner client granted `scopes` (one per scopes per module: hashing is slow)."""
        if scopes not in self._clients:
            name = f"security-{uuid.uuid4().hex[:6]}"
            self._clients[scopes] = await create_client(self.container, name, scopes.split())
        return self._clients[scopes]

    async def app_token(self, scopes: str) -> str:
        """A token of a non-partner client granted (and asking for) exactly `scopes`."""
        return await self.token_for(await self.app_client(scopes))

    async def order(self, sample_id: str = "citycar", status: str = "dispatched") -> str:
        """An order placed with the test's copy of the partner."""
        order_id = new_order_id()
        async with self.container.uow() as uow:
            uow.orders.add(order_row(order_id, self.partners[sample_id], status=status))
            await uow.commit()
        return order_id

    async def order_status(self, order_id: str) -> tuple[str, int]:
        async with self.container.uow() as uow:
            row = await uow.orders.get(order_id)
            events = await uow.orders.events(order_id)
        assert row is not None
        return row.status, len(events)

    async def snapshot(self) -> Snapshot:
        rows: dict[str, int] = {}
        async with self.container.engine.connect() as connection:
            for table in _REQUEST_TABLES:
                count = select(func.count()).select_from(table)
                rows[table.__tablename__] = (await connection.execute(count)).scalar_one()
            ledger = tables.LedgerEntryRow
            # Order effects and corrections (fixed fees are accrued in the background).
            entries = (
                select(func.count())
                .select_from(ledger)
                .where(or_(ledger.order_id.is_not(None), ledger.reverses_id.is_not(None)))
            )
            rows["ledger_entries"] = (await connection.execute(entries)).scalar_one()
        return Snapshot(rows, frozenset(await _hot_keys(self.container)))

    async def assert_unchanged(self, before: Snapshot) -> None:
        """Nothing stored since `before`: no row in any writable table, no new hot key."""
        after = await self.snapshot()
        assert after.rows == before.rows
        assert after.keys - before.keys == set()


async def _hot_keys(container: Container) -> Iterable[str]:
    prefix = container.keys.prefix
    hot = container.hot_state
    if isinstance(hot, MemoryHotState):
        names = [*hot._values, *hot._sets]
    else:
        assert isinstance(hot, RedisHotState)
        names = [
            key.decode() if isinstance(key, bytes) else key
            async for key in hot._redis.scan_iter(match=f"{prefix}*", count=1000)
        ]
    return [n for n in names if not any(v in n for v in _VOLATILE_KEYS)]


async def _started(settings: Settings, partners: Partners) -> AsyncIterator[Gateway]:
    container = build_container(settings, registry=partners.registry)
    application = create_app(settings, container=container)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield Gateway(application, http, partners)


def _settings(tmp: Path, database_url: str | None, redis_url: str | None) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"pgwtest:{RUN_ID}:security-{uuid.uuid4().hex[:8]}:",
        data_dir=tmp / "var",
        partners_dir=PARTNERS_DIR,
    )


# One gateway per module and storage (the tests' own partners, orders and clients keep
# them apart): issuing credentials costs a deliberate scrypt hash, so it is done once.
@pytest.fixture(scope="module")
async def gateway(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str
) -> AsyncIterator[Gateway]:
    """The gateway on PostgreSQL + Redis with copies of the sample partners."""
    settings = _settings(tmp_path_factory.mktemp("security"), postgres_url, redis_url)
    async for started in _started(settings, copies()):
        yield started


@pytest.fixture(scope="module")
async def embedded_gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    """The gateway on the embedded SQLite file and in-process hot state."""
    settings = _settings(tmp_path_factory.mktemp("security-embedded"), None, None)
    async for started in _started(settings, copies()):
        yield started


@pytest.fixture(params=["postgresql", "embedded"])
def any_gateway(request: pytest.FixtureRequest) -> Gateway:
    """The PostgreSQL + Redis gateway, then the embedded one."""
    name = "gateway" if request.param == "postgresql" else "embedded_gateway"
    chosen: Gateway = request.getfixturevalue(name)
    return chosen


async def asgi_request(
    app: FastAPI,
    method: str,
    raw_path: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> httpx.Response:
    """Send a path exactly as given (``../`` included), as an HTTP server hands it to the app.

    HTTP clients resolve dot segments before sending; servers such as uvicorn pass
    the raw path on, with `path` percent-decoded.
    """
    path, _, query = raw_path.partition(b"?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path.decode("latin-1")),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", b"gateway.test"),
            *(
                (k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in (headers or {}).items()
            ),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
    }
    started: dict[str, Any] = {}
    chunks: list[bytes] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return httpx.Response(
        started["status"],
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in started["headers"]],
        content=b"".join(chunks),
        request=httpx.Request(method, BASE + path.decode("latin-1")),
    )


def dumps(value: object) -> bytes:
    return orjson.dumps(value)
