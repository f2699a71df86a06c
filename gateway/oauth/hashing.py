"""Client secrets: generated once, stored only as scrypt hashes, verified in constant time.

A hash is a self-describing PHC string, ``$scrypt$ln=14,r=8,p=1$<salt>$<hash>``
(unpadded base64), so the cost can be raised later without breaking stored
hashes: each is verified with the parameters it was made with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_secret", "new_client_secret", "new_webhook_secret", "verify_secret"]

_LOG2_N = 14
_R = 8
_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
# n=2**14, r=8 needs 16 MiB; OpenSSL's default ceiling is 32 MiB, leave headroom for ln=15.
_MAX_MEMORY = 64 * 1024 * 1024
_MAX_LOG2_N = 16


def new_client_secret() -> str:
    """A fresh client secret (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(secret: str, salt: bytes, log2_n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=2**log2_n, r=r, p=p, maxmem=_MAX_MEMORY, dklen=length
    )


def hash_secret(secret: str) -> str:
    """The scrypt hash of `secret` with a random salt, as a PHC string."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(secret, salt, _LOG2_N, _R, _P, _KEY_BYTES)
    return f"$scrypt$ln={_LOG2_N},r={_R},p={_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """True when `secret` matches the stored hash; False for any malformed hash."""
    try:
        _, scheme, params, salt_text, digest_text = stored.split("$")
        values = dict(item.split("=", 1) for item in params.split(","))
        log2_n, r, p = int(values["ln"]), int(values["r"]), int(values["p"])
        salt, expected = _unb64(salt_text), _unb64(digest_text)
    except (ValueError, KeyError):
        return False
    if scheme != "scrypt" or not (1 <= log2_n <= _MAX_LOG2_N and 1 <= r <= 32 and 1 <= p <= 4):
        return False
    actual = _scrypt(secret, salt, log2_n, r, p, len(expected))
    return hmac.compare_digest(actual, expected)
