"""Keyed pseudonyms and reversible tokens: formats, partner separation, rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from masking.keys import InvalidToken, MaskingKeys

K1 = bytes(range(32))
K2 = bytes(range(100, 148))
PARTNER = "swiftrent"
OTHER = "pingan-auto"
PSEUDONYM = re.compile(r"^psn_([a-z0-9]{1,8})_[a-z2-7]{24}$")
TOKEN = re.compile(r"^tok_([a-z0-9]{1,8})_[A-Za-z0-9_-]+$")
# What gateway/logs.py redacts as a masking token.
LOGGED_TOKEN = re.compile(r"tok_[a-z0-9]{1,8}_[A-Za-z0-9_-]{16,}")


def hkdf(master: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


@pytest.fixture
def keys() -> MaskingKeys:
    return MaskingKeys({"k1": K1}, "k1")


class TestConstruction:
    @pytest.mark.parametrize("kid", ["", "K1", "k-1", "toolongid", "k 1", "ключ"])
    def test_key_ids_are_short_lowercase_words(self, kid: str) -> None:
        with pytest.raises(ValueError, match="key ids"):
            MaskingKeys({kid: K1}, kid)

    def test_master_keys_have_at_least_32_bytes(self) -> None:
        with pytest.raises(ValueError, match="32 bytes") as info:
            MaskingKeys({"k1": K1[:31]}, "k1")
        assert repr(K1[:31]) not in str(info.value)

    def test_master_keys_are_bytes(self) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            MaskingKeys({"k1": "x" * 40}, "k1")  # type: ignore[dict-item]

    def test_active_key_must_be_held(self) -> None:
        with pytest.raises(ValueError, match="active"):
            MaskingKeys({"k1": K1}, "k2")

    def test_repr_shows_key_ids_only(self) -> None:
        text = repr(MaskingKeys({"k1": K1, "k2": K2}, "k2"))
        assert "k1" in text and "k2" in text
        assert K1.hex() not in text and repr(K1) not in text

    def test_properties(self) -> None:
        keys = MaskingKeys({"k1": K1, "k2": K2}, "k2")
        assert keys.active == "k2"
        assert keys.kids == {"k1", "k2"}


class TestPseudonym:
    def test_format(self, keys: MaskingKeys) -> None:
        pseudonym = keys.pseudonym(PARTNER, "LSVAU2180N2183294")
        match = PSEUDONYM.match(pseudonym)
        assert match is not None
        assert match.group(1) == "k1"

    def test_matches_the_specified_construction(self, keys: MaskingKeys) -> None:
        # HMAC-SHA256 under HKDF-SHA256(master, info="pseudonym:" + partner), first 15
        # bytes, lowercase unpadded base32.
        key = hkdf(K1, b"pseudonym:" + PARTNER.encode(), 32)
        digest = hmac.new(key, b"13800138000", hashlib.sha256).digest()[:15]
        expected = "psn_k1_" + base64.b32encode(digest).decode().lower().rstrip("=")
        assert keys.pseudonym(PARTNER, "13800138000") == expected

    def test_stable_per_partner(self, keys: MaskingKeys) -> None:
        again = MaskingKeys({"k1": K1}, "k1")
        assert keys.pseudonym(PARTNER, "李晓明") == again.pseudonym(PARTNER, "李晓明")

    def test_differs_across_partners_values_and_keys(self, keys: MaskingKeys) -> None:
        base = keys.pseudonym(PARTNER, "13800138000")
        assert keys.pseudonym(OTHER, "13800138000") != base
        assert keys.pseudonym(PARTNER, "13800138001") != base
        rotated = MaskingKeys({"k1": K1, "k2": K2}, "k2").pseudonym(PARTNER, "13800138000")
        assert rotated.startswith("psn_k2_")
        assert rotated.removeprefix("psn_k2_") != base.removeprefix("psn_k1_")

    def test_never_contains_the_value(self, keys: MaskingKeys) -> None:
        assert "13800138000" not in keys.pseudonym(PARTNER, "13800138000")

    def test_empty_values_and_partners_are_refused(self, keys: MaskingKeys) -> None:
        with pytest.raises(ValueError):
            keys.pseudonym(PARTNER, "")
        with pytest.raises(ValueError):
            keys.pseudonym("", "13800138000")


class TestToken:
    def test_format(self, keys: MaskingKeys) -> None:
        token = keys.token(PARTNER, "粤B12345")
        match = TOKEN.match(token)
        assert match is not None
        assert match.group(1) == "k1"
        assert LOGGED_TOKEN.fullmatch(token)
        assert "=" not in token

    def test_matches_the_specified_construction(self, keys: MaskingKeys) -> None:
        # AES-SIV under HKDF-SHA256(master, info="token:" + partner, 64 bytes), the
        # partner id as associated data, unpadded urlsafe base64.
        token = keys.token(PARTNER, "粤B12345")
        body = token.removeprefix("tok_k1_")
        sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        key = hkdf(K1, b"token:" + PARTNER.encode(), 64)
        assert AESSIV(key).decrypt(sealed, [PARTNER.encode()]) == "粤B12345".encode()

    def test_deterministic(self, keys: MaskingKeys) -> None:
        assert keys.token(PARTNER, "粤B12345") == keys.token(PARTNER, "粤B12345")
        assert keys.token(PARTNER, "粤B12345") != keys.token(PARTNER, "粤B12346")
        assert keys.token(PARTNER, "粤B12345") != keys.token(OTHER, "粤B12345")

    def test_round_trip(self, keys: MaskingKeys) -> None:
        for value in ["粤B12345", "440305198803161235", "a", "x" * 1000, "李晓明 🚗"]:
            assert keys.resolve_token(PARTNER, keys.token(PARTNER, value)) == value

    def test_another_partners_token_is_refused(self, keys: MaskingKeys) -> None:
        token = keys.token(OTHER, "粤B12345")
        with pytest.raises(InvalidToken):
            keys.resolve_token(PARTNER, token)

    def test_tampered_tokens_are_refused(self, keys: MaskingKeys) -> None:
        token = keys.token(PARTNER, "粤B12345")
        prefix, body = token[:7], token[7:]
        for index in range(len(body)):
            flipped = "A" if body[index] != "A" else "B"
            tampered = prefix + body[:index] + flipped + body[index + 1 :]
            with pytest.raises(InvalidToken):
                keys.resolve_token(PARTNER, tampered)
        for tampered in (token[:-1], token + "A", token[:-4], prefix + body[:16]):
            with pytest.raises(InvalidToken):
                keys.resolve_token(PARTNER, tampered)

    @pytest.mark.parametrize(
        "text",
        ["", "tok_", "tok_k1_", "tok_k1", "psn_k1_abc", "hello", "tok_K1_AAAA", "tok_k1_a+b/"],
    )
    def test_what_is_no_token_is_refused(self, keys: MaskingKeys, text: str) -> None:
        with pytest.raises(InvalidToken):
            keys.resolve_token(PARTNER, text)

    def test_unknown_kid_is_refused(self, keys: MaskingKeys) -> None:
        foreign = MaskingKeys({"k9": K1}, "k9").token(PARTNER, "粤B12345")
        with pytest.raises(InvalidToken, match="unknown"):
            keys.resolve_token(PARTNER, foreign)

    def test_same_body_under_another_kid_is_refused(self) -> None:
        keys = MaskingKeys({"k1": K1, "k2": K2}, "k1")
        token = keys.token(PARTNER, "粤B12345")
        with pytest.raises(InvalidToken):
            keys.resolve_token(PARTNER, token.replace("tok_k1_", "tok_k2_"))

    def test_invalid_token_is_a_value_error_that_quotes_nothing(self, keys: MaskingKeys) -> None:
        token = keys.token(OTHER, "粤B12345")
        with pytest.raises(ValueError) as info:
            keys.resolve_token(PARTNER, token)
        assert isinstance(info.value, InvalidToken)
        assert token not in str(info.value)
        assert token[7:] not in str(info.value)
        assert "粤B12345" not in str(info.value)
        assert info.value.__context__ is None

    def test_empty_values_are_refused(self, keys: MaskingKeys) -> None:
        with pytest.raises(ValueError):
            keys.token(PARTNER, "")

    @given(st.text(min_size=1, max_size=200))
    def test_round_trip_any_text(self, value: str) -> None:
        keys = MaskingKeys({"k1": K1}, "k1")
        assert keys.resolve_token(PARTNER, keys.token(PARTNER, value)) == value


class TestRotation:
    def test_old_tokens_resolve_and_new_ones_use_the_new_kid(self) -> None:
        before = MaskingKeys({"k1": K1}, "k1")
        old_token = before.token(PARTNER, "粤B12345")
        after = MaskingKeys({"k1": K1, "k2": K2}, "k2")
        new_token = after.token(PARTNER, "粤B12345")
        assert new_token.startswith("tok_k2_")
        assert new_token != old_token
        assert after.resolve_token(PARTNER, old_token) == "粤B12345"
        assert after.resolve_token(PARTNER, new_token) == "粤B12345"
        assert after.pseudonym(PARTNER, "x").startswith("psn_k2_")

    def test_retired_kids_no_longer_resolve(self) -> None:
        old_token = MaskingKeys({"k1": K1}, "k1").token(PARTNER, "粤B12345")
        retired = MaskingKeys({"k2": K2}, "k2")
        with pytest.raises(InvalidToken):
            retired.resolve_token(PARTNER, old_token)


class TestDevelopment:
    def test_development_keys_work(self) -> None:
        keys = MaskingKeys.development()
        assert keys.active == "dev"
        token = keys.token(PARTNER, "粤B12345")
        assert token.startswith("tok_dev_")
        assert keys.resolve_token(PARTNER, token) == "粤B12345"
        assert keys.pseudonym(PARTNER, "x").startswith("psn_dev_")

    def test_development_keys_are_fixed(self) -> None:
        first, second = MaskingKeys.development(), MaskingKeys.development()
        assert first.pseudonym(PARTNER, "x") == second.pseudonym(PARTNER, "x")
        assert second.resolve_token(PARTNER, first.token(PARTNER, "x")) == "x"
