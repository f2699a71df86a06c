"""In-process hot state for the embedded default: one process only, lost on restart."""

from __future__ import annotations

import asyncio
import time

from gateway.hotstate.keys import Key

__all__ = ["MemoryHotState"]


class MemoryHotState:
    """Dictionary-backed hot state with the same semantics as the Redis implementation."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[bytes | int, float | None]] = {}
        self._sets: dict[str, dict[str, float]] = {}
        # One lock makes each compound operation atomic, as a Redis command or script is.
        self._lock = asyncio.Lock()

    def _live(self, name: str) -> bytes | int | None:
        item = self._values.get(name)
        if item is None:
            return None
        value, expires_at = item
        if expires_at is not None and expires_at <= time.monotonic():
            del self._values[name]
            return None
        return value

    @staticmethod
    def _expiry(key: Key) -> float | None:
        return None if key.ttl_seconds is None else time.monotonic() + key.ttl_seconds

    async def ping(self) -> None:
        """Always reachable."""

    async def get(self, key: Key) -> bytes | None:
        """The value at `key`, or None."""
        value = self._live(key.name)
        if isinstance(value, int):
            return str(value).encode()
        return value

    async def set(self, key: Key, value: bytes) -> None:
        """Store `value` for the key's TTL."""
        self._values[key.name] = (value, self._expiry(key))

    async def set_if_absent(self, key: Key, value: bytes) -> bool:
        """Store unless present; True when stored."""
        async with self._lock:
            if self._live(key.name) is not None:
                return False
            self._values[key.name] = (value, self._expiry(key))
            return True

    async def delete(self, key: Key) -> None:
        """Remove `key`."""
        self._values.pop(key.name, None)
        self._sets.pop(key.name, None)

    async def increment(self, key: Key, amount: int = 1) -> int:
        """Add to a fixed-window counter."""
        async with self._lock:
            current = self._live(key.name)
            if current is None:
                self._values[key.name] = (amount, self._expiry(key))
                return amount
            if not isinstance(current, int):
                raise TypeError(f"{key.name} holds a value, not a counter")
            expires_at = self._values[key.name][1]
            self._values[key.name] = (current + amount, expires_at)
            return current + amount

    async def schedule(self, key: Key, member: str, due_at: float) -> None:
        """Add `member` due at `due_at`."""
        self._sets.setdefault(key.name, {})[member] = due_at

    async def claim_due(self, key: Key, now: float, limit: int) -> list[str]:
        """Remove and return members due by `now`, earliest first."""
        async with self._lock:
            members = self._sets.get(key.name, {})
            due = sorted((score, m) for m, score in members.items() if score <= now)[:limit]
            for _, member in due:
                del members[member]
            return [member for _, member in due]

    async def unschedule(self, key: Key, member: str) -> None:
        """Remove `member`."""
        self._sets.get(key.name, {}).pop(member, None)

    async def close(self) -> None:
        """Nothing to release."""
