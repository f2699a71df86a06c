"""SwiftRentApi against the SwiftRent sandbox: auth, faults, dedup, cancel and webhooks back."""

import base64
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import adapters.swiftrent
from adapters import PartnerAuthFailed, PartnerRateLimited, PartnerRejected, PartnerUnavailable
from adapters.protocol import OutboundCall
from adapters.sandbox import (
    GatewayLink,
    Sandbox,
    SandboxCredentials,
    create_sandbox,
    sandbox_secret,
)
from adapters.swiftrent import SwiftRentApi, SwiftRentWebhooks
from contracts import (
    EXAMPLE_REQUESTS,
    CourtesyCarBooking,
    EventType,
    Money,
    OAuth2ClientCredentials,
    Operation,
    PartnerAgreement,
    RentalCompleted,
    RentalOrderAccepted,
    VehicleClass,
    new_order_id,
)
from tests.adapters.conftest import FakeIntake, fixtures_of, load

_AGREEMENT = PartnerAgreement.model_validate(
    yaml.safe_load((Path(__file__).parents[2] / "partners" / "swiftrent.yaml").read_text("utf-8"))
)
_SANDBOX_URL = "http://swiftrent.test"
_OPERATIONS = fixtures_of(adapters.swiftrent).parent / "operations"
_BOOK = Operation.COURTESY_CAR_BOOK
_WEBHOOK_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
_T = EventType


async def _credentials() -> SandboxCredentials:
    return SandboxCredentials("swiftrent", "gw-client-secret", _WEBHOOK_SECRET)


@pytest.fixture
def gateway() -> FakeIntake:
    return FakeIntake(SwiftRentWebhooks(), _WEBHOOK_SECRET, _AGREEMENT.id)


@pytest.fixture
async def sandbox(gateway: FakeIntake) -> AsyncIterator[Sandbox]:
    link = GatewayLink(
        base_url="http://gateway.test",
        credentials=_credentials,
        transport=httpx.ASGITransport(app=gateway.app),
    )
    simulator = create_sandbox(_AGREEMENT, gateway=link)
    simulator.config.webhook_delay_s = 0
    yield simulator
    await simulator.aclose()


@pytest.fixture
async def control(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the sandbox without the partner's auth (its /_ controls need none)."""
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url=_SANDBOX_URL) as client:
        yield client


async def _token(sandbox: Sandbox, control: httpx.AsyncClient) -> str:
    auth = _AGREEMENT.api.auth
    assert isinstance(auth, OAuth2ClientCredentials)
    response = await control.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": auth.scope or ""},
        auth=(auth.client_id, sandbox_secret(auth.secret_ref)),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


@pytest.fixture
async def http(sandbox: Sandbox, control: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The partner's client as the gateway would hold it: bearer token attached."""
    token = await _token(sandbox, control)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app),
        base_url=_SANDBOX_URL,
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


def _call(order_id: str | None = None, **changes: Any) -> OutboundCall:
    payload = EXAMPLE_REQUESTS[_BOOK].model_dump(mode="json") | changes
    return OutboundCall(
        partner_id="swiftrent",
        order_id=order_id or new_order_id(),
        operation=_BOOK,
        payload=payload,
        idempotency_key=secrets.token_hex(16),
    )


async def _configure(control: httpx.AsyncClient, **config: Any) -> None:
    response = await control.put("/_config", json=config)
    response.raise_for_status()


class TestBooking:
    async def test_round_trips_into_the_canonical_booking(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, webhooks=False)
        result = await SwiftRentApi().call(http, _call())
        assert isinstance(result, CourtesyCarBooking)
        assert result.partner_reference.startswith("SR-")
        # The window (2030) lies ahead, so the car comes at its start.
        assert result.eta == datetime(2030, 5, 20, 1, 0, tzinfo=UTC)
        assert result.daily_price == Money.of("240.00", "CNY")
        assert result.vehicle_class is VehicleClass.COMPACT
        assert result.vehicle_model == "GAC Aion S"

    async def test_repeat_books_nothing_twice(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, webhooks=False)
        call = _call()
        first = await SwiftRentApi().call(http, call)
        again = await SwiftRentApi().call(http, call)
        assert again == first
        orders = (await control.get("/_orders")).json()
        assert [o["order_id"] for o in orders] == [call.order_id]

    async def test_received_shows_what_was_sent(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, webhooks=False)
        call = _call("ord_01jp97g730p8x9cdpak1ffyan2")
        await SwiftRentApi().call(http, call)
        [received] = (await control.get("/_received")).json()
        assert (received["method"], received["path"]) == ("POST", "/api/v2/bookings")
        assert received["body"] == load(_OPERATIONS, "courtesy_car.book.request")
        assert received["headers"]["x-request-id"] == call.idempotency_key
        assert received["headers"]["authorization"] == "(hidden)"

    async def test_city_not_served_is_refused(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        pickup = EXAMPLE_REQUESTS[_BOOK].model_dump(mode="json")["pickup"] | {"city": "Lhasa"}
        with pytest.raises(PartnerRejected) as caught:
            await SwiftRentApi().call(http, _call(pickup=pickup))
        assert caught.value.code == "sr4011"


class TestFaults:
    async def test_wrong_credentials_fail_auth(self, sandbox: Sandbox) -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sandbox.app),
            base_url=_SANDBOX_URL,
            headers={"Authorization": "Bearer not-a-token"},
        ) as stranger:
            with pytest.raises(PartnerAuthFailed):
                await SwiftRentApi().call(stranger, _call())

    async def test_error_rate_is_unavailable(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, error_rate=1)
        with pytest.raises(PartnerUnavailable) as caught:
            await SwiftRentApi().call(http, _call())
        assert caught.value.sent

    async def test_rate_limit_carries_retry_after(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, rate_limit_rate=1, retry_after_s=4)
        with pytest.raises(PartnerRateLimited) as caught:
            await SwiftRentApi().call(http, _call())
        assert caught.value.retry_after == 4.0

    async def test_reject_rate_is_a_business_refusal(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, reject_rate=1)
        with pytest.raises(PartnerRejected) as caught:
            await SwiftRentApi().call(http, _call())
        assert caught.value.code == "sr4010"


