"""Access tokens (RFC 9068), the published keys, and key rotation."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from gateway.oauth.keys import KeyStore
from gateway.oauth.tokens import InvalidToken
from gateway.settings import Settings
from tests.gateway.conftest import AccessToken, IssueCredentials
from tests.gateway.oauth.conftest import AppOn, FakeClock


def _header(token: str) -> dict[str, object]:
    head = token.split(".")[0]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return decoded


async def _jwks(http: httpx.AsyncClient) -> KeySet:
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return KeySet.import_key_set(response.json())


class TestClaims:
    async def test_partner_token_follows_rfc_9068(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        settings: Settings,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        creds = await issue_credentials(app, "voltgrid")
        token = await access_token(creds, "events:write")
        header = _header(token)
        assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
        claims = jwt.decode(token, await _jwks(client), algorithms=["ES256"]).claims
        assert claims["iss"] == settings.public_base_url
        assert claims["sub"] == claims["client_id"] == creds.client_id
        assert claims["aud"] == settings.token_audience
        assert claims["exp"] - claims["iat"] == settings.token_lifetime_seconds
        assert claims["nbf"] == claims["iat"]
        assert claims["scope"] == "events:write"
        assert claims["partner_id"] == "voltgrid"
        assert len(claims["jti"]) >= 20

    async def test_app_token_has_no_partner(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="services:write orders:read")
        claims = jwt.decode(await access_token(creds), await _jwks(client)).claims
        assert "partner_id" not in claims
        assert claims["scope"] == "services:write orders:read"

    async def test_every_token_has_its_own_jti(
        self, app: FastAPI, issue_credentials: IssueCredentials, access_token: AccessToken
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="orders:read")
        tokens = [await access_token(creds) for _ in range(3)]
        jtis = {(await app.state.container.tokens.decode(t)).jti for t in tokens}
        assert len(jtis) == 3


class TestChecks:
    @pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
    async def test_tampered_foreign_and_unsigned_tokens_are_refused(
        self, app: FastAPI, issue_credentials: IssueCredentials, access_token: AccessToken
    ) -> None:
        tokens = app.state.container.tokens
        creds = await issue_credentials(app, name="oem", scopes="orders:read")
        good = await access_token(creds)
        head, payload, signature = good.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        forged = (
            base64.urlsafe_b64encode(json.dumps(claims | {"scope": "admin"}).encode())
            .decode()
            .rstrip("=")
        )
        foreign_key = ECKey.generate_key("P-256", parameters={"kid": _header(good)["kid"]})
        foreign = jwt.encode(_header(good), claims, foreign_key)
        unsigned = jwt.encode({"alg": "none", "typ": "at+jwt"}, claims, None, algorithms=["none"])
        for bad in (f"{head}.{forged}.{signature}", foreign, unsigned, "abc", "a.b.c", ""):
            with pytest.raises(InvalidToken):
                await tokens.verify(bad)

    async def test_wrong_audience_issuer_or_type_is_refused(
        self, app: FastAPI, issue_credentials: IssueCredentials
    ) -> None:
        tokens = app.state.container.tokens
        key = await tokens.keys.signing_key()
        creds = await issue_credentials(app, name="oem", scopes="orders:read")
        now = app.state.container.clock()
        good = tokens.mint(key=key, client_id=creds.client_id, partner_id=None, scope="", now=now)
        assert (await tokens.verify(good)).client_id == creds.client_id
        claims = dict((await tokens.decode(good)).claims)
        header = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
        for changed, head in (
            ({"aud": "someone-else"}, header),
            ({"iss": "https://elsewhere.example"}, header),
            ({}, header | {"typ": "JWT"}),
        ):
            token = jwt.encode(head, claims | changed, key.private)
            with pytest.raises(InvalidToken):
                await tokens.verify(token)

    async def test_expired_token_is_refused_after_the_leeway(
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
            tokens = app.state.container.tokens
            clock.advance(seconds=900 + 29)
            await tokens.verify(token)
            clock.advance(seconds=2)
            with pytest.raises(InvalidToken, match="expired"):
                await tokens.verify(token)


class TestKeys:
    async def test_jwks_publishes_the_signing_key(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        token = await access_token(await issue_credentials(app, name="oem", scopes="admin"))
        response = await client.get("/.well-known/jwks.json")
        keys = response.json()["keys"]
        assert _header(token)["kid"] in {k["kid"] for k in keys}
        assert all(k["kty"] == "EC" and k["crv"] == "P-256" and "d" not in k for k in keys)
        assert all(k["alg"] == "ES256" and k["use"] == "sig" for k in keys)

    async def test_rotation_keeps_the_old_key_until_its_tokens_expire(
        self,
        settings: Settings,
        app_on: AppOn,
        clock: FakeClock,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        async with app_on(settings, clock) as (app, http), app_on(settings) as (other, _):
            creds = await issue_credentials(app, name="oem", scopes="orders:read")
            before = await access_token(creds, http=http)
            old_kid = _header(before)["kid"]
            rotation = await app.state.container.tokens.keys.rotate()
            assert old_kid in rotation.retired_kids
            after = await access_token(creds, http=http)
            assert _header(after)["kid"] == rotation.new_kid != old_kid
            published = {
                k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]
            }
            assert {old_kid, rotation.new_kid} <= published
            # Both tokens pass here and in a process that has not re-read the keys yet.
            for process in (app, other):
                for token in (before, after):
                    await process.state.container.tokens.verify(token)
            clock.advance(seconds=900 + 30 + 30 + 1)
            await app.state.container.tokens.keys.refresh()
            published = {
                k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]
            }
            assert old_kid not in published and rotation.new_kid in published

    async def test_processes_racing_for_the_first_key_both_publish(
        self, settings: Settings, app_on: AppOn
    ) -> None:
        async with app_on(settings) as (one, _), app_on(settings) as (two, _):
            factory = one.state.container.session_factory
            async with one.state.container.uow() as uow:
                # Start from an empty key set, as on a fresh deployment.
                await uow.signing_keys.retire_active(one.state.container.clock())
                await uow.commit()
            stores = [
                KeyStore(
                    factory,
                    token_lifetime_seconds=900,
                    leeway_seconds=30,
                    clock=c.state.container.clock,
                )
                for c in (one, two)
            ]
            first = await asyncio.gather(*(store.signing_key() for store in stores))
            for store in stores:
                await store.refresh()
            chosen = {(await store.signing_key()).kid for store in stores}
            assert len(chosen) == 1
            published = {k["kid"] for k in (await stores[0].jwks())["keys"]}
            assert {k.kid for k in first} <= published
