"""The OAuth 2.0 authorization server and the resource-server side of the gateway.

| module | holds |
|---|---|
| `scopes` | the scopes the server grants |
| `hashing` | client secret generation, scrypt hashing, webhook signing secrets |
| `credentials` | issue, rotate and revoke partner credentials; app clients; webhook secrets |
| `keys` | ES256 signing keys in the database, cached per process, rotation |
| `tokens` | RFC 9068 access tokens: mint, check, revoke |
| `status` | whether a client is still active (per-process cache of at most 1 s) |
| `forms`, `server`, `introspection`, `metadata` | the `/oauth/*` and well-known endpoints' logic |
| `resource` | `Principal` and the `require_scopes` FastAPI dependency |
| `cli` | `pgw partners credentials`, `pgw clients`, `pgw keys` |
"""

from gateway.oauth.credentials import (
    CredentialsError,
    IssuedCredentials,
    create_client,
    create_partner_credentials,
    revoke_partner_credentials,
    rotate_partner_credentials,
    webhook_secrets,
)
from gateway.oauth.resource import Principal, require_scopes
from gateway.oauth.scopes import SCOPES

__all__ = [
    "SCOPES",
    "CredentialsError",
    "IssuedCredentials",
    "Principal",
    "create_client",
    "create_partner_credentials",
    "require_scopes",
    "revoke_partner_credentials",
    "rotate_partner_credentials",
    "webhook_secrets",
]
