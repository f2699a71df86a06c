"""Access tokens and client credentials under attack, on every protected operation.

Forged tokens (``alg: none``, HS256 keyed with the published public key,
another key under the gateway's ``kid``, wrong ``iss``/``aud``/``typ``,
expired) and garbage bearer values are 401 `invalid-token` or `unauthorized`;
a valid token without the operation's scope is 403 `insufficient-scope`, on
every operation the OpenAPI document lists. The token endpoint refuses scope
escalation (`invalid_scope`) and wrong secrets (401 `invalid_client`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

from gateway.oauth.credentials import revoke_partner_credentials
from gateway.oauth.scopes import SCOPES
from tests.gateway.webhooks.conftest import event
from tests.security.conftest import Gateway, assert_oauth_error, assert_problem, dumps

_ES256 = JWSRegistry(algorithms=["ES256"])
_VALUES = {"integer": "1"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"


def _operations(gw: Gateway) -> list[tuple[str, str, list[str]]]:
    """Every protected operation: method, a concrete path, and the scopes it admits."""
    found = []
    for template, item in gw.app.openapi()["paths"].items():
        for method, operation in item.items():
            requirements = operation.get("security") or []
            scopes = [s for r in requirements for s in r.get("oauth2", [])]
            if not requirements or template.startswith("/oauth/"):
                continue
            path = template
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    kind = parameter.get("schema", {}).get("type")
                    value = _VALUES.get(kind, gw.partners["citycar"])
                    if parameter["name"] == "month":
                        value = "2026-11"
                    elif parameter["name"] == "virtual_number":
                        value = "13800000000"
                    path = path.replace("{" + parameter["name"] + "}", value)
            found.append((method.upper(), path, scopes))
    assert len(found) >= 25
    return found


async def _claims(gw: Gateway, **changes: Any) -> tuple[dict[str, Any], Any]:
    """Claims as the gateway issues them for an admin client, with `changes`; the signing key."""
    key = await gw.container.tokens.keys.signing_key()
    now = int(time.time())
    creds = await gw.app_client("admin")
    claims: dict[str, Any] = {
        "iss": gw.container.tokens.issuer,
        "sub": creds.client_id,
        "aud": gw.container.tokens.audience,
        "exp": now + 600,
        "iat": now,
        "nbf": now,
        "jti": f"forged-{now}-{id(changes)}",
        "client_id": creds.client_id,
        "scope": " ".join(s for s in SCOPES if s != "events:write"),
    } | changes
    return {k: v for k, v in claims.items() if v is not None}, key


async def _signed(gw: Gateway, header: dict[str, Any] | None = None, **changes: Any) -> str:
    claims, key = await _claims(gw, **changes)
    head = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid} | (header or {})
    return jwt.encode(head, claims, key.private, registry=_ES256)


async def _forgeries(gw: Gateway) -> dict[str, str]:
    claims, key = await _claims(gw)
    jwks = (await gw.http.get("/.well-known/jwks.json")).json()
    public = next(k for k in jwks["keys"] if k["kid"] == key.kid)
    pem = ECKey.import_key(public).as_pem(private=False)
    confused = {}
    for name, secret in (("jwk", json.dumps(public).encode()), ("pem", pem)):
        signing_input = _unsigned({"alg": "HS256", "typ": "at+jwt", "kid": key.kid}, claims)
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        confused[f"hs256-{name}"] = f"{signing_input}.{_b64(mac)}"
    impostor = ECKey.generate_key("P-256", parameters={"kid": key.kid})
    now = int(time.time())
    return {
        "alg-none": _unsigned({"alg": "none", "typ": "at+jwt", "kid": key.kid}, claims) + ".",
        "alg-none-kept-signature": _unsigned({"alg": "none", "typ": "at+jwt"}, claims)
        + "."
        + (await _signed(gw)).rsplit(".", 1)[1],
        **confused,
        "another-key-same-kid": jwt.encode(
            {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, claims, impostor, registry=_ES256
        ),
        "expired": await _signed(gw, exp=now - 3600, iat=now - 4500, nbf=now - 4500),
        "wrong-issuer": await _signed(gw, iss="https://attacker.example"),
        "wrong-audience": await _signed(gw, aud="another-api"),
        "no-audience": await _signed(gw, aud=None),
        "no-jti": await _signed(gw, jti=None),
        "not-an-access-token": await _signed(gw, header={"typ": "JWT"}),
        "unknown-kid": await _signed(gw, header={"kid": "no-such-key"}),
        "claims-swapped": await _signed(gw, sub="somebody-else"),
    }


GARBAGE = [
    "Bearer",
    "Bearer ",
    "Bearer garbage",
    "Bearer a.b.c",
    "Bearer ..",
    "Bearer " + "A" * 10_000 + ".B.C",
    "Bearer one two",
    "Basic dXNlcjpwYXNz",
    "bearer' OR 1=1 --",
    "Bearer \u00e9t\u00e9.\u00e9.\u00e9",
    "Token abc",
]


class TestForgedTokens:
    async def test_every_operation_refuses_every_forgery(self, gateway: Gateway) -> None:
        forgeries = await _forgeries(gateway)
        before = await gateway.snapshot()
        for method, path, _ in _operations(gateway):
            for name, token in forgeries.items():
                response = await gateway.http.request(
                    method, path, headers={"authorization": f"Bearer {token}"}
                )
                assert response.status_code == 401, (name, method, path, response.text)
                assert_problem(response, 401, "invalid-token")
                assert 'error="invalid_token"' in response.headers["www-authenticate"]
        await gateway.assert_unchanged(before)

    async def test_every_operation_refuses_garbage_and_no_token(self, gateway: Gateway) -> None:
        before = await gateway.snapshot()
        for method, path, _ in _operations(gateway):
            response = await gateway.http.request(method, path)
            assert_problem(response, 401, "unauthorized")
            for value in GARBAGE:
                response = await gateway.http.request(
                    method, path, headers={"authorization": value.encode("latin-1")}
                )
                assert response.status_code == 401, (value[:40], method, path, response.text)
                assert_problem(response, 401)
                assert response.headers["www-authenticate"].startswith("Bearer realm=")
        await gateway.assert_unchanged(before)

    async def test_the_forgeries_are_well_formed_apart_from_the_flaw(
        self, gateway: Gateway
    ) -> None:
        # The same claims, honestly signed, are admitted: the refusals above are the flaws'.
        token = await _signed(gateway)
        response = await gateway.http.get(
            "/v1/settlements?month=2026-11", headers={"authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text


class TestScopes:
    async def test_every_operation_refuses_a_token_without_its_scope(
        self, gateway: Gateway
    ) -> None:
        partner = await gateway.partner()
        tokens = {"events:write": partner.token}
        for scope in SCOPES:
            if scope != "events:write":
                tokens[scope] = await gateway.app_token(scope)
        before = await gateway.snapshot()
        checked = 0
        for method, path, admitted in _operations(gateway):
            for scope, token in tokens.items():
                if scope in admitted:
                    continue
                response = await gateway.http.request(
                    method, path, headers={"authorization": f"Bearer {token}"}
                )
                assert response.status_code == 403, (scope, method, path, response.text)
                assert_problem(response, 403, "insufficient-scope")
                assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
                checked += 1
        assert checked > 150
        await gateway.assert_unchanged(before)

    @pytest.mark.parametrize(
        ("granted", "asked"),
        [
            ("orders:read", "admin"),
            ("orders:read", "orders:read admin"),
            ("scorecards:read", "settlements:read"),
            ("services:write", "events:write"),
            ("audit:read", "root"),
            ("orders:read", "orders:read' OR '1'='1"),
        ],
    )
    async def test_a_client_cannot_ask_for_more_than_it_was_granted(
        self, gateway: Gateway, granted: str, asked: str
    ) -> None:
        creds = await gateway.app_client(granted)
        before = await gateway.snapshot()
        response = await gateway.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": asked},
            auth=(creds.client_id, creds.client_secret),
        )
        assert_oauth_error(response, 400, "invalid_scope")
        await gateway.assert_unchanged(before)

    async def test_a_partner_cannot_ask_for_admin(self, gateway: Gateway) -> None:
        partner = await gateway.partner()
        response = await gateway.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "events:write admin"},
            auth=(partner.credentials.client_id, partner.credentials.client_secret),
        )
        assert_oauth_error(response, 400, "invalid_scope")


class TestCredentials:
    @pytest.mark.parametrize("method", ["basic", "post"])
    async def test_a_wrong_secret_is_invalid_client(self, gateway: Gateway, method: str) -> None:
        creds = await gateway.app_client("orders:read")
        wrong = creds.client_secret[:-1] + ("A" if creds.client_secret[-1] != "A" else "B")
        form = {"grant_type": "client_credentials"}
        if method == "basic":
            response = await gateway.http.post(
                "/oauth/token", data=form, auth=(creds.client_id, wrong)
            )
        else:
            form |= {"client_id": creds.client_id, "client_secret": wrong}
            response = await gateway.http.post("/oauth/token", data=form)
        assert_oauth_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"].startswith("Basic")

    @pytest.mark.parametrize(
        "client_id", ["' OR 1=1 --", '"; DROP TABLE clients; --', "%", "_", "a\x00b", "x" * 5000]
    )
    async def test_metacharacters_in_the_client_id(self, gateway: Gateway, client_id: str) -> None:
        before = await gateway.snapshot()
        response = await gateway.http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": "' OR '1'='1",
            },
        )
        assert_oauth_error(response, 401, "invalid_client")
        await gateway.assert_unchanged(before)

    async def test_a_revoked_token_is_refused(self, gateway: Gateway) -> None:
        creds = await gateway.app_client("orders:read")
        token = await gateway.token_for(creds)
        revoked = await gateway.http.post(
            "/oauth/revoke", data={"token": token}, auth=(creds.client_id, creds.client_secret)
        )
        assert revoked.status_code == 200
        response = await gateway.http.get(
            "/v1/orders/ord_x", headers={"authorization": f"Bearer {token}"}
        )
        assert_problem(response, 401, "invalid-token")
        assert "revoked" in response.headers["www-authenticate"]

    async def test_revoked_credentials_refuse_their_tokens_and_new_ones(
        self, gateway: Gateway
    ) -> None:
        # A partner of its own: revoking citycar's credentials would disarm the other tests.
        partner_id = gateway.partners["voltgrid"]
        partner = await gateway.partner("voltgrid")
        await revoke_partner_credentials(gateway.container, partner_id)
        order_id = await gateway.order("citycar")
        body = dumps(event(order_id, "rental.order.accepted", partner_id=partner_id))
        before = await gateway.snapshot()
        response = await partner.post(body, partner.headers(body))
        assert_problem(response, 401, "invalid-token")
        assert "credentials have been revoked" in response.headers["www-authenticate"]
        again = await gateway.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(partner.credentials.client_id, partner.credentials.client_secret),
        )
        assert_oauth_error(again, 401, "invalid_client")
        await gateway.assert_unchanged(before)

    async def test_a_partner_token_on_another_partners_route(self, gateway: Gateway) -> None:
        citycar = await gateway.partner("citycar")
        victim = gateway.partners["swiftrent"]
        order_id = await gateway.order("swiftrent")
        body = dumps(event(order_id, "rental.order.accepted", partner_id=victim))
        before = await gateway.snapshot()
        response = await citycar.post(body, citycar.headers(body), path_partner=victim)
        assert_problem(response, 403, "wrong-partner")
        await gateway.assert_unchanged(before)
        assert await gateway.order_status(order_id) == ("dispatched", 0)

    async def test_an_app_token_on_the_webhook_route(self, gateway: Gateway) -> None:
        token = await gateway.app_token("services:write orders:read")
        citycar = await gateway.partner()
        response = await gateway.http.post(
            f"/v1/partners/{citycar.partner_id}/events",
            content=b"{}",
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
        assert_problem(response, 403, "insufficient-scope")
