"""The charging-usage export shows only groups of at least k sessions, and is audited."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from contracts import Operation
from tests.gateway.conftest import AccessToken, IssueCredentials
from tests.gateway.dispatch.conftest import Post, configure, example

EXPORT = "/v1/partners/{}/exports/charging-usage"


async def test_charging_usage_is_k_anonymous(
    app: FastAPI,
    post: Post,
    client: httpx.AsyncClient,
    issue_credentials: IssueCredentials,
    access_token: AccessToken,
) -> None:
    await configure(app, "voltgrid", webhooks=False)
    for _ in range(6):
        started = await post("/v1/service-requests", example(Operation.CHARGING_START))
        assert started.status_code == 201, started.text
    lonely = example(Operation.CHARGING_START, station_id="SZ-FT-0107", connector_id="1")
    assert (await post("/v1/service-requests", lonely)).status_code == 201
    creds = await issue_credentials(app, name="exports", scopes="admin")
    headers = {"authorization": f"Bearer {await access_token(creds)}"}
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    answer = await client.get(EXPORT.format("voltgrid"), params={"month": month}, headers=headers)
    assert answer.status_code == 200, answer.text
    export = answer.json()
    assert export["k"] == 5 and export["purpose"] == "charging_usage_analytics"
    assert all(cell["count"] >= 5 for cell in export["cells"])
    assert any(cell["station_id"] == "SZ-NS-0042" for cell in export["cells"])
    assert all(cell["station_id"] != "SZ-FT-0107" for cell in export["cells"])
    assert export["suppressed_records"] >= 1
    refused = await client.get(
        EXPORT.format("starcharge"), params={"month": month}, headers=headers
    )
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/purpose-not-agreed"
    bad = await client.get(EXPORT.format("voltgrid"), params={"month": "11/2026"}, headers=headers)
    assert bad.status_code == 422
