"""OAuth test helpers: a clock tests can move, and app instances built on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from gateway.app import create_app
from gateway.bootstrap import build_container
from gateway.settings import Settings


class FakeClock:
    """A wall clock that moves only when told to."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward by `timedelta(**delta)`."""
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    """A clock starting now."""
    return FakeClock()


AppOn = Callable[..., AbstractAsyncContextManager[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture
def app_on() -> AppOn:
    """Start another app instance (optionally on a given clock) with its HTTP client."""

    @asynccontextmanager
    async def start(
        settings: Settings, clock: Callable[[], datetime] | None = None
    ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
        application = create_app(settings, container=build_container(settings, clock=clock))
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway.test"
            ) as http:
                yield application, http

    return start
