"""MeiLifeApi against the MeiLife sandbox: auth, faults, dedup, refunds and notifications back."""

import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adapters import PartnerAuthFailed, PartnerRateLimited, PartnerRejected, PartnerUnavailable
from adapters.auth import ApiKeyHeader
from adapters.meilife import MeiLifeApi, MeiLifeWebhooks
from adapters.protocol import OutboundCall
from adapters.sandbox import (
    GatewayLink,
    Sandbox,
    SandboxCredentials,
    create_sandbox,
    sandbox_secret,
)
from contracts import (
    EXAMPLE_REQUESTS,
    ApiKeyAuth,
    BenefitRedemption,
    CancelReason,
    EventType,
    MembershipLink,
    Money,
    Operation,
    PartnerAgreement,
    PointsDirection,
    PointsExchange,
    new_order_id,
)
from tests.adapters.conftest import FakeIntake

_AGREEMENT = PartnerAgreement.model_validate(
    yaml.safe_load((Path(__file__).parents[2] / "partners" / "meilife.yaml").read_text("utf-8"))
)
_SANDBOX_URL = "http://meilife.test"
_LINK = Operation.LIFESTYLE_LINK
_REDEEM = Operation.LIFESTYLE_REDEEM
_EXCHANGE = Operation.LIFESTYLE_EXCHANGE_POINTS
_WEBHOOK_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
_T = EventType


async def _credentials() -> SandboxCredentials:
    return SandboxCredentials("meilife", "gw-client-secret", _WEBHOOK_SECRET)


def _client(sandbox: Sandbox, key: str | None) -> httpx.AsyncClient:
    auth = _AGREEMENT.api.auth
    assert isinstance(auth, ApiKeyAuth)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app),
        base_url=_SANDBOX_URL,
        auth=ApiKeyHeader(auth.header, key) if key is not None else None,
    )


@pytest.fixture
def gateway() -> FakeIntake:
    return FakeIntake(MeiLifeWebhooks(), _WEBHOOK_SECRET, _AGREEMENT.id)


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
    async with _client(sandbox, None) as client:
        yield client


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """The partner's client as the gateway would hold it: the agreement's API key attached."""
    auth = _AGREEMENT.api.auth
    assert isinstance(auth, ApiKeyAuth)
    async with _client(sandbox, sandbox_secret(auth.secret_ref)) as client:
        yield client


@pytest.fixture
def api() -> MeiLifeApi:
    return MeiLifeApi()


def _call(operation: Operation, order_id: str | None = None, **changes: Any) -> OutboundCall:
    payload = EXAMPLE_REQUESTS[operation].model_dump(mode="json") | changes
    order_id = order_id or new_order_id()
    return OutboundCall("meilife", order_id, operation, payload, f"idem-{order_id}")


async def _configure(control: httpx.AsyncClient, **settings: Any) -> None:
    response = await control.put("/_config", json={"webhook_delay_s": 0, **settings})
    response.raise_for_status()


