"""Fixtures of the dispatch tests: an OEM app client and helpers around the sandboxes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from contracts import EXAMPLE_REQUESTS, Operation
from tests.gateway.conftest import AccessToken, IssueCredentials

Post = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
async def oem_headers(
    app: FastAPI, issue_credentials: IssueCredentials, access_token: AccessToken
) -> dict[str, str]:
    """`Authorization` of the OEM app (services:write and orders:read)."""
    creds = await issue_credentials(app, name="oem-app", scopes="services:write orders:read")
    return {"authorization": f"Bearer {await access_token(creds)}"}


@pytest.fixture
def post(client: httpx.AsyncClient, oem_headers: dict[str, str]) -> Post:
    """POST as the OEM app with a fresh Idempotency-Key (or the one given)."""

    async def send(
        path: str, body: Any, *, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = oem_headers | {"idempotency-key": key or str(uuid.uuid4())}
        return await client.post(path, json=body, headers=headers, **kwargs)

    return send


def example(operation: Operation, **changes: Any) -> dict[str, Any]:
    """The OpenAPI example of an operation as JSON, with changes."""
    body: dict[str, Any] = EXAMPLE_REQUESTS[operation].model_dump(mode="json", exclude_none=True)
    return body | changes


async def configure(app: FastAPI, partner_id: str, **config: Any) -> None:
    """Set a sandbox's fault injection (PUT /_config semantics, defaults for the rest)."""
    from adapters.sandbox import SandboxConfig

    sandbox = app.state.sandboxes[partner_id]
    sandbox.config = SandboxConfig(**config)


async def wait_for(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    """Poll until ``check`` holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
