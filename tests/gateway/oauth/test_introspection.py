"""POST /oauth/introspect (RFC 7662) and POST /oauth/revoke (RFC 7009)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from gateway.oauth.credentials import IssuedCredentials
from gateway.oauth.tokens import REVOCATION_RECHECK_SECONDS, InvalidToken
from gateway.settings import Settings
from tests.gateway.conftest import AccessToken, IssueCredentials
from tests.gateway.oauth.conftest import AppOn, FakeClock


async def _introspect(
    http: httpx.AsyncClient, creds: IssuedCredentials, token: str
) -> dict[str, object]:
    response = await http.post(
        "/oauth/introspect", data={"token": token}, auth=(creds.client_id, creds.client_secret)
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, object] = response.json()
    return body


async def _revoke(http: httpx.AsyncClient, creds: IssuedCredentials, token: str) -> httpx.Response:
    return await http.post(
        "/oauth/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(creds.client_id, creds.client_secret),
    )


class TestIntrospection:
    async def test_an_active_token_is_described(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        settings: Settings,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        creds = await issue_credentials(app, "starcharge")
        token = await access_token(creds)
        body = await _introspect(client, creds, token)
        assert body["active"] is True
        assert body["client_id"] == body["sub"] == creds.client_id
        assert body["partner_id"] == "starcharge"
        assert body["scope"] == "events:write"
        assert body["token_type"] == "Bearer"
        assert body["iss"] == settings.public_base_url
        assert body["aud"] == settings.token_audience
        assert isinstance(body["exp"], int) and isinstance(body["iat"], int) and body["jti"]

    async def test_malformed_foreign_and_revoked_tokens_are_inactive(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        mine = await issue_credentials(app, name="oem", scopes="orders:read")
        theirs = await issue_credentials(app, name="tool", scopes="scorecards:read")
        their_token = await access_token(theirs)
        assert await _introspect(client, mine, "not-a-token") == {"active": False}
        assert await _introspect(client, mine, their_token) == {"active": False}
        assert (await _introspect(client, theirs, their_token))["active"] is True
        assert (await _revoke(client, theirs, their_token)).status_code == 200
        assert await _introspect(client, theirs, their_token) == {"active": False}

    async def test_an_expired_token_is_inactive(
        self,
        settings: Settings,
        app_on: AppOn,
        clock: FakeClock,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        async with app_on(settings, clock) as (app, http):
            creds = await issue_credentials(app, name="oem", scopes="orders:read")
            token = await access_token(creds, http=http)
            clock.advance(minutes=16)
            assert await _introspect(http, creds, token) == {"active": False}

    async def test_the_caller_must_authenticate(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/oauth/introspect", data={"token": "x"})
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        missing = await client.post("/oauth/introspect", data={}, auth=("a", "b"))
        assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


class TestRevocation:
    async def test_revoked_token_is_refused_by_every_process(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        settings: Settings,
        app_on: AppOn,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        creds = await issue_credentials(app, "taicover")
        token = await access_token(creds)
        async with app_on(settings) as (other, other_http):
            # The other process has checked the token before (and might have cached it).
            await other.state.container.tokens.verify(token)
            response = await _revoke(client, creds, token)
            assert response.status_code == 200 and response.json() == {}
            for _process, http in ((app, client), (other, other_http)):
                assert await _introspect(http, creds, token) == {"active": False}
            # Resource checks may trust a recent revocation read for half a second
            # (the promise is "refused everywhere within one second").
            await asyncio.sleep(REVOCATION_RECHECK_SECONDS)
            for process in (app, other):
                with pytest.raises(InvalidToken, match="revoked"):
                    await process.state.container.tokens.verify(token)

    async def test_unknown_invalid_and_expired_tokens_answer_200(
        self, app: FastAPI, client: httpx.AsyncClient, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="orders:read")
        for token in ("nope", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"):
            response = await _revoke(client, creds, token)
            assert response.status_code == 200 and response.json() == {}

    async def test_another_clients_token_is_refused(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        mine = await issue_credentials(app, name="oem", scopes="orders:read")
        theirs = await issue_credentials(app, name="tool", scopes="orders:read")
        their_token = await access_token(theirs)
        response = await _revoke(client, mine, their_token)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
        assert (await _introspect(client, theirs, their_token))["active"] is True

    async def test_revocation_needs_client_authentication(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/oauth/revoke", data={"token": "x"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
