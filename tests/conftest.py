"""Shared fixtures: real PostgreSQL (a database per run) and Redis (a key prefix per run).

Each run creates `pgw_test_<random>` on the PostgreSQL server and drops it at
the end, and writes Redis keys only under `pgwtest:<random>:`, so parallel runs
(a developer and CI on the same machine) never see each other's data.
Under CI=true an unreachable PostgreSQL or Redis fails the run instead of
skipping the tests that need it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.persistence.db import create_engine
from gateway.persistence.migrate import upgrade
from gateway.settings import Settings

REPO = Path(__file__).resolve().parent.parent
PARTNERS_DIR = REPO / "partners"
PG_ADMIN_DSN = os.environ.get("PGW_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:10]
IN_CI = os.environ.get("CI") == "true"


def _unavailable(what: str, error: BaseException) -> None:
    message = f"{what} is unreachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(f"CI=true and {message}; the suite must run against it", pytrace=False)
    pytest.skip(message)


async def _admin_connect() -> asyncpg.Connection:
    return await asyncpg.connect(PG_ADMIN_DSN, timeout=5)


@contextlib.asynccontextmanager
async def fresh_database(name: str) -> AsyncIterator[str]:
    """Create the PostgreSQL database `name` (dropping a leftover of that name), migrate it,
    yield its URL, and drop it afterwards."""
    admin = await _admin_connect()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        admin = await _admin_connect()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for this run, dropped afterwards."""
    try:
        admin = await _admin_connect()
    except (OSError, asyncpg.PostgresError) as exc:
        _unavailable("PostgreSQL", exc)
    await admin.close()
    async with fresh_database(f"pgw_test_{RUN_ID}") as url:
        yield url


@pytest.fixture(scope="session")
async def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file for this run (the embedded default)."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'gateway.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the parametrised database."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    """The real Redis; the run's keys (under its prefix) are removed afterwards."""
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, Exception) as exc:
        await client.aclose()
        _unavailable("Redis", exc)
    yield REDIS_URL
    async for key in client.scan_iter(match=f"pgwtest:{RUN_ID}:*", count=1000):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix unique to the test, under the run's prefix."""
    return f"pgwtest:{RUN_ID}:{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def settings(tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str) -> Settings:
    """Production-shaped settings: PostgreSQL and Redis, the sample registry."""
    return Settings(
        environment="test",
        database_url=postgres_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        data_dir=tmp_path / "var",
        partners_dir=PARTNERS_DIR,
        log_json=True,
    )


@pytest.fixture
def embedded_settings(tmp_path: Path) -> Settings:
    """The newcomer's settings: SQLite file and in-process hot state."""
    return Settings(environment="test", data_dir=tmp_path / "var", partners_dir=PARTNERS_DIR)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The gateway app with its lifespan running."""
    from gateway.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


@pytest.fixture
def agreement_document() -> dict[str, object]:
    """A valid draft agreement as JSON (the OpenAPI example)."""
    import copy

    from gateway.api.agreements import DRAFT_AGREEMENT_EXAMPLE

    return copy.deepcopy(DRAFT_AGREEMENT_EXAMPLE)
