"""Every operation in the OpenAPI document carries a request example that works as it stands."""

from __future__ import annotations

from typing import Any

import httpx


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _example_of(parameter_or_media: dict[str, Any]) -> Any:
    if "example" in parameter_or_media:
        return parameter_or_media["example"]
    examples = parameter_or_media.get("examples") or {}
    if examples:
        first = next(iter(examples.values()))
        return first["value"] if isinstance(first, dict) and "value" in first else first
    schema = parameter_or_media.get("schema", {})
    if "examples" in schema:
        return schema["examples"][0]
    return schema.get("example")


def _request_from_examples(path: str, operation: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
    query: dict[str, Any] = {}
    for parameter in operation.get("parameters", []):
        value = _example_of(parameter)
        if parameter["in"] == "path":
            assert value is not None, f"path parameter {parameter['name']} has no example"
            path = path.replace("{" + parameter["name"] + "}", str(value))
        elif parameter["in"] == "query" and value is not None:
            query[parameter["name"]] = value
        elif parameter.get("required"):
            assert value is not None, (
                f"required {parameter['in']} {parameter['name']} has no example"
            )
    body = None
    if "requestBody" in operation:
        media = operation["requestBody"]["content"]["application/json"]
        body = _example_of(media)
        assert body is not None, "request body has no example"
    return path, query, body


class TestOpenApiExamples:
    async def test_document_is_served(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        assert response.json()["info"]["title"] == "Partner gateway"
        assert (await client.get("/docs")).status_code == 200

    async def test_every_operation_example_succeeds(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        operations = _operations(spec)
        assert len(operations) >= 6
        for method, path, operation in operations:
            url, query, body = _request_from_examples(path, operation)
            response = await client.request(method, url, params=query, json=body)
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
