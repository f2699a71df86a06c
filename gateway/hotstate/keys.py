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
