"""MeiLife v1 outbound: the recorded envelopes, each failure class, refunds, undisclosed fields."""

import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

import adapters.meilife
from adapters import PartnerAuthFailed, PartnerRateLimited, PartnerRejected, PartnerUnavailable
from adapters.meilife import MeiLifeApi
from adapters.protocol import OutboundCall, PartnerAdapter
from contracts import (
    EXAMPLE_REQUESTS,
    BenefitRedemption,
    MembershipLink,
    Money,
    Operation,
    PointsDirection,
    PointsExchange,
    ServiceResult,
)
from tests.adapters.conftest import fixtures_of, load

_OPERATIONS = fixtures_of(adapters.meilife).parent / "operations"
_BASE = "https://openapi.meilife.example.cn/gw"
_LINK = Operation.LIFESTYLE_LINK
_REDEEM = Operation.LIFESTYLE_REDEEM
_EXCHANGE = Operation.LIFESTYLE_EXCHANGE_POINTS
_PATHS = {
    _LINK: "/openapi/member/bind",
    _REDEEM: "/openapi/coupon/redeem",
    _EXCHANGE: "/openapi/points/exchange",
}
_REFUND = "/openapi/coupon/refund"
_ORDERS = {
    _LINK: "ord_01jwmt93x0e5kyrv3cqseyw6jp",
    _REDEEM: "ord_01jwqg1vy08g45ft3wqzphqcss",
    _EXCHANGE: "ord_01jwt5y9503sqffqygbee9kwxn",
}
_PERSONAL = ("李晓明", "13800138000", "440305198803161235", "科苑路", "xiaoming")


def _beijing(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00").astimezone(UTC)


def _fixture(name: str) -> dict[str, Any]:
    return load(_OPERATIONS, name)


def _clock_of(name: str) -> Callable[[], datetime]:
    """A clock standing at the moment the recorded request was stamped."""
    moment = _beijing(_fixture(name)["header"]["timestamp"])
    return lambda: moment


def _payload(operation: Operation) -> dict[str, Any]:
    payload: dict[str, Any] = EXAMPLE_REQUESTS[operation].model_dump(mode="json")
    return payload


def _call(operation: Operation, payload: dict[str, Any] | None = None) -> OutboundCall:
    order_id = _ORDERS[operation]
    return OutboundCall(
        partner_id="meilife",
        order_id=order_id,
        operation=operation,
        payload=_payload(operation) if payload is None else payload,
        idempotency_key=f"idem-{order_id.removeprefix('ord_')}",
    )


def _answer(operation: Operation, **changes: Any) -> dict[str, Any]:
    """The recorded success answer with ``body`` fields replaced (None removes one)."""
    answer = _fixture(f"{operation}.response")
    for key, value in changes.items():
        if value is None:
            del answer["body"][key]
        else:
            answer["body"][key] = value
    return answer


def _sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=_BASE) as client:
        yield client


@pytest.fixture
def partner() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=_BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def api() -> MeiLifeApi:
    return MeiLifeApi()


class TestSurface:
    def test_is_a_partner_adapter(self, api: MeiLifeApi) -> None:
        assert isinstance(api, PartnerAdapter)
        assert api.dialect == "meilife.v1"
        assert api.operations() == frozenset({_LINK, _REDEEM, _EXCHANGE})

    def test_every_operation_is_retry_safe(self, api: MeiLifeApi) -> None:
        assert all(api.retry_safe(op) for op in (_LINK, _REDEEM, _EXCHANGE))
        assert not api.retry_safe(Operation.COURTESY_CAR_BOOK)

    async def test_other_operations_are_refused_unsent(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        call = OutboundCall("meilife", _ORDERS[_LINK], Operation.CHARGING_START, {}, "k")
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, call)
        assert caught.value.code == "unsupported_operation"
        assert not partner.calls


_EXPECTED: dict[Operation, ServiceResult] = {
    _LINK: MembershipLink(
        partner_member_ref="ML7730021",
        partner_tier="gold",
        linked_at=_beijing("2025-06-01 12:00:01"),
    ),
    _REDEEM: BenefitRedemption(
        redemption_id="RD-55012",
        benefit_id="coffee-10off",
        amount=Money(amount=1000, currency="CNY"),
        redeemed_at=_beijing("2025-06-02 12:58:31"),
    ),
    _EXCHANGE: PointsExchange(
        exchange_id="PX-1201",
        direction=PointsDirection.TO_PARTNER,
        points_debited=1000,
        points_credited=250,
        exchanged_at=_beijing("2025-06-03 14:00:00"),
    ),
}


