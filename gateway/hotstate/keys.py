"""Every hot-state key the gateway writes, each with its TTL beside it.

A feature that needs a new key adds a method here; nothing else builds key
strings, so the whole keyspace and its lifetimes can be read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Key", "Keyspace"]


@dataclass(frozen=True, slots=True)
class Key:
    """A fully prefixed key and how long it lives (None: until removed)."""

    name: str
    ttl_seconds: float | None


class Keyspace:
    """Builds the gateway's keys under one prefix (per deployment, per test run)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _key(self, ttl_seconds: float | None, *parts: str) -> Key:
        return Key(self.prefix + ":".join(parts), ttl_seconds)

    def readiness_probe(self) -> Key:
        """Written and read by `/readyz` to prove the store accepts writes; 10 s."""
        return self._key(10, "readyz")

    def revoked_token(self, jti: str, ttl_seconds: float) -> Key:
        """A revoked access token's id, kept until the token would have expired anyway."""
        return self._key(max(ttl_seconds, 1.0), "oauth", "revoked", jti)

    def webhook_rate_window(self, partner_id: str, window_start: int) -> Key:
        """Deliveries counted in one partner's fixed one-minute window; 120 s."""
        return self._key(120, "webhooks", "rate", partner_id, str(window_start))

    def idempotency_answer(self, client_id: str, key_digest: str, ttl_seconds: float) -> Key:
        """A client's Idempotency-Key: the request's hash and the stored answer (24 h default)."""
        return self._key(ttl_seconds, "idem", "answer", client_id, key_digest)

    def idempotency_lock(self, client_id: str, key_digest: str, ttl_seconds: float) -> Key:
        """Held while the first request with a key runs; expires after the dispatch deadline."""
        return self._key(ttl_seconds, "idem", "lock", client_id, key_digest)

    def breaker_failures(self, partner_id: str, window_start: int, window_seconds: float) -> Key:
        """Failed calls to a partner in one fixed window of its breaker policy."""
        return self._key(window_seconds * 2, "breaker", partner_id, "failures", str(window_start))

    def breaker_state(self, partner_id: str, ttl_seconds: float) -> Key:
        """A partner's tripped circuit, ``open:<until epoch s>``; absent while closed."""
        return self._key(ttl_seconds, "breaker", partner_id, "state")

    def breaker_probe(self, partner_id: str, ttl_seconds: float) -> Key:
        """The one trial call allowed through a half-open circuit, across all processes."""
        return self._key(ttl_seconds, "breaker", partner_id, "probe")

    def partner_token(self, partner_id: str, ttl_seconds: float) -> Key:
        """The access token the partner's OAuth server gave us, until shortly before it expires."""
        return self._key(ttl_seconds, "partner", partner_id, "token")

    def console_session(self, session_id_digest: str, ttl_seconds: float) -> Key:
        """A signed-in console session (user, role, CSRF token), until it expires."""
        return self._key(ttl_seconds, "console", "session", session_id_digest)
