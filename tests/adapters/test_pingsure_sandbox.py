"""The PingSure adapter against the PingSure sandbox, with the agreement's real HMAC auth."""

import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI, Request
from standardwebhooks.webhooks import Webhook

from adapters import (
    OutboundCall,
    PartnerAuthFailed,
    PartnerRateLimited,
    PartnerRejected,
    PartnerUnavailable,
)
from adapters.auth import HmacSigner
from adapters.pingsure import PingSureApi, PingSureWebhooks
from adapters.pingsure.outbound import DatePeriod
from adapters.sandbox import (
    GatewayLink,
    Sandbox,
    SandboxCredentials,
    create_sandbox,
    sandbox_secret,
)
from contracts import (
    EXAMPLE_REQUESTS,
    CanonicalEvent,
    EventType,
    HmacAuth,
    InsurancePolicy,
    InsurancePolicyIssued,
    InsuranceQuotes,
    Money,
    Operation,
    PartnerAgreement,
    new_order_id,
)

_AGREEMENT = PartnerAgreement.model_validate(
    yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "partners" / "pingsure.yaml").read_text("utf-8")
    )
)


def _hmac_auth(agreement: PartnerAgreement) -> HmacAuth:
    auth = agreement.api.auth
    assert isinstance(auth, HmacAuth)
    return auth


_AUTH = _hmac_auth(_AGREEMENT)
_BASE = "http://pingsure.sandbox"
_BEIJING = timezone(timedelta(hours=8))
_QUOTE = Operation.INSURANCE_QUOTE
_BIND = Operation.INSURANCE_BIND
_T = EventType


