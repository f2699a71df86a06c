"""Redis hot state, shared by every gateway process.

`PGW_REDIS_URL` names one of three topologies:

- `redis://[[user]:password@]host:port/db` (or `rediss://` for TLS): one server;
- `redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]`: the master
  that the Sentinels know as `service`, found again after a failover (the password is the
  master's; Sentinels are asked without one);
- `redis+cluster://[[user]:password@]host:port[,host:port...]`: a Redis Cluster, its slots
  learned from any of the nodes given.

Every operation touches one key (the claim script included), so a cluster needs no hash tags.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel

from gateway.hotstate.keys import Key

__all__ = ["RedisHotState", "connect_redis"]

_TIMEOUTS: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 2}

# ZRANGEBYSCORE + ZREM in one script, so two processes never claim the same member.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


def _ms(key: Key) -> int | None:
    return None if key.ttl_seconds is None else max(1, int(key.ttl_seconds * 1000))


def _nodes(netloc: str, default_port: int) -> list[tuple[str, int]]:
    hosts = netloc.rpartition("@")[2]
    nodes = []
    for part in hosts.split(","):
        host, _, port = part.strip().rpartition(":") if ":" in part else (part, "", "")
        nodes.append((host.strip("[]"), int(port) if port else default_port))
    if not nodes or not all(host for host, _ in nodes):
        raise ValueError("a Redis URL needs at least one host")
    return nodes


def connect_redis(url: str) -> Redis | RedisCluster:
    """A lazily connecting client for `url` (a server, a Sentinel-watched master, a cluster)."""
    parts = urlsplit(url)
    scheme, _, topology = parts.scheme.partition("+")
    if scheme not in ("redis", "rediss") or topology not in ("", "sentinel", "cluster"):
        raise ValueError(
            f"unsupported Redis URL scheme {parts.scheme!r}: use redis, rediss, "
            "redis+sentinel or redis+cluster"
        )
    if not topology:
        return Redis.from_url(url, health_check_interval=30, **_TIMEOUTS)
    auth: dict[str, Any] = {
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }
    if scheme == "rediss":
        auth["ssl"] = True
    if topology == "cluster":
        nodes = [ClusterNode(host, port) for host, port in _nodes(parts.netloc, 6379)]
        return RedisCluster(startup_nodes=nodes, **auth, **_TIMEOUTS)
    service, _, db = parts.path.strip("/").partition("/")
    if not service:
        raise ValueError("a redis+sentinel URL names the master: redis+sentinel://host:port/name")
    sentinels = _nodes(parts.netloc, 26379)
    sentinel = Sentinel(sentinels, sentinel_kwargs=dict(_TIMEOUTS))  # type: ignore[no-untyped-call]
    client: Redis = sentinel.master_for(service, db=int(db or 0), **auth, **_TIMEOUTS)
    return client


class RedisHotState:
    """Hot state in Redis; every key carries the TTL its `Key` declares."""

    def __init__(self, client: Redis | RedisCluster) -> None:
        self._redis = client
        self._claim_due: Any = client.register_script(_CLAIM_DUE)
        # A cluster client learns the slots on first use; concurrent first commands race in
        # that discovery (redis-py 8 drops some of them), so the first one does it alone.
        self._discovered = not isinstance(client, RedisCluster)
        self._discovery = asyncio.Lock()

    async def _ready(self) -> None:
        if self._discovered:
            return
        async with self._discovery:
            if not self._discovered:
                assert isinstance(self._redis, RedisCluster)
                await self._redis.initialize()
                self._discovered = True

    @classmethod
    def from_url(cls, url: str) -> RedisHotState:
        """Connect lazily to the Redis (server, Sentinel master or cluster) at `url`."""
        return cls(connect_redis(url))

    async def ping(self) -> None:
        """Raise when Redis does not answer."""
        await self._ready()
        await self._redis.ping()

    async def get(self, key: Key) -> bytes | None:
        """The value at `key`, or None."""
        await self._ready()
        value = await self._redis.get(key.name)
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    async def set(self, key: Key, value: bytes) -> None:
        """Store `value` for the key's TTL."""
        await self._ready()
        await self._redis.set(key.name, value, px=_ms(key))

    async def set_if_absent(self, key: Key, value: bytes) -> bool:
        """SET NX with the key's TTL."""
        await self._ready()
        return bool(await self._redis.set(key.name, value, px=_ms(key), nx=True))

    async def delete(self, key: Key) -> None:
        """Remove `key`."""
        await self._ready()
        await self._redis.delete(key.name)

    async def increment(self, key: Key, amount: int = 1) -> int:
        """INCRBY, with the TTL set only by the increment that created the counter."""
        await self._ready()
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
        await self._ready()
        await self._redis.zadd(key.name, {member: due_at})

    async def claim_due(self, key: Key, now: float, limit: int) -> list[str]:
        """Atomically pop members due by `now`."""
        await self._ready()
        due = await self._claim_due(keys=[key.name], args=[now, limit])
        return [m.decode() if isinstance(m, bytes) else str(m) for m in due]

    async def unschedule(self, key: Key, member: str) -> None:
        """ZREM `member`."""
        await self._ready()
        await self._redis.zrem(key.name, member)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
