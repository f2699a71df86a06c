"""Client secrets, their hashes, webhook secrets and scopes."""

from __future__ import annotations

import base64

import pytest

from gateway.oauth.hashing import (
    hash_secret,
    new_client_secret,
    new_webhook_secret,
    verify_secret,
)
from gateway.oauth.scopes import UnknownScope, check_scopes, format_scopes


class TestSecrets:
    def test_hash_is_self_describing_salted_scrypt(self) -> None:
        secret = new_client_secret()
        first, second = hash_secret(secret), hash_secret(secret)
        assert first.startswith("$scrypt$ln=14,r=8,p=1$")
        assert first != second
        assert secret not in first
        assert verify_secret(secret, first) and verify_secret(secret, second)

    def test_wrong_secret_and_malformed_hashes_do_not_verify(self) -> None:
        stored = hash_secret("right")
        assert not verify_secret("wrong", stored)
        for broken in (
            "",
            "plain",
            "$scrypt$ln=99,r=8,p=1$AAAA$AAAA",
            stored.replace("scrypt", "md5"),
        ):
            assert not verify_secret("right", broken)

    def test_client_secret_has_256_random_bits(self) -> None:
        secrets = {new_client_secret() for _ in range(20)}
        assert len(secrets) == 20 and all(len(s) == 43 for s in secrets)

    def test_webhook_secret_is_standard_webhooks_shaped(self) -> None:
        secret = new_webhook_secret()
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


class TestScopes:
    def test_scopes_are_deduplicated_in_a_stable_order(self) -> None:
        assert check_scopes(["orders:read", "services:write", "orders:read"]) == (
            "services:write",
            "orders:read",
        )
        assert format_scopes(["admin", "events:write"]) == "events:write admin"

    def test_unknown_scopes_are_named(self) -> None:
        with pytest.raises(UnknownScope, match="orders:write"):
            check_scopes(["orders:read", "orders:write"])
