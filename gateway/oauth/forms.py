"""What the three OAuth endpoints share: form bodies in, RFC 6749 JSON out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError, OAuth2Error

__all__ = [
    "FORM_MEDIA_TYPE",
    "NO_STORE",
    "REALM",
    "OAuthResponse",
    "describable",
    "error_response",
    "parse_form",
]

REALM = "partner-gateway"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
_INVALID_CLIENT = (
    "client authentication failed: send a valid client_id and client_secret (HTTP Basic or "
    "form parameters); unknown clients, wrong secrets and revoked credentials are refused alike"
)


@dataclass(frozen=True)
class OAuthResponse:
    """An OAuth endpoint's answer: JSON body, status and headers (never cacheable)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def error_response(error: OAuth2Error) -> OAuthResponse:
    """Render an authlib error as RFC 6749 JSON; failed client authentication is always 401."""
    if isinstance(error, InvalidClientError):
        # One message for every cause, so the answer does not tell an unknown client from a
        # wrong secret; RFC 9110 wants a challenge on every 401.
        body = {"error": "invalid_client", "error_description": _INVALID_CLIENT}
        challenge = {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}
        return OAuthResponse(401, body, {**NO_STORE, **challenge})
    status, body, _ = error()
    return OAuthResponse(int(status), dict(body), dict(NO_STORE))


def parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """The form parameters; `InvalidRequestError` for another media type or a repeated name."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise InvalidRequestError(f"send the parameters as {FORM_MEDIA_TYPE}")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestError("the body is not UTF-8 form encoding") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequestError(f"parameter '{describable(name)}' is repeated")
        form[name] = value
    return form


def describable(text: str, limit: int = 40) -> str:
    """`text` cut to what an RFC 6749 `error_description` may quote (printable ASCII, no quotes)."""
    safe = "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text[:limit])
    return safe + ("..." if len(text) > limit else "")
