"""Every error is application/problem+json naming what is wrong."""

from __future__ import annotations

import httpx

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
    async def test_unknown_route_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        body = _assert_problem(await client.get("/v1/nothing-here"), 404, "not-found")
        assert "/v1/nothing-here" in str(body["detail"])

    async def test_wrong_method_is_a_405_problem_with_allow(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.delete("/healthz")
        body = _assert_problem(response, 405, "method-not-allowed")
        assert "GET" in response.headers["allow"]
        assert "DELETE" in str(body["detail"])

    async def test_malformed_json_is_a_400_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/agreements/validate",
            content=b'{"id": "swiftrent", "name": ',
            headers={"content-type": "application/json"},
        )
        body = _assert_problem(response, 400, "malformed-json")
        assert "JSON" in str(body["detail"])
        assert body["errors"] == [
            {"field": "body", "reason": body["errors"][0]["reason"], "type": "json_invalid"}
        ]  # type: ignore[index]

    async def test_missing_fields_are_listed_by_path(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/agreements/validate", json={"id": "newpartner"})
        body = _assert_problem(response, 422, "validation-error")
        fields = {e["field"] for e in body["errors"]}  # type: ignore[union-attr]
        assert {"body.name", "body.category", "body.cities"} <= fields
        assert "body.name" in str(body["detail"])

    async def test_nested_field_path_names_the_list_index(
        self, client: httpx.AsyncClient, agreement_document: dict[str, object]
    ) -> None:
        document = dict(agreement_document)
        document["cities"] = ["深圳", 42]
        body = _assert_problem(
            await client.post("/v1/agreements/validate", json=document), 422, "validation-error"
        )
        assert any(e["field"] == "body.cities[1]" for e in body["errors"])  # type: ignore[union-attr]

    async def test_unknown_partner_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        body = _assert_problem(await client.get("/v1/partners/nobody"), 404, "unknown-partner")
        assert "nobody" in str(body["detail"])
