"""The hot-state port: the few primitives the gateway's features are built from."""

from __future__ import annotations

from typing import Protocol

from gateway.hotstate.keys import Key

__all__ = ["HotState"]


class HotState(Protocol):
    """Short-lived shared state with TTLs (dedupe, idempotency, buckets, breakers, deadlines).

    Every operation takes a `Key` from `gateway.hotstate.keys`, which carries
    its own TTL, so no caller invents key names or lifetimes.
    """

    async def ping(self) -> None:
        """Raise when the store is unreachable."""

    async def get(self, key: Key) -> bytes | None:
        """The value at `key`, or None when absent or expired."""

    async def set(self, key: Key, value: bytes) -> None:
        """Store `value` at `key` for the key's TTL."""

    async def set_if_absent(self, key: Key, value: bytes) -> bool:
        """Store `value` only if nothing is there; True when this call stored it."""

    async def delete(self, key: Key) -> None:
        """Remove `key` (no error when absent)."""

    async def increment(self, key: Key, amount: int = 1) -> int:
        """Add to a counter; the TTL starts with the first increment (fixed windows)."""

    async def schedule(self, key: Key, member: str, due_at: float) -> None:
        """Add `member` to a time-ordered set, due at the epoch second `due_at`."""

    async def claim_due(self, key: Key, now: float, limit: int) -> list[str]:
        """Atomically remove and return up to `limit` members due at or before `now`.

        With several processes claiming at once, each member goes to exactly one.
        """

    async def unschedule(self, key: Key, member: str) -> None:
        """Remove `member` from a time-ordered set."""

    async def close(self) -> None:
        """Release connections."""
