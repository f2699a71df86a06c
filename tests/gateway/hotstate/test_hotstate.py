"""Hot state: the in-process and Redis implementations behave the same."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from gateway.hotstate import HotState, Key, Keyspace, MemoryHotState, RedisHotState
from gateway.hotstate.redis import connect_redis

from .topologies import redis_cluster, redis_sentinel, unavailable_reason


def _topology_or_skip() -> None:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def sentinel_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private master watched by a private Sentinel."""
    _topology_or_skip()
    with redis_sentinel(tmp_path_factory.mktemp("sentinel")) as url:
        yield url


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private three-master Redis Cluster."""
    _topology_or_skip()
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as url:
        yield url


@pytest.fixture(params=["memory", "redis", "sentinel", "cluster"])
async def hot_state(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[HotState]:
    if request.param == "memory":
        state: HotState = MemoryHotState()
    elif request.param == "redis":
        state = RedisHotState.from_url(redis_url)
    else:
        state = RedisHotState.from_url(request.getfixturevalue(f"{request.param}_url"))
    yield state
    await state.close()


class TestRedisUrls:
    @pytest.mark.parametrize(
        "url",
        ["http://127.0.0.1:6379", "redis+mesh://127.0.0.1", "redis+sentinel://127.0.0.1:26379/"],
    )
    def test_unsupported_urls_are_refused_with_the_reason(self, url: str) -> None:
        with pytest.raises(ValueError, match=r"scheme|names the master"):
            connect_redis(url)

    async def test_a_sentinel_url_finds_the_master_it_names(self, sentinel_url: str) -> None:
        client = connect_redis(sentinel_url)
        try:
            info = await client.info("replication")
            assert info["role"] == "master"
        finally:
            await client.aclose()

    async def test_a_cluster_url_spreads_keys_over_every_master(
        self, cluster_url: str, tmp_path: Path
    ) -> None:
        state = RedisHotState.from_url(cluster_url)
        keys = [Key(f"{tmp_path.name}:spread:{i}", 60) for i in range(30)]
        try:
            for key in keys:
                await state.set(key, b"x")
                assert await state.get(key) == b"x"
        finally:
            await state.close()
        ports = [int(node.rpartition(":")[2]) for node in cluster_url.split("//")[1].split(",")]
        per_node = [redis.Redis(port=port).dbsize() for port in ports]
        assert len(per_node) == 3 and all(count > 0 for count in per_node), per_node


@pytest.fixture
def keys(redis_prefix: str) -> Keyspace:
    return Keyspace(redis_prefix)


def _key(keys: Keyspace, name: str, ttl: float | None = 60) -> Key:
    return Key(keys.prefix + name, ttl)


class TestValues:
    async def test_set_get_delete(self, hot_state: HotState, keys: Keyspace) -> None:
        key = _key(keys, "v")
        assert await hot_state.get(key) is None
        await hot_state.set(key, b"one")
        assert await hot_state.get(key) == b"one"
        await hot_state.delete(key)
        assert await hot_state.get(key) is None

    async def test_values_expire_after_their_ttl(self, hot_state: HotState, keys: Keyspace) -> None:
        key = _key(keys, "short", ttl=0.05)
        await hot_state.set(key, b"x")
        await asyncio.sleep(0.12)
        assert await hot_state.get(key) is None

    async def test_set_if_absent_has_exactly_one_winner(
        self, hot_state: HotState, keys: Keyspace
    ) -> None:
        key = _key(keys, "nx")
        results = await asyncio.gather(
            *(hot_state.set_if_absent(key, str(i).encode()) for i in range(20))
        )
        assert results.count(True) == 1
        winner = results.index(True)
        assert await hot_state.get(key) == str(winner).encode()


class TestCounters:
    async def test_increment_counts_and_expires_with_the_window(
        self, hot_state: HotState, keys: Keyspace
    ) -> None:
        key = _key(keys, "bucket", ttl=0.2)
        counts = [await hot_state.increment(key) for _ in range(3)]
        assert counts == [1, 2, 3]
        await asyncio.sleep(0.3)
        assert await hot_state.increment(key) == 1

    async def test_concurrent_increments_are_not_lost(
        self, hot_state: HotState, keys: Keyspace
    ) -> None:
        key = _key(keys, "concurrent")
        await asyncio.gather(*(hot_state.increment(key) for _ in range(50)))
        assert await hot_state.get(key) == b"50"


class TestSchedule:
    async def test_claims_only_due_members_earliest_first(
        self, hot_state: HotState, keys: Keyspace
    ) -> None:
        key = _key(keys, "deadlines", ttl=None)
        await hot_state.schedule(key, "late", 300.0)
        await hot_state.schedule(key, "second", 200.0)
        await hot_state.schedule(key, "first", 100.0)
        assert await hot_state.claim_due(key, now=250.0, limit=10) == ["first", "second"]
        assert await hot_state.claim_due(key, now=250.0, limit=10) == []
        await hot_state.unschedule(key, "late")
        assert await hot_state.claim_due(key, now=1000.0, limit=10) == []

    async def test_concurrent_claimers_never_share_a_member(
        self, hot_state: HotState, keys: Keyspace
    ) -> None:
        key = _key(keys, "claims", ttl=None)
        for i in range(100):
            await hot_state.schedule(key, f"m{i}", float(i))
        batches = await asyncio.gather(
            *(hot_state.claim_due(key, now=1000.0, limit=7) for _ in range(20))
        )
        claimed = [m for batch in batches for m in batch]
        assert sorted(claimed) == sorted(f"m{i}" for i in range(100))


class TestRedisAcrossConnections:
    async def test_two_clients_see_one_state(self, redis_url: str, keys: Keyspace) -> None:
        first, second = RedisHotState.from_url(redis_url), RedisHotState.from_url(redis_url)
        key = _key(keys, "shared")
        try:
            assert await first.set_if_absent(key, b"a")
            assert not await second.set_if_absent(key, b"b")
            assert await second.get(key) == b"a"
        finally:
            await first.close()
            await second.close()

    async def test_ping_fails_when_redis_is_unreachable(self) -> None:
        state = RedisHotState.from_url("redis://127.0.0.1:1/0")
        try:
            with pytest.raises(Exception, match=r"(?i)connect|refused"):
                await state.ping()
        finally:
            await state.close()
