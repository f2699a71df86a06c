"""Liveness, readiness and what readiness says when a dependency is down."""

from __future__ import annotations

import httpx

from gateway.app import create_app
from gateway.settings import Settings


class TestHealth:
    async def test_healthz(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}

    async def test_readyz_checks_database_hot_state_and_registry(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200, response.text
        checks = response.json()["checks"]
        assert set(checks) == {"database", "hot_state", "registry"}
        assert all(c["ok"] for c in checks.values())
        assert "redis" in checks["hot_state"]["detail"]
        assert "8 partner agreements" in checks["registry"]["detail"]

    async def test_readyz_is_503_with_retry_after_when_redis_is_down(
        self, settings: Settings
    ) -> None:
        app = create_app(
            Settings(**{**settings.model_dump(), "redis_url": "redis://127.0.0.1:1/0"})
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"]
        body = response.json()
        assert body["checks"]["hot_state"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
        assert "hot_state" in body["detail"]

    async def test_embedded_default_migrates_itself_and_is_ready(
        self, embedded_settings: Settings
    ) -> None:
        app = create_app(embedded_settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.get("/readyz")
        assert response.status_code == 200, response.text
        assert "in-process" in response.json()["checks"]["hot_state"]["detail"]
        assert (embedded_settings.data_dir / "gateway.db").exists()
