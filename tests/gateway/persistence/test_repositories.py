"""Repositories against SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.persistence.db import create_session_factory
from gateway.persistence.tables import ClientRow, DeadLetterRow, OrderEventRow, OrderRow
from gateway.persistence.uow import UnitOfWork

NOW = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def _uow(engine: AsyncEngine) -> UnitOfWork:
    return UnitOfWork(create_session_factory(engine))


def _order(partner: str = "swiftrent", reference: str | None = None) -> OrderRow:
    return OrderRow(
        id=f"ord_{uuid.uuid4().hex}",
        category="rental",
        operation="courtesy_car.book",
        partner_id=partner,
        partner_reference=reference,
        customer_id="cus_1",
        status="dispatched",
        status_occurred_at=NOW,
        status_sequence=0,
        request={"days": 3, "city": "深圳"},
        result=None,
        routing={"chosen": partner, "skipped": []},
        created_at=NOW,
        updated_at=NOW,
    )


def _event(order_id: str, event_id: str, at: datetime, sequence: int = 0) -> OrderEventRow:
    return OrderEventRow(
        order_id=order_id,
        event_id=event_id,
        event_type="rental.vehicle.delivered",
        occurred_at=at,
        sequence=sequence,
        source="webhook",
        inbox_id=None,
        data={"eta_minutes": 25},
        moved_state=True,
        recorded_at=NOW,
    )


class TestOrders:
    async def test_order_round_trips_with_json_and_aware_datetimes(
        self, engine: AsyncEngine
    ) -> None:
        order = _order(reference=f"SR-{uuid.uuid4().hex[:8]}")
        async with _uow(engine) as uow:
            uow.orders.add(order)
            await uow.commit()
        async with _uow(engine) as uow:
            loaded = await uow.orders.get(order.id)
        assert loaded is not None
        assert loaded.request == {"days": 3, "city": "深圳"}
        assert loaded.created_at == NOW and loaded.created_at.tzinfo is not None

    async def test_lookup_by_partner_reference(self, engine: AsyncEngine) -> None:
        reference = f"SR-{uuid.uuid4().hex[:8]}"
        order = _order(reference=reference)
        async with _uow(engine) as uow:
            uow.orders.add(order)
            await uow.commit()
        async with _uow(engine) as uow:
            found = await uow.orders.by_partner_reference("swiftrent", reference)
            other = await uow.orders.by_partner_reference("citycar", reference)
        assert found is not None and found.id == order.id
        assert other is None

    async def test_partner_reference_is_unique_per_partner(self, engine: AsyncEngine) -> None:
        reference = f"SR-{uuid.uuid4().hex[:8]}"
        async with _uow(engine) as uow:
            uow.orders.add(_order(reference=reference))
            uow.orders.add(_order(partner="citycar", reference=reference))
            await uow.commit()
        with pytest.raises(IntegrityError):
            async with _uow(engine) as uow:
                uow.orders.add(_order(reference=reference))
                await uow.commit()

    async def test_event_recorded_once_and_listed_in_event_time_order(
        self, engine: AsyncEngine
    ) -> None:
        order = _order()
        async with _uow(engine) as uow:
            uow.orders.add(order)
            await uow.commit()
        async with _uow(engine) as uow:
            assert await uow.orders.add_event(
                _event(order.id, "evt-late", NOW + timedelta(minutes=30))
            )
            assert await uow.orders.add_event(
                _event(order.id, "evt-early", NOW + timedelta(minutes=5))
            )
            assert not await uow.orders.add_event(_event(order.id, "evt-late", NOW))
            await uow.commit()
        async with _uow(engine) as uow:
            events = await uow.orders.events(order.id)
        assert [e.event_id for e in events] == ["evt-early", "evt-late"]

    async def test_uncommitted_changes_are_rolled_back(self, engine: AsyncEngine) -> None:
        order = _order()
        async with _uow(engine) as uow:
            uow.orders.add(order)
        async with _uow(engine) as uow:
            assert await uow.orders.get(order.id) is None

    async def test_orders_between_dates(self, engine: AsyncEngine) -> None:
        partner = f"p{uuid.uuid4().hex[:8]}"
        inside, outside = _order(partner=partner), _order(partner=partner)
        outside.created_at = NOW - timedelta(days=40)
        async with _uow(engine) as uow:
            uow.orders.add(inside)
            uow.orders.add(outside)
            await uow.commit()
        async with _uow(engine) as uow:
            found = await uow.orders.for_partner_between(
                partner, NOW - timedelta(days=1), NOW + timedelta(days=1)
            )
        assert [o.id for o in found] == [inside.id]


class TestInbox:
    async def test_same_webhook_id_is_stored_once(self, engine: AsyncEngine) -> None:
        webhook_id = f"msg_{uuid.uuid4().hex}"
        async with _uow(engine) as uow:
            first = await uow.inbox.store(
                partner_id="voltgrid",
                webhook_id=webhook_id,
                headers={"webhook-id": webhook_id},
                body=b'{"a":1}',
                received_at=NOW,
            )
            await uow.commit()
        async with _uow(engine) as uow:
            second = await uow.inbox.store(
                partner_id="voltgrid",
                webhook_id=webhook_id,
                headers={},
                body=b'{"a":2}',
                received_at=NOW,
            )
            await uow.commit()
        assert first.created and not second.created
        assert second.row.id == first.row.id and second.row.body == b'{"a":1}'

    async def test_same_webhook_id_of_another_partner_is_separate(
        self, engine: AsyncEngine
    ) -> None:
        webhook_id = f"msg_{uuid.uuid4().hex}"
        async with _uow(engine) as uow:
            a = await uow.inbox.store(
                partner_id="voltgrid",
                webhook_id=webhook_id,
                headers={},
                body=b"{}",
                received_at=NOW,
            )
            b = await uow.inbox.store(
                partner_id="starcharge",
                webhook_id=webhook_id,
                headers={},
                body=b"{}",
                received_at=NOW,
            )
            await uow.commit()
        assert a.created and b.created and a.row.id != b.row.id

    async def test_concurrent_stores_of_one_webhook_id_create_one_row(
        self, engine: AsyncEngine
    ) -> None:
        webhook_id = f"msg_{uuid.uuid4().hex}"

        async def deliver() -> bool:
            async with _uow(engine) as uow:
                stored = await uow.inbox.store(
                    partner_id="meilife",
                    webhook_id=webhook_id,
                    headers={},
                    body=b"{}",
                    received_at=NOW,
                )
                await uow.commit()
                return stored.created

        outcomes = await asyncio.gather(*(deliver() for _ in range(8)))
        assert outcomes.count(True) == 1

    async def test_outcome_is_remembered_and_unprocessed_rows_are_claimable(
        self, engine: AsyncEngine
    ) -> None:
        partner = f"p{uuid.uuid4().hex[:8]}"
        async with _uow(engine) as uow:
            done = await uow.inbox.store(
                partner_id=partner, webhook_id="a", headers={}, body=b"{}", received_at=NOW
            )
            pending = await uow.inbox.store(
                partner_id=partner, webhook_id="b", headers={}, body=b"{}", received_at=NOW
            )
            await uow.inbox.record_outcome(
                done.row.id,
                status="applied",
                response_status=202,
                response_body={"status": "applied"},
                processed_at=NOW,
            )
            await uow.commit()
        async with _uow(engine) as uow:
            waiting = await uow.inbox.unprocessed(
                received_before=NOW + timedelta(seconds=1), limit=1000
            )
            stored = await uow.inbox.get(done.row.id)
        assert pending.row.id in waiting
        assert done.row.id not in waiting
        assert stored is not None and stored.response_body == {"status": "applied"}

    async def test_only_one_concurrent_claim_wins(self, engine: AsyncEngine) -> None:
        async with _uow(engine) as uow:
            stored = await uow.inbox.store(
                partner_id="voltgrid",
                webhook_id=f"msg_{uuid.uuid4().hex}",
                headers={},
                body=b"{}",
                received_at=NOW,
            )
            await uow.commit()

        async def claim() -> bool:
            async with _uow(engine) as uow:
                won = await uow.inbox.claim(stored.row.id) is not None
                await asyncio.sleep(0.05)  # hold the claim while the others try
                await uow.commit()
                return won

        assert (await asyncio.gather(*(claim() for _ in range(5)))).count(True) == 1


class TestDeadLetters:
    async def test_unresolved_until_a_successful_replay(self, engine: AsyncEngine) -> None:
        partner = f"p{uuid.uuid4().hex[:8]}"
        letter = DeadLetterRow(
            partner_id=partner,
            reason="unknown_order",
            detail="no order SR-1",
            payload=b'{"order":"SR-1"}',
            created_at=NOW,
            replay_count=0,
        )
        async with _uow(engine) as uow:
            uow.dead_letters.add(letter)
            await uow.commit()
        async with _uow(engine) as uow:
            await uow.dead_letters.record_replay(letter.id, at=NOW, resolved=False)
            await uow.commit()
        async with _uow(engine) as uow:
            still = await uow.dead_letters.unresolved(partner_id=partner)
            assert [x.replay_count for x in still] == [1]
            await uow.dead_letters.record_replay(letter.id, at=NOW, resolved=True)
            await uow.commit()
        async with _uow(engine) as uow:
            assert await uow.dead_letters.unresolved(partner_id=partner) == []
            assert (
                await uow.dead_letters.unresolved(partner_id=partner, since=NOW + timedelta(days=1))
                == []
            )


class TestClients:
    async def test_active_clients_of_a_partner(self, engine: AsyncEngine) -> None:
        partner = f"p{uuid.uuid4().hex[:8]}"
        rows = [
            ClientRow(
                client_id=f"cli_{uuid.uuid4().hex}",
                name=partner,
                kind="partner",
                partner_id=partner,
                scopes=["events:write"],
                secret_hash="scrypt$...",
                status=status,
                created_at=NOW,
            )
            for status in ("active", "revoked")
        ]
        async with _uow(engine) as uow:
            for row in rows:
                uow.clients.add(row)
            await uow.commit()
        async with _uow(engine) as uow:
            active = await uow.clients.active_for_partner(partner)
            every = await uow.clients.for_partner(partner)
            one = await uow.clients.get(rows[0].client_id)
        assert [c.client_id for c in active] == [rows[0].client_id]
        assert len(every) == 2
        assert one is not None and one.scopes == ["events:write"]
