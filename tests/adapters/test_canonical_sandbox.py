"""The canonical adapter against the canonical sandbox of each sample partner, webhooks included."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from fastapi import FastAPI, Request
from standardwebhooks.webhooks import Webhook

from adapters import PartnerAuthFailed, PartnerRateLimited, PartnerRejected, PartnerUnavailable
from adapters.auth import ApiKeyHeader
from adapters.canonical import CanonicalApi
from adapters.protocol import OutboundCall
from adapters.sandbox import (
    GatewayLink,
    Sandbox,
    SandboxCredentials,
    create_sandbox,
    sandbox_secret,
)
from adapters.sandbox.canonical import STANDING_QUOTE_ID, STANDING_SESSION_ID
from contracts import (
    EXAMPLE_REQUESTS,
    ApiKeyAuth,
    BenefitRedemption,
    CanonicalEvent,
    ChargingSession,
    ChargingSessionCompleted,
    ChargingSessionState,
    CourtesyCarBooking,
    CourtesyCarRequest,
    EventType,
    InsuranceClaimOpened,
    InsuranceClaimSettled,
    InsurancePolicy,
    InsurancePolicyIssued,
    InsuranceQuotes,
    MembershipLink,
    Money,
    OAuth2ClientCredentials,
    Operation,
    PartnerAgreement,
    PointsExchange,
    RentalCompleted,
    RentalOrderAccepted,
    StationList,
    new_order_id,
)

_PARTNERS = Path(__file__).resolve().parents[2] / "partners"
_BASE = "http://sandbox.test"
_API = CanonicalApi()
_T = EventType
_Op = Operation


def _agreement(partner: str) -> PartnerAgreement:
    text = (_PARTNERS / f"{partner}.yaml").read_text("utf-8")
    return PartnerAgreement.model_validate(yaml.safe_load(text))


def _call(operation: Operation, **changes: Any) -> OutboundCall:
    order_id = new_order_id()
    payload = {**EXAMPLE_REQUESTS[operation].model_dump(mode="json", exclude_none=True), **changes}
    return OutboundCall(
        partner_id="sample",
        order_id=order_id,
        operation=operation,
        payload=payload,
        idempotency_key=f"idem-{order_id}",
    )


async def _token(http: httpx.AsyncClient, auth: OAuth2ClientCredentials) -> str:
    form = {"grant_type": "client_credentials", **({"scope": auth.scope} if auth.scope else {})}
    answer = await http.post(
        "/oauth/token", data=form, auth=(auth.client_id, sandbox_secret(auth.secret_ref))
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


@asynccontextmanager
async def _connected(
    partner: str, gateway: GatewayLink | None = None
) -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient]]:
    """The partner's sandbox and a client carrying the agreement's real auth."""
    agreement = _agreement(partner)
    sandbox = create_sandbox(agreement, gateway=gateway)
    auth = agreement.api.auth
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url=_BASE) as http:
        if isinstance(auth, ApiKeyAuth):
            http.auth = ApiKeyHeader(auth.header, sandbox_secret(auth.secret_ref))
        else:
            assert isinstance(auth, OAuth2ClientCredentials)
            http.headers["Authorization"] = f"Bearer {await _token(http, auth)}"
        try:
            yield sandbox, http
        finally:
            await sandbox.aclose()


async def _configure(http: httpx.AsyncClient, **config: Any) -> None:
    (await http.put("/_config", json=config)).raise_for_status()


class TestRoundTrips:
    async def test_citycar_books_a_courtesy_car(self) -> None:
        async with _connected("citycar") as (sandbox, http):
            call = _call(_Op.COURTESY_CAR_BOOK)
            booking = await _API.call(http, call)
            assert isinstance(booking, CourtesyCarBooking)
            assert booking.vehicle_class.value == "compact"
            assert (booking.daily_price.amount, booking.daily_price.currency) == (10000, "CNY")
            request = EXAMPLE_REQUESTS[_Op.COURTESY_CAR_BOOK]
            assert isinstance(request, CourtesyCarRequest)
            assert booking.eta >= request.window_start
            order = sandbox.orders[booking.partner_reference]
            assert (order.order_id, order.status) == (call.order_id, "accepted")

    async def test_a_repeated_order_books_once(self) -> None:
        async with _connected("citycar") as (sandbox, http):
            call = _call(_Op.COURTESY_CAR_BOOK)
            first = await _API.call(http, call)
            again = await _API.call(http, call)
            assert again == first
            assert len(sandbox.orders) == 1

    async def test_an_idempotency_key_cannot_serve_two_orders(self) -> None:
        async with _connected("citycar") as (_sandbox, http):
            first = _call(_Op.COURTESY_CAR_BOOK)
            await _API.call(http, first)
            second = _call(_Op.COURTESY_CAR_BOOK)
            reused = dataclasses.replace(second, idempotency_key=first.idempotency_key)
            with pytest.raises(PartnerRejected) as caught:
                await _API.call(http, reused)
            assert caught.value.code == "idempotency_key_reused"

    async def test_citycar_cancels_a_booking_once_and_for_all(self) -> None:
        async with _connected("citycar") as (sandbox, http):
            call = _call(_Op.COURTESY_CAR_BOOK)
            booking = await _API.call(http, call)
            assert isinstance(booking, CourtesyCarBooking)
            for _ in range(2):  # cancelling a cancelled order is still a success
                await _API.cancel(
                    http, order_id=call.order_id, partner_reference=booking.partner_reference
                )
            assert sandbox.orders[booking.partner_reference].status == "cancelled"
            with pytest.raises(PartnerRejected) as caught:
                await _API.cancel(http, order_id=call.order_id, partner_reference="BK-UNKNOWN")
            assert caught.value.code == "unknown_order"

    async def test_taicover_quotes_then_binds(self) -> None:
        async with _connected("taicover") as (_sandbox, http):
            quotes = await _API.call(http, _call(_Op.INSURANCE_QUOTE))
            assert isinstance(quotes, InsuranceQuotes)
            (quote,) = quotes.quotes
            assert quote.insurer == "TaiCover Insurance"
            assert quote.premium.amount == 95000 + 120000 + 280000 + 60000

            policy = await _API.call(http, _call(_Op.INSURANCE_BIND, quote_id=quote.quote_id))

            assert isinstance(policy, InsurancePolicy)
            assert (policy.premium, policy.coverages) == (quote.premium, quote.coverages)
            assert (policy.starts_on.isoformat(), policy.ends_on.isoformat()) == (
                "2030-06-01",
                "2031-05-31",
            )

    async def test_taicover_binds_only_its_own_quotes(self) -> None:
        async with _connected("taicover") as (_sandbox, http):
            with pytest.raises(PartnerRejected) as caught:
                await _API.call(http, _call(_Op.INSURANCE_BIND, quote_id="PQ-2030-00001"))
            assert caught.value.code == "unknown_quote"

    async def test_the_published_examples_work_as_they_stand(self) -> None:
        assert EXAMPLE_REQUESTS[_Op.INSURANCE_BIND].model_dump()["quote_id"] == STANDING_QUOTE_ID
        assert EXAMPLE_REQUESTS[_Op.CHARGING_STOP].model_dump()["session_id"] == (
            STANDING_SESSION_ID
        )
        async with _connected("taicover") as (_sandbox, http):
            policy = await _API.call(http, _call(_Op.INSURANCE_BIND))
            assert isinstance(policy, InsurancePolicy)
        async with _connected("starcharge") as (_sandbox, http):
            stopped = await _API.call(http, _call(_Op.CHARGING_STOP))
            assert isinstance(stopped, ChargingSession)
            assert stopped.session_id == STANDING_SESSION_ID
            assert 40_000 <= stopped.energy_wh < 41_000  # 40 minutes at 60 kW, and a moment

    async def test_a_quote_is_too_late_to_cancel(self) -> None:
        async with _connected("taicover") as (_sandbox, http):
            call = _call(_Op.INSURANCE_QUOTE)
            quotes = await _API.call(http, call)
            assert isinstance(quotes, InsuranceQuotes)
            with pytest.raises(PartnerRejected) as caught:
                await _API.cancel(
                    http, order_id=call.order_id, partner_reference=quotes.quotes[0].quote_id
                )
            assert caught.value.code == "not_cancellable"

    async def test_starcharge_searches_across_pages(self) -> None:
        async with _connected("starcharge") as (sandbox, http):
            found = await _API.call(http, _call(_Op.CHARGING_SEARCH))

            assert isinstance(found, StationList)
            distances = [s.distance_m for s in found.stations]
            assert len(distances) == 15  # of 42 stations, those within 3 km
            assert all(d is not None and d <= 3000 for d in distances)
            assert distances == sorted(distances)  # type: ignore[type-var]
            asked = [r["query"] for r in sandbox.received if r["path"] == "/v1/stations"]
            assert [(q["limit"], "cursor" in q) for q in asked] == [("20", False), ("10", True)]

    async def test_starcharge_filters_by_connector_and_limit(self) -> None:
        async with _connected("starcharge") as (_sandbox, http):
            found = await _API.call(
                http, _call(_Op.CHARGING_SEARCH, connector="chaoji", radius_m=50_000, limit=12)
            )
            assert isinstance(found, StationList)
            assert len(found.stations) == 12
            assert all("chaoji" in s.connectors for s in found.stations)

    async def test_starcharge_starts_and_stops_a_session(self) -> None:
        async with _connected("starcharge") as (_sandbox, http):
            started = await _API.call(http, _call(_Op.CHARGING_START))
            assert isinstance(started, ChargingSession)
            assert (started.station_id, started.connector_id) == ("SZ-NS-0042", "2")
            assert started.state is ChargingSessionState.STARTING

            stopped = await _API.call(http, _call(_Op.CHARGING_STOP, session_id=started.session_id))

            assert isinstance(stopped, ChargingSession)
            assert stopped.operation is _Op.CHARGING_STOP
            assert (stopped.session_id, stopped.state) == (
                started.session_id,
                ChargingSessionState.STOPPED,
            )
            assert stopped.ended_at is not None and stopped.ended_at >= started.started_at
            assert stopped.amount is not None and stopped.amount.currency == "CNY"

    async def test_starcharge_knows_its_stations_and_sessions(self) -> None:
        async with _connected("starcharge") as (_sandbox, http):
            for call, code in [
                (_call(_Op.CHARGING_START, station_id="SZ-NS-9999"), "unknown_station"),
                (_call(_Op.CHARGING_START, connector_id="9"), "unknown_connector"),
                (_call(_Op.CHARGING_STOP, session_id="cs-00001"), "unknown_session"),
            ]:
                with pytest.raises(PartnerRejected) as caught:
                    await _API.call(http, call)
                assert caught.value.code == code

    async def test_roadmap_links_redeems_and_exchanges(self) -> None:
        async with _connected("roadmap") as (_sandbox, http):
            link = await _API.call(http, _call(_Op.LIFESTYLE_LINK))
            redemption = await _API.call(http, _call(_Op.LIFESTYLE_REDEEM, quantity=2))
            exchange = await _API.call(http, _call(_Op.LIFESTYLE_EXCHANGE_POINTS))

            assert isinstance(link, MembershipLink) and link.partner_tier == "gold"
            assert isinstance(redemption, BenefitRedemption)
            assert (redemption.benefit_id, redemption.amount.amount) == ("coffee-10off", 2000)
            assert isinstance(exchange, PointsExchange)
            assert (exchange.points_debited, exchange.points_credited) == (1000, 250)

    @pytest.mark.parametrize(
        ("partner", "operation"),
        [
            ("citycar", _Op.CHARGING_START),
            ("citycar", _Op.CHARGING_SEARCH),
            ("taicover", _Op.COURTESY_CAR_BOOK),
            ("starcharge", _Op.LIFESTYLE_LINK),
            ("roadmap", _Op.INSURANCE_QUOTE),
        ],
    )
    async def test_other_categories_are_unsupported(
        self, partner: str, operation: Operation
    ) -> None:
        async with _connected(partner) as (_sandbox, http):
            with pytest.raises(PartnerRejected) as caught:
                await _API.call(http, _call(operation))
            assert caught.value.code == "unsupported_operation"

    async def test_a_field_the_partner_needs_must_be_disclosed(self) -> None:
        async with _connected("citycar") as (_sandbox, http):
            with pytest.raises(PartnerRejected) as caught:
                await _API.call(http, _call(_Op.COURTESY_CAR_BOOK, days=None))
            assert caught.value.code == "missing_field"

    async def test_received_shows_what_was_sent(self) -> None:
        async with _connected("citycar") as (_sandbox, http):
            call = _call(_Op.COURTESY_CAR_BOOK)
            await _API.call(http, call)
            (record,) = (await http.get("/_received")).json()
            assert (record["method"], record["path"]) == ("POST", "/v1/orders")
            assert record["body"] == {
                "order_id": call.order_id,
                "operation": "courtesy_car.book",
                "request": dict(call.payload),
            }
            # Credentials are hidden; the idempotency key is shown as the partner got it.
            assert record["headers"]["idempotency-key"] == call.idempotency_key
            assert record["headers"]["x-citycar-key"] == "(hidden)"


class TestFaults:
    @pytest.mark.parametrize("partner", ["citycar", "taicover", "starcharge", "roadmap"])
    async def test_wrong_credentials(self, partner: str) -> None:
        async with _connected(partner) as (sandbox, http):
            auth = sandbox.agreement.api.auth
            if isinstance(auth, ApiKeyAuth):
                http.auth = ApiKeyHeader(auth.header, "not-the-key")
            else:
                http.headers["Authorization"] = "Bearer not-a-token"
            with pytest.raises(PartnerAuthFailed, match="HTTP 401"):
                await _API.cancel(http, order_id=new_order_id(), partner_reference="X-1")

    async def test_an_expired_token_is_refused(self) -> None:
        async with _connected("roadmap") as (sandbox, http):
            sandbox.expire_tokens()
            with pytest.raises(PartnerAuthFailed):
                await _API.call(http, _call(_Op.LIFESTYLE_LINK))

    async def test_outage(self) -> None:
        async with _connected("starcharge") as (_sandbox, http):
            await _configure(http, error_rate=1)
            with pytest.raises(PartnerUnavailable, match="HTTP 503"):
                await _API.call(http, _call(_Op.CHARGING_SEARCH))

    async def test_rate_limited(self) -> None:
        async with _connected("taicover") as (_sandbox, http):
            await _configure(http, rate_limit_rate=1, retry_after_s=12)
            with pytest.raises(PartnerRateLimited) as caught:
                await _API.call(http, _call(_Op.INSURANCE_QUOTE))
            assert caught.value.retry_after == 12

    @pytest.mark.parametrize(
        ("partner", "operation", "code"),
        [
            ("citycar", _Op.COURTESY_CAR_BOOK, "no_vehicle_available"),
            ("taicover", _Op.INSURANCE_QUOTE, "risk_not_accepted"),
            ("starcharge", _Op.CHARGING_SEARCH, "area_not_served"),
            ("starcharge", _Op.CHARGING_START, "connector_unavailable"),
            ("roadmap", _Op.LIFESTYLE_EXCHANGE_POINTS, "exchange_closed"),
        ],
    )
    async def test_business_refusal(self, partner: str, operation: Operation, code: str) -> None:
        async with _connected(partner) as (_sandbox, http):
            await _configure(http, reject_rate=1)
            with pytest.raises(PartnerRejected) as caught:
                await _API.call(http, _call(operation))
            assert caught.value.code == code


# -- webhooks ---------------------------------------------------------------------------


class _Gateway:
    """A stand-in for the gateway's intake: its token endpoint and recorded deliveries."""

    def __init__(self) -> None:
        self.secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.deliveries: list[tuple[str, dict[str, str], bytes]] = []
        app = FastAPI()

        @app.post("/oauth/token")
        async def token() -> dict[str, Any]:
            return {"access_token": "gw-token", "token_type": "Bearer", "expires_in": 900}

        @app.post("/v1/partners/{partner_id}/events")
        async def events(partner_id: str, request: Request) -> dict[str, str]:
            self.deliveries.append((partner_id, dict(request.headers), await request.body()))
            return {"outcome": "applied"}

        async def credentials() -> SandboxCredentials:
            return SandboxCredentials("partner-client", "partner-secret", self.secret)

        self.link = GatewayLink(
            base_url="http://gateway.test",
            credentials=credentials,
            transport=httpx.ASGITransport(app=app),
        )

    async def wait_for(self, count: int) -> None:
        for _ in range(500):
            if len(self.deliveries) >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(self.deliveries)} of {count} webhooks arrived")

    def events(self, partner: str) -> list[CanonicalEvent]:
        """Every delivery verified with the webhook secret and read as a canonical event."""
        verifier = Webhook(self.secret)
        events = []
        for partner_id, headers, body in self.deliveries:
            assert partner_id == partner
            assert headers["authorization"] == "Bearer gw-token"
            verifier.verify(body, headers)
            events.append(CanonicalEvent.model_validate(orjson.loads(body)))
        return events


