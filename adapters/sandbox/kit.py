"""What every sandbox partner shares: auth checks, recording, fault injection, webhooks back.

A sandbox is a small FastAPI app that speaks exactly one partner dialect. The
kit gives each one the same surroundings:

- the agreement's outbound auth, checked as the real partner would (an OAuth
  token endpoint of its own, an API key header, or HMAC signatures);
- a record of every request, readable at ``GET /_received`` (what the partner
  was sent, after the gateway's masking) and of every webhook it sent back
  (``GET /_sent``);
- fault injection set at ``PUT /_config``: latency, error rate, timeouts, 429s;
- webhooks back to the gateway's real intake, with a token from the gateway's
  OAuth server and a Standard Webhooks signature made by the official
  ``standardwebhooks`` package, retried as a Standard Webhooks sender does.

Routes under ``/_`` are the sandbox's controls; everything else is the dialect.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, unquote

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from standardwebhooks.webhooks import Webhook

from adapters.auth import verify_hmac
from contracts import (
    ApiKeyAuth,
    HmacAuth,
    NoAuth,
    OAuth2ClientCredentials,
    Operation,
    PartnerAgreement,
)

__all__ = [
    "SANDBOX_SECRET_PREFIX",
    "GatewayLink",
    "Sandbox",
    "SandboxConfig",
    "SandboxCredentials",
    "SandboxDialect",
    "SandboxFault",
    "SandboxOrder",
    "sandbox_secret",
]

SANDBOX_SECRET_PREFIX: Final = "sandbox-"
_RECORD_LIMIT: Final = 500
_WEBHOOK_ATTEMPTS: Final = 6
_WEBHOOK_BACKOFF_S: Final = 0.5


def sandbox_secret(secret_ref: str) -> str:
    """The development secret a sandbox expects for ``secret_ref`` (never for production)."""
    return SANDBOX_SECRET_PREFIX + secret_ref


class SandboxConfig(BaseModel):
    """Fault injection and webhook pacing, changed at run time with ``PUT /_config``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    latency_ms: int = Field(0, ge=0, le=60_000, description="Added to every answer.")
    error_rate: float = Field(0, ge=0, le=1, description="Share of calls answered 5xx.")
    timeout_rate: float = Field(0, ge=0, le=1, description="Share of calls never answered in time.")
    timeout_s: float = Field(30, gt=0, le=300, description="How long a 'timeout' call hangs.")
    rate_limit_rate: float = Field(0, ge=0, le=1, description="Share of calls answered 429.")
    retry_after_s: int = Field(1, ge=0, le=3600, description="Retry-After of those 429s.")
    reject_rate: float = Field(0, ge=0, le=1, description="Share of calls refused (business).")
    webhooks: bool = Field(True, description="Send the lifecycle webhooks after an operation.")
    webhook_delay_s: float = Field(0.5, ge=0, le=3600, description="Pause before each webhook.")
    token_ttl_s: int = Field(3600, ge=1, le=86_400, description="Lifetime of issued tokens.")
    seed: int | None = Field(None, description="Seed the fault dice for a repeatable run.")


class SandboxFault(Exception):
    """An answer the dialect renders in its own error shape."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class SandboxOrder:
    """An order the sandbox took, as the partner's system would hold it."""

    reference: str
    order_id: str
    operation: Operation
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "open"


@dataclass(frozen=True)
class SandboxCredentials:
    """What the partner holds to post webhooks: its OAuth client and webhook secret."""

    client_id: str
    client_secret: str
    webhook_secret: str


@dataclass(frozen=True)
class GatewayLink:
    """How the sandbox reaches the gateway's intake."""

    base_url: str
    credentials: Callable[[], Awaitable[SandboxCredentials]]
    transport: httpx.AsyncBaseTransport | None = None


