"""A minimal pass-through proxy: FastAPI, one route, one pooled `httpx.AsyncClient`.

`POST /v1/orders` forwards the body and its `Idempotency-Key` to the partner's
`POST /v1/orders` at `PGW_BENCH_PARTNER_URL`, adds the partner's API key header
(`PGW_BENCH_PARTNER_KEY_HEADER`: `PGW_BENCH_PARTNER_KEY`) and answers with the
partner's status and body. No auth of its own, no validation, no storage, no
logging: the floor of any Python service that calls a partner over HTTP. The
client is created at startup with the connection pool limits the gateway gives
each partner (100 connections, 20 kept alive for 30 s) and closed at shutdown.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request, Response

POOL = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30)
_FORWARDED = ("content-type", "idempotency-key")


def create_app() -> FastAPI:
    """Build the proxy; the client to the partner opens in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        key_header = os.environ["PGW_BENCH_PARTNER_KEY_HEADER"]
        async with httpx.AsyncClient(
            base_url=os.environ["PGW_BENCH_PARTNER_URL"],
            headers={key_header: os.environ["PGW_BENCH_PARTNER_KEY"]},
            limits=POOL,
            timeout=httpx.Timeout(15, connect=3),
        ) as client:
            app.state.client = client
            yield

    proxy = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @proxy.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Readiness probe for the harness."""
        return {"status": "ok"}

    @proxy.post("/v1/orders")
    async def forward(request: Request) -> Response:
        """Send the body on to the partner and answer what it answered."""
        client: httpx.AsyncClient = request.app.state.client
        headers = {name: request.headers[name] for name in _FORWARDED if name in request.headers}
        answer = await client.post("/v1/orders", content=await request.body(), headers=headers)
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )

    return proxy


app = create_app()
