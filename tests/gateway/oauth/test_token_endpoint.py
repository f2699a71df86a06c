"""POST /oauth/token: the client credentials grant and its RFC 6749 errors."""

from __future__ import annotations

import base64

import httpx
from fastapi import FastAPI

from gateway.oauth.credentials import revoke_partner_credentials, rotate_partner_credentials
from gateway.settings import Settings
from tests.gateway.conftest import IssueCredentials
from tests.gateway.oauth.conftest import AppOn, FakeClock

GRANT = {"grant_type": "client_credentials"}


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def _assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error and set(body) <= {"error", "error_description"}


class TestClientAuthentication:
    async def test_client_secret_basic(
        self, app: FastAPI, client: httpx.AsyncClient, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, "swiftrent")
        response = await client.post(
            "/oauth/token", data=GRANT, auth=(creds.client_id, creds.client_secret)
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 900
        assert body["scope"] == "events:write"

    async def test_client_secret_post(
        self, app: FastAPI, client: httpx.AsyncClient, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="orders:read")
        form = GRANT | {"client_id": creds.client_id, "client_secret": creds.client_secret}
        response = await client.post("/oauth/token", data=form)
        assert response.status_code == 200, response.text
        assert response.json()["scope"] == "orders:read"

    async def test_unknown_client_is_invalid_client_with_a_basic_challenge(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/oauth/token", data=GRANT, auth=("pgw_app_nobody", "x" * 43))
        _assert_oauth_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"].startswith('Basic realm="partner-gateway"')

    async def test_wrong_secret_reads_like_an_unknown_client(
        self, app: FastAPI, client: httpx.AsyncClient, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="orders:read")
        wrong = await client.post("/oauth/token", data=GRANT, auth=(creds.client_id, "nope"))
        unknown = await client.post("/oauth/token", data=GRANT, auth=("pgw_app_0", "nope"))
        _assert_oauth_error(wrong, 401, "invalid_client")
        assert wrong.json() == unknown.json()
        posted = await client.post(
            "/oauth/token", data=GRANT | {"client_id": creds.client_id, "client_secret": "nope"}
        )
        _assert_oauth_error(posted, 401, "invalid_client")

    async def test_no_client_authentication_is_invalid_client(
        self, client: httpx.AsyncClient
    ) -> None:
        _assert_oauth_error(await client.post("/oauth/token", data=GRANT), 401, "invalid_client")

    async def test_malformed_basic_credentials_are_invalid_client(
        self, client: httpx.AsyncClient
    ) -> None:
        for header in ("Basic !!!", "Basic " + base64.b64encode(b"\xff:\xfe").decode(), "Bearer x"):
            response = await client.post(
                "/oauth/token", data=GRANT, headers={"Authorization": header}
            )
            _assert_oauth_error(response, 401, "invalid_client")

    async def test_two_authentication_methods_at_once_are_refused(
        self, app: FastAPI, client: httpx.AsyncClient, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="orders:read")
        form = GRANT | {"client_id": creds.client_id, "client_secret": creds.client_secret}
        response = await client.post(
            "/oauth/token", data=form, headers=_basic(creds.client_id, creds.client_secret)
        )
        _assert_oauth_error(response, 400, "invalid_request")

    async def test_revoked_client_is_refused(
        self, app: FastAPI, client: httpx.AsyncClient, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, "citycar")
        await revoke_partner_credentials(app.state.container, "citycar")
        response = await client.post(
            "/oauth/token", data=GRANT, auth=(creds.client_id, creds.client_secret)
        )
        _assert_oauth_error(response, 401, "invalid_client")


class TestScopes:
    async def test_no_scope_requested_grants_every_scope_of_the_client(
        self, app: FastAPI, client: httpx.AsyncClient, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="orders:read services:write")
        response = await client.post(
            "/oauth/token", data=GRANT, auth=(creds.client_id, creds.client_secret)
        )
        assert response.json()["scope"] == "services:write orders:read"

    async def test_requested_scopes_narrow_the_token(
        self, app: FastAPI, client: httpx.AsyncClient, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="orders:read services:write")
        response = await client.post(
            "/oauth/token",
            data=GRANT | {"scope": "orders:read"},
            auth=(creds.client_id, creds.client_secret),
        )
        assert response.status_code == 200
        assert response.json()["scope"] == "orders:read"

    async def test_a_scope_the_client_lacks_is_invalid_scope(
        self, app: FastAPI, client: httpx.AsyncClient, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="orders:read")
        for scope in ("orders:read admin", "events:write", "no-such-scope"):
            response = await client.post(
                "/oauth/token",
                data=GRANT | {"scope": scope},
                auth=(creds.client_id, creds.client_secret),
            )
            _assert_oauth_error(response, 400, "invalid_scope")


class TestMalformedRequests:
    async def test_other_grants_are_unsupported(
        self, app: FastAPI, client: httpx.AsyncClient, issue_credentials: IssueCredentials
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="orders:read")
        for grant in ("password", "authorization_code", "refresh_token"):
            response = await client.post(
                "/oauth/token",
                data={"grant_type": grant},
                auth=(creds.client_id, creds.client_secret),
            )
            _assert_oauth_error(response, 400, "unsupported_grant_type")

    async def test_missing_grant_type_is_invalid_request(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/oauth/token", data={"scope": "orders:read"})
        _assert_oauth_error(response, 400, "invalid_request")

    async def test_json_body_is_invalid_request(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/oauth/token", json=GRANT)
        _assert_oauth_error(response, 400, "invalid_request")
        assert "x-www-form-urlencoded" in response.json()["error_description"]

    async def test_repeated_parameter_is_invalid_request(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/oauth/token",
            content="grant_type=client_credentials&grant_type=client_credentials",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        _assert_oauth_error(response, 400, "invalid_request")

    async def test_oversized_body_is_invalid_request(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/oauth/token", data=GRANT | {"scope": "x" * 20_000})
        _assert_oauth_error(response, 400, "invalid_request")


class TestSecretRotation:
    async def test_old_secret_works_within_the_overlap_and_not_after(
        self,
        settings: Settings,
        app_on: AppOn,
        clock: FakeClock,
        issue_credentials: IssueCredentials,
    ) -> None:
        async with app_on(settings, clock) as (app, http):
            old = await issue_credentials(app, "pingsure")
            new = await rotate_partner_credentials(app.state.container, "pingsure")
            assert new.client_id == old.client_id and new.client_secret != old.client_secret

            async def status(secret: str) -> int:
                answer = await http.post("/oauth/token", data=GRANT, auth=(old.client_id, secret))
                return answer.status_code

            assert await status(new.client_secret) == 200
            assert await status(old.client_secret) == 200
            clock.advance(hours=23, minutes=59)
            assert await status(old.client_secret) == 200
            clock.advance(minutes=2)
            assert await status(old.client_secret) == 401
            assert await status(new.client_secret) == 200
