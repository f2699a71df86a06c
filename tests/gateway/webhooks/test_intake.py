"""POST /v1/partners/{partner_id}/events: refusals, application, replays, dead letters."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tests.gateway.webhooks.conftest import OrderFactory, PartnerFactory, event, order_row

PROBLEM = "application/problem+json"
SWIFTRENT_FIXTURES = Path(__file__).resolve().parents[3] / "adapters/swiftrent/fixtures/webhooks"


def _swiftrent_fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SWIFTRENT_FIXTURES / f"{name}.json").read_text("utf-8"))
    return loaded


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["type"] == f"/problems/{slug}", body
    assert body["detail"]
    return body


async def _events_of(app: FastAPI, order_id: str) -> list[str]:
    async with app.state.container.uow() as uow:
        return [e.event_type for e in await uow.orders.events(order_id)]


async def _status_of(app: FastAPI, order_id: str) -> str:
    async with app.state.container.uow() as uow:
        row = await uow.orders.get(order_id)
    assert row is not None
    return row.status


class TestHappyPath:
    async def test_signed_canonical_event_moves_the_order(
        self, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        order_id = await order("citycar")
        response = await citycar.send(event(order_id, "rental.order.accepted"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "applied" and body["effect"] == "applied"
        assert body["order_status"] == "accepted"
        assert await _status_of(app, order_id) == "accepted"
        assert await _events_of(app, order_id) == ["rental.order.accepted"]

    async def test_same_webhook_id_returns_the_first_answer_and_changes_nothing(
        self, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        order_id = await order("citycar")
        first = await citycar.send(event(order_id, "rental.order.accepted"), webhook_id="msg_same")
        again = await citycar.send(
            event(order_id, "rental.vehicle.delivered"), webhook_id="msg_same"
        )
        assert again.status_code == first.status_code == 200
        assert again.json() == first.json()
        assert again.headers["x-webhook-replay"] == "true"
        assert await _events_of(app, order_id) == ["rental.order.accepted"]
        metrics = (await citycar.http.get("/metrics")).text
        assert 'pgw_webhook_replays_total{partner="citycar"}' in metrics


class TestRefusals:
    async def test_no_token(self, partner: PartnerFactory, order: OrderFactory) -> None:
        citycar = await partner("citycar")
        response = await citycar.http.post(
            "/v1/partners/citycar/events", json={}, headers={"content-type": "application/json"}
        )
        _problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_another_partners_token(
        self, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        await partner("citycar")
        taicover = await partner("taicover")
        order_id = await order("citycar")
        response = await taicover.send(
            event(order_id, "rental.order.accepted"), path_partner="citycar"
        )
        _problem(response, 403, "wrong-partner")

    async def test_token_without_events_write(
        self, partner: PartnerFactory, order: OrderFactory, app_token: object
    ) -> None:
        citycar = await partner("citycar")
        token = await app_token("services:write orders:read")  # type: ignore[operator]
        response = await citycar.send(
            event(await order("citycar"), "rental.order.accepted"), token=token
        )
        body = _problem(response, 403, "insufficient-scope")
        assert "events:write" in str(body["detail"])

    async def test_revoked_token(self, partner: PartnerFactory, order: OrderFactory) -> None:
        citycar = await partner("citycar")
        revoked = await citycar.http.post(
            "/oauth/revoke",
            data={"token": citycar.token},
            auth=(citycar.credentials.client_id, citycar.credentials.client_secret),
        )
        assert revoked.status_code == 200
        response = await citycar.send(event(await order("citycar"), "rental.order.accepted"))
        _problem(response, 401, "invalid-token")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]

    async def test_expired_token(
        self, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        container = app.state.container
        real_clock = container.tokens.clock
        try:
            container.tokens.clock = lambda: real_clock() + timedelta(hours=1)
            response = await citycar.send(event(await order("citycar"), "rental.order.accepted"))
        finally:
            container.tokens.clock = real_clock
        _problem(response, 401, "invalid-token")

    async def test_bad_signature(self, partner: PartnerFactory, order: OrderFactory) -> None:
        citycar = await partner("citycar")
        response = await citycar.send(
            event(await order("citycar"), "rental.order.accepted"),
            headers={"webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
        )
        _problem(response, 401, "invalid-signature")
        assert response.headers["www-authenticate"].startswith("Webhook-Signature")

    async def test_stale_timestamp(self, partner: PartnerFactory, order: OrderFactory) -> None:
        citycar = await partner("citycar")
        response = await citycar.send(
            event(await order("citycar"), "rental.order.accepted"),
            timestamp=datetime.now(UTC) - timedelta(minutes=6),
        )
        _problem(response, 401, "stale-timestamp")

    async def test_missing_signature_headers(self, partner: PartnerFactory) -> None:
        citycar = await partner("citycar")
        response = await citycar.http.post(
            "/v1/partners/citycar/events",
            content=b"{}",
            headers={
                "authorization": f"Bearer {citycar.token}",
                "content-type": "application/json",
            },
        )
        body = _problem(response, 401, "missing-signature")
        assert "webhook-id" in str(body["detail"])

    async def test_overlong_webhook_id_is_refused_not_retried(
        self, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        response = await citycar.send(
            event(await order("citycar"), "rental.order.accepted"), webhook_id="m" * 129
        )
        body = _problem(response, 401, "invalid-webhook-id")
        assert "128" in str(body["detail"])

    async def test_oversize_body(self, partner: PartnerFactory) -> None:
        citycar = await partner("citycar")
        big = b'{"pad": "' + b"x" * 300_000 + b'"}'
        _problem(await citycar.send(big), 413, "payload-too-large")

    async def test_non_json_content_type(self, partner: PartnerFactory) -> None:
        citycar = await partner("citycar")
        response = await citycar.send(
            b"a=b", headers={"content-type": "application/x-www-form-urlencoded"}
        )
        _problem(response, 415, "unsupported-media-type")

    async def test_body_that_is_not_json(self, partner: PartnerFactory) -> None:
        citycar = await partner("citycar")
        _problem(await citycar.send(b"{not json"), 422, "malformed-payload")

    async def test_rate_limited_with_retry_after(
        self, app: FastAPI, partner: PartnerFactory
    ) -> None:
        citycar = await partner("citycar")
        container = app.state.container
        limit = container.registry.get("citycar").webhook.rate_limit_per_minute
        window = int(datetime.now(UTC).timestamp() // 60)
        key = container.keys.webhook_rate_window("citycar", window)
        await container.hot_state.increment(key, limit)
        response = await citycar.send(event(f"ord_{'0' * 26}", "rental.order.accepted"))
        if response.status_code != 429:  # the minute turned over between the two lines
            await container.hot_state.increment(
                container.keys.webhook_rate_window("citycar", window + 1), limit
            )
            response = await citycar.send(event(f"ord_{'0' * 26}", "rental.order.accepted"))
        _problem(response, 429, "rate-limited")
        assert 1 <= int(response.headers["retry-after"]) <= 60

    async def test_unknown_partner(self, partner: PartnerFactory) -> None:
        citycar = await partner("citycar")
        _problem(await citycar.send({}, path_partner="nobody"), 404, "unknown-partner")


class TestApplication:
    async def test_invalid_canonical_event_lists_the_fields(
        self, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        body = event(await order("citycar"), "rental.completed", data={"days": 0})
        problem = _problem(await citycar.send(body), 422, "invalid-event")
        fields = {e["field"] for e in problem["errors"]}  # type: ignore[union-attr]
        assert {"data.days", "data.amount"} <= fields

    async def test_another_partners_order_is_refused(
        self, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        swiftrent_order = await order("swiftrent")
        _problem(
            await citycar.send(event(swiftrent_order, "rental.order.accepted")),
            403,
            "foreign-order",
        )
        assert await _status_of(app, swiftrent_order) == "dispatched"

    async def test_a_reference_of_another_order_is_refused_not_left_pending(
        self, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        first, second = await order("citycar"), await order("citycar")
        reference = f"CC-{uuid.uuid4().hex[:8]}"
        accepted = event(first, "rental.order.accepted") | {"partner_reference": reference}
        assert (await citycar.send(accepted)).status_code == 200
        clash = event(second, "rental.order.accepted") | {"partner_reference": reference}
        problem = _problem(await citycar.send(clash), 409, "partner-reference-in-use")
        assert first in str(problem["detail"])
        assert await _status_of(app, second) == "dispatched"

    async def test_event_naming_another_partner_is_refused(
        self, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        body = event(await order("citycar"), "rental.order.accepted", partner_id="swiftrent")
        _problem(await citycar.send(body), 403, "partner-mismatch")

    async def test_illegal_transition_is_a_409(
        self, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        completed = await order("citycar", status="completed")
        body = event(
            completed, "rental.order.rejected", data={"reason_code": "no_vehicle_available"}
        )
        _problem(await citycar.send(body), 409, "illegal-transition")
        assert await _status_of(app, completed) == "completed"

    async def test_an_older_status_is_kept_as_history_without_moving_back(
        self, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        delivered = await order("citycar", status="delivered")
        response = await citycar.send(event(delivered, "rental.order.accepted"))
        assert response.status_code == 200 and response.json()["effect"] == "stale"
        assert await _status_of(app, delivered) == "delivered"
        assert await _events_of(app, delivered) == ["rental.order.accepted"]

    async def test_unknown_order_is_dead_lettered_then_replayed(
        self, app: FastAPI, partner: PartnerFactory
    ) -> None:
        from contracts import new_order_id
        from gateway.webhooks.replay import replay_dead_letters

        citycar = await partner("citycar")
        order_id = new_order_id()
        response = await citycar.send(event(order_id, "rental.order.accepted"))
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"] == "dead_lettered" and body["reason"] == "unknown_order"
        assert order_id in body["warning"]

        container = app.state.container
        report = await replay_dead_letters(container, partner_id="citycar")
        assert body["dead_letter_id"] in [i for i, _ in report.still_failing]

        async with container.uow() as uow:
            uow.orders.add(order_row(order_id, "citycar"))
            await uow.commit()
        report = await replay_dead_letters(container, partner_id="citycar")
        assert body["dead_letter_id"] in [i for i, _ in report.resolved]
        assert await _status_of(app, order_id) == "accepted"
        again = await replay_dead_letters(container, partner_id="citycar")
        assert body["dead_letter_id"] not in [i for i, _ in again.resolved + again.still_failing]
        assert await _events_of(app, order_id) == ["rental.order.accepted"]

    async def test_any_delivery_order_gives_the_same_result(
        self, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        history = [
            ("rental.order.accepted", "2026-11-22T10:00:00+08:00", 1),
            ("rental.vehicle.dispatched", "2026-11-22T10:05:00+08:00", 2),
            ("rental.vehicle.delivered", "2026-11-22T10:27:00+08:00", 3),
            ("rental.completed", "2026-11-25T10:00:00+08:00", 4),
        ]
        outcomes = set()
        for permutation in itertools.permutations(history):
            order_id = await order("citycar")
            for event_type, at, sequence in permutation:
                response = await citycar.send(event(order_id, event_type, at=at, sequence=sequence))
                assert response.status_code == 200, response.text
            async with app.state.container.uow() as uow:
                row = await uow.orders.get(order_id)
                events = await uow.orders.events(order_id)
            assert row is not None
            outcomes.add((row.status, row.status_sequence, tuple(e.event_type for e in events)))
        assert outcomes == {("completed", 4, tuple(t for t, _, _ in history))}

    async def test_deliveries_are_counted_by_outcome(
        self, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        citycar = await partner("citycar")
        await citycar.send(event(await order("citycar"), "rental.order.accepted"))
        await citycar.send(
            event(await order("citycar"), "rental.order.accepted"),
            headers={"webhook-signature": "v1,x"},
        )
        metrics = (await citycar.http.get("/metrics")).text
        assert 'pgw_webhook_deliveries_total{outcome="applied",partner="citycar"}' in metrics
        assert (
            'pgw_webhook_signature_failures_total{partner="citycar",reason="bad_signature"}'
            in metrics
        )
        assert "pgw_webhook_intake_duration_seconds_bucket" in metrics


class TestCatalog:
    async def test_every_event_type_with_schema_and_example(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/v1/events/catalog")
        assert response.status_code == 200
        entries = {e["type"]: e for e in response.json()}
        for expected in (
            "rental.order.accepted",
            "rental.order.rejected",
            "rental.vehicle.dispatched",
            "rental.vehicle.delivered",
            "rental.completed",
            "order.cancelled",
            "insurance.policy.issued",
            "insurance.claim.opened",
            "insurance.claim.settled",
            "charging.session.started",
            "charging.session.completed",
            "lifestyle.membership.linked",
            "lifestyle.benefit.redeemed",
            "lifestyle.points.exchanged",
        ):
            assert expected in entries
            assert entries[expected]["data_schema"]["type"] == "object"
            assert entries[expected]["example"]["type"] == expected


class TestPartnerDialects:
    async def test_swiftrent_payloads_are_translated_and_applied(
        self, app: FastAPI, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        """SwiftRent posts its own v2 dialect; its adapter turns it into canonical events."""
        swiftrent = await partner("swiftrent")
        order_id = await order("swiftrent")
        for name in ("order_accepted", "car_dispatched", "car_delivered"):
            payload = _swiftrent_fixture(name)
            payload["oemOrderNo"] = order_id
            payload["eventId"] = f"{payload['eventId']}-{order_id}"
            response = await swiftrent.send(payload)
            assert response.status_code == 200, response.text
        assert await _status_of(app, order_id) == "delivered"
        async with app.state.container.uow() as uow:
            row = await uow.orders.get(order_id)
        assert row is not None and row.partner_reference == "SR-20250314-0042"

    async def test_an_untranslatable_payload_is_dead_lettered(
        self, partner: PartnerFactory, order: OrderFactory
    ) -> None:
        swiftrent = await partner("swiftrent")
        response = await swiftrent.send(
            {"eventType": "CAR_TELEPORTED", "oemOrderNo": await order("swiftrent")}
        )
        assert response.status_code == 202, response.text
        assert response.json()["reason"] == "translation_failed"
