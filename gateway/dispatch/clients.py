"""One pooled ``httpx.AsyncClient`` per partner, built at start-up and closed at shutdown.

Each client carries the partner's base URL, its connect and read timeouts,
and its outbound auth from the agreement (OAuth 2.0 client credentials, API
key header, HMAC signatures) with the secret its ``secret_ref`` names in
``PGW_PARTNER_SECRETS``. When the sandboxes are on, a partner without a
configured secret uses its sandbox's development secret, and a partner whose
base URL is one of the gateway's own sandboxes is reached in-process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import httpx

from adapters.auth import ApiKeyHeader, HmacSigner
from adapters.sandbox import sandbox_secret
from contracts import ApiKeyAuth, HmacAuth, NoAuth, OAuth2ClientCredentials, PartnerAgreement
from gateway.dispatch.partner_auth import PartnerOAuth2
from gateway.hotstate import HotState, Keyspace
from gateway.settings import Settings

__all__ = ["MissingPartnerSecrets", "PartnerClients", "partner_secret"]

_POOL: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30)


class MissingPartnerSecrets(Exception):
    """Agreements name secrets the settings do not hold."""

    def __init__(self, missing: Iterable[tuple[str, str]]) -> None:
        self.missing = tuple(missing)
        listed = ", ".join(f"{ref} (partner {pid})" for pid, ref in self.missing)
        super().__init__(
            f"PGW_PARTNER_SECRETS lacks {listed}; add them as a JSON object "
            '{"<secret_ref>": "<secret>"} or turn the sandboxes on for development'
        )


def partner_secret(settings: Settings, agreement: PartnerAgreement) -> str | None:
    """The outbound secret of ``agreement``, or None when it needs one that is not configured."""
    auth = agreement.api.auth
    if isinstance(auth, NoAuth):
        return ""
    configured = settings.partner_secrets.get(auth.secret_ref)
    if configured is not None:
        return configured.get_secret_value()
    return sandbox_secret(auth.secret_ref) if settings.sandbox_enabled else None


@dataclass(frozen=True, slots=True)
class _Entry:
    client: httpx.AsyncClient
    oauth: PartnerOAuth2 | None


class PartnerClients:
    """The partners' HTTP clients, by partner id."""

    def __init__(self, entries: dict[str, _Entry]) -> None:
        self._entries = entries

    @classmethod
    def build(
        cls,
        agreements: Iterable[PartnerAgreement],
        settings: Settings,
        *,
        hot_state: HotState,
        keys: Keyspace,
        sandbox_transport: httpx.AsyncBaseTransport | None = None,
    ) -> PartnerClients:
        """A client per agreement; raises ``MissingPartnerSecrets`` listing every gap."""
        agreements = list(agreements)
        missing = [
            (a.id, getattr(a.api.auth, "secret_ref", ""))
            for a in agreements
            if partner_secret(settings, a) is None
        ]
        if missing:
            raise MissingPartnerSecrets(missing)
        sandbox_prefix = settings.public_base_url.rstrip("/") + "/sandbox/"
        entries: dict[str, _Entry] = {}
        for agreement in agreements:
            api = agreement.api
            secret = partner_secret(settings, agreement) or ""
            in_process = sandbox_transport is not None and api.base_url.startswith(sandbox_prefix)
            transport = sandbox_transport if in_process else None
            oauth: PartnerOAuth2 | None = None
            auth: httpx.Auth | None = None
            if isinstance(api.auth, OAuth2ClientCredentials):
                oauth = PartnerOAuth2(
                    agreement.id,
                    api.auth,
                    secret,
                    hot_state=hot_state,
                    keys=keys,
                    timeouts=api.timeouts,
                    transport=transport,
                )
                auth = oauth
            elif isinstance(api.auth, ApiKeyAuth):
                auth = ApiKeyHeader(api.auth.header, secret)
            elif isinstance(api.auth, HmacAuth):
                auth = HmacSigner(api.auth.key_id, secret, api.auth.algorithm)
            client = httpx.AsyncClient(
                base_url=api.base_url + "/",
                auth=auth,
                timeout=httpx.Timeout(api.timeouts.read, connect=api.timeouts.connect),
                limits=_POOL,
                transport=transport,
                headers={"user-agent": "partner-gateway"},
            )
            entries[agreement.id] = _Entry(client, oauth)
        return cls(entries)

    def get(self, partner_id: str) -> httpx.AsyncClient:
        """The pooled client of ``partner_id``."""
        return self._entries[partner_id].client

    async def aclose(self) -> None:
        """Close every client (and the token endpoints' clients)."""
        for entry in self._entries.values():
            await entry.client.aclose()
            if entry.oauth is not None:
                await entry.oauth.aclose()
