"""Fixtures shared by the gateway's tests: OAuth credentials and access tokens."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

import httpx
import pytest
from fastapi import FastAPI

from gateway.oauth.credentials import (
    CredentialsExist,
    IssuedCredentials,
    create_client,
    create_partner_credentials,
    rotate_partner_credentials,
)

IssueCredentials = Callable[..., Awaitable[IssuedCredentials]]
AccessToken = Callable[..., Awaitable[str]]


@pytest.fixture
def issue_credentials() -> IssueCredentials:
    """Credentials issued on a running app: for `partner_id`, or an app client `name` + `scopes`.

    ``await issue_credentials(app, "swiftrent")`` gives the partner new credentials
    (rotating them when a previous test left some active);
    ``await issue_credentials(app, name="oem", scopes="services:write orders:read")``
    creates an app client (a unique suffix is added to the name).
    """

    async def issue(
        app: FastAPI,
        partner_id: str | None = None,
        *,
        name: str | None = None,
        scopes: str | Sequence[str] = (),
    ) -> IssuedCredentials:
        container = app.state.container
        if partner_id is not None:
            try:
                return await create_partner_credentials(container, partner_id)
            except CredentialsExist:
                return await rotate_partner_credentials(container, partner_id)
        wanted = scopes.split() if isinstance(scopes, str) else list(scopes)
        return await create_client(container, f"{name or 'client'}-{uuid.uuid4().hex[:6]}", wanted)

    return issue


@pytest.fixture
def access_token(client: httpx.AsyncClient) -> AccessToken:
    """A token from `POST /oauth/token` (client_secret_basic) for credentials and a scope.

    ``await access_token(credentials)`` asks for every granted scope;
    ``await access_token(credentials, "events:write")`` for that scope only;
    ``http=`` sends the request through another app instance's client.
    """

    async def token(
        credentials: IssuedCredentials,
        scope: str | None = None,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> str:
        form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
        response = await (http or client).post(
            "/oauth/token", data=form, auth=(credentials.client_id, credentials.client_secret)
        )
        assert response.status_code == 200, response.text
        value: str = response.json()["access_token"]
        return value

    return token


@pytest.fixture
async def manager_headers(
    app: FastAPI, issue_credentials: IssueCredentials, access_token: AccessToken
) -> dict[str, str]:
    """`Authorization` of a partnership manager's tool (scope `scorecards:read`)."""
    creds = await issue_credentials(app, name="manager", scopes="scorecards:read")
    return {"authorization": f"Bearer {await access_token(creds)}"}
