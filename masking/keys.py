"""Keyed pseudonyms and reversible tokens, per partner, under rotating master keys.

Each master key has a short key id (``kid``); one is active and signs or
encrypts new values, the others only resolve what they issued. Per-partner
keys are derived with HKDF-SHA256, so a pseudonym or token of one partner
means nothing to another:

- ``pseudonym``: ``psn_<kid>_`` + HMAC-SHA256 of the value under the partner's
  pseudonym key, first 15 bytes, lowercase base32 (24 characters). One-way.
- ``token``: ``tok_<kid>_`` + AES-SIV of the value under the partner's 64-byte
  token key, with the partner id as associated data, urlsafe base64 without
  padding. Deterministic (equal values give equal tokens, so partners can still
  join on them) and reversible by :meth:`MaskingKeys.resolve_token` only.

Errors never quote values, tokens or key material.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidToken", "MaskingKeys"]

MIN_MASTER_BYTES: Final = 32
PSEUDONYM_PREFIX: Final = "psn_"
TOKEN_PREFIX: Final = "tok_"
_KID: Final = re.compile(r"^[a-z0-9]{1,8}$")
_TOKEN_BODY: Final = re.compile(r"^[A-Za-z0-9_-]+$")
_PSEUDONYM_BYTES: Final = 15
_TOKEN_KEY_BYTES: Final = 64  # AES-SIV with AES-256: two 256-bit keys
_CACHE_LIMIT: Final = 1024

# Published on purpose: anyone can recompute its pseudonyms and open its tokens.
_DEVELOPMENT_KID: Final = "dev"
_DEVELOPMENT_MASTER: Final = (
    b"partner-gateway DEVELOPMENT masking key - INSECURE, never in production"
)


class InvalidToken(ValueError):
    """A token that is not one of this partner's, was altered, or names an unknown key."""


class MaskingKeys:
    """Master keys by key id (kid -> at least 32 bytes); one active kid signs/encrypts new values.

    Instances are immutable in their keys; derived per-partner keys are cached.
    """

    __slots__ = ("_active", "_derived", "_masters")

    def __init__(self, masters: Mapping[str, bytes], active: str) -> None:
        """Keep ``masters`` (key id -> master key); ``active`` names the one for new values.

        Raises ``ValueError`` for a key id outside ``^[a-z0-9]{1,8}$``, a master key
        shorter than 32 bytes, or an ``active`` id that is not among ``masters``.
        """
        checked: dict[str, bytes] = {}
        for kid, master in masters.items():
            if not isinstance(kid, str) or not _KID.match(kid):
                raise ValueError("masking key ids must be 1 to 8 lowercase letters or digits")
            if not isinstance(master, bytes) or len(master) < MIN_MASTER_BYTES:
                raise ValueError("masking master keys must be at least 32 bytes")
            checked[kid] = bytes(master)
        if active not in checked:
            raise ValueError("the active masking key id is not among the master keys")
        self._masters: Mapping[str, bytes] = MappingProxyType(checked)
        self._active = active
        self._derived: dict[tuple[str, str, str], bytes] = {}

    @classmethod
    def development(cls) -> MaskingKeys:
        """A fixed, publicly known key ``dev`` for the sandbox and the embedded default.

        INSECURE by design: its pseudonyms and tokens protect nothing. Production
        must configure its own master keys (the gateway refuses to start without).
        """
        return cls({_DEVELOPMENT_KID: _DEVELOPMENT_MASTER}, _DEVELOPMENT_KID)

    @property
    def active(self) -> str:
        """The key id of new pseudonyms and tokens."""
        return self._active

    @property
    def kids(self) -> frozenset[str]:
        """Every key id whose tokens still resolve."""
        return frozenset(self._masters)

    def __repr__(self) -> str:
        """Key ids only, never key material."""
        return f"MaskingKeys(kids={sorted(self._masters)!r}, active={self._active!r})"

    def _key(self, purpose: str, kid: str, partner_id: str, length: int) -> bytes:
        """The partner's key for ``purpose`` derived from master ``kid`` (HKDF-SHA256)."""
        slot = (purpose, kid, partner_id)
        key = self._derived.get(slot)
        if key is None:
            info = purpose.encode("ascii") + b":" + partner_id.encode("utf-8")
            hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info)
            key = hkdf.derive(self._masters[kid])
            if len(self._derived) >= _CACHE_LIMIT:
                self._derived.clear()
            self._derived[slot] = key
        return key

    @staticmethod
    def _check(partner_id: str, value: str) -> None:
        if not isinstance(partner_id, str) or not partner_id:
            raise ValueError("partner id must be a non-empty string")
        if not isinstance(value, str) or not value:
            raise ValueError("only a non-empty string can be masked")

    def pseudonym(self, partner_id: str, value: str) -> str:
        """A keyed, one-way pseudonym of ``value`` for ``partner_id``: ``psn_<kid>_<base32>``.

        Stable for one (partner, value, active kid); unrelated across partners and kids.
        """
        self._check(partner_id, value)
        key = self._key("pseudonym", self._active, partner_id, 32)
        digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()
        text = base64.b32encode(digest[:_PSEUDONYM_BYTES]).decode("ascii").lower()
        return f"{PSEUDONYM_PREFIX}{self._active}_{text}"

    def token(self, partner_id: str, value: str) -> str:
        """A deterministic, reversible token of ``value`` for ``partner_id``: ``tok_<kid>_...``."""
        self._check(partner_id, value)
        key = self._key("token", self._active, partner_id, _TOKEN_KEY_BYTES)
        sealed = AESSIV(key).encrypt(value.encode("utf-8"), [partner_id.encode("utf-8")])
        text = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")
        return f"{TOKEN_PREFIX}{self._active}_{text}"

    def resolve_token(self, partner_id: str, token: str) -> str:
        """The value behind one of ``partner_id``'s tokens, under any kid still held.

        Raises :class:`InvalidToken` for another partner's token, an altered one,
        one whose kid is no longer (or never was) among the master keys, or text
        that is no token at all.
        """
        if not isinstance(partner_id, str) or not partner_id:
            raise InvalidToken("partner id must be a non-empty string")
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise InvalidToken("not a masking token")
        kid, separator, body = token[len(TOKEN_PREFIX) :].partition("_")
        if not separator or not _KID.match(kid) or not _TOKEN_BODY.match(body):
            raise InvalidToken("not a masking token")
        if kid not in self._masters:
            raise InvalidToken("token names an unknown masking key")
        sealed = _urlsafe_b64decode(body)
        if sealed is None:
            raise InvalidToken("not a masking token")
        key = self._key("token", kid, partner_id, _TOKEN_KEY_BYTES)
        plain: bytes | None = None
        with contextlib.suppress(InvalidTag, ValueError):
            plain = AESSIV(key).decrypt(sealed, [partner_id.encode("utf-8")])
        if plain is None:
            raise InvalidToken("token is not this partner's or was altered")
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            pass
        raise InvalidToken("token does not hold text")


def _urlsafe_b64decode(text: str) -> bytes | None:
    """Canonical unpadded urlsafe base64, or None."""
    if len(text) % 4 == 1:
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != text:
        return None  # trailing bits set: another spelling of the same bytes
    return data
