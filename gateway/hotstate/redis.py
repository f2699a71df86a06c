"""Redis hot state, shared by every gateway process."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from gateway.hotstate.keys import Key

__all__ = ["RedisHotState"]

# ZRANGEBYSCORE + ZREM in one script, so two processes never claim the same member.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


def _ms(key: Key) -> int | None:
    return None if key.ttl_seconds is None else max(1, int(key.ttl_seconds * 1000))


class RedisHotState:
    """Hot state in Redis; every key carries the TTL its `Key` declares."""

    def __init__(self, client: Redis) -> None:
        self._redis = client
        self._claim_due: Any = client.register_script(_CLAIM_DUE)

    @classmethod
    def from_url(cls, url: str) -> RedisHotState:
        """Connect lazily to the Redis at `url`."""
        client = Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=30
        )
        return cls(client)

    async def ping(self) -> None:
        """Raise when Redis does not answer."""
        await self._redis.ping()

    async def get(self, key: Key) -> bytes | None:
        """The value at `key`, or None."""
        value = await self._redis.get(key.name)
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    async def set(self, key: Key, value: bytes) -> None:
        """Store `value` for the key's TTL."""
        await self._redis.set(key.name, value, px=_ms(key))

    async def set_if_absent(self, key: Key, value: bytes) -> bool:
        """SET NX with the key's TTL."""
        return bool(await self._redis.set(key.name, value, px=_ms(key), nx=True))

    async def delete(self, key: Key) -> None:
        """Remove `key`."""
        await self._redis.delete(key.name)

    async def increment(self, key: Key, amount: int = 1) -> int:
        """INCRBY, with the TTL set only by the increment that created the counter."""
        # One round trip without MULTI/EXEC: PEXPIRE NX only sets the TTL the first time,
        # so the pair needs no transaction to be correct.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incrby(key.name, amount)
            ttl = _ms(key)
            if ttl is not None:
                pipe.pexpire(key.name, ttl, nx=True)
            results = await pipe.execute()
        return int(results[0])

    async def schedule(self, key: Key, member: str, due_at: float) -> None:
        """ZADD `member` with score `due_at`."""
        await self._redis.zadd(key.name, {member: due_at})

    async def claim_due(self, key: Key, now: float, limit: int) -> list[str]:
        """Atomically pop members due by `now`."""
        due = await self._claim_due(keys=[key.name], args=[now, limit])
        return [m.decode() if isinstance(m, bytes) else str(m) for m in due]

    async def unschedule(self, key: Key, member: str) -> None:
        """ZREM `member`."""
        await self._redis.zrem(key.name, member)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
