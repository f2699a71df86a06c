"""Request ids, access metrics and the last-resort 500 problem."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request


class TestRequestId:
    async def test_generated_when_absent(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert len(response.headers["x-request-id"]) == 32

    async def test_echoed_when_given(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "oem-app:42"})
        assert response.headers["x-request-id"] == "oem-app:42"

    async def test_replaced_when_malformed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
        assert response.headers["x-request-id"] != "bad id\twith spaces"


class TestMetrics:
    async def test_requests_are_counted_by_route_template_and_partner(
        self, client: httpx.AsyncClient, manager_headers: dict[str, str]
    ) -> None:
        await client.get("/v1/partners/swiftrent", headers=manager_headers)
        await client.get("/v1/partners/not-a-partner", headers=manager_headers)
        await client.get("/no/such/route")
        text = (await client.get("/metrics")).text
        assert (
            'pgw_http_requests_total{method="GET",partner="swiftrent",'
            'route="/v1/partners/{partner_id}",status="200"} 1.0' in text
        )
        assert 'partner="-",route="/v1/partners/{partner_id}",status="404"} 1.0' in text
        assert 'route="<unmatched>",status="404"' in text
        assert "not-a-partner" not in text
        assert (
            'pgw_http_request_duration_seconds_bucket{le="0.005",method="GET",partner="swiftrent"'
            in text
        )


class TestUnhandledErrors:
    async def test_a_crash_becomes_a_500_problem_with_the_request_id(self, app: FastAPI) -> None:
        async def boom() -> None:
            raise RuntimeError("secret internals 13912345678")

        app.add_api_route("/_test/boom", boom)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/_test/boom", headers={"X-Request-ID": "crash-1"})
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["type"] == "/problems/internal-error" and body["request_id"] == "crash-1"
        assert "secret internals" not in response.text


class TestClientDisconnect:
    async def test_a_client_leaving_mid_body_is_logged_not_treated_as_a_crash(
        self, app: FastAPI, capsys: pytest.CaptureFixture[str]
    ) -> None:
        async def reads_body(request: Request) -> dict[str, int]:
            return {"size": len(await request.body())}

        app.add_api_route("/_test/body", reads_body, methods=["POST"])
        messages = [{"type": "http.disconnect"}]

        async def receive() -> dict[str, object]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        sent: list[dict[str, object]] = []

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/_test/body",
            "raw_path": b"/_test/body",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("t", 80),
            "root_path": "",
        }
        await app(scope, receive, send)
        assert sent == []
        metrics = app.state.container.metrics.render().decode()
        assert 'route="/_test/body",status="499"' in metrics
