#!/usr/bin/env python3
"""Send one canonical event to the partner gateway, signed with Standard Webhooks.

Standard library only (Python 3.11+). Configuration through the environment:

    PGW_BASE_URL         the gateway, e.g. https://gateway.example (no trailing slash needed)
    PGW_PARTNER_ID       your partner id, e.g. citycar
    PGW_CLIENT_ID        from `pgw partners credentials create`
    PGW_CLIENT_SECRET    idem
    PGW_WEBHOOK_SECRET   idem (whsec_...)
    PGW_ORDER_ID         the gateway's order id (ord_...) the event is about
    PGW_PARTNER_REFERENCE  optional: your reference of the order

It posts a `rental.order.accepted` event, prints the answer's status and body,
and exits 0 on a 2xx answer, 1 otherwise (2: a variable is missing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        print(f"{name} is not set", file=sys.stderr)
        sys.exit(2)
    return value


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST and return (status, body text), whatever the status."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def get_token(base_url: str, client_id: str, client_secret: str) -> str:
    """OAuth 2.0 client credentials, client_secret_basic, scope events:write."""
    # RFC 6749 section 2.3.1: form-encode id and secret before Basic encoding.
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}"
    basic = base64.b64encode(pair.encode("utf-8")).decode("ascii")
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "events:write"})
    status, text = post(
        f"{base_url}/oauth/token",
        form.encode("ascii"),
        {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
    )
    if status != 200:
        print(f"token request refused: {status} {text}", file=sys.stderr)
        sys.exit(1)
    token: str = json.loads(text)["access_token"]
    return token


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: v1,<base64 HMAC-SHA256 of "id.timestamp.body">."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def build_event(partner_id: str, order_id: str, reference: str | None) -> dict[str, object]:
    """A canonical rental.order.accepted event (see GET /v1/events/catalog)."""
    now = datetime.now(CHINA).replace(microsecond=0)
    event: dict[str, object] = {
        "event_id": f"evt_{secrets.token_hex(16)}",
        "type": "rental.order.accepted",
        "partner_id": partner_id,
        "order_id": order_id,
        "occurred_at": now.isoformat(),
        "sequence": 1,
        "data": {"eta": (now + timedelta(minutes=25)).isoformat()},
    }
    if reference:
        event["partner_reference"] = reference
    return event


def main() -> int:
    base_url = env("PGW_BASE_URL").rstrip("/")
    partner_id = env("PGW_PARTNER_ID")
    token = get_token(base_url, env("PGW_CLIENT_ID"), env("PGW_CLIENT_SECRET"))
    event = build_event(partner_id, env("PGW_ORDER_ID"), os.environ.get("PGW_PARTNER_REFERENCE"))
    # Sign exactly the bytes that are sent; a retry of this message reuses webhook_id.
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    webhook_id = f"msg_{secrets.token_hex(16)}"
    timestamp = int(time.time())
    status, text = post(
        f"{base_url}/v1/partners/{urllib.parse.quote(partner_id, safe='')}/events",
        body,
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(env("PGW_WEBHOOK_SECRET"), webhook_id, timestamp, body),
        },
    )
    print(status)
    print(text)
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
