"""Relay numbers: binding, reuse, concurrency, exhaustion, release, resolution."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import new_order_id
from gateway.persistence.db import create_engine
from gateway.privacy.pool import parse_number_pool
from gateway.privacy.relays import (
    RelayPoolExhausted,
    bind_relay,
    release_relays,
    resolve_relay,
)
from gateway.settings import Settings
from tests.gateway.conftest import AccessToken, IssueCredentials
from tests.gateway.privacy.conftest import NOW, make_pool, uow_of

PHONE = "13800138000"
OTHER_PHONE = "13900139000"


def _with_pool(settings: Settings, pool: str) -> Settings:
    return settings.model_copy(update={"relay_number_pool": pool})


async def _bind(
    engine: AsyncEngine,
    settings: Settings,
    order_id: str,
    real_number: str = PHONE,
    partner_id: str = "citycar",
) -> str:
    async with uow_of(engine) as uow:
        number = await bind_relay(
            uow,
            settings,
            order_id=order_id,
            partner_id=partner_id,
            real_number=real_number,
            now=NOW,
        )
        await uow.commit()
    return number


async def _release(engine: AsyncEngine, order_id: str) -> int:
    async with uow_of(engine) as uow:
        released = await release_relays(uow, order_id=order_id, now=NOW + timedelta(hours=2))
        await uow.commit()
    return released


class TestPool:
    def test_ranges_and_single_numbers(self) -> None:
        pool = parse_number_pool("17100000000-17100000002, 17100000042,0099-0100")
        assert list(pool) == [
            "17100000000",
            "17100000001",
            "17100000002",
            "17100000042",
            "0099",
            "0100",
        ]
        assert len(pool) == 6 and pool[3] == "17100000042" and pool[-1] == "0100"
        assert "17100000001" in pool and "17100000003" not in pool and "099" not in pool

    def test_a_large_range_is_not_expanded(self) -> None:
        pool = parse_number_pool("17000000000-17999999999,1710")
        assert len(pool) == 10**9 + 1 and pool[10**9 - 1] == "17999999999"
        assert pool[10**9] == "1710" and "17123456789" in pool
        with pytest.raises(ValueError, match="more than"):
            parse_number_pool("00000000000000000000-99999999999999999999")

    @pytest.mark.parametrize(
        "text",
        ["", " , ", "171-17", "12a", "17100000002-17100000001", "1-5,3", "1,,2", "1" * 21],
    )
    def test_invalid_pools_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError):
            parse_number_pool(text)

    def test_settings_validate_the_pool(self) -> None:
        with pytest.raises(ValueError, match="relay number pool"):
            Settings(relay_number_pool="17100000009-17100000000")
        assert Settings().relay_number_pool == "17100000000-17100009999"


class TestBinding:
    async def test_same_order_and_number_reuse_one_binding(
        self, engine: AsyncEngine, privacy_settings: Settings
    ) -> None:
        order_id = new_order_id()
        first = await _bind(engine, privacy_settings, order_id)
        assert first in parse_number_pool(privacy_settings.relay_number_pool)
        assert await _bind(engine, privacy_settings, order_id) == first
        other = await _bind(engine, privacy_settings, order_id, OTHER_PHONE)
        assert other != first
        # Another order disclosing the same phone gets a number of its own.
        assert await _bind(engine, privacy_settings, new_order_id()) not in {first, other}

    async def test_resolve_gives_the_open_binding(
        self, engine: AsyncEngine, privacy_settings: Settings
    ) -> None:
        order_id = new_order_id()
        number = await _bind(engine, privacy_settings, order_id, partner_id="swiftrent")
        async with uow_of(engine) as uow:
            binding = await resolve_relay(uow, number)
            unbound = await resolve_relay(uow, "19999999999")
        assert binding is not None and unbound is None
        assert (binding.virtual_number, binding.real_number) == (number, PHONE)
        assert (binding.order_id, binding.partner_id) == (order_id, "swiftrent")
        assert binding.bound_at == NOW

    async def test_exhausted_pool_is_a_503(
        self, engine: AsyncEngine, privacy_settings: Settings
    ) -> None:
        settings = _with_pool(privacy_settings, make_pool(2))
        numbers = {await _bind(engine, settings, new_order_id()) for _ in range(2)}
        assert numbers == set(parse_number_pool(settings.relay_number_pool))
        with pytest.raises(RelayPoolExhausted) as exhausted:
            await _bind(engine, settings, new_order_id())
        assert exhausted.value.status == 503
        assert exhausted.value.slug == "relay-pool-exhausted"
        assert "Retry-After" in exhausted.value.headers

    async def test_release_returns_the_number_to_the_pool(
        self, engine: AsyncEngine, privacy_settings: Settings
    ) -> None:
        settings = _with_pool(privacy_settings, make_pool(1))
        first_order, second_order = new_order_id(), new_order_id()
        number = await _bind(engine, settings, first_order)
        with pytest.raises(RelayPoolExhausted):
            await _bind(engine, settings, second_order)
        assert await _release(engine, first_order) == 1
        assert await _release(engine, first_order) == 0
        async with uow_of(engine) as uow:
            assert await resolve_relay(uow, number) is None
        assert await _bind(engine, settings, second_order, OTHER_PHONE) == number
        async with uow_of(engine) as uow:
            binding = await resolve_relay(uow, number)
            history = await uow.relays.of_order(first_order)
        assert binding is not None and binding.order_id == second_order
        assert binding.real_number == OTHER_PHONE
        assert [row.released_at for row in history] == [NOW + timedelta(hours=2)]

    async def test_a_mostly_full_pool_still_finds_its_free_number(
        self, engine: AsyncEngine, privacy_settings: Settings
    ) -> None:
        settings = _with_pool(privacy_settings, make_pool(40))
        numbers = [await _bind(engine, settings, new_order_id()) for _ in range(40)]
        assert len(set(numbers)) == 40
        with pytest.raises(RelayPoolExhausted):
            await _bind(engine, settings, new_order_id())

    async def test_concurrent_binds_get_distinct_numbers(
        self, postgres_url: str, privacy_settings: Settings
    ) -> None:
        engine = create_engine(postgres_url, pool_size=25)
        try:
            # As many binders as numbers: every one of them gets its own.
            settings = _with_pool(privacy_settings, make_pool(20))
            numbers = await asyncio.gather(
                *(_bind(engine, settings, new_order_id()) for _ in range(20))
            )
            assert len(set(numbers)) == 20
            # The same order and phone bound concurrently share one number.
            settings = _with_pool(privacy_settings, make_pool(20))
            order_id = new_order_id()
            same = await asyncio.gather(*(_bind(engine, settings, order_id) for _ in range(3)))
            assert len(set(same)) == 1
        finally:
            await engine.dispose()


class TestResolveApi:
    async def test_resolves_an_open_binding_and_404s_otherwise(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        container = app.state.container
        settings = _with_pool(container.settings, make_pool(10))
        order_id = new_order_id()
        async with container.uow() as uow:
            number = await bind_relay(
                uow, settings, order_id=order_id, partner_id="citycar", real_number=PHONE, now=NOW
            )
            await uow.commit()
        creds = await issue_credentials(app, name="telephony", scopes="relay:resolve")
        headers = {"authorization": f"Bearer {await access_token(creds)}"}
        response = await client.get(f"/v1/relay-numbers/{number}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "virtual_number": number,
            "real_number": PHONE,
            "order_id": order_id,
            "partner_id": "citycar",
            "bound_at": "2030-05-20T08:30:00Z",
        }
        async with container.uow() as uow:
            await release_relays(uow, order_id=order_id, now=NOW)
            await uow.commit()
        gone = await client.get(f"/v1/relay-numbers/{number}", headers=headers)
        assert gone.status_code == 404 and gone.json()["type"] == "/problems/not-found"
        assert (await client.get("/v1/relay-numbers/abc", headers=headers)).status_code == 422

    async def test_needs_the_relay_scope(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        issue_credentials: IssueCredentials,
        access_token: AccessToken,
    ) -> None:
        creds = await issue_credentials(app, name="oem", scopes="services:write orders:read admin")
        headers = {"authorization": f"Bearer {await access_token(creds)}"}
        response = await client.get("/v1/relay-numbers/17100000001", headers=headers)
        assert response.status_code == 403
        assert response.json()["type"] == "/problems/insufficient-scope"
