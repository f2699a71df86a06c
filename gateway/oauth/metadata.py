"""The authorization server's metadata document (RFC 8414)."""

from __future__ import annotations

from typing import Any

from gateway.oauth.scopes import SCOPES
from gateway.oauth.server import AUTH_METHODS, GRANT_TYPES
from gateway.settings import Settings

__all__ = ["JWKS_PATH", "METADATA_PATH", "server_metadata"]

METADATA_PATH = "/.well-known/oauth-authorization-server"
JWKS_PATH = "/.well-known/jwks.json"


def server_metadata(settings: Settings) -> dict[str, Any]:
    """What a client needs to find the endpoints, methods, scopes and keys of this server."""
    issuer = settings.public_base_url.rstrip("/")
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}{JWKS_PATH}",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "grant_types_supported": list(GRANT_TYPES),
        # RFC 8414 requires the member; no authorization endpoint, so no response types.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "scopes_supported": list(SCOPES),
        "service_documentation": f"{issuer}/docs",
    }
