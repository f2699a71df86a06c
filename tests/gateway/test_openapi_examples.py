"""Every operation in the OpenAPI document carries a request example that works as it stands."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from contracts import EXAMPLE_REQUESTS, Operation
from contracts.ids import new_order_id
from gateway.api.orders import EXAMPLE_ORDER_ID
from gateway.api.privacy import EXAMPLE_REAL_NUMBER, EXAMPLE_VIRTUAL_NUMBER
from gateway.api.settlements import EXAMPLE_ENTRY_ID
from gateway.oauth.credentials import IssuedCredentials, create_client, rotate_partner_credentials
from gateway.persistence.tables import ComplaintRow
from gateway.privacy.relays import bind_relay
from gateway.scorecards.months import month_of
from tests.gateway.conftest import AccessToken, IssueCredentials
from tests.gateway.webhooks.conftest import order_row


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _example_of(
    parameter_or_media: dict[str, Any], components: dict[str, Any] | None = None
) -> Any:
    if "example" in parameter_or_media:
        return parameter_or_media["example"]
    examples = parameter_or_media.get("examples") or {}
    if examples:
        first = next(iter(examples.values()))
        return first["value"] if isinstance(first, dict) and "value" in first else first
    schema = parameter_or_media.get("schema", {})
    if "examples" in schema:
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    reference = schema.get("$ref", "")
    if components is not None and reference.startswith("#/components/schemas/"):
        # A model's own examples (`json_schema_extra`) sit on its component schema.
        return _example_of({"schema": components["schemas"][reference.rsplit("/", 1)[1]]})
    return None


def _request_from_examples(
    path: str,
    operation: dict[str, Any],
    headers: dict[str, str],
    components: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any], Any, str | None]:
    query: dict[str, Any] = {}
    for parameter in operation.get("parameters", []):
        value = _example_of(parameter)
        if parameter["in"] == "header" and value is not None:
            headers[parameter["name"]] = str(value)
        elif parameter["in"] == "path":
            assert value is not None, f"path parameter {parameter['name']} has no example"
            path = path.replace("{" + parameter["name"] + "}", str(value))
        elif parameter["in"] == "query" and value is not None:
            query[parameter["name"]] = value
        elif parameter.get("required"):
            assert value is not None, (
                f"required {parameter['in']} {parameter['name']} has no example"
            )
    body, media_type = None, None
    if "requestBody" in operation:
        media_type, media = next(iter(operation["requestBody"]["content"].items()))
        body = _example_of(media, components)
        assert body is not None, "request body has no example"
    return path, query, body, media_type


async def _prepare_delivery(app: FastAPI, partner_id: str, body: dict[str, Any]) -> dict[str, str]:
    """A webhook example needs its order to exist and a Standard Webhooks signature."""
    container = app.state.container
    now = datetime.now(UTC)
    async with container.uow() as uow:
        if await uow.orders.get(body["order_id"]) is None:
            uow.orders.add(order_row(body["order_id"], partner_id))
            await uow.commit()
    creds = await rotate_partner_credentials(container, partner_id)
    assert creds.webhook_secret is not None
    raw = orjson.dumps(body)
    webhook_id = "msg_openapi_example"
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(creds.webhook_secret).sign(webhook_id, now, raw.decode()),
    }


async def _place_example_order(app: FastAPI, client: httpx.AsyncClient) -> str:
    app.state.sandboxes["swiftrent"].config.webhooks = False
    creds = await rotate_or_create_app_client(app)
    token = (
        await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds.client_id, creds.client_secret),
        )
    ).json()["access_token"]
    response = await client.post(
        "/v1/service-requests",
        json=EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK].model_dump(mode="json"),
        headers={"authorization": f"Bearer {token}", "idempotency-key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


async def _bind_example_relay(app: FastAPI) -> None:
    """The relay number example resolves only while it is bound: bind it (or find it bound)."""
    container = app.state.container
    settings = container.settings.model_copy(update={"relay_number_pool": EXAMPLE_VIRTUAL_NUMBER})
    async with container.uow() as uow:
        await bind_relay(
            uow,
            settings,
            order_id=EXAMPLE_ORDER_ID,
            partner_id="swiftrent",
            real_number=EXAMPLE_REAL_NUMBER,
            now=datetime.now(UTC),
        )
        await uow.commit()


async def _file_example_complaint(app: FastAPI, order_id: str) -> int:
    container = app.state.container
    now = datetime.now(UTC)
    async with container.uow() as uow:
        order = await uow.orders.get(order_id)
        assert order is not None and order.partner_id is not None
        row = ComplaintRow(
            order_id=order_id,
            partner_id=order.partner_id,
            category="late",
            text="example",
            created_at=now,
            month=now.strftime("%Y-%m"),
        )
        uow.sla.add_complaint(row)
        await uow.commit()
    return row.id


async def _write_example_entry(app: FastAPI) -> int:
    """A ledger entry to correct: a commission on an order of swiftrent's, settling now."""
    container = app.state.container
    now = datetime.now(UTC)
    order_id = new_order_id()
    async with container.uow() as uow:
        uow.orders.add(order_row(order_id, "swiftrent", status="completed"))
        await uow.flush()
        (entry,) = await uow.ledger.add(
            [
                {
                    "entry_key": f"order:{order_id}:completed:0:commission",
                    "partner_id": "swiftrent",
                    "order_id": order_id,
                    "event_id": None,
                    "kind": "commission",
                    "plan_kind": "percentage",
                    "plan": {"kind": "percentage", "rate": "0.08", "index": 0},
                    "basis_amount": 61728,
                    "rate": "0.08",
                    "units": None,
                    "amount": 4938,
                    "currency": "CNY",
                    "direction": "receivable",
                    "occurred_at": now,
                    "occurred_month": month_of(now),
                    "effective_month": month_of(now),
                    "created_at": now,
                    "reason": "8 % of the order value 617.28 CNY (OpenAPI example)",
                    "reverses_id": None,
                }
            ]
        )
        await uow.commit()
    entry_id: int = entry.id
    return entry_id


