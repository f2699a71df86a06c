"""Every error is application/problem+json naming what is wrong."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.gateway.conftest import AccessToken, IssueCredentials

PROBLEM = "application/problem+json"


def _assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


class TestFrameworkErrors:
    async def test_unknown_route_is_a_404_problem(
        self, client: httpx.AsyncClient, manager_headers: dict[str, str]
    ) -> None:
        body = _assert_problem(await client.get("/v1/nothing-here"), 404, "not-found")
        assert "/v1/nothing-here" in str(body["detail"])

    async def test_wrong_method_is_a_405_problem_with_allow(
        self, client: httpx.AsyncClient, manager_headers: dict[str, str]
    ) -> None:
        response = await client.delete("/healthz")
        body = _assert_problem(response, 405, "method-not-allowed")
        assert "GET" in response.headers["allow"]
        assert "DELETE" in str(body["detail"])

    async def test_malformed_json_is_a_400_problem(
        self, client: httpx.AsyncClient, manager_headers: dict[str, str]
    ) -> None:
        response = await client.post(
            "/v1/agreements/validate",
            content=b'{"id": "swiftrent", "name": ',
            headers={"content-type": "application/json", **manager_headers},
        )
        body = _assert_problem(response, 400, "malformed-json")
        assert "JSON" in str(body["detail"])
        assert body["errors"] == [
            {"field": "body", "reason": body["errors"][0]["reason"], "type": "json_invalid"}
        ]  # type: ignore[index]

    async def test_missing_fields_are_listed_by_path(
        self, client: httpx.AsyncClient, manager_headers: dict[str, str]
    ) -> None:
        response = await client.post(
            "/v1/agreements/validate", json={"id": "newpartner"}, headers=manager_headers
        )
        body = _assert_problem(response, 422, "validation-error")
        fields = {e["field"] for e in body["errors"]}  # type: ignore[union-attr]
        assert {"body.name", "body.category", "body.cities"} <= fields
        assert "body.name" in str(body["detail"])

    async def test_nested_field_path_names_the_list_index(
        self,
        client: httpx.AsyncClient,
        manager_headers: dict[str, str],
        agreement_document: dict[str, object],
    ) -> None:
        document = dict(agreement_document)
        document["cities"] = ["深圳", 42]
        body = _assert_problem(
            await client.post("/v1/agreements/validate", json=document, headers=manager_headers),
            422,
            "validation-error",
        )
        assert any(e["field"] == "body.cities[1]" for e in body["errors"])  # type: ignore[union-attr]

    async def test_unknown_partner_is_a_404_problem(
        self, client: httpx.AsyncClient, manager_headers: dict[str, str]
    ) -> None:
        body = _assert_problem(
            await client.get("/v1/partners/nobody", headers=manager_headers), 404, "unknown-partner"
        )
        assert "nobody" in str(body["detail"])


class TestRegistryNeedsAManager:
    async def test_no_token_is_a_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/partners")
        _assert_problem(response, 401, "unauthorized")

    async def test_a_partner_token_is_a_403(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        token = await access_token(await issue_credentials(app, "swiftrent"))
        response = await client.get("/v1/partners", headers={"authorization": f"Bearer {token}"})
        body = _assert_problem(response, 403, "insufficient-scope")
        assert "scorecards:read or settlements:read or admin" in str(body["detail"])

    async def test_any_manager_scope_reads_it(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        for scope in ("scorecards:read", "settlements:read", "admin"):
            token = await access_token(await issue_credentials(app, name="m", scopes=scope))
            response = await client.get(
                "/v1/partners?category=rental", headers={"authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200, response.text
            assert {p["id"] for p in response.json()} == {"swiftrent", "citycar"}
