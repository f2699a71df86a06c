"""``Idempotency-Key`` on every POST: the same key and body get the stored answer.

Follows the IETF ``Idempotency-Key`` header draft: a missing key is a 400, a
key reused with a different body a 422, and a key whose first request is
still running a 409 (retry shortly). Keys are scoped to the OAuth client and
kept in hot state (``PGW_IDEMPOTENCY_TTL_HOURS``, 24 h by default) so every
gateway process sees them; orders also keep their key in the database, so a
lost Redis cannot turn a retry into a second order.

The fingerprint of a request is the SHA-256 of its method, path and JSON body
with keys sorted: the same JSON sent with other spacing or key order is the
same request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

import orjson

from gateway.hotstate import HotState, Keyspace
from gateway.problems import Problem

__all__ = [
    "IDEMPOTENCY_HEADER",
    "Answer",
    "Claim",
    "IdempotencyKeys",
    "fingerprint",
    "require_key",
]

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
_MAX_KEY: Final = 255


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer as stored for replay."""

    status: int
    body: dict[str, Any]

    @property
    def is_problem(self) -> bool:
        """Whether the answer is a problem document."""
        return self.status >= 400


@dataclass(frozen=True, slots=True)
class Claim:
    """The right to run the first request with a key."""

    client_id: str
    digest: str
    fingerprint: str
    key: str


def fingerprint(method: str, path: str, body: Any) -> str:
    """The request's identity for key reuse checks."""
    canonical = orjson.dumps([method.upper(), path, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def require_key(value: str | None) -> str:
    """The header's value, or a 400 problem saying what a key must be."""
    if value is None or not value.strip():
        raise Problem(
            f"Send an {IDEMPOTENCY_HEADER} header (a unique value per intended operation, "
            "such as a UUID) so a retried request cannot act twice.",
            slug="idempotency-key-missing",
            title="Idempotency-Key required",
            status=400,
        )
    key = value.strip()
    if len(key) > _MAX_KEY or not key.isprintable() or not key.isascii():
        raise Problem(
            f"{IDEMPOTENCY_HEADER} must be 1 to {_MAX_KEY} printable ASCII characters.",
            slug="idempotency-key-invalid",
            title="Idempotency-Key is invalid",
            status=400,
        )
    return key


def _mismatch(key: str) -> Problem:
    return Problem(
        f"{IDEMPOTENCY_HEADER} {key!r} was used with a different request body; "
        "use a new key for a different request.",
        slug="idempotency-key-reused",
        title="Idempotency-Key reused with another request",
        status=422,
    )


class IdempotencyKeys:
    """The key store: claims, stored answers, conflicts."""

    def __init__(
        self, hot_state: HotState, keys: Keyspace, *, ttl_seconds: float, lock_seconds: float
    ) -> None:
        self._hot = hot_state
        self._keys = keys
        self._ttl = ttl_seconds
        self._lock = lock_seconds

    async def begin(self, client_id: str, key: str, print_: str) -> Answer | Claim:
        """The stored answer for a replay, or the claim to run the request now."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        stored = await self._hot.get(self._keys.idempotency_answer(client_id, digest, self._ttl))
        if stored is not None:
            record = orjson.loads(stored)
            if record["fingerprint"] != print_:
                raise _mismatch(key)
            return Answer(status=int(record["status"]), body=record["body"])
        lock = self._keys.idempotency_lock(client_id, digest, self._lock)
        if not await self._hot.set_if_absent(lock, print_.encode()):
            holder = await self._hot.get(lock)
            if holder is not None and holder.decode() != print_:
                raise _mismatch(key)
            raise Problem(
                f"A request with {IDEMPOTENCY_HEADER} {key!r} is still being processed; "
                "retry in a moment to get its answer.",
                slug="idempotency-key-in-use",
                title="Request with this Idempotency-Key in progress",
                status=409,
                headers={"Retry-After": "1"},
            )
        return Claim(client_id=client_id, digest=digest, fingerprint=print_, key=key)

    async def finish(self, claim: Claim, answer: Answer) -> None:
        """Store the answer for replays and release the claim."""
        record = {"fingerprint": claim.fingerprint, "status": answer.status, "body": answer.body}
        await self._hot.set(
            self._keys.idempotency_answer(claim.client_id, claim.digest, self._ttl),
            orjson.dumps(record),
        )
        await self.release(claim)

    async def release(self, claim: Claim) -> None:
        """Give the claim up without an answer (the request changed nothing)."""
        await self._hot.delete(self._keys.idempotency_lock(claim.client_id, claim.digest, 1))
