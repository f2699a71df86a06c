"""A bare durable receiver: the webhook intake's route storing the raw body in PostgreSQL.

One INSERT per request on a pooled asyncpg connection (10 connections), committed
on its own (autocommit: one round trip, durable when PostgreSQL commits), then 200.
No checks and no parsing: the floor any receiver pays that stores before it answers.
`PGW_BENCH_DURABLE_DSN` names the database (`postgresql://user@host:port/db`); the
table `bench_raw_deliveries` is created there if missing.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request

POOL_SIZE = 10
_TABLE = """
CREATE TABLE IF NOT EXISTS bench_raw_deliveries (
    id bigserial PRIMARY KEY,
    partner_id varchar(40) NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    body bytea NOT NULL
)
"""
_INSERT = "INSERT INTO bench_raw_deliveries (partner_id, body) VALUES ($1, $2)"


def create_app(dsn: str | None = None) -> FastAPI:
    """Build the app; the pool opens in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            dsn or os.environ["PGW_BENCH_DURABLE_DSN"], min_size=POOL_SIZE, max_size=POOL_SIZE
        )
        try:
            await pool.execute(_TABLE)
            app.state.pool = pool
            yield
        finally:
            await pool.close()

    durable = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @durable.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Readiness probe for the harness."""
        return {"status": "ok"}

    @durable.post("/v1/partners/{partner_id}/events")
    async def receive_event(partner_id: str, request: Request) -> dict[str, object]:
        """Store the raw delivery, committed, then acknowledge it."""
        body = await request.body()
        pool: asyncpg.Pool = request.app.state.pool
        await pool.execute(_INSERT, partner_id, body)
        return {"status": "stored", "partner_id": partner_id, "bytes": len(body)}

    return durable


app = create_app()
