"""Fixtures for webhook tests: partner credentials, tokens, signed deliveries, orders."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from contracts import new_order_id
from gateway.oauth.credentials import (
    CredentialsExist,
    IssuedCredentials,
    create_client,
    create_partner_credentials,
    rotate_partner_credentials,
)
from gateway.persistence.tables import OrderRow


@dataclass
class Partner:
    """A partner's credentials and a token, able to send signed deliveries."""

    partner_id: str
    credentials: IssuedCredentials
    token: str
    http: httpx.AsyncClient

    async def send(
        self,
        body: dict[str, Any] | bytes,
        *,
        webhook_id: str | None = None,
        timestamp: datetime | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        path_partner: str | None = None,
    ) -> httpx.Response:
        """Sign with the official Standard Webhooks package and post."""
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        timestamp = timestamp or datetime.now(UTC)
        assert self.credentials.webhook_secret is not None
        signature = Webhook(self.credentials.webhook_secret).sign(
            webhook_id, timestamp, raw.decode()
        )
        sent = {
            "authorization": f"Bearer {token or self.token}",
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signature,
            **(headers or {}),
        }
        partner = path_partner or self.partner_id
        return await self.http.post(f"/v1/partners/{partner}/events", content=raw, headers=sent)


async def fetch_token(http: httpx.AsyncClient, creds: IssuedCredentials, scope: str | None) -> str:
    """A token from POST /oauth/token (client_secret_basic)."""
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    response = await http.post(
        "/oauth/token", data=form, auth=(creds.client_id, creds.client_secret)
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


PartnerFactory = Callable[[str], Awaitable[Partner]]


@pytest.fixture
def partner(app: FastAPI, client: httpx.AsyncClient) -> PartnerFactory:
    """Credentials (new or rotated) and an `events:write` token for a partner."""

    async def make(partner_id: str) -> Partner:
        container = app.state.container
        try:
            creds = await create_partner_credentials(container, partner_id)
        except CredentialsExist:
            creds = await rotate_partner_credentials(container, partner_id)
        token = await fetch_token(client, creds, "events:write")
        return Partner(partner_id, creds, token, client)

    return make


@pytest.fixture
def app_token(app: FastAPI, client: httpx.AsyncClient) -> Callable[[str], Awaitable[str]]:
    """A token of a non-partner client with the given scopes."""

    async def make(scopes: str) -> str:
        creds = await create_client(
            app.state.container, f"oem-app-{uuid.uuid4().hex[:6]}", scopes.split()
        )
        return await fetch_token(client, creds, None)

    return make


OrderFactory = Callable[..., Awaitable[str]]


def order_row(
    order_id: str, partner_id: str, *, status: str = "dispatched", category: str = "rental"
) -> OrderRow:
    """An order row as dispatch leaves it: placed with `partner_id`, in `status`."""
    now = datetime.now(UTC)
    return OrderRow(
        id=order_id,
        category=category,
        operation="courtesy_car.book",
        partner_id=partner_id,
        partner_reference=None,
        customer_id="cus_1",
        status=status,
        status_occurred_at=now,
        status_sequence=0,
        request={},
        result=None,
        routing=None,
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def order(app: FastAPI) -> OrderFactory:
    """An order placed with a partner, in a given status."""

    async def make(partner_id: str, status: str = "dispatched", category: str = "rental") -> str:
        order_id = new_order_id()
        async with app.state.container.uow() as uow:
            uow.orders.add(order_row(order_id, partner_id, status=status, category=category))
            await uow.commit()
        return order_id

    return make


def event(
    order_id: str,
    event_type: str,
    *,
    partner_id: str = "citycar",
    at: str = "2026-11-22T10:31:00+08:00",
    sequence: int = 1,
    data: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A canonical event body."""
    defaults: dict[str, dict[str, Any]] = {
        "rental.order.accepted": {"eta": "2026-11-22T10:55:00+08:00"},
        "rental.vehicle.dispatched": {"eta": "2026-11-22T10:55:00+08:00"},
        "rental.vehicle.delivered": {},
        "rental.completed": {"days": 3, "amount": {"amount": 36000, "currency": "CNY"}},
    }
    return {
        "event_id": event_id or f"evt_{uuid.uuid4().hex}",
        "type": event_type,
        "partner_id": partner_id,
        "order_id": order_id,
        "occurred_at": at,
        "sequence": sequence,
        "data": defaults.get(event_type, {}) if data is None else data,
    }
