"""Issuing, rotating and revoking credentials; the webhook secrets the intake checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from gateway.oauth.credentials import (
    CredentialsExist,
    InvalidClientRequest,
    NoCredentials,
    create_client,
    create_partner_credentials,
    revoke_partner_credentials,
    rotate_partner_credentials,
    webhook_secrets,
)
from gateway.oauth.hashing import verify_secret
from gateway.registry import UnknownPartner
from gateway.settings import Settings
from tests.gateway.conftest import AccessToken, IssueCredentials
from tests.gateway.oauth.conftest import AppOn, FakeClock


class TestPartnerCredentials:
    async def test_secrets_are_stored_only_as_hashes(
        self, app: FastAPI, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, "swiftrent")
        assert creds.client_id.startswith("pgw_swiftrent_")
        assert creds.webhook_secret is not None and creds.webhook_secret.startswith("whsec_")
        assert creds.client_secret not in repr(creds) and creds.webhook_secret not in repr(creds)
        async with app.state.container.uow() as uow:
            row = await uow.clients.get(creds.client_id)
        assert row is not None and row.kind == "partner" and row.scopes == ["events:write"]
        assert creds.client_secret not in row.secret_hash
        assert verify_secret(creds.client_secret, row.secret_hash)
        assert row.webhook_secret == creds.webhook_secret

    async def test_unknown_partner_and_second_creation_are_refused(self, app: FastAPI) -> None:
        container = app.state.container
        with pytest.raises(UnknownPartner):
            await create_partner_credentials(container, "nobody")
        await revoke_partner_credentials(container, "swiftrent")
        await create_partner_credentials(container, "swiftrent")
        with pytest.raises(CredentialsExist, match="rotate"):
            await create_partner_credentials(container, "swiftrent")

    async def test_rotation_without_credentials_is_refused(self, app: FastAPI) -> None:
        container = app.state.container
        await revoke_partner_credentials(container, "voltgrid")
        with pytest.raises(NoCredentials, match="create"):
            await rotate_partner_credentials(container, "voltgrid")

    async def test_webhook_secrets_follow_rotation_and_revocation(
        self, settings: Settings, app_on: AppOn, clock: FakeClock
    ) -> None:
        async with app_on(settings, clock) as (app, _):
            container = app.state.container
            await revoke_partner_credentials(container, "starcharge")
            assert await webhook_secrets(container, "starcharge", clock()) == []
            first = await create_partner_credentials(container, "starcharge")
            assert await webhook_secrets(container, "starcharge", clock()) == [first.webhook_secret]
            second = await rotate_partner_credentials(container, "starcharge")
            assert second.previous_valid_until == clock.now + timedelta(hours=24)
            both = [second.webhook_secret, first.webhook_secret]
            assert await webhook_secrets(container, "starcharge", clock.now) == both
            just_before = clock.now + timedelta(hours=24, seconds=-1)
            assert await webhook_secrets(container, "starcharge", just_before) == both
            clock.advance(hours=24)
            assert await webhook_secrets(container, "starcharge", clock()) == [
                second.webhook_secret
            ]
            await revoke_partner_credentials(container, "starcharge")
            assert await webhook_secrets(container, "starcharge", clock()) == []


class TestAppClients:
    async def test_app_client_has_its_scopes_and_no_webhook_secret(self, app: FastAPI) -> None:
        creds = await create_client(
            app.state.container, "OEM app", ["orders:read", "services:write"]
        )
        assert creds.client_id.startswith("pgw_app_")
        assert creds.webhook_secret is None
        assert creds.scopes == ("services:write", "orders:read")
        assert creds.as_json() == {
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "webhook_secret": None,
        }

    @pytest.mark.parametrize(
        ("name", "scopes", "message"),
        [
            ("tool", ["orders:write"], "unknown scope"),
            ("tool", [], "at least one scope"),
            ("tool", ["events:write"], "partner credentials only"),
            ("  ", ["admin"], "name"),
        ],
    )
    async def test_bad_requests_are_refused(
        self, app: FastAPI, name: str, scopes: list[str], message: str
    ) -> None:
        with pytest.raises(InvalidClientRequest, match=message):
            await create_client(app.state.container, name, scopes)


class TestEmbeddedDefault:
    async def test_issue_and_use_a_token_on_sqlite_and_in_process_state(
        self,
        embedded_settings: Settings,
        app_on: AppOn,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        async with app_on(embedded_settings) as (app, http):
            creds = await issue_credentials(app, "citycar")
            token = await access_token(creds, "events:write", http=http)
            introspected = await http.post(
                "/oauth/introspect",
                data={"token": token},
                auth=(creds.client_id, creds.client_secret),
            )
            assert introspected.json()["partner_id"] == "citycar"
            await http.post(
                "/oauth/revoke", data={"token": token}, auth=(creds.client_id, creds.client_secret)
            )
            gone = await http.post(
                "/oauth/introspect",
                data={"token": token},
                auth=(creds.client_id, creds.client_secret),
            )
            assert gone.json() == {"active": False}
