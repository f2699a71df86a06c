"""A database or Redis that cannot be reached is a 503 with Retry-After, never a 500.

Found by the fault harness (`make faults`, postgres-restart and redis-restart):
while PostgreSQL was down, the webhook intake's secret lookup and the dispatch
path let the driver's error escape as the last-resort 500 without Retry-After.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from gateway.problems import install_problem_handlers

_ERRORS: dict[str, Exception] = {
    "database-down": OperationalError("SELECT 1", {}, ConnectionRefusedError("refused")),
    "connection-lost": InterfaceError("SELECT 1", {}, Exception("connection is closed")),
    "redis-down": RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"),
    "refused-socket": ConnectionRefusedError(111, "Connection refused"),
    "defect": IntegrityError("INSERT", {}, Exception("duplicate key")),
}


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/raise/{name}")
    async def fail(name: str) -> None:
        raise _ERRORS[name]

    return app


@pytest.mark.parametrize(
    "name", ["database-down", "connection-lost", "redis-down", "refused-socket"]
)
async def test_unreachable_dependency_is_503_with_retry_after(name: str) -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.get(f"/raise/{name}")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == "/problems/service-unavailable"


async def test_a_defect_stays_a_500() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.get("/raise/defect")
    assert response.status_code == 500
    assert "retry-after" not in response.headers