async def rotate_or_create_app_client(app: FastAPI) -> IssuedCredentials:
    return await create_client(
        app.state.container, f"examples-{uuid.uuid4().hex[:6]}", ["services:write"]
    )


class TestOpenApiExamples:
    async def test_document_is_served(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        assert response.json()["info"]["title"] == "Partner gateway"
        assert (await client.get("/docs")).status_code == 200

    async def test_every_operation_example_succeeds(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        spec = (await client.get("/openapi.json")).json()
        operations = _operations(spec)
        assert len(operations) >= 10
        admin = await issue_credentials(app, name="examples", scopes="admin")
        for method, path, operation in operations:
            headers: dict[str, str] = {}
            url, query, body, media_type = _request_from_examples(
                path, operation, headers, spec.get("components")
            )
            if "{order_id}" in path or "{complaint_id}" in path:
                # Order ids are minted by the gateway: place the example order, use its id.
                order_id = await _place_example_order(app, client)
                url = url.replace(EXAMPLE_ORDER_ID, order_id)
            if "{complaint_id}" in path:
                url = url.replace("/1/", f"/{await _file_example_complaint(app, order_id)}/")
            if path.startswith("/v1/relay-numbers/"):
                await _bind_example_relay(app)
            if "{entry_id}" in path:
                # Ledger entries are written by the gateway, once: correct one of our own.
                entry_id = await _write_example_entry(app)
                url = url.replace(f"/entries/{EXAMPLE_ENTRY_ID}/", f"/entries/{entry_id}/")
            auth = None
            for requirement in operation.get("security", []):
                if "client_secret_basic" in requirement:
                    auth = (admin.client_id, admin.client_secret)
                if "oauth2" in requirement:
                    scopes = requirement["oauth2"]
                    partner_id = url.split("/")[3] if url.startswith("/v1/partners/") else None
                    if partner_id is not None and "events:write" in scopes:
                        creds = await issue_credentials(app, partner_id)
                        headers |= await _prepare_delivery(app, partner_id, body)
                    else:
                        creds = await issue_credentials(app, name="examples", scopes=scopes)
                    headers["authorization"] = f"Bearer {await access_token(creds)}"
            if media_type == "application/x-www-form-urlencoded":
                response = await client.request(
                    method, url, params=query, data=body, auth=auth, headers=headers
                )
            else:
                response = await client.request(
                    method, url, params=query, json=body, auth=auth, headers=headers
                )
            assert 200 <= response.status_code < 300, (
                f"{method} {path}: {response.status_code} {response.text[:300]}"
            )

    async def test_error_answers_are_documented_as_problems(
        self, client: httpx.AsyncClient
    ) -> None:
        spec = (await client.get("/openapi.json")).json()
        for method, path, operation in _operations(spec):
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")):
                    assert "application/problem+json" in response.get("content", {}), (
                        method,
                        path,
                        status,
                    )
