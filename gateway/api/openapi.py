"""The published OpenAPI document: every error answer declared as a problem document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from contracts import CanonicalEvent
from gateway.problems import PROBLEM_JSON, ProblemDocument

__all__ = ["install_openapi"]

_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDocument"}
_FRAMEWORK_SCHEMAS = ("HTTPValidationError", "ValidationError")


# Models that request bodies read raw (webhook deliveries) still get their schema published.
_EXTRA_MODELS = (ProblemDocument, CanonicalEvent)


def _rewrite(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in _EXTRA_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for nested, nested_schema in schema.pop("$defs", {}).items():
            schemas.setdefault(nested, nested_schema)
        schemas[model.__name__] = schema
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
            responses.setdefault(
                "500",
                {
                    "description": "Unexpected failure (quote the request id)",
                    "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
                },
            )
    for name in _FRAMEWORK_SCHEMAS:
        schemas.pop(name, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Replace the app's OpenAPI generator with one that documents problem+json errors."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = _rewrite(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
