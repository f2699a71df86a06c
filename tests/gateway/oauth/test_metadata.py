"""The well-known documents: RFC 8414 metadata and the JWKS."""

from __future__ import annotations

import httpx
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from gateway.oauth.scopes import SCOPES
from gateway.settings import Settings


class TestMetadata:
    async def test_metadata_is_valid_rfc_8414(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        response = await client.get("/.well-known/oauth-authorization-server")
        assert response.status_code == 200
        document = response.json()
        metadata = AuthorizationServerMetadata(document)
        for key in metadata.REGISTRY_KEYS:
            # authlib wants a non-empty list; without an authorization endpoint, [] is the truth.
            if key != "response_types_supported":
                getattr(metadata, f"validate_{key}")()
        assert document["response_types_supported"] == []
        issuer = settings.public_base_url
        assert document["issuer"] == issuer
        assert document["token_endpoint"] == f"{issuer}/oauth/token"
        assert document["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
        assert document["revocation_endpoint"] == f"{issuer}/oauth/revoke"
        assert document["introspection_endpoint"] == f"{issuer}/oauth/introspect"
        assert document["grant_types_supported"] == ["client_credentials"]
        assert document["token_endpoint_auth_methods_supported"] == [
            "client_secret_basic",
            "client_secret_post",
        ]
        assert (
            set(document["scopes_supported"])
            == set(SCOPES)
            >= {
                "events:write",
                "services:write",
                "orders:read",
                "scorecards:read",
                "settlements:read",
                "admin",
            }
        )

    async def test_jwks_is_served_with_a_short_cache_lifetime(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=60"
        assert response.json()["keys"], "the first key is created on first use"

    async def test_operations_are_documented(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        token = spec["paths"]["/oauth/token"]["post"]
        assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
        assert {"client_secret_basic": []} in token["security"]
        schemes = spec["components"]["securitySchemes"]
        assert schemes["client_secret_basic"] == {
            "type": "http",
            "scheme": "basic",
            "description": schemes["client_secret_basic"]["description"],
        }
        assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"
