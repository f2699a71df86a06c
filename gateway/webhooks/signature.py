"""Standard Webhooks signatures: HMAC-SHA256 over `id.timestamp.body`, several `v1,` accepted.

Written here rather than calling the `standardwebhooks` package's `Webhook.verify`
(see docs/decisions/0005-webhook-signature-verification.md): the intake needs
to tell a missing header from a stale timestamp from a bad signature (distinct
problems and metrics), to try every secret of a partner during rotation, and
to work on the exact bytes received. Interoperability with the package is
tested: deliveries it signs verify here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from enum import StrEnum

__all__ = ["MAX_WEBHOOK_ID", "SignatureError", "SignatureFailure", "sign", "verify"]

_PREFIX = "whsec_"


MAX_WEBHOOK_ID = 128
"""The longest webhook-id kept (the inbox column); a longer one is refused, never stored."""


class SignatureFailure(StrEnum):
    """Why a delivery's signature was refused (also the metric label)."""

    MISSING_HEADERS = "missing_headers"
    INVALID_TIMESTAMP = "invalid_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    BAD_SIGNATURE = "bad_signature"
    NO_SECRET = "no_secret"
    INVALID_ID = "invalid_id"


class SignatureError(Exception):
    """A delivery whose Standard Webhooks signature does not verify."""

    def __init__(self, failure: SignatureFailure, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        # A secret that is not base64 is used as raw bytes, as the reference libraries do.
        return encoded.encode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of a delivery (what a sender puts in `webhook-signature`)."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance_seconds: int,
) -> tuple[str, int]:
    """Check the delivery; return its (webhook id, timestamp) or raise `SignatureError`."""
    webhook_id = headers.get("webhook-id", "")
    raw_timestamp = headers.get("webhook-timestamp", "")
    raw_signatures = headers.get("webhook-signature", "")
    missing = [
        name
        for name, value in (
            ("webhook-id", webhook_id),
            ("webhook-timestamp", raw_timestamp),
            ("webhook-signature", raw_signatures),
        )
        if not value
    ]
    if missing:
        raise SignatureError(
            SignatureFailure.MISSING_HEADERS, f"missing header(s): {', '.join(missing)}"
        )
    if len(webhook_id) > MAX_WEBHOOK_ID or not webhook_id.isprintable() or not webhook_id.isascii():
        raise SignatureError(
            SignatureFailure.INVALID_ID,
            f"webhook-id must be at most {MAX_WEBHOOK_ID} printable ASCII characters "
            f"(got {len(webhook_id)}); send a short unique id such as msg_<uuid>",
        )
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError(
            SignatureFailure.INVALID_TIMESTAMP,
            "webhook-timestamp must be integer seconds since the Unix epoch",
        ) from None
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError(
            SignatureFailure.STALE_TIMESTAMP,
            f"webhook-timestamp is {int(now - timestamp)} s away from the gateway's clock; "
            f"at most {tolerance_seconds} s is accepted",
        )
    if not secrets:
        raise SignatureError(
            SignatureFailure.NO_SECRET, "no webhook secret is issued for this partner"
        )
    offered = [
        part.split(",", 1)[1].encode()
        for part in raw_signatures.split()
        if part.startswith("v1,") and "," in part
    ]
    for secret in secrets:
        expected = sign(secret, webhook_id, timestamp, body).split(",", 1)[1].encode()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return webhook_id, timestamp
    raise SignatureError(
        SignatureFailure.BAD_SIGNATURE,
        "no v1 signature in webhook-signature matches the body with the partner's secret",
    )