@dataclass
class _Gateway:
    """A stand-in for the gateway's token endpoint and event intake."""

    secret: str = field(
        default_factory=lambda: "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    )
    received: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/oauth/token")
        async def token() -> dict[str, Any]:
            return {"access_token": "gw-token", "token_type": "Bearer", "expires_in": 3600}

        @app.post("/v1/partners/{partner_id}/events", status_code=202)
        async def events(partner_id: str, request: Request) -> dict[str, str]:
            self.received.append((partner_id, await request.body(), dict(request.headers)))
            self.arrived.set()
            return {"status": "accepted"}

        return app

    async def credentials(self) -> SandboxCredentials:
        return SandboxCredentials("pingsure-webhooks", "client-secret", self.secret)

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

    def events(self) -> list[CanonicalEvent]:
        """Every delivery, verified as Standard Webhooks and translated."""
        events = []
        for partner_id, body, headers in self.received:
            assert partner_id == "pingsure"
            Webhook(self.secret).verify(body, headers)
            events.append(PingSureWebhooks().translate(json.loads(body), partner_id=partner_id))
        return events


@dataclass
class _World:
    sandbox: Sandbox
    partner: httpx.AsyncClient
    controls: httpx.AsyncClient
    gateway: _Gateway


@pytest.fixture
async def world() -> AsyncIterator[_World]:
    gateway = _Gateway()
    link = GatewayLink(
        base_url="http://gateway.test",
        credentials=gateway.credentials,
        transport=httpx.ASGITransport(app=gateway.app()),
    )
    sandbox = create_sandbox(_AGREEMENT, gateway=link)
    transport = httpx.ASGITransport(app=sandbox.app)
    signer = HmacSigner(_AUTH.key_id, sandbox_secret(_AUTH.secret_ref), _AUTH.algorithm)
    async with (
        httpx.AsyncClient(transport=transport, base_url=_BASE, auth=signer) as partner,
        httpx.AsyncClient(transport=transport, base_url=_BASE) as controls,
    ):
        world = _World(sandbox, partner, controls, gateway)
        await _configure(world, webhook_delay_s=0)
        yield world
    await sandbox.aclose()


async def _configure(world: _World, **config: Any) -> None:
    response = await world.controls.put("/_config", json=config)
    assert response.status_code == 200, response.text


def _call(operation: Operation, order_id: str, **changes: Any) -> OutboundCall:
    payload: dict[str, Any] = EXAMPLE_REQUESTS[operation].model_dump(mode="json")
    payload.update(changes)
    return OutboundCall("pingsure", order_id, operation, payload, idempotency_key=order_id)


async def _quote(world: _World, **changes: Any) -> InsuranceQuotes:
    result = await PingSureApi().call(world.partner, _call(_QUOTE, new_order_id(), **changes))
    assert isinstance(result, InsuranceQuotes)
    return result


async def _bind(world: _World, start: date, order_id: str | None = None) -> InsurancePolicy:
    quote = (await _quote(world, start_date=start.isoformat())).quotes[0]
    call = _call(
        _BIND,
        order_id or new_order_id(),
        quote_id=quote.quote_id,
        start_date=start.isoformat(),
    )
    result = await PingSureApi().call(world.partner, call)
    assert isinstance(result, InsurancePolicy)
    return result


def _in(days: int) -> date:
    return datetime.now(_BEIJING).date() + timedelta(days=days)


class TestOperations:
    async def test_quote_round_trips(self, world: _World) -> None:
        result = await _quote(world)
        [quote] = result.quotes
        assert quote.insurer == _AGREEMENT.name
        assert quote.coverages == EXAMPLE_REQUESTS[_QUOTE].coverages  # type: ignore[union-attr]
        assert quote.premium.currency == "CNY" and quote.premium.amount > 95_000
        assert quote.valid_until > datetime.now(_BEIJING)
        assert quote.partner_id is None

    async def test_electric_damage_cover_costs_more(self, world: _World) -> None:
        covers = ["vehicle_damage"]
        vehicle: dict[str, Any] = EXAMPLE_REQUESTS[_QUOTE].model_dump(mode="json")["vehicle"]
        electric = await _quote(world, coverages=covers, vehicle=vehicle)
        combustion = await _quote(world, coverages=covers, vehicle={**vehicle, "powertrain": "ice"})
        assert electric.quotes[0].premium > combustion.quotes[0].premium

    async def test_battery_cover_is_for_new_energy_vehicles(self, world: _World) -> None:
        vehicle = EXAMPLE_REQUESTS[_QUOTE].model_dump(mode="json")["vehicle"]
        with pytest.raises(PartnerRejected) as caught:
            await _quote(world, vehicle={**vehicle, "powertrain": "ice"})
        assert caught.value.code == "42202"

    async def test_bind_round_trips(self, world: _World) -> None:
        start = _in(30)
        policy = await _bind(world, start)
        assert policy.insurer == _AGREEMENT.name
        assert (policy.starts_on, policy.ends_on) == (
            start,
            DatePeriod(years=1).last_day_from(start),
        )
        assert policy.premium.amount > 0

    async def test_bind_keeps_the_quoted_premium(self, world: _World) -> None:
        quote = (await _quote(world)).quotes[0]
        call = _call(_BIND, new_order_id(), quote_id=quote.quote_id)
        policy = await PingSureApi().call(world.partner, call)
        assert isinstance(policy, InsurancePolicy)
        assert (policy.premium, policy.coverages) == (quote.premium, quote.coverages)

    async def test_a_repeated_proposal_answers_the_first(self, world: _World) -> None:
        order_id = new_order_id()
        first = await _bind(world, _in(30), order_id)
        quote = (await _quote(world)).quotes[0]
        again = await PingSureApi().call(
            world.partner, _call(_BIND, order_id, quote_id=quote.quote_id)
        )
        assert again == first
        binds = [
            o for o in (await world.controls.get("/_orders")).json() if o["order_id"] == order_id
        ]
        assert len(binds) == 1

    async def test_unknown_quote(self, world: _World) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().call(
                world.partner, _call(_BIND, new_order_id(), quote_id="PQ-20261122-UNKNOWN")
            )
        assert caught.value.code == "40402"

    async def test_the_published_example_quote_is_always_held(self, world: _World) -> None:
        policy = await PingSureApi().call(world.partner, _call(_BIND, new_order_id()))
        assert isinstance(policy, InsurancePolicy) and policy.premium.amount > 0

    async def test_expired_quote(self, world: _World) -> None:
        quote = (await _quote(world)).quotes[0]
        world.sandbox.orders[quote.quote_id].data["expires_at"] = datetime.now(
            _BEIJING
        ) - timedelta(seconds=1)
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().call(
                world.partner, _call(_BIND, new_order_id(), quote_id=quote.quote_id)
            )
        assert caught.value.code == "40901"

    async def test_masked_id_stops_the_bind_before_sending(self, world: _World) -> None:
        call = _call(_BIND, new_order_id())
        customer = {k: v for k, v in call.payload["customer"].items() if k != "national_id"}
        masked = OutboundCall(
            "pingsure", call.order_id, _BIND, {**call.payload, "customer": customer}, call.order_id
        )
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().call(world.partner, masked)
        assert caught.value.code == "missing_field"
        assert (await world.controls.get("/_received")).json() == []

    async def test_received_shows_what_was_sent(self, world: _World) -> None:
        order_id = new_order_id()
        await PingSureApi().call(world.partner, _call(_QUOTE, order_id))
        [record] = (await world.controls.get("/_received")).json()
        assert (record["method"], record["path"]) == ("POST", "/api/v1/quotes")
        assert record["body"]["channel_order_no"] == order_id
        assert record["body"]["coverage_codes"] == ["JQX", "SZX", "CSX", "SDX"]
        headers = {k.lower(): v for k, v in record["headers"].items()}
        # The kit hides every header named *-key, the Idempotency-Key included.
        assert "idempotency-key" in headers
        assert headers["x-key-id"] == _AUTH.key_id
        assert headers["x-signature"] == "(hidden)"


class TestCancel:
    async def test_surrender_before_the_start_date(self, world: _World) -> None:
        order_id = new_order_id()
        await _bind(world, _in(30), order_id)
        [proposal] = [o for o in world.sandbox.orders.values() if o.operation is _BIND]
        await PingSureApi().cancel(
            world.partner, order_id=order_id, partner_reference=proposal.reference
        )
        assert proposal.status == "surrendered"
        # Surrendering again is answered the same way.
        await PingSureApi().cancel(
            world.partner, order_id=order_id, partner_reference=proposal.reference
        )

    async def test_policy_in_force_is_not_cancellable(self, world: _World) -> None:
        order_id = new_order_id()
        await _bind(world, _in(0), order_id)
        [proposal] = [o for o in world.sandbox.orders.values() if o.operation is _BIND]
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().cancel(
                world.partner, order_id=order_id, partner_reference=proposal.reference
            )
        assert caught.value.code == "not_cancellable"
        assert proposal.status != "surrendered"

    async def test_a_quote_is_not_cancellable(self, world: _World) -> None:
        order_id = new_order_id()
        result = await PingSureApi().call(world.partner, _call(_QUOTE, order_id))
        assert isinstance(result, InsuranceQuotes)
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().cancel(
                world.partner, order_id=order_id, partner_reference=result.quotes[0].quote_id
            )
        assert caught.value.code == "not_cancellable"


class TestFaults:
    async def test_wrong_credentials(self, world: _World) -> None:
        wrong = HmacSigner(_AUTH.key_id, "not-the-secret", _AUTH.algorithm)
        transport = httpx.ASGITransport(app=world.sandbox.app)
        async with httpx.AsyncClient(transport=transport, base_url=_BASE, auth=wrong) as client:
            with pytest.raises(PartnerAuthFailed):
                await PingSureApi().call(client, _call(_QUOTE, new_order_id()))

    async def test_unsigned_requests_are_refused(self, world: _World) -> None:
        with pytest.raises(PartnerAuthFailed):
            await PingSureApi().call(world.controls, _call(_QUOTE, new_order_id()))

    async def test_outage(self, world: _World) -> None:
        await _configure(world, error_rate=1)
        with pytest.raises(PartnerUnavailable):
            await PingSureApi().call(world.partner, _call(_QUOTE, new_order_id()))

    async def test_rate_limited(self, world: _World) -> None:
        await _configure(world, rate_limit_rate=1, retry_after_s=3)
        with pytest.raises(PartnerRateLimited) as caught:
            await PingSureApi().call(world.partner, _call(_QUOTE, new_order_id()))
        assert caught.value.retry_after == 3.0

    @pytest.mark.parametrize("operation", [_QUOTE, _BIND])
    async def test_business_refusal(self, world: _World, operation: Operation) -> None:
        quote = (await _quote(world)).quotes[0]
        await _configure(world, reject_rate=1)
        with pytest.raises(PartnerRejected) as caught:
            await PingSureApi().call(
                world.partner, _call(operation, new_order_id(), quote_id=quote.quote_id)
            )
        assert caught.value.code == "42201"

    async def test_faults_use_pingsure_error_shape(self, world: _World) -> None:
        await _configure(world, error_rate=1)
        response = await world.partner.post("/api/v1/quotes", json={})
        assert (response.status_code, response.json()["error_code"]) == (503, 50300)

    async def test_missing_fields_are_named(self, world: _World) -> None:
        response = await world.partner.post("/api/v1/proposals", json={"channel_order_no": "x"})
        assert response.status_code == 400
        assert response.json()["error_code"] == 40012


class TestWebhooks:
    async def test_bind_notifies_the_policy_issued(self, world: _World) -> None:
        order_id = new_order_id()
        policy = await _bind(world, _in(30), order_id)
        await world.gateway.wait_for(1)
        [event] = world.gateway.events()
        [proposal] = [o for o in world.sandbox.orders.values() if o.operation is _BIND]
        assert (event.type, event.order_id) == (_T.INSURANCE_POLICY_ISSUED, order_id)
        assert event.partner_reference == proposal.reference
        assert isinstance(event.data, InsurancePolicyIssued)
        assert event.data.policy_number == policy.policy_number
        assert (event.data.starts_on, event.data.ends_on) == (policy.starts_on, policy.ends_on)
        assert event.data.premium == policy.premium

    async def test_a_quote_notifies_nothing(self, world: _World) -> None:
        await _quote(world)
        await asyncio.sleep(0.05)
        assert world.gateway.received == []

    async def test_claims_and_surrender_by_the_emit_control(self, world: _World) -> None:
        order_id = new_order_id()
        await _bind(world, _in(30), order_id)
        await world.gateway.wait_for(1)
        [proposal] = [o for o in world.sandbox.orders.values() if o.operation is _BIND]
        kinds = [
            "claim_reported",
            "claim_accepted",
            "claim_closed",
            "policy_surrendered",
            "underwriting_declined",
        ]
        for kind in kinds:
            answer = await world.controls.post(f"/_orders/{proposal.reference}/emit/{kind}")
            assert answer.status_code == 200 and answer.json()["status"] == 202, answer.text
        events = world.gateway.events()
        assert [e.type for e in events] == [
            _T.INSURANCE_POLICY_ISSUED,
            _T.INSURANCE_CLAIM_OPENED,
            _T.INSURANCE_CLAIM_ACKNOWLEDGED,
            _T.INSURANCE_CLAIM_SETTLED,
            _T.ORDER_CANCELLED,
            _T.ORDER_FAILED,
        ]
        assert {e.order_id for e in events} == {order_id}
        assert len({e.event_id for e in events}) == len(events)
        claim_ids = {getattr(e.data, "claim_id", None) for e in events[1:4]}
        assert len(claim_ids) == 1
        settled = events[3].data
        assert isinstance(getattr(settled, "settled_amount", None), Money)

    async def test_unknown_kind_and_quote_orders_are_refused(self, world: _World) -> None:
        order_id = new_order_id()
        await _bind(world, _in(30), order_id)
        [quote] = [o for o in world.sandbox.orders.values() if o.operation is _QUOTE]
        [proposal] = [o for o in world.sandbox.orders.values() if o.operation is _BIND]
        unknown = await world.controls.post(f"/_orders/{proposal.reference}/emit/policy_renewed")
        assert (unknown.status_code, unknown.json()["error_code"]) == (404, 40400)
        on_quote = await world.controls.post(f"/_orders/{quote.reference}/emit/policy_issued")
        assert (on_quote.status_code, on_quote.json()["error_code"]) == (409, 40900)