class SandboxDialect(Protocol):
    """One partner API's simulator: its routes, error shape and webhooks."""

    dialect: str

    def install(self, sandbox: Sandbox) -> None:
        """Add the partner's API routes to ``sandbox.app``."""
        ...

    def error_body(self, fault: SandboxFault) -> tuple[int, Any]:
        """Status and JSON body the partner answers a fault with."""
        ...

    def webhook(self, sandbox: Sandbox, order: SandboxOrder, kind: str) -> dict[str, Any]:
        """The partner's webhook payload announcing ``kind`` for ``order``."""
        ...

    def lifecycle(self, operation: Operation) -> Sequence[str]:
        """The webhook kinds sent by themselves after ``operation`` succeeds."""
        ...


class Sandbox:
    """One simulated partner: ``app`` is mounted under ``/sandbox/{partner}`` or served alone."""

    def __init__(
        self,
        agreement: PartnerAgreement,
        dialect: SandboxDialect,
        *,
        secret: str,
        gateway: GatewayLink | None = None,
    ) -> None:
        self.agreement = agreement
        self.partner_id = agreement.id
        self.dialect = dialect
        self.secret = secret
        self.gateway = gateway
        self.config = SandboxConfig()
        self.received: deque[dict[str, Any]] = deque(maxlen=_RECORD_LIMIT)
        self.sent: deque[dict[str, Any]] = deque(maxlen=_RECORD_LIMIT)
        self.orders: dict[str, SandboxOrder] = {}
        self.by_order_id: dict[str, SandboxOrder] = {}
        self._tokens: dict[str, float] = {}
        self._dice = random.Random()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._gateway_token: tuple[str, float] | None = None
        self.app = FastAPI(
            title=f"{agreement.name} sandbox",
            description=f"Simulator of the {dialect.dialect} API, for demos and tests.",
        )
        self.app.state.sandbox = self
        self._install_controls()
        dialect.install(self)

        @self.app.exception_handler(SandboxFault)
        async def _fault(_request: Request, exc: Exception) -> Response:
            assert isinstance(exc, SandboxFault)
            status, body = self.dialect.error_body(exc)
            return JSONResponse(body, status_code=status, headers=exc.headers)

    # -- what dialect routes call -------------------------------------------------------

    async def accept(self, request: Request) -> Any:
        """Check auth, record the call, inject faults; the parsed JSON body (or None)."""
        body = await request.body()
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            parsed: Any = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = body.decode("utf-8", "replace")
        self.received.append(
            {
                "at": datetime.now(UTC).isoformat(),
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": self._shown_headers(request.headers),
                "body": parsed,
            }
        )
        refusal = self._auth_refusal(request, target, body)
        if refusal is not None:
            raise SandboxFault(401, "UNAUTHORIZED", refusal)
        await self._inject()
        return parsed

    def new_reference(self, prefix: str) -> str:
        """A partner-side reference such as ``SR-20261122-4F2A``."""
        return f"{prefix}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(5).upper()}"

    def keep(self, order: SandboxOrder) -> SandboxOrder:
        """Remember an order (idempotently by our order id and operation)."""
        self.orders[order.reference] = order
        self.by_order_id[f"{order.operation}:{order.order_id}"] = order
        return order

    def existing(self, operation: Operation, order_id: str) -> SandboxOrder | None:
        """The order already taken for our order id, so a retried call books nothing twice."""
        return self.by_order_id.get(f"{operation}:{order_id}")

    def rejects(self) -> bool:
        """Roll the business-refusal die."""
        return self._dice.random() < self.config.reject_rate

    def start_lifecycle(self, order: SandboxOrder) -> None:
        """Send the operation's lifecycle webhooks, in order, in the background."""
        if self.gateway is None or not self.config.webhooks:
            return
        kinds = list(self.dialect.lifecycle(order.operation))
        if kinds:
            self._spawn(self._emit_all(order, kinds, self.config.webhook_delay_s))

    async def emit(self, order: SandboxOrder, kind: str) -> dict[str, Any]:
        """Send one webhook now (and wait for the gateway's answer)."""
        return await self._post_webhook(self.dialect.webhook(self, order, kind))

    async def aclose(self) -> None:
        """Stop pending webhooks and close the client to the gateway."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- internals ----------------------------------------------------------------------

    def _install_controls(self) -> None:
        app = self.app

        @app.get("/_received", tags=["sandbox"])
        async def received() -> list[dict[str, Any]]:
            """Every request this partner received, oldest first (bodies as sent)."""
            return list(self.received)

        @app.delete("/_received", status_code=204, tags=["sandbox"])
        async def forget() -> Response:
            """Clear the records of received requests and sent webhooks."""
            self.received.clear()
            self.sent.clear()
            return Response(status_code=204)

        @app.get("/_sent", tags=["sandbox"])
        async def sent() -> list[dict[str, Any]]:
            """Every webhook sent back to the gateway, with the gateway's answer."""
            return list(self.sent)

        @app.get("/_config", tags=["sandbox"])
        async def get_config() -> SandboxConfig:
            """The fault injection and webhook pacing in force."""
            return self.config

        @app.put("/_config", tags=["sandbox"])
        async def put_config(changes: dict[str, Any]) -> SandboxConfig:
            """Change the fault injection and webhook pacing (fields not sent are kept)."""
            try:
                config = SandboxConfig.model_validate(self.config.model_dump() | changes)
            except ValueError as exc:
                raise SandboxFault(422, "INVALID_CONFIG", str(exc)) from exc
            self.config = config
            self._dice = random.Random(config.seed)
            return self.config

        @app.get("/_orders", tags=["sandbox"])
        async def orders() -> list[dict[str, Any]]:
            """The orders this partner holds."""
            return [
                {
                    "reference": o.reference,
                    "order_id": o.order_id,
                    "operation": o.operation.value,
                    "status": o.status,
                    "version": o.version,
                }
                for o in self.orders.values()
            ]

        @app.post("/_orders/{reference}/emit/{kind}", tags=["sandbox"])
        async def emit(reference: str, kind: str) -> dict[str, Any]:
            """Send the webhook ``kind`` for an order now (e.g. finish a rental)."""
            order = self.orders.get(reference)
            if order is None:
                raise SandboxFault(404, "NOT_FOUND", f"no order {reference}")
            if self.gateway is None:
                raise SandboxFault(409, "NO_GATEWAY", "this sandbox has no gateway to post to")
            return await self.emit(order, kind)

        auth = self.agreement.api.auth
        if isinstance(auth, OAuth2ClientCredentials):

            @app.post("/oauth/token", tags=["sandbox"])
            async def token(request: Request) -> Response:
                """The partner's own OAuth 2.0 token endpoint (client credentials)."""
                # Parsed by hand: the form parser of the framework needs an extra package.
                form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
                client_id, client_secret = _client_of(request, form)
                if form.get("grant_type") != "client_credentials":
                    return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
                if client_id != auth.client_id or client_secret != self.secret:
                    return JSONResponse({"error": "invalid_client"}, status_code=401)
                value = secrets.token_urlsafe(24)
                self._tokens[value] = time.monotonic() + self.config.token_ttl_s
                return JSONResponse(
                    {
                        "access_token": value,
                        "token_type": "Bearer",
                        "expires_in": self.config.token_ttl_s,
                        "scope": str(form.get("scope") or auth.scope or ""),
                    }
                )

    def _shown_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        # Credentials are not echoed back; which auth arrived is still visible by name.
        auth = self.agreement.api.auth
        hidden = _HIDDEN_HEADERS | (
            {auth.header.lower()} if isinstance(auth, ApiKeyAuth) else frozenset()
        )
        return {k: ("(hidden)" if k.lower() in hidden else v) for k, v in headers.items()}

    def expire_tokens(self) -> None:
        """Forget every issued token (the next call gets a 401, as after a key rotation)."""
        self._tokens.clear()

    def _auth_refusal(self, request: Request, target: str, body: bytes) -> str | None:
        auth = self.agreement.api.auth
        if isinstance(auth, NoAuth):
            return None
        if isinstance(auth, ApiKeyAuth):
            sent = request.headers.get(auth.header)
            if sent is not None and secrets.compare_digest(sent, self.secret):
                return None
            return f"missing or wrong {auth.header}"
        if isinstance(auth, HmacAuth):
            return verify_hmac(
                request.headers,
                key_id=auth.key_id,
                secret=self.secret,
                algorithm=auth.algorithm,
                method=request.method,
                target=target,
                body=body,
            )
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        expires = self._tokens.get(value) if scheme.lower() == "bearer" else None
        if expires is None or expires < time.monotonic():
            self._tokens.pop(value, None)
            return "missing, unknown or expired bearer token"
        return None

    async def _inject(self) -> None:
        config = self.config
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        roll = self._dice.random()
        if roll < config.timeout_rate:
            await asyncio.sleep(config.timeout_s)
            raise SandboxFault(504, "TIMEOUT", "the partner took too long")
        roll -= config.timeout_rate
        if roll < config.rate_limit_rate:
            raise SandboxFault(
                429,
                "RATE_LIMITED",
                "too many requests",
                headers={"Retry-After": str(config.retry_after_s)},
            )
        roll -= config.rate_limit_rate
        if roll < config.error_rate:
            raise SandboxFault(503, "UNAVAILABLE", "the partner's system is down")

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _emit_all(self, order: SandboxOrder, kinds: list[str], delay: float) -> None:
        for kind in kinds:
            await asyncio.sleep(delay)
            with contextlib.suppress(Exception):
                # A lost webhook is what real partners do too; it is recorded in /_sent.
                await self.emit(order, kind)

    async def _client(self) -> httpx.AsyncClient:
        assert self.gateway is not None
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.gateway.base_url, transport=self.gateway.transport, timeout=10
            )
        return self._http

    async def _token(self, http: httpx.AsyncClient, creds: SandboxCredentials) -> str:
        cached = self._gateway_token
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        response = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "events:write"},
            auth=(creds.client_id, creds.client_secret),
        )
        response.raise_for_status()
        answer = response.json()
        self._gateway_token = (
            answer["access_token"],
            time.monotonic() + float(answer.get("expires_in", 60)) - 30,
        )
        return str(answer["access_token"])

    async def _post_webhook(self, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.gateway is not None
        http = await self._client()
        creds = await self.gateway.credentials()
        body = orjson.dumps(payload)
        webhook_id = f"msg_{uuid.uuid4().hex}"
        record: dict[str, Any] = {"webhook_id": webhook_id, "payload": payload, "attempts": 0}
        self.sent.append(record)
        signer = Webhook(creds.webhook_secret)
        for attempt in range(_WEBHOOK_ATTEMPTS):
            record["attempts"] = attempt + 1
            now = datetime.now(UTC)
            try:
                token = await self._token(http, creds)
                response = await http.post(
                    f"/v1/partners/{self.partner_id}/events",
                    content=body,
                    headers={
                        "content-type": "application/json",
                        "authorization": f"Bearer {token}",
                        "webhook-id": webhook_id,
                        "webhook-timestamp": str(int(now.timestamp())),
                        "webhook-signature": signer.sign(webhook_id, now, body.decode()),
                    },
                )
            except httpx.HTTPError as exc:
                record["answer"] = {"error": type(exc).__name__}
            else:
                record["status"] = response.status_code
                record["answer"] = _json_or_text(response)
                if response.status_code == 401:
                    self._gateway_token = None
                # Standard Webhooks: 2xx is done, 4xx other than 408/429 will not improve.
                if response.status_code < 500 and response.status_code not in (401, 408, 429):
                    return record
            await asyncio.sleep(_WEBHOOK_BACKOFF_S * 2**attempt)
        return record


_HIDDEN_HEADERS: Final = frozenset({"authorization", "x-signature"})


def _client_of(request: Request, form: Mapping[str, Any]) -> tuple[str | None, str | None]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, None
        return unquote(user), unquote(password)
    client_id, secret = form.get("client_id"), form.get("client_secret")
    return (str(client_id) if client_id else None, str(secret) if secret else None)


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]
