"""`require_scopes`: the bearer token check every protected operation runs."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from gateway.oauth.credentials import revoke_partner_credentials
from gateway.oauth.resource import Principal, require_scopes
from gateway.settings import Settings
from tests.gateway.conftest import AccessToken, IssueCredentials
from tests.gateway.oauth.conftest import AppOn, FakeClock

PATH = "/test/protected"


def _protect(app: FastAPI) -> FastAPI:
    @app.get(PATH, include_in_schema=False)
    async def protected(
        principal: Annotated[Principal, Depends(require_scopes("events:write"))],
    ) -> dict[str, object]:
        return {
            "client_id": principal.client_id,
            "partner_id": principal.partner_id,
            "scopes": sorted(principal.scopes),
            "jti": principal.jti,
            "expires_at": principal.expires_at.isoformat(),
        }

    return app


@pytest.fixture
def protected_app(app: FastAPI) -> FastAPI:
    """The running app with one route that needs `events:write`."""
    return _protect(app)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["type"] == f"/problems/{slug}"
    return body


class TestAdmitted:
    async def test_a_valid_token_with_the_scope_yields_the_principal(
        self,
        protected_app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        creds = await issue_credentials(protected_app, "meilife")
        response = await client.get(PATH, headers=_bearer(await access_token(creds)))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["client_id"] == creds.client_id
        assert body["partner_id"] == "meilife"
        assert body["scopes"] == ["events:write"]
        assert body["jti"] and body["expires_at"].endswith("+00:00")

    async def test_the_scheme_name_is_case_insensitive(
        self,
        protected_app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        token = await access_token(await issue_credentials(protected_app, "meilife"))
        response = await client.get(PATH, headers={"Authorization": f"bearer {token}"})
        assert response.status_code == 200


class TestRefused:
    async def test_no_token_is_unauthorized_with_a_bearer_challenge(
        self, protected_app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
            response = await client.get(PATH, headers=headers)
            _assert_problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == 'Bearer realm="partner-gateway"'

    async def test_a_bad_token_is_invalid_token(
        self, protected_app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(PATH, headers=_bearer("eyJhbGciOiJFUzI1NiJ9.e30.c2ln"))
        body = _assert_problem(response, 401, "invalid-token")
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="partner-gateway", error="invalid_token"')
        assert 'error_description="' in challenge
        assert "refused" in str(body["detail"])

    async def test_a_token_without_the_scope_is_insufficient_scope(
        self,
        protected_app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        creds = await issue_credentials(protected_app, name="oem", scopes="orders:read")
        response = await client.get(PATH, headers=_bearer(await access_token(creds)))
        body = _assert_problem(response, 403, "insufficient-scope")
        challenge = response.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge and 'scope="events:write"' in challenge
        assert "events:write" in str(body["detail"])

    async def test_an_expired_token_says_so(
        self,
        settings: Settings,
        app_on: AppOn,
        clock: FakeClock,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        async with app_on(settings, clock) as (app, http):
            _protect(app)
            token = await access_token(await issue_credentials(app, "roadmap"), http=http)
            clock.advance(minutes=16)
            response = await http.get(PATH, headers=_bearer(token))
            _assert_problem(response, 401, "invalid-token")
            assert "expired" in response.headers["www-authenticate"]

    async def test_a_revoked_token_is_refused_on_the_next_request(
        self,
        protected_app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        creds = await issue_credentials(protected_app, "roadmap")
        token = await access_token(creds)
        assert (await client.get(PATH, headers=_bearer(token))).status_code == 200
        await client.post(
            "/oauth/revoke", data={"token": token}, auth=(creds.client_id, creds.client_secret)
        )
        response = await client.get(PATH, headers=_bearer(token))
        _assert_problem(response, 401, "invalid-token")
        assert "revoked" in response.headers["www-authenticate"]

    async def test_tokens_of_revoked_credentials_are_refused_within_a_second(
        self,
        protected_app: FastAPI,
        client: httpx.AsyncClient,
        settings: Settings,
        app_on: AppOn,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        token = await access_token(await issue_credentials(protected_app, "roadmap"))
        assert (await client.get(PATH, headers=_bearer(token))).status_code == 200
        # Revoked by another process (as `pgw partners credentials revoke` would).
        async with app_on(settings) as (other, _):
            await revoke_partner_credentials(other.state.container, "roadmap")
        await asyncio.sleep(1.05)
        response = await client.get(PATH, headers=_bearer(token))
        _assert_problem(response, 401, "invalid-token")
        assert "credentials have been revoked" in response.headers["www-authenticate"]