class TestOperations:
    @pytest.mark.parametrize("operation", [_LINK, _REDEEM, _EXCHANGE])
    async def test_recorded_exchange(
        self, http: httpx.AsyncClient, partner: respx.MockRouter, operation: Operation
    ) -> None:
        route = partner.post(_PATHS[operation]).respond(200, json=_fixture(f"{operation}.response"))
        api = MeiLifeApi(clock=_clock_of(f"{operation}.request"))
        result = await api.call(http, _call(operation))
        assert _sent(route) == _fixture(f"{operation}.request")
        assert route.calls.last.request.headers["content-type"] == "application/json"
        assert result == _EXPECTED[operation]

    async def test_header_carries_the_idempotency_key_and_beijing_time(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        route = partner.post(_PATHS[_REDEEM]).respond(200, json=_answer(_REDEEM))
        before = datetime.now(UTC).replace(microsecond=0)
        await api.call(http, _call(_REDEEM))
        header = _sent(route)["header"]
        assert header["msgId"] == _call(_REDEEM).idempotency_key
        stamped = _beijing(header["timestamp"])
        assert before <= stamped <= datetime.now(UTC)

    @pytest.mark.parametrize(
        ("tier", "level"),
        [("standard", "V1"), ("silver", "V2"), ("gold", "V3"), ("platinum", "V4")],
    )
    async def test_tiers_become_meilife_levels_and_back(
        self,
        api: MeiLifeApi,
        http: httpx.AsyncClient,
        partner: respx.MockRouter,
        tier: str,
        level: str,
    ) -> None:
        route = partner.post(_PATHS[_LINK]).respond(200, json=_answer(_LINK, memberLevel=level))
        result = await api.call(http, _call(_LINK, {**_payload(_LINK), "oem_member_tier": tier}))
        assert _sent(route)["body"]["memberLevel"] == level
        assert isinstance(result, MembershipLink)
        assert result.partner_tier == tier

    async def test_unknown_level_is_passed_on_as_named(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_LINK]).respond(200, json=_answer(_LINK, memberLevel="V5"))
        result = await api.call(http, _call(_LINK))
        assert isinstance(result, MembershipLink)
        assert result.partner_tier == "V5"

    async def test_existing_membership_number_is_sent(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        route = partner.post(_PATHS[_LINK]).respond(200, json=_answer(_LINK))
        await api.call(http, _call(_LINK, {**_payload(_LINK), "partner_member_ref": "ML7730021"}))
        assert _sent(route)["body"]["memberNo"] == "ML7730021"

    async def test_points_from_partner(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        answer = _answer(_EXCHANGE, direction="ML_TO_OEM", deductPoints=250, gainPoints=1000)
        route = partner.post(_PATHS[_EXCHANGE]).respond(200, json=answer)
        payload = {**_payload(_EXCHANGE), "points": 250, "direction": "from_partner"}
        result = await api.call(http, _call(_EXCHANGE, payload))
        assert _sent(route)["body"]["direction"] == "ML_TO_OEM"
        assert isinstance(result, PointsExchange)
        assert result.direction is PointsDirection.FROM_PARTNER
        assert (result.points_debited, result.points_credited) == (250, 1000)

    async def test_fractional_yuan_and_several_coupons(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        route = partner.post(_PATHS[_REDEEM]).respond(
            200, json=_answer(_REDEEM, quantity=3, faceValue=37.5)
        )
        result = await api.call(http, _call(_REDEEM, {**_payload(_REDEEM), "quantity": 3}))
        assert _sent(route)["body"]["quantity"] == 3
        assert isinstance(result, BenefitRedemption)
        assert result.amount == Money(amount=3750, currency="CNY")


class TestUndisclosedFields:
    async def test_phone_is_sent_only_when_disclosed(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        # A de-identified partner sees the pseudonym and city; name, phone and ids are absent.
        payload = _payload(_REDEEM)
        payload["customer"] = {"customer_id": "psn-7f3a9c", "city": "Shenzhen"}
        del payload["quantity"]
        route = partner.post(_PATHS[_REDEEM]).respond(200, json=_answer(_REDEEM))
        await api.call(http, _call(_REDEEM, payload))
        assert _sent(route)["body"] == {
            "outTradeNo": _ORDERS[_REDEEM],
            "oemMemberNo": "psn-7f3a9c",
            "couponId": "coffee-10off",
            "quantity": 1,
        }

    async def test_never_sends_name_or_national_id(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        route = partner.post(_PATHS[_LINK]).respond(200, json=_answer(_LINK))
        await api.call(http, _call(_LINK))
        sent = route.calls.last.request.content.decode()
        assert "李晓明" not in sent
        assert "440305198803161235" not in sent

    @pytest.mark.parametrize(
        ("operation", "path"),
        [
            (_LINK, "customer.customer_id"),
            (_LINK, "oem_member_tier"),
            (_REDEEM, "benefit_id"),
            (_EXCHANGE, "points"),
            (_EXCHANGE, "customer"),
        ],
    )
    async def test_required_field_absent_is_refused_unsent(
        self,
        api: MeiLifeApi,
        http: httpx.AsyncClient,
        partner: respx.MockRouter,
        operation: Operation,
        path: str,
    ) -> None:
        payload = _payload(operation)
        *parents, last = path.split(".")
        target = payload
        for key in parents:
            target = target[key]
        del target[last]
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, _call(operation, payload))
        assert caught.value.code == "missing_field"
        assert "not disclosed" in caught.value.reason
        assert not partner.calls

    @pytest.mark.parametrize(
        ("operation", "field", "value"),
        [
            (_LINK, "oem_member_tier", "diamond"),
            (_EXCHANGE, "direction", "sideways"),
            (_REDEEM, "quantity", 0),
        ],
    )
    async def test_unusable_value_is_refused_unsent(
        self,
        api: MeiLifeApi,
        http: httpx.AsyncClient,
        partner: respx.MockRouter,
        operation: Operation,
        field: str,
        value: object,
    ) -> None:
        with pytest.raises(PartnerRejected) as caught:
            await api.call(http, _call(operation, {**_payload(operation), field: value}))
        assert caught.value.code == "invalid_field"
        assert not partner.calls


class TestFailures:
    async def _redeem(self, api: MeiLifeApi, http: httpx.AsyncClient) -> ServiceResult:
        return await api.call(http, _call(_REDEEM))

    async def test_bad_token(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_REDEEM]).respond(401, json=_fixture("error.unauthorized"))
        with pytest.raises(PartnerAuthFailed) as caught:
            await self._redeem(api, http)
        assert caught.value.reason == "HTTP 401: code 4001"

    async def test_rate_limited_with_seconds(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_REDEEM]).respond(
            429, json=_fixture("error.rate_limited"), headers={"Retry-After": "7"}
        )
        with pytest.raises(PartnerRateLimited) as caught:
            await self._redeem(api, http)
        assert caught.value.retry_after == 7.0

    async def test_rate_limited_with_http_date(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
        partner.post(_PATHS[_REDEEM]).respond(429, headers={"Retry-After": later})
        with pytest.raises(PartnerRateLimited) as caught:
            await self._redeem(api, http)
        assert caught.value.retry_after is not None
        assert 25 <= caught.value.retry_after <= 30

    async def test_system_error_is_http_500_code_9999(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_REDEEM]).respond(500, json=_fixture("error.system"))
        with pytest.raises(PartnerUnavailable) as caught:
            await self._redeem(api, http)
        assert caught.value.reason == "HTTP 500: code 9999"
        assert caught.value.sent

    async def test_system_error_code_with_http_200(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_REDEEM]).respond(200, json=_fixture("error.system"))
        with pytest.raises(PartnerUnavailable, match="9999"):
            await self._redeem(api, http)

    async def test_service_unavailable_without_envelope(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_REDEEM]).respond(503, text="<html>502 Bad Gateway</html>")
        with pytest.raises(PartnerUnavailable) as caught:
            await self._redeem(api, http)
        assert caught.value.reason == "HTTP 503"

    async def test_timeout(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_REDEEM]).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(PartnerUnavailable) as caught:
            await self._redeem(api, http)
        assert caught.value.timed_out
        assert caught.value.sent

    async def test_connection_refused_was_not_sent(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_REDEEM]).mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(PartnerUnavailable) as caught:
            await self._redeem(api, http)
        assert not caught.value.sent

    @pytest.mark.parametrize(
        ("fixture", "code", "meaning"),
        [
            ("error.sold_out", "2003", "benefit sold out"),
            ("error.member_not_found", "1001", "member not found"),
        ],
    )
    async def test_business_refusal_keeps_its_code(
        self,
        api: MeiLifeApi,
        http: httpx.AsyncClient,
        partner: respx.MockRouter,
        fixture: str,
        code: str,
        meaning: str,
    ) -> None:
        partner.post(_PATHS[_REDEEM]).respond(200, json=_fixture(fixture))
        with pytest.raises(PartnerRejected) as caught:
            await self._redeem(api, http)
        assert caught.value.code == code
        assert caught.value.reason == f"MeiLife lifestyle.redeem: code {code} ({meaning})"

    async def test_refusal_does_not_quote_the_partner_message(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        answer = _fixture("error.member_not_found")
        answer["header"].update(code="1099", msg="会员李晓明(13800138000)状态异常")
        partner.post(_PATHS[_REDEEM]).respond(200, json=answer)
        with pytest.raises(PartnerRejected) as caught:
            await self._redeem(api, http)
        assert caught.value.code == "1099"
        assert not any(value in str(caught.value) for value in _PERSONAL)

    async def test_client_error_with_an_envelope_is_a_refusal(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        answer = _fixture("error.member_not_found")
        answer["header"]["code"] = "1003"
        partner.post(_PATHS[_REDEEM]).respond(400, json=answer)
        with pytest.raises(PartnerRejected) as caught:
            await self._redeem(api, http)
        assert caught.value.code == "1003"

    async def test_client_error_without_an_envelope(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_REDEEM]).respond(404, text="Not Found")
        with pytest.raises(PartnerUnavailable, match="not JSON"):
            await self._redeem(api, http)

    @pytest.mark.parametrize(
        ("answer", "reason"),
        [
            (_answer(_REDEEM, faceValue=None), "answer body: faceValue: Field required"),
            (_answer(_REDEEM, faceValue="10.00"), "JSON number"),
            (_answer(_REDEEM, faceValue=-1), "negative"),
            (_answer(_REDEEM, redeemTime="2025-06-02T12:58:31+08:00"), "yyyy-MM-dd"),
            (_answer(_REDEEM, outTradeNo="ord_01jwmt93x0e5kyrv3cqseyw6jp"), "another order"),
            ({"header": {"code": "0000"}, "body": []}, "body"),
            ({"code": "0000"}, "header"),
        ],
    )
    async def test_malformed_success_body(
        self,
        api: MeiLifeApi,
        http: httpx.AsyncClient,
        partner: respx.MockRouter,
        answer: dict[str, Any],
        reason: str,
    ) -> None:
        partner.post(_PATHS[_REDEEM]).respond(200, json=answer)
        with pytest.raises(PartnerUnavailable) as caught:
            await self._redeem(api, http)
        assert reason in caught.value.reason

    async def test_success_body_that_is_not_json(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_REDEEM]).respond(200, text="OK")
        with pytest.raises(PartnerUnavailable, match="not JSON"):
            await self._redeem(api, http)

    async def test_points_the_contract_refuses(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_PATHS[_EXCHANGE]).respond(200, json=_answer(_EXCHANGE, gainPoints=0))
        with pytest.raises(PartnerUnavailable, match="does not fit the contract"):
            await api.call(http, _call(_EXCHANGE))


