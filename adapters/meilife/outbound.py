"""MeiLife v1 outbound API: link memberships, issue benefit coupons, exchange points, refund.

The API, as MeiLife's open platform documents it:

- **Auth**: a static API key in the ``X-MeiLife-Token`` header (``adapters.auth.ApiKeyHeader``,
  attached by the gateway to the pooled client; this module never sees it).
- **Envelope**: every request and every answer is ``{"header": {...}, "body": {...}}``. A request
  header holds ``msgId`` (our idempotency key), ``msgType``, ``timestamp``
  (``yyyy-MM-dd HH:mm:ss``, Beijing time) and ``channel`` (our channel code at MeiLife); an
  answer header holds ``code`` and a Chinese ``msg``.
- **Paths** (all ``POST``, relative to the agreement's ``api.base_url``):

  ====================================  ==================  ===========================
  path                                  ``msgType``          canonical operation
  ====================================  ==================  ===========================
  ``/openapi/member/bind``              ``MEMBER_BIND``      ``lifestyle.link``
  ``/openapi/coupon/redeem``            ``COUPON_REDEEM``    ``lifestyle.redeem``
  ``/openapi/points/exchange``          ``POINTS_EXCHANGE``  ``lifestyle.exchange_points``
  ``/openapi/coupon/refund``            ``COUPON_REFUND``    cancel (redemptions only)
  ====================================  ==================  ===========================

- **Ids**: our order id travels as ``body.outTradeNo`` (MeiLife quotes it back in its
  notifications), MeiLife's order number comes back as ``body.mlOrderNo``. The member is known to
  MeiLife only by ``oemMemberNo``, the per-partner pseudonym of ``customer.customer_id``; MeiLife
  never needs a name or national id, and ``mobile`` is sent only when disclosed.
- **Units**: money in yuan as JSON numbers (``10.5``); points as integers; member levels as
  MeiLife's own ``V1``..``V4`` (standard, silver, gold, platinum).
- **Idempotency**: MeiLife deduplicates bind, redeem, exchange and refund on ``outTradeNo``: a
  repeated call answers the first result again and books nothing twice.
- **Errors**: success is HTTP 200 with ``header.code == "0000"``. Business refusals are HTTP 200
  with another code (``1001`` member not found, ``2003`` benefit sold out, ``3002`` coupon
  already used, ...); a system error is code ``9999`` with HTTP 500; a bad token is HTTP 401 and
  throttling HTTP 429 with ``Retry-After``.
- **Pagination**: none; every call is about one order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Literal, TypeVar

import httpx
from pydantic import Field, ValidationError

from adapters._http import canonical, read_json, read_model, send, status_error
from adapters._wire import WireModel, field_path
from adapters.errors import PartnerRejected, PartnerUnavailable
from adapters.meilife.webhooks import _BEIJING, _TIME_FORMAT, _BeijingTime, _YuanNumber
from adapters.protocol import OutboundCall
from contracts import (
    BenefitRedemption,
    MembershipLink,
    MemberTier,
    Operation,
    OrderId,
    PartnerReference,
    PointsDirection,
    PointsExchange,
    ServiceResult,
    Text,
)

__all__ = ["MeiLifeApi"]

W = TypeVar("W", bound=WireModel)

_OPERATIONS: Final = frozenset(
    {Operation.LIFESTYLE_LINK, Operation.LIFESTYLE_REDEEM, Operation.LIFESTYLE_EXCHANGE_POINTS}
)
_OK: Final = "0000"
_SYSTEM_ERROR: Final = "9999"
# MeiLife's answers to a refund that can no longer happen: the coupon was used, or the order
# is a membership or points exchange, which have nothing to refund.
_NOT_CANCELLABLE: Final = frozenset({"3002", "3003"})
# What MeiLife's documented codes mean; its Chinese msg is not quoted (it may echo the member).
_REASONS: Final = MappingProxyType(
    {
        "1001": "member not found",
        "1002": "member is bound to another account",
        "1003": "invalid request parameters",
        "2001": "benefit not found",
        "2003": "benefit sold out",
        "2004": "not enough points",
        "2005": "too few points to exchange",
        "3001": "order not found",
        "3002": "coupon already used",
        "3003": "order cannot be refunded",
    }
)
# The OEM's tiers as MeiLife levels; answers name the level the member actually got.
_LEVELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        MemberTier.STANDARD: "V1",
        MemberTier.SILVER: "V2",
        MemberTier.GOLD: "V3",
        MemberTier.PLATINUM: "V4",
    }
)
_TIERS: Final[Mapping[str, str]] = MappingProxyType({v: str(k) for k, v in _LEVELS.items()})
_DIRECTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {PointsDirection.TO_PARTNER: "OEM_TO_ML", PointsDirection.FROM_PARTNER: "ML_TO_OEM"}
)
_FROM_WIRE: Final = MappingProxyType({v: PointsDirection(k) for k, v in _DIRECTIONS.items()})
_WireDirection = Literal["OEM_TO_ML", "ML_TO_OEM"]


# -- what we send ---------------------------------------------------------------------------


class _Header(WireModel):
    msgId: str
    msgType: str
    timestamp: str
    channel: str


class _Bind(WireModel):
    outTradeNo: str
    oemMemberNo: str
    mobile: str | None = None
    memberLevel: str
    memberNo: str | None = None


class _Redeem(WireModel):
    outTradeNo: str
    oemMemberNo: str
    mobile: str | None = None
    couponId: str
    quantity: int = Field(ge=1)


class _Exchange(WireModel):
    outTradeNo: str
    oemMemberNo: str
    mobile: str | None = None
    direction: _WireDirection
    points: int = Field(ge=1)


class _Refund(WireModel):
    outTradeNo: str
    mlOrderNo: str | None = None


# -- what MeiLife answers -------------------------------------------------------------------


class _AnswerHeader(WireModel):
    code: str


class _Answer(WireModel):
    header: _AnswerHeader
    body: dict[str, Any] = Field(default_factory=dict)


class _Answered(WireModel):
    outTradeNo: OrderId
    mlOrderNo: PartnerReference


A = TypeVar("A", bound=_Answered)


class _Bound(_Answered):
    memberNo: PartnerReference
    memberLevel: Text
    bindTime: _BeijingTime


class _Redeemed(_Answered):
    couponId: PartnerReference
    faceValue: _YuanNumber
    """The face value of every coupon this order issued, together."""
    redeemTime: _BeijingTime


class _Exchanged(_Answered):
    direction: _WireDirection
    deductPoints: int
    gainPoints: int
    exchangeTime: _BeijingTime


# -- reading the masked canonical payload ---------------------------------------------------


def _value(payload: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path``, or None when it (or a parent) was not disclosed."""
    value: Any = payload
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _required(payload: Mapping[str, Any], path: str, operation: str) -> Any:
    value = _value(payload, path)
    if value is None or value == "":
        raise PartnerRejected(f"{operation}: {path} not disclosed", code="missing_field")
    return value


