"""What partners actually receive, read back from the sandboxes, and the audit of it."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from contracts import EXAMPLE_CUSTOMER, EXAMPLE_NATIONAL_ID, EXAMPLE_PHONE, Operation
from gateway.logs import configure_logging
from tests.gateway.conftest import AccessToken, IssueCredentials
from tests.gateway.dispatch.conftest import Post, configure, example

SERVICE = "/v1/service-requests"
SENSITIVE = (
    EXAMPLE_CUSTOMER.name,
    EXAMPLE_PHONE,
    EXAMPLE_NATIONAL_ID,
    str(EXAMPLE_CUSTOMER.email),
    "1988-03-16",
    "科苑路15号",
    "粤B12345",
    "粤BD12345",
    EXAMPLE_CUSTOMER.customer_id,
)


def _last_body(app: FastAPI, partner_id: str) -> Any:
    received = [r for r in app.state.sandboxes[partner_id].received if r["method"] == "POST"]
    return received[-1]["body"]


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _scoped(
    app: FastAPI, issue: IssueCredentials, token: AccessToken, scopes: str
) -> dict[str, str]:
    creds = await issue(app, name="privacy", scopes=scopes)
    return {"authorization": f"Bearer {await token(creds)}"}


async def test_the_rental_partner_gets_a_relay_number_and_a_street(
    app: FastAPI,
    post: Post,
    client: httpx.AsyncClient,
    issue_credentials: IssueCredentials,
    access_token: AccessToken,
) -> None:
    await configure(app, "swiftrent", webhooks=False)
    order = (await post(SERVICE, example(Operation.COURTESY_CAR_BOOK))).json()
    body = _last_body(app, "swiftrent")
    sent = _text(body)
    for value in SENSITIVE:
        assert value not in sent
    relay = body["contactPhone"]
    assert relay.startswith("171") and relay != EXAMPLE_PHONE
    assert body["deliveryAddress"] == "广东省深圳市南山区科技园科苑路"
    assert body["contactName"] == "李**"
    # The OEM's telephony provider resolves the relay number while the order is open.
    headers = await _scoped(app, issue_credentials, access_token, "relay:resolve")
    resolved = await client.get(f"/v1/relay-numbers/{relay}", headers=headers)
    assert resolved.status_code == 200
    assert resolved.json()["real_number"] == EXAMPLE_PHONE
    assert resolved.json()["order_id"] == order["id"]


async def test_the_insurers_get_what_a_quote_needs(app: FastAPI, post: Post) -> None:
    response = await post(SERVICE, example(Operation.INSURANCE_QUOTE))
    assert response.status_code == 201, response.text
    pingsure, taicover = _last_body(app, "pingsure"), _last_body(app, "taicover")
    for body in (pingsure, taicover):
        sent = _text(body)
        for value in SENSITIVE:
            assert value not in sent
    assert pingsure["vehicle"]["vin"] == "LGXCE4CB8N0012345"
    assert pingsure["driver"]["age_band"] == "30-39"
    customer = taicover["request"]["customer"]
    assert customer["age_band"] == "30-39" and customer["province"] == "Guangdong"
    assert customer["customer_id"].startswith("psn_")


async def test_the_lifestyle_partner_gets_only_a_pseudonym(app: FastAPI, post: Post) -> None:
    response = await post(SERVICE, example(Operation.LIFESTYLE_LINK))
    assert response.status_code == 201, response.text
    body = _last_body(app, "meilife")
    sent = _text(body)
    for value in SENSITIVE:
        assert value not in sent
    member = body["body"]["oemMemberNo"]
    assert member.startswith("psn_")
    assert "mobile" not in body["body"]


async def test_pseudonyms_differ_between_partners(app: FastAPI, post: Post) -> None:
    await post(SERVICE, example(Operation.LIFESTYLE_LINK))
    await post(SERVICE, example(Operation.LIFESTYLE_EXCHANGE_POINTS))
    meilife = _last_body(app, "meilife")["body"]["oemMemberNo"]
    roadmap = _last_body(app, "roadmap")["request"]["customer"]["customer_id"]
    assert meilife.startswith("psn_") and roadmap.startswith("psn_") and meilife != roadmap


async def test_every_disclosure_is_audited_without_values(
    app: FastAPI,
    post: Post,
    client: httpx.AsyncClient,
    issue_credentials: IssueCredentials,
    access_token: AccessToken,
) -> None:
    await configure(app, "swiftrent", webhooks=False)
    order = (await post(SERVICE, example(Operation.COURTESY_CAR_BOOK))).json()
    headers = await _scoped(app, issue_credentials, access_token, "audit:read")
    answer = await client.get(
        "/v1/audit/disclosures",
        params={"customer_id": EXAMPLE_CUSTOMER.customer_id},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    records = listed["disclosures"] if isinstance(listed, dict) else listed
    mine = next(r for r in records if r["order_id"] == order["id"])
    assert mine["partner_id"] == "swiftrent" and mine["purpose"] == "courtesy_car_delivery"
    operators = {f["path"]: f["operator"] for f in mine["fields"]}
    assert operators["customer.phone"] == "relay"
    assert operators["customer.national_id"] == "drop"
    assert operators["customer.name"] == "partial_mask"
    assert operators["pickup.address"] == "street"
    for value in SENSITIVE:  # the customer id is what the audit is kept by; no value else
        if value != EXAMPLE_CUSTOMER.customer_id:
            assert value not in _text(mine)


async def test_withdrawn_consent_stops_the_next_disclosure(
    app: FastAPI, post: Post, client: httpx.AsyncClient, oem_headers: dict[str, str]
) -> None:
    await configure(app, "swiftrent", webhooks=False)
    customer_id = f"cus-{uuid.uuid4().hex[:10]}"
    body = example(Operation.COURTESY_CAR_BOOK)
    body["customer"] = body["customer"] | {"customer_id": customer_id}
    assert (await post(SERVICE, body)).status_code == 201
    before = len(app.state.sandboxes["swiftrent"].received)
    withdrawn = await client.delete(
        f"/v1/customers/{customer_id}/consents/courtesy_car_delivery", headers=oem_headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    refused = await post(SERVICE, body)
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["type"] == "/problems/consent-required"
    assert "courtesy_car_delivery" in problem["detail"] and customer_id in problem["detail"]
    assert len(app.state.sandboxes["swiftrent"].received) == before
    granted = await client.post(
        f"/v1/customers/{customer_id}/consents",
        json={"category": "rental", "purpose": "courtesy_car_delivery"},
        headers=oem_headers,
    )
    assert granted.status_code == 201, granted.text
    assert (await post(SERVICE, body)).status_code == 201


@pytest.fixture
def json_logs() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(level="debug", json=True, environment="test")
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("json_logs")
async def test_no_personal_value_reaches_a_log_line(
    app: FastAPI, post: Post, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole flow with canary values; every line of output is searched for them."""
    await configure(app, "swiftrent", webhook_delay_s=0.01)
    canary = example(Operation.COURTESY_CAR_BOOK)
    canary["customer"] = canary["customer"] | {
        "name": "钱多多",
        "phone": "13912345678",
        "national_id": "110105199001011232",
        "email": "qian.duoduo@example.com",
        "address": "北京市朝阳区建国路88号",
        "birth_date": "1990-01-01",
    }
    canary["notes"] = "please call 13912345678"
    assert (await post(SERVICE, canary)).status_code == 201
    assert (await post(SERVICE, example(Operation.INSURANCE_QUOTE))).status_code == 201
    out = capsys.readouterr().out
    assert out.strip(), "the flow logged nothing"
    for value in (
        "13912345678",
        "110105199001011232",
        "钱多多",
        "qian.duoduo@example.com",
        "建国路88号",
        "tok_",
    ):
        assert value not in out, value


async def test_a_consent_naming_one_partner_routes_to_that_partner_only(
    app: FastAPI, post: Post, client: httpx.AsyncClient, oem_headers: dict[str, str]
) -> None:
    customer_id = f"cus-{uuid.uuid4().hex[:10]}"
    body = example(Operation.INSURANCE_QUOTE)
    body["customer"] = body["customer"] | {"customer_id": customer_id}
    consents = f"/v1/customers/{customer_id}/consents"
    assert (
        await client.delete(f"{consents}/insurance_quotation", headers=oem_headers)
    ).status_code == 200
    granted = await client.post(
        consents,
        json={"category": "insurance", "purpose": "insurance_quotation", "partner_id": "pingsure"},
        headers=oem_headers,
    )
    assert granted.status_code == 201, granted.text
    before = len(app.state.sandboxes["taicover"].received)
    response = await post(SERVICE, body)
    assert response.status_code == 201, response.text
    order = response.json()
    assert [q["partner_id"] for q in order["result"]["quotes"]] == ["pingsure"]
    assert ("taicover", "no_consent") in [
        (s["partner_id"], s["reason"]) for s in order["routing"]["skipped"]
    ]
    assert len(app.state.sandboxes["taicover"].received) == before
