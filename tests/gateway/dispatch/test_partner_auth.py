"""OAuth 2.0 toward partners: one token shared through Redis, refreshed on a 401."""

from __future__ import annotations

import httpx
import respx

from contracts import OAuth2ClientCredentials, Timeouts
from gateway.dispatch.partner_auth import PartnerOAuth2
from gateway.hotstate import Keyspace, RedisHotState

CONFIG = OAuth2ClientCredentials(
    type="oauth2_client_credentials",
    token_url="https://auth.partner.example/oauth/token",
    client_id="oem-gateway",
    secret_ref="partner_secret",
    scope="bookings:write",
)


async def test_token_is_fetched_once_shared_and_refreshed_on_401(
    redis_url: str, redis_prefix: str
) -> None:
    keys = Keyspace(redis_prefix)
    stores = [RedisHotState.from_url(redis_url) for _ in range(2)]
    auths = [
        PartnerOAuth2("swiftrent", CONFIG, "s3cret", hot_state=s, keys=keys, timeouts=Timeouts())
        for s in stores
    ]
    issued = iter(["tok-1", "tok-2"])
    with respx.mock(assert_all_called=False) as mock:
        token_route = mock.post(CONFIG.token_url).mock(
            side_effect=lambda request: httpx.Response(
                200, json={"access_token": next(issued), "token_type": "Bearer", "expires_in": 3600}
            )
        )
        seen: list[str] = []

        def api(request: httpx.Request) -> httpx.Response:
            seen.append(request.headers["authorization"])
            return httpx.Response(
                401 if request.headers["authorization"] == "Bearer tok-1" and len(seen) > 2 else 200
            )

        mock.get("https://api.partner.example/ping").mock(side_effect=api)
        for auth in auths:  # two gateway processes
            async with httpx.AsyncClient(auth=auth) as http:
                assert (await http.get("https://api.partner.example/ping")).status_code == 200
        assert token_route.call_count == 1
        assert basic_auth_of(token_route.calls[0].request) == "oem-gateway:s3cret"
        # The partner revokes the token: the next call gets a 401, a new token, and succeeds.
        async with httpx.AsyncClient(auth=auths[0]) as http:
            assert (await http.get("https://api.partner.example/ping")).status_code == 200
        assert token_route.call_count == 2
        assert seen == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    for auth, store in zip(auths, stores, strict=True):
        await auth.aclose()
        await store.close()


def basic_auth_of(request: httpx.Request) -> str:
    import base64

    scheme, _, value = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(value).decode()