def _request(model: type[W], operation: str, **fields: Any) -> W:
    """A request body; a disclosed value MeiLife cannot take is refused before sending."""
    try:
        return model(**fields)
    except ValidationError as exc:
        where = field_path(exc.errors()[0]["loc"]) or model.__name__
        raise PartnerRejected(f"{operation}: {where} not usable", code="invalid_field") from exc


def _answer(model: type[A], body: Mapping[str, Any], order_id: str, what: str) -> A:
    """The answer body as a wire model, checked to be about our order."""
    wire = read_model(model, body, what=f"MeiLife {what} answer body")
    if wire.outTradeNo != order_id:
        raise PartnerUnavailable(f"MeiLife {what} answer is about another order")
    return wire


def _code_hint(response: httpx.Response) -> str:
    """``code NNNN`` of an error answer when it carries one (for the error's reason)."""
    try:
        code = response.json()["header"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f"code {code}" if isinstance(code, str) else ""


def _now() -> datetime:
    return datetime.now(UTC)


class MeiLifeApi:
    """The ``meilife.v1`` outbound adapter: memberships, benefit coupons and points."""

    dialect: str = "meilife.v1"

    def __init__(self, *, channel: str = "OEM_AUTO", clock: Callable[[], datetime] = _now) -> None:
        """``channel`` is our channel code at MeiLife; ``clock`` stamps request headers."""
        self._channel = channel
        self._clock = clock

    def operations(self) -> frozenset[Operation]:
        """Linking, redeeming and exchanging points."""
        return _OPERATIONS

    def retry_safe(self, operation: Operation) -> bool:
        """True for all three: MeiLife deduplicates each on ``outTradeNo`` (our order id)."""
        return operation in _OPERATIONS

    async def call(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        """Perform a lifestyle operation at MeiLife and return its canonical result."""
        match call.operation:
            case Operation.LIFESTYLE_LINK:
                return await self._link(http, call)
            case Operation.LIFESTYLE_REDEEM:
                return await self._redeem(http, call)
            case Operation.LIFESTYLE_EXCHANGE_POINTS:
                return await self._exchange(http, call)
        raise PartnerRejected(
            f"MeiLife does not offer {call.operation}", code="unsupported_operation"
        )

    async def cancel(
        self, http: httpx.AsyncClient, *, order_id: str, partner_reference: str | None
    ) -> None:
        """Refund a redemption whose coupon is unused; anything else is ``not_cancellable``."""
        body = _Refund(outTradeNo=order_id, mlOrderNo=partner_reference)
        # A fixed msgId per order: a repeated refund is the same message to MeiLife.
        msg_id = f"{order_id}.refund"
        try:
            answer = await self._post(
                http, "/openapi/coupon/refund", "COUPON_REFUND", msg_id, body, "cancel"
            )
        except PartnerRejected as exc:
            if exc.code in _NOT_CANCELLABLE:
                raise PartnerRejected(exc.reason, code="not_cancellable") from exc
            raise
        _answer(_Answered, answer, order_id, "refund")

    # -- operations ---------------------------------------------------------------------

    async def _link(self, http: httpx.AsyncClient, call: OutboundCall) -> MembershipLink:
        op, payload = call.operation.value, call.payload
        tier = _required(payload, "oem_member_tier", op)
        level = _LEVELS.get(tier) if isinstance(tier, str) else None
        if level is None:
            raise PartnerRejected(
                f"{op}: oem_member_tier has no MeiLife level", code="invalid_field"
            )
        body = _request(
            _Bind,
            op,
            outTradeNo=call.order_id,
            oemMemberNo=_required(payload, "customer.customer_id", op),
            mobile=_value(payload, "customer.phone"),
            memberLevel=level,
            memberNo=_value(payload, "partner_member_ref"),
        )
        answer = await self._post(
            http, "/openapi/member/bind", "MEMBER_BIND", call.idempotency_key, body, op
        )
        wire = _answer(_Bound, answer, call.order_id, op)
        return canonical(
            lambda: MembershipLink(
                partner_member_ref=wire.memberNo,
                # A level MeiLife adds later is passed on as MeiLife names it.
                partner_tier=_TIERS.get(wire.memberLevel, wire.memberLevel),
                linked_at=wire.bindTime,
            ),
            what=f"MeiLife {op} answer",
        )

    async def _redeem(self, http: httpx.AsyncClient, call: OutboundCall) -> BenefitRedemption:
        op, payload = call.operation.value, call.payload
        quantity = _value(payload, "quantity")
        body = _request(
            _Redeem,
            op,
            outTradeNo=call.order_id,
            oemMemberNo=_required(payload, "customer.customer_id", op),
            mobile=_value(payload, "customer.phone"),
            couponId=_required(payload, "benefit_id", op),
            quantity=1 if quantity is None else quantity,
        )
        answer = await self._post(
            http, "/openapi/coupon/redeem", "COUPON_REDEEM", call.idempotency_key, body, op
        )
        wire = _answer(_Redeemed, answer, call.order_id, op)
        return canonical(
            lambda: BenefitRedemption(
                redemption_id=wire.mlOrderNo,
                benefit_id=wire.couponId,
                amount=wire.faceValue,
                redeemed_at=wire.redeemTime,
            ),
            what=f"MeiLife {op} answer",
        )

    async def _exchange(self, http: httpx.AsyncClient, call: OutboundCall) -> PointsExchange:
        op, payload = call.operation.value, call.payload
        direction = _value(payload, "direction") or PointsDirection.TO_PARTNER
        body = _request(
            _Exchange,
            op,
            outTradeNo=call.order_id,
            oemMemberNo=_required(payload, "customer.customer_id", op),
            mobile=_value(payload, "customer.phone"),
            direction=_DIRECTIONS.get(direction, direction) if isinstance(direction, str) else None,
            points=_required(payload, "points", op),
        )
        answer = await self._post(
            http, "/openapi/points/exchange", "POINTS_EXCHANGE", call.idempotency_key, body, op
        )
        wire = _answer(_Exchanged, answer, call.order_id, op)
        return canonical(
            lambda: PointsExchange(
                exchange_id=wire.mlOrderNo,
                direction=_FROM_WIRE[wire.direction],
                points_debited=wire.deductPoints,
                points_credited=wire.gainPoints,
                exchanged_at=wire.exchangeTime,
            ),
            what=f"MeiLife {op} answer",
        )

    # -- the envelope -------------------------------------------------------------------

    async def _post(
        self,
        http: httpx.AsyncClient,
        path: str,
        msg_type: str,
        msg_id: str,
        body: WireModel,
        what: str,
    ) -> Mapping[str, Any]:
        """Send one enveloped message; the success answer's body, or the error it means."""
        header = _Header(
            msgId=msg_id,
            msgType=msg_type,
            timestamp=self._clock().astimezone(_BEIJING).strftime(_TIME_FORMAT),
            channel=self._channel,
        )
        envelope = {"header": header.model_dump(), "body": body.model_dump(exclude_none=True)}
        response = await send(http, "POST", path, json=envelope)
        failure = status_error(response, _code_hint(response))
        if failure is not None:
            raise failure
        answer = read_model(_Answer, read_json(response), what=f"MeiLife {what} answer")
        code = answer.header.code
        status = response.status_code
        if code == _SYSTEM_ERROR:
            raise PartnerUnavailable(f"MeiLife {what}: HTTP {status} code {code} (system error)")
        if code != _OK:
            reason = _REASONS.get(code, "refused")
            raise PartnerRejected(f"MeiLife {what}: code {code} ({reason})", code=code.lower())
        if status != 200:
            raise PartnerUnavailable(f"MeiLife {what}: HTTP {status} with a success code")
        return answer.body
