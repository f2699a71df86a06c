"""The conformance kit wired to the gateway: its masking, its registry, its partner auth.

``adapters.conformance`` holds the checks; this module gives them what only
the gateway has, so the test suite and ``pgw conformance`` run them alike:

- ``gateway_masker``: the partner's view of a request exactly as dispatch
  builds it (``gateway.dispatch.disclosure.partner_view``), relay numbers bound
  to the first number of the relay pool;
- ``registered_parts``: the adapter, translator, sandbox simulator and fixture
  directory the one registry holds for an agreement;
- ``partner_client``: an ``httpx.AsyncClient`` to a partner endpoint with the
  agreement's outbound auth, as ``gateway.dispatch.clients`` builds it;
- ``check_partner`` / ``check_partner_live``: both check sets for one agreement.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import httpx

from adapters import ADAPTERS, WEBHOOK_TRANSLATORS, PartnerAdapter, WebhookTranslator
from adapters.auth import ApiKeyHeader, HmacSigner
from adapters.conformance import (
    FieldDisclosure,
    Finding,
    Masker,
    PartnerView,
    live_checks,
    static_checks,
)
from adapters.registry import DIALECT_SANDBOX_MODULES
from adapters.sandbox import SANDBOX_MODULES, Sandbox, SandboxDialect, create_sandbox
from contracts import (
    CANONICAL_DIALECT,
    OPERATION_PURPOSE,
    ApiKeyAuth,
    HmacAuth,
    OAuth2ClientCredentials,
    PartnerAgreement,
    ServiceRequest,
)
from gateway.dispatch.disclosure import partner_view
from gateway.dispatch.partner_auth import PartnerOAuth2
from gateway.hotstate import Keyspace, MemoryHotState
from masking import MaskingKeys

__all__ = [
    "RELAY_NUMBER",
    "RegisteredParts",
    "check_partner",
    "check_partner_live",
    "gateway_masker",
    "partner_client",
    "registered_parts",
    "sandbox_of",
]

RELAY_NUMBER: Final = "17100000000"
"""The relay number the kit binds masked phones to (the default pool's first)."""


def gateway_masker(keys: MaskingKeys | None = None, *, now: datetime | None = None) -> Masker:
    """The gateway's masking as a ``Masker`` (development keys unless ``keys`` are given)."""
    chosen = keys or MaskingKeys.development()

    def masker(agreement: PartnerAgreement, request: ServiceRequest) -> PartnerView:
        view = partner_view(
            agreement,
            OPERATION_PURPOSE[request.operation],
            request,
            keys=chosen,
            now=now or datetime.now(UTC),
        )
        return PartnerView(
            payload=view.with_relays({relay.path: RELAY_NUMBER for relay in view.relays}),
            fields=tuple(
                FieldDisclosure(d.path, d.data_class, d.kind, d.operator.value) for d in view.fields
            ),
        )

    return masker


@dataclass(frozen=True, slots=True)
class RegisteredParts:
    """What the registry holds for one agreement (None where nothing is registered)."""

    adapter: PartnerAdapter | None
    translator: WebhookTranslator | None
    sandbox: SandboxDialect | None
    fixtures_dir: Path | None


def sandbox_of(dialect: str) -> SandboxDialect | None:
    """The simulator of an API dialect, shipped or discovered; None when there is none."""
    module_name = SANDBOX_MODULES.get(dialect) or DIALECT_SANDBOX_MODULES.get(dialect)
    if module_name is None:
        return None
    simulator: SandboxDialect = importlib.import_module(module_name).DIALECT
    return simulator


def registered_parts(agreement: PartnerAgreement) -> RegisteredParts:
    """The registered adapter, translator, simulator and fixtures of ``agreement``'s dialects."""
    adapter = ADAPTERS.get(agreement.api.dialect)
    translator = (
        None
        if agreement.webhook.dialect == CANONICAL_DIALECT
        else WEBHOOK_TRANSLATORS.get(agreement.webhook.dialect)
    )
    fixtures = None
    if adapter is not None:
        source = inspect.getsourcefile(type(adapter))
        fixtures = Path(source).parent / "fixtures" if source else None
    return RegisteredParts(adapter, translator, sandbox_of(agreement.api.dialect), fixtures)


def check_partner(
    agreement: PartnerAgreement,
    *,
    fixtures_dir: Path | None = None,
    masker: Masker | None = None,
) -> list[Finding]:
    """The static checks of ``agreement`` with its registered parts (fixtures may be moved)."""
    parts = registered_parts(agreement)
    if parts.adapter is None:
        return [
            Finding(
                agreement.id,
                "protocol:adapter",
                False,
                f"no adapter is registered for api.dialect {agreement.api.dialect!r}",
            )
        ]
    fixtures = fixtures_dir or parts.fixtures_dir or Path("fixtures")
    return static_checks(
        agreement,
        parts.adapter,
        fixtures,
        masker=masker or gateway_masker(),
        translator=parts.translator,
        sandbox=parts.sandbox,
    )


def partner_client(
    agreement: PartnerAgreement,
    base_url: str,
    secret: str,
    *,
    token_url: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A client to ``base_url`` carrying the agreement's outbound auth with ``secret``.

    For OAuth 2.0 the token is fetched from ``token_url``; by default the
    agreement's, moved under ``base_url`` when it lies under the agreement's own
    base URL (a sandbox's token endpoint moves with the sandbox).
    """
    api = agreement.api
    auth: httpx.Auth | None = None
    if isinstance(api.auth, OAuth2ClientCredentials):
        url = token_url or _moved(api.auth.token_url, api.base_url, base_url)
        auth = PartnerOAuth2(
            agreement.id,
            api.auth.model_copy(update={"token_url": url}),
            secret,
            hot_state=MemoryHotState(),
            keys=Keyspace("conformance:"),
            timeouts=api.timeouts,
            transport=transport,
        )
    elif isinstance(api.auth, ApiKeyAuth):
        auth = ApiKeyHeader(api.auth.header, secret)
    elif isinstance(api.auth, HmacAuth):
        auth = HmacSigner(api.auth.key_id, secret, api.auth.algorithm)
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/") + "/",
        auth=auth,
        timeout=httpx.Timeout(api.timeouts.read, connect=api.timeouts.connect),
        transport=transport,
        headers={"user-agent": "partner-gateway-conformance"},
    )


def _moved(url: str, old_base: str, new_base: str) -> str:
    old, new = old_base.rstrip("/"), new_base.rstrip("/")
    return new + url[len(old) :] if url.startswith(old + "/") else url


async def check_partner_live(
    agreement: PartnerAgreement,
    *,
    base_url: str | None,
    secret: str,
    masker: Masker | None = None,
    token_url: str | None = None,
) -> list[Finding]:
    """The live checks against ``base_url``, or an in-process sandbox when it is None."""
    masker = masker or gateway_masker()
    sandbox: Sandbox | None = None
    transport: httpx.AsyncBaseTransport | None = None
    url = base_url
    if url is None:
        parts = registered_parts(agreement)
        if parts.sandbox is None:
            return [
                Finding(
                    agreement.id,
                    "live:sandbox",
                    False,
                    f"no sandbox simulates {agreement.api.dialect!r}; pass --base-url",
                )
            ]
        if agreement.api.dialect in SANDBOX_MODULES:
            sandbox = create_sandbox(agreement, secret=secret)
        else:
            sandbox = Sandbox(agreement, parts.sandbox, secret=secret)
        sandbox.config.webhooks = False
        transport = httpx.ASGITransport(app=sandbox.app)
        url = f"http://{agreement.id}.sandbox.invalid"
    client = partner_client(agreement, url, secret, token_url=token_url, transport=transport)
    try:
        return await live_checks(agreement, url, client, masker=masker)
    finally:
        await client.aclose()
        auth = client.auth
        if isinstance(auth, PartnerOAuth2):
            await auth.aclose()
        if sandbox is not None:
            await sandbox.aclose()
