"""Fixtures for the privacy tests: unique customers and relay pools, the webhook helpers."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.persistence.db import create_session_factory
from gateway.persistence.uow import UnitOfWork
from gateway.settings import Settings
from tests.conftest import PARTNERS_DIR
from tests.gateway.webhooks.conftest import app_token, order, partner

__all__ = ["app_token", "customer_id", "make_pool", "order", "partner", "uow_of"]

NOW = datetime(2030, 5, 20, 8, 30, tzinfo=UTC)


def uow_of(engine: AsyncEngine) -> UnitOfWork:
    """A unit of work on a test engine."""
    return UnitOfWork(create_session_factory(engine))


def make_pool(size: int) -> str:
    """A pool no other test uses: `size` 13-digit numbers from a random start."""
    start = 1_000_000_000_000 + secrets.randbelow(8_000_000_000_000)
    return f"{start}-{start + size - 1}"


@pytest.fixture
def customer_id() -> str:
    """A customer id no other test uses (the databases live for the whole run)."""
    return f"cus-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def privacy_settings(tmp_path: Path) -> Settings:
    """Settings with the default consent purposes and a pool of its own."""
    return Settings(
        environment="test",
        data_dir=tmp_path / "var",
        partners_dir=PARTNERS_DIR,
        relay_number_pool=make_pool(1000),
    )
