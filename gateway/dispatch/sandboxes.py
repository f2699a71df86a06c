"""The sandbox partners mounted in the gateway: ``/sandbox/{partner}`` for every sample partner.

A sandbox is mounted for each agreement whose base URL is
``{PGW_PUBLIC_BASE_URL}/sandbox/{partner}``. The gateway reaches them, and
they post their webhooks back, in-process through the gateway's own ASGI app,
so the embedded default works on any port and without a network. Each
sandbox gets its partner's gateway credentials the first time it sends a
webhook: created, or rotated when the partner already has some (the previous
secret stays valid for the rotation overlap).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI

from adapters.sandbox import (
    SANDBOX_MODULES,
    GatewayLink,
    Sandbox,
    SandboxCredentials,
    create_sandbox,
)
from gateway.bootstrap import Container
from gateway.dispatch.clients import partner_secret
from gateway.oauth.credentials import (
    CredentialsExist,
    create_partner_credentials,
    rotate_partner_credentials,
)

__all__ = ["mount_sandboxes"]


def _credentials_of(
    container: Container, partner_id: str
) -> Callable[[], Awaitable[SandboxCredentials]]:
    lock = asyncio.Lock()
    issued: list[SandboxCredentials] = []

    async def credentials() -> SandboxCredentials:
        async with lock:
            if not issued:
                try:
                    creds = await create_partner_credentials(container, partner_id)
                except CredentialsExist:
                    creds = await rotate_partner_credentials(container, partner_id)
                assert creds.webhook_secret is not None
                issued.append(
                    SandboxCredentials(creds.client_id, creds.client_secret, creds.webhook_secret)
                )
            return issued[0]

    return credentials


def mount_sandboxes(
    app: FastAPI, container: Container, transport: httpx.AsyncBaseTransport
) -> dict[str, Sandbox]:
    """Mount a sandbox for every agreement pointing at one; the sandboxes by partner id."""
    base = container.settings.public_base_url.rstrip("/")
    sandboxes: dict[str, Sandbox] = {}
    for agreement in container.registry:
        if agreement.api.base_url != f"{base}/sandbox/{agreement.id}":
            continue
        if agreement.api.dialect not in SANDBOX_MODULES:
            continue
        sandbox = create_sandbox(
            agreement,
            secret=partner_secret(container.settings, agreement),
            gateway=GatewayLink(
                base_url=base,
                credentials=_credentials_of(container, agreement.id),
                transport=transport,
            ),
        )
        app.mount(f"/sandbox/{agreement.id}", sandbox.app)
        sandboxes[agreement.id] = sandbox
    return sandboxes