class TestCancel:
    async def test_cancel_before_delivery(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, webhooks=False)
        call = _call()
        booking = await SwiftRentApi().call(http, call)
        assert isinstance(booking, CourtesyCarBooking)
        for _ in range(2):  # a repeated cancel answers the same
            await SwiftRentApi().cancel(
                http, order_id=call.order_id, partner_reference=booking.partner_reference
            )
        [order] = (await control.get("/_orders")).json()
        assert order["status"] == "cancelled"

    async def test_unknown_booking_is_refused(self, http: httpx.AsyncClient) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await SwiftRentApi().cancel(
                http, order_id=new_order_id(), partner_reference="SR-20300518-000000"
            )
        assert caught.value.code == "sr4040"


class TestWebhooks:
    async def test_lifecycle_arrives_signed_and_in_order(
        self, http: httpx.AsyncClient, sandbox: Sandbox, gateway: FakeIntake
    ) -> None:
        call = _call()
        booking = await SwiftRentApi().call(http, call)
        assert isinstance(booking, CourtesyCarBooking)
        await gateway.received(3)
        events = gateway.translated()
        assert [e.type for e in events] == [
            _T.RENTAL_ORDER_ACCEPTED,
            _T.RENTAL_VEHICLE_DISPATCHED,
            _T.RENTAL_VEHICLE_DELIVERED,
        ]
        assert {e.order_id for e in events} == {call.order_id}
        assert {e.partner_reference for e in events} == {booking.partner_reference}
        assert [e.sequence for e in events] == [1, 2, 3]
        assert isinstance(events[0].data, RentalOrderAccepted)
        assert events[0].data.eta == booking.eta

    async def test_delivered_car_cannot_be_cancelled_and_finishes_by_control(
        self,
        http: httpx.AsyncClient,
        control: httpx.AsyncClient,
        sandbox: Sandbox,
        gateway: FakeIntake,
    ) -> None:
        call = _call()
        booking = await SwiftRentApi().call(http, call)
        assert isinstance(booking, CourtesyCarBooking)
        await gateway.received(3)
        with pytest.raises(PartnerRejected) as caught:
            await SwiftRentApi().cancel(
                http, order_id=call.order_id, partner_reference=booking.partner_reference
            )
        assert caught.value.code == "not_cancellable"
        emitted = await control.post(f"/_orders/{booking.partner_reference}/emit/RENTAL_FINISHED")
        assert emitted.json()["status"] == 202
        finished = gateway.translated()[-1]
        assert finished.type is _T.RENTAL_COMPLETED
        assert (finished.sequence, finished.order_id) == (4, call.order_id)
        assert finished.data == RentalCompleted(days=3, amount=Money.of("720.00", "CNY"))

    @pytest.mark.parametrize(
        ("kind", "event_type"),
        [
            ("ORDER_CANCELLED", _T.ORDER_CANCELLED),
            ("SERVICE_ABORTED", _T.ORDER_FAILED),
            ("ORDER_REJECTED", _T.RENTAL_ORDER_REJECTED),
        ],
    )
    async def test_controls_emit_the_other_kinds(
        self,
        http: httpx.AsyncClient,
        control: httpx.AsyncClient,
        sandbox: Sandbox,
        gateway: FakeIntake,
        kind: str,
        event_type: EventType,
    ) -> None:
        await _configure(control, webhooks=False)
        call = _call()
        booking = await SwiftRentApi().call(http, call)
        assert isinstance(booking, CourtesyCarBooking)
        emitted = await control.post(f"/_orders/{booking.partner_reference}/emit/{kind}")
        assert emitted.status_code == 200
        [event] = gateway.translated()
        assert (event.type, event.order_id, event.sequence) == (event_type, call.order_id, 1)

    async def test_unknown_kind_is_refused(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient, gateway: FakeIntake
    ) -> None:
        await _configure(control, webhooks=False)
        booking = await SwiftRentApi().call(http, _call())
        assert isinstance(booking, CourtesyCarBooking)
        emitted = await control.post(f"/_orders/{booking.partner_reference}/emit/CAR_WASHED")
        assert emitted.status_code == 400
        assert emitted.json()["success"] is False
        assert gateway.events == []