@asynccontextmanager
async def _with_gateway(
    partner: str,
) -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient, _Gateway]]:
    gateway = _Gateway()
    async with _connected(partner, gateway.link) as (sandbox, http):
        await _configure(http, webhook_delay_s=0)
        yield sandbox, http, gateway


def _reference(sandbox: Sandbox, order_id: str) -> str:
    (order,) = [o for o in sandbox.orders.values() if o.order_id == order_id]
    return order.reference


def _check(events: list[CanonicalEvent], order_id: str, reference: str, types: list[_T]) -> None:
    assert [e.type for e in events] == types
    assert {(e.order_id, e.partner_reference) for e in events} == {(order_id, reference)}
    assert [e.sequence for e in events] == list(range(1, len(types) + 1))
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.event_id.startswith("evt_") for e in events)
    assert all(isinstance(e.occurred_at, datetime) for e in events)


class TestWebhooks:
    async def test_a_courtesy_car_is_accepted_dispatched_delivered_then_completed(self) -> None:
        async with _with_gateway("citycar") as (sandbox, http, gateway):
            call = _call(_Op.COURTESY_CAR_BOOK)
            booking = await _API.call(http, call)
            assert isinstance(booking, CourtesyCarBooking)
            await gateway.wait_for(3)
            ref = booking.partner_reference

            completed = await http.post(f"/_orders/{ref}/emit/rental.completed")
            assert completed.status_code == 200

            events = gateway.events("citycar")
            _check(
                events,
                call.order_id,
                ref,
                [
                    _T.RENTAL_ORDER_ACCEPTED,
                    _T.RENTAL_VEHICLE_DISPATCHED,
                    _T.RENTAL_VEHICLE_DELIVERED,
                    _T.RENTAL_COMPLETED,
                ],
            )
            assert events[0].data == RentalOrderAccepted(eta=booking.eta)
            assert events[3].data == RentalCompleted(
                days=3, amount=Money(amount=3 * 10000, currency="CNY")
            )
            with pytest.raises(PartnerRejected) as caught:
                await _API.cancel(http, order_id=call.order_id, partner_reference=ref)
            assert caught.value.code == "not_cancellable"
            assert sandbox.orders[ref].status == "completed"

    async def test_emitting_again_redelivers_the_same_event(self) -> None:
        async with _with_gateway("citycar") as (_sandbox, http, gateway):
            booking = await _API.call(http, _call(_Op.COURTESY_CAR_BOOK))
            assert isinstance(booking, CourtesyCarBooking)
            await gateway.wait_for(3)
            emit = f"/_orders/{booking.partner_reference}/emit/rental.order.accepted"
            (await http.post(emit)).raise_for_status()
            first, *_, again = gateway.events("citycar")
            assert again == first

    @pytest.mark.parametrize(
        ("kind", "status", "code"),
        [
            ("rental.returned", 422, "unknown_event_kind"),
            ("insurance.policy.issued", 422, "kind_not_applicable"),
            ("rental.order.rejected", 409, "conflicting_state"),
        ],
    )
    async def test_emit_refuses_what_cannot_happen(self, kind: str, status: int, code: str) -> None:
        async with _with_gateway("citycar") as (_sandbox, http, gateway):
            booking = await _API.call(http, _call(_Op.COURTESY_CAR_BOOK))
            assert isinstance(booking, CourtesyCarBooking)
            await gateway.wait_for(3)
            answer = await http.post(f"/_orders/{booking.partner_reference}/emit/{kind}")
            assert answer.status_code == status
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["code"] == code

    async def test_a_bound_policy_is_issued(self) -> None:
        async with _with_gateway("taicover") as (sandbox, http, gateway):
            quotes = await _API.call(http, _call(_Op.INSURANCE_QUOTE))
            assert isinstance(quotes, InsuranceQuotes)
            call = _call(_Op.INSURANCE_BIND, quote_id=quotes.quotes[0].quote_id)
            policy = await _API.call(http, call)
            assert isinstance(policy, InsurancePolicy)
            await gateway.wait_for(1)
            for kind in ("insurance.claim.opened", "insurance.claim.settled"):
                (await http.post(f"/_orders/{policy.policy_number}/emit/{kind}")).raise_for_status()

            events = gateway.events("taicover")
            ref = _reference(sandbox, call.order_id)
            _check(
                events,
                call.order_id,
                ref,
                [_T.INSURANCE_POLICY_ISSUED, _T.INSURANCE_CLAIM_OPENED, _T.INSURANCE_CLAIM_SETTLED],
            )
            issued, opened, settled = (e.data for e in events)
            assert isinstance(issued, InsurancePolicyIssued)
            assert (issued.policy_number, issued.premium) == (policy.policy_number, policy.premium)
            assert isinstance(opened, InsuranceClaimOpened)
            assert isinstance(settled, InsuranceClaimSettled)
            assert opened.claim_id == settled.claim_id

    async def test_a_session_starts_and_completes(self) -> None:
        async with _with_gateway("starcharge") as (_sandbox, http, gateway):
            call = _call(_Op.CHARGING_START)
            started = await _API.call(http, call)
            assert isinstance(started, ChargingSession)
            await gateway.wait_for(2)

            events = gateway.events("starcharge")
            _check(
                events,
                call.order_id,
                started.session_id,
                [_T.CHARGING_SESSION_STARTED, _T.CHARGING_SESSION_COMPLETED],
            )
            done = events[1].data
            assert isinstance(done, ChargingSessionCompleted)
            stopped = await _API.call(http, _call(_Op.CHARGING_STOP, session_id=started.session_id))
            assert isinstance(stopped, ChargingSession)
            assert (stopped.energy_wh, stopped.amount, stopped.ended_at) == (
                done.energy_wh,
                done.amount,
                done.ended_at,
            )

    @pytest.mark.parametrize(
        ("operation", "event_type"),
        [
            (_Op.LIFESTYLE_LINK, _T.LIFESTYLE_MEMBERSHIP_LINKED),
            (_Op.LIFESTYLE_REDEEM, _T.LIFESTYLE_BENEFIT_REDEEMED),
            (_Op.LIFESTYLE_EXCHANGE_POINTS, _T.LIFESTYLE_POINTS_EXCHANGED),
        ],
    )
    async def test_a_lifestyle_order_is_confirmed(
        self, operation: Operation, event_type: EventType
    ) -> None:
        async with _with_gateway("roadmap") as (sandbox, http, gateway):
            call = _call(operation)
            result = await _API.call(http, call)
            await gateway.wait_for(1)
            (event,) = gateway.events("roadmap")
            _check([event], call.order_id, _reference(sandbox, call.order_id), [event_type])
            shared = event.data.model_dump().items()
            assert shared <= result.model_dump().items()