class TestCancel:
    async def test_refunds_the_redemption(
        self, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        route = partner.post(_REFUND).respond(200, json=_fixture("cancel.response"))
        api = MeiLifeApi(clock=_clock_of("cancel.request"))
        await api.cancel(http, order_id=_ORDERS[_REDEEM], partner_reference="RD-55012")
        assert _sent(route) == _fixture("cancel.request")

    async def test_without_a_reference_names_our_order_only(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        route = partner.post(_REFUND).respond(200, json=_fixture("cancel.response"))
        await api.cancel(http, order_id=_ORDERS[_REDEEM], partner_reference=None)
        assert _sent(route)["body"] == {"outTradeNo": _ORDERS[_REDEEM]}

    @pytest.mark.parametrize("fixture", ["error.coupon_used", "error.not_refundable"])
    async def test_too_late_or_nothing_to_refund(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter, fixture: str
    ) -> None:
        partner.post(_REFUND).respond(200, json=_fixture(fixture))
        with pytest.raises(PartnerRejected) as caught:
            await api.cancel(http, order_id=_ORDERS[_REDEEM], partner_reference="RD-55012")
        assert caught.value.code == "not_cancellable"

    async def test_unknown_order_keeps_meilife_code(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        answer = _fixture("error.not_refundable")
        answer["header"]["code"] = "3001"
        partner.post(_REFUND).respond(200, json=answer)
        with pytest.raises(PartnerRejected) as caught:
            await api.cancel(http, order_id=_ORDERS[_REDEEM], partner_reference="RD-55012")
        assert caught.value.code == "3001"

    async def test_refund_answer_about_another_order(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_REFUND).respond(200, json=_fixture("cancel.response"))
        with pytest.raises(PartnerUnavailable, match="another order"):
            await api.cancel(http, order_id=_ORDERS[_LINK], partner_reference="RD-55012")

    async def test_system_error(
        self, api: MeiLifeApi, http: httpx.AsyncClient, partner: respx.MockRouter
    ) -> None:
        partner.post(_REFUND).respond(500, json=_fixture("error.system"))
        with pytest.raises(PartnerUnavailable):
            await api.cancel(http, order_id=_ORDERS[_REDEEM], partner_reference="RD-55012")
