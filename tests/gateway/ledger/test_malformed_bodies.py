"""A body that is not JSON is a documented 400 problem on the ledger's admin POSTs."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from gateway.problems import PROBLEM_JSON
from tests.gateway.conftest import AccessToken, IssueCredentials

ROUTES = [
    ("/v1/ledger/entries/{entry_id}/corrections", "/v1/ledger/entries/1/corrections"),
    ("/v1/partners/{partner_id}/kpis", "/v1/partners/swiftrent/kpis"),
]


@pytest.mark.parametrize(("template", "url"), ROUTES)
async def test_malformed_json_is_a_documented_400(
    app: FastAPI,
    client: httpx.AsyncClient,
    issue_credentials: IssueCredentials,
    access_token: AccessToken,
    template: str,
    url: str,
) -> None:
    creds = await issue_credentials(app, name="ledger-admin", scopes="admin")
    response = await client.post(
        url,
        content=b"\x00",
        headers={
            "authorization": f"Bearer {await access_token(creds)}",
            "content-type": "application/json",
        },
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["type"] == "/problems/malformed-json"
    documented = (await client.get("/openapi.json")).json()["paths"][template]["post"]
    assert "400" in documented["responses"]