class TestRoundTrips:
    async def test_link(self, api: MeiLifeApi, http: httpx.AsyncClient) -> None:
        result = await api.call(http, _call(_LINK))
        assert isinstance(result, MembershipLink)
        assert result.partner_tier == "gold"
        assert result.partner_member_ref.startswith("ML")

    async def test_same_member_keeps_the_membership_number(
        self, api: MeiLifeApi, http: httpx.AsyncClient
    ) -> None:
        first = await api.call(http, _call(_LINK))
        again = await api.call(http, _call(_LINK, oem_member_tier="platinum"))
        assert isinstance(first, MembershipLink)
        assert isinstance(again, MembershipLink)
        assert again.partner_member_ref == first.partner_member_ref
        assert again.partner_tier == "platinum"

    async def test_link_existing_membership(self, api: MeiLifeApi, http: httpx.AsyncClient) -> None:
        first = await api.call(http, _call(_LINK))
        assert isinstance(first, MembershipLink)
        linked = await api.call(http, _call(_LINK, partner_member_ref=first.partner_member_ref))
        assert isinstance(linked, MembershipLink)
        assert linked.partner_member_ref == first.partner_member_ref

    async def test_link_unknown_membership(self, api: MeiLifeApi, http: httpx.AsyncClient) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, _call(_LINK, partner_member_ref="ML0000000"))
        assert caught.value.code == "1001"

    async def test_redeem(self, api: MeiLifeApi, http: httpx.AsyncClient) -> None:
        result = await api.call(http, _call(_REDEEM))
        assert isinstance(result, BenefitRedemption)
        assert result.benefit_id == "coffee-10off"
        assert result.amount == Money(amount=1000, currency="CNY")
        assert result.redemption_id.startswith("RD-")

    async def test_redeem_several_fractional_coupons(
        self, api: MeiLifeApi, http: httpx.AsyncClient
    ) -> None:
        result = await api.call(http, _call(_REDEEM, benefit_id="parking-1h", quantity=3))
        assert isinstance(result, BenefitRedemption)
        assert result.amount == Money(amount=3750, currency="CNY")

    async def test_redeem_unknown_benefit(self, api: MeiLifeApi, http: httpx.AsyncClient) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, _call(_REDEEM, benefit_id="spa-free"))
        assert caught.value.code == "2001"

    async def test_exchange_both_ways(self, api: MeiLifeApi, http: httpx.AsyncClient) -> None:
        out = await api.call(http, _call(_EXCHANGE, points=1003))
        back = await api.call(http, _call(_EXCHANGE, points=250, direction="from_partner"))
        assert isinstance(out, PointsExchange)
        assert isinstance(back, PointsExchange)
        assert (out.direction, out.points_debited, out.points_credited) == (
            PointsDirection.TO_PARTNER,
            1000,
            250,
        )
        assert (back.direction, back.points_debited, back.points_credited) == (
            PointsDirection.FROM_PARTNER,
            250,
            1000,
        )

    async def test_too_few_points(self, api: MeiLifeApi, http: httpx.AsyncClient) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, _call(_EXCHANGE, points=3))
        assert caught.value.code == "2005"

    @pytest.mark.parametrize("operation", [_LINK, _REDEEM, _EXCHANGE])
    async def test_a_retry_books_nothing_twice(
        self,
        api: MeiLifeApi,
        http: httpx.AsyncClient,
        control: httpx.AsyncClient,
        operation: Operation,
    ) -> None:
        call = _call(operation)
        first = await api.call(http, call)
        again = await api.call(http, call)
        assert again == first
        orders = (await control.get("/_orders")).json()
        assert [o["order_id"] for o in orders] == [call.order_id]

    async def test_received_shows_what_was_sent(
        self, api: MeiLifeApi, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        call = _call(_REDEEM, customer={"customer_id": "psn-7f3a9c", "city": "Shenzhen"})
        await api.call(http, call)
        (received,) = (await control.get("/_received")).json()
        assert (received["method"], received["path"]) == ("POST", "/openapi/coupon/redeem")
        assert received["body"]["header"]["msgId"] == call.idempotency_key
        assert received["body"]["header"]["msgType"] == "COUPON_REDEEM"
        assert received["body"]["body"] == {
            "outTradeNo": call.order_id,
            "oemMemberNo": "psn-7f3a9c",
            "couponId": "coffee-10off",
            "quantity": 1,
        }


class TestFaults:
    async def test_wrong_key(self, api: MeiLifeApi, sandbox: Sandbox) -> None:
        async with _client(sandbox, "sandbox-not-the-key") as wrong:
            with pytest.raises(PartnerAuthFailed, match="code 4001"):
                await api.call(wrong, _call(_LINK))

    async def test_missing_key(self, api: MeiLifeApi, control: httpx.AsyncClient) -> None:
        with pytest.raises(PartnerAuthFailed):
            await api.call(control, _call(_LINK))

    async def test_system_errors(
        self, api: MeiLifeApi, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, error_rate=1)
        with pytest.raises(PartnerUnavailable) as caught:
            await api.call(http, _call(_REDEEM))
        assert caught.value.reason == "HTTP 500: code 9999"

    async def test_rate_limited(
        self, api: MeiLifeApi, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, rate_limit_rate=1, retry_after_s=3)
        with pytest.raises(PartnerRateLimited) as caught:
            await api.call(http, _call(_EXCHANGE))
        assert caught.value.retry_after == 3.0

    @pytest.mark.parametrize(
        ("operation", "code"), [(_LINK, "1001"), (_REDEEM, "2003"), (_EXCHANGE, "2004")]
    )
    async def test_business_refusals(
        self,
        api: MeiLifeApi,
        http: httpx.AsyncClient,
        control: httpx.AsyncClient,
        operation: Operation,
        code: str,
    ) -> None:
        await _configure(control, reject_rate=1)
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, _call(operation))
        assert caught.value.code == code
        assert (await control.get("/_orders")).json() == []

    async def test_malformed_request_is_code_1003(
        self, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        response = await http.post("/openapi/coupon/redeem", json={"header": {}, "body": {}})
        assert response.status_code == 200
        assert response.json()["header"]["code"] == "1003"
        assert response.json()["header"]["msg"].startswith("参数错误")


class TestCancel:
    async def test_refund_an_unused_coupon(
        self,
        api: MeiLifeApi,
        http: httpx.AsyncClient,
        control: httpx.AsyncClient,
        gateway: FakeIntake,
    ) -> None:
        await _configure(control, webhooks=False)
        call = _call(_REDEEM)
        result = await api.call(http, call)
        assert isinstance(result, BenefitRedemption)
        await api.cancel(http, order_id=call.order_id, partner_reference=result.redemption_id)
        # A repeated refund is answered again (MeiLife deduplicates on outTradeNo).
        await api.cancel(http, order_id=call.order_id, partner_reference=None)
        (order,) = (await control.get("/_orders")).json()
        assert order["status"] == "refunded"
        emitted = await control.post(f"/_orders/{result.redemption_id}/emit/coupon_refunded")
        assert emitted.json()["status"] == 202
        (event,) = gateway.translated()
        assert (event.type, event.order_id) == (_T.ORDER_CANCELLED, call.order_id)
        assert event.data.model_dump()["reason"] == CancelReason.REFUND

    async def test_used_coupon_is_not_cancellable(
        self, api: MeiLifeApi, http: httpx.AsyncClient, gateway: FakeIntake
    ) -> None:
        call = _call(_REDEEM)
        result = await api.call(http, call)
        assert isinstance(result, BenefitRedemption)
        await gateway.received(1)  # coupon_verified: the member used it in a store
        with pytest.raises(PartnerRejected) as caught:
            await api.cancel(http, order_id=call.order_id, partner_reference=result.redemption_id)
        assert caught.value.code == "not_cancellable"

    @pytest.mark.parametrize("operation", [_LINK, _EXCHANGE])
    async def test_links_and_exchanges_are_not_cancellable(
        self, api: MeiLifeApi, http: httpx.AsyncClient, operation: Operation
    ) -> None:
        call = _call(operation)
        await api.call(http, call)
        with pytest.raises(PartnerRejected) as caught:
            await api.cancel(http, order_id=call.order_id, partner_reference=None)
        assert caught.value.code == "not_cancellable"

    async def test_unknown_order(self, api: MeiLifeApi, http: httpx.AsyncClient) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await api.cancel(http, order_id=new_order_id(), partner_reference="RD-20250602-000000")
        assert caught.value.code == "3001"


class TestNotifications:
    @pytest.mark.parametrize(
        ("operation", "event_type"),
        [
            (_LINK, _T.LIFESTYLE_MEMBERSHIP_LINKED),
            (_REDEEM, _T.LIFESTYLE_BENEFIT_REDEEMED),
            (_EXCHANGE, _T.LIFESTYLE_POINTS_EXCHANGED),
        ],
    )
    async def test_lifecycle_translates_for_the_order(
        self,
        api: MeiLifeApi,
        http: httpx.AsyncClient,
        gateway: FakeIntake,
        operation: Operation,
        event_type: EventType,
    ) -> None:
        call = _call(operation)
        result = await api.call(http, call)
        await gateway.received(1)
        (event,) = gateway.translated()
        assert (event.type, event.partner_id, event.order_id) == (
            event_type,
            "meilife",
            call.order_id,
        )
        assert event.sequence == 1
        data = event.data.model_dump()
        if isinstance(result, MembershipLink):
            assert data == result.model_dump(include={"partner_member_ref", "partner_tier"})
        elif isinstance(result, BenefitRedemption):
            assert data == result.model_dump(include={"redemption_id", "benefit_id", "amount"})
        else:
            assert isinstance(result, PointsExchange)
            assert data == result.model_dump(
                include={"exchange_id", "points_debited", "points_credited"}
            )

    async def test_events_arrive_in_order(
        self, api: MeiLifeApi, http: httpx.AsyncClient, gateway: FakeIntake
    ) -> None:
        expected = []
        for operation, event_type in [
            (_LINK, _T.LIFESTYLE_MEMBERSHIP_LINKED),
            (_REDEEM, _T.LIFESTYLE_BENEFIT_REDEEMED),
            (_EXCHANGE, _T.LIFESTYLE_POINTS_EXCHANGED),
        ]:
            call = _call(operation)
            await api.call(http, call)
            expected.append((event_type, call.order_id))
            await gateway.received(len(expected))
        assert [(e.type, e.order_id) for e in gateway.translated()] == expected

    async def test_a_used_coupon_cannot_be_refunded_later(
        self,
        api: MeiLifeApi,
        http: httpx.AsyncClient,
        control: httpx.AsyncClient,
        gateway: FakeIntake,
    ) -> None:
        await _configure(control, webhooks=False)
        call = _call(_REDEEM)
        result = await api.call(http, call)
        assert isinstance(result, BenefitRedemption)
        reference = result.redemption_id
        await control.post(f"/_orders/{reference}/emit/coupon_verified")
        refused = await control.post(f"/_orders/{reference}/emit/coupon_refunded")
        assert refused.status_code == 409
        assert refused.json()["header"]["code"] == "3002"
        events = gateway.translated()
        assert [(e.type, e.order_id, e.sequence) for e in events] == [
            (_T.LIFESTYLE_BENEFIT_REDEEMED, call.order_id, 1)
        ]

    async def test_kind_of_another_operation_is_refused(
        self, api: MeiLifeApi, http: httpx.AsyncClient, control: httpx.AsyncClient
    ) -> None:
        await _configure(control, webhooks=False)
        await api.call(http, _call(_LINK))
        (order,) = (await control.get("/_orders")).json()
        response = await control.post(f"/_orders/{order['reference']}/emit/coupon_verified")
        assert response.status_code == 404
        assert response.json()["header"]["code"] == "1003"
