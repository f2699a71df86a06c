"""Helpers shared by the dialect tests: recorded fixtures, malformed variants of them, and a
stand-in for the gateway's intake that sandbox partners post their webhooks to."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from fastapi import FastAPI, Request
from standardwebhooks.webhooks import Webhook

from adapters import WebhookTranslator
from contracts import CanonicalEvent

MISSING = object()
"""Pass as the value to `mutated` to remove the key instead of replacing it."""


def fixtures_of(package: ModuleType) -> Path:
    """The recorded webhook fixtures of a dialect package."""
    assert package.__file__ is not None
    return Path(package.__file__).parent / "fixtures" / "webhooks"


def load(fixtures: Path, name: str) -> dict[str, Any]:
    """One recorded payload."""
    payload: dict[str, Any] = json.loads((fixtures / f"{name}.json").read_text("utf-8"))
    return payload


def mutated(fixtures: Path, name: str, path: str, value: object) -> dict[str, Any]:
    """The fixture with the value at dotted `path` replaced, or removed for `MISSING`."""
    payload = copy.deepcopy(load(fixtures, name))
    *parents, last = path.split(".")
    target = payload
    for key in parents:
        target = target[key]
    if value is MISSING:
        del target[last]
    else:
        target[last] = value
    return payload


class FakeIntake:
    """The gateway's token endpoint and webhook intake, recording what a sandbox posts."""

    def __init__(self, translator: WebhookTranslator, webhook_secret: str, partner_id: str) -> None:
        self.partner_id = partner_id
        self.events: list[tuple[str, bytes, dict[str, str]]] = []
        self._translator = translator
        self._secret = webhook_secret
        self._arrived = asyncio.Event()
        self.app = FastAPI()

        @self.app.post("/oauth/token")
        async def token() -> dict[str, Any]:
            return {"access_token": "gw-token", "token_type": "Bearer", "expires_in": 3600}

        @self.app.post("/v1/partners/{partner_id}/events", status_code=202)
        async def events(partner_id: str, request: Request) -> dict[str, Any]:
            self.events.append((partner_id, await request.body(), dict(request.headers)))
            self._arrived.set()
            return {"accepted": True}

    async def received(self, count: int) -> None:
        """Wait (at most 5 s) until ``count`` webhooks have arrived."""
        async with asyncio.timeout(5):
            while len(self.events) < count:
                self._arrived.clear()
                await self._arrived.wait()

    def translated(self) -> list[CanonicalEvent]:
        """Every webhook, its Standard Webhooks signature verified, in canonical terms."""
        assert all(partner_id == self.partner_id for partner_id, _, _ in self.events)
        return [
            self._translator.translate(
                Webhook(self._secret).verify(body, headers), partner_id=partner_id
            )
            for partner_id, body, headers in self.events
        ]
