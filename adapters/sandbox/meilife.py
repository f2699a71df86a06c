"""Simulator of MeiLife's v1 open API (``meilife.v1``): memberships, coupons, points.

It speaks what ``adapters.meilife.outbound`` speaks: ``POST /openapi/member/bind``,
``/openapi/coupon/redeem``, ``/openapi/points/exchange`` and ``/openapi/coupon/refund``, each a
``{"header", "body"}`` envelope answered with ``header.code`` (``"0000"`` on success, a business
code with HTTP 200 on refusal, ``"9999"`` with HTTP 500 on a system error).

What it holds:

- members: a bind issues a member number, reused when the same ``oemMemberNo`` binds again; a
  bind naming an existing ``memberNo`` must name one this sandbox issued (else ``1001``);
- a small benefit catalogue (coffee, car wash, parking), coupons valid for 30 days;
- points exchanged at a fixed four OEM points to one MeiLife point.

Lifecycles: a bind announces ``member_opened``, a redemption ``coupon_verified`` (the member
uses the coupon in a store, so it can no longer be refunded) and an exchange
``points_exchanged``. A refund (``cancel``) of an unused coupon is answered at once; its
``coupon_refunded`` notification is sent with ``POST /_orders/{ref}/emit/coupon_refunded``,
which also simulates a refund MeiLife's customer service makes on its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Literal, TypeVar

from fastapi import Request
from pydantic import Field, ValidationError

from adapters._wire import WireModel, field_path
from adapters.meilife.webhooks import _BEIJING, _TIME_FORMAT
from adapters.sandbox.kit import Sandbox, SandboxFault, SandboxOrder
from contracts import Operation

__all__ = ["DIALECT", "MeiLifeSandbox"]

M = TypeVar("M", bound=WireModel)

_OK: Final = "0000"
_MESSAGES: Final = MappingProxyType(
    {
        _OK: "成功",
        "1001": "会员不存在",
        "1002": "会员已绑定其他账号",
        "1003": "参数错误",
        "2001": "权益不存在",
        "2003": "权益已售罄",
        "2004": "积分不足",
        "2005": "兑换积分低于最低限额",
        "3001": "订单不存在",
        "3002": "券码已使用，无法退款",
        "3003": "该订单不支持退款",
        "3004": "券码已退款",
        "4001": "令牌无效或已过期",
        "4029": "请求过于频繁，请稍后重试",
        "9999": "系统繁忙，请稍后重试",
    }
)
# The kit's faults as MeiLife answers them; its sandbox-control faults keep their own code.
_KIT_CODES: Final = MappingProxyType(
    {
        "UNAUTHORIZED": "4001",
        "RATE_LIMITED": "4029",
        "UNAVAILABLE": "9999",
        "TIMEOUT": "9999",
        "NOT_FOUND": "3001",
    }
)
_LEVEL_NAMES: Final = MappingProxyType(
    {"V1": "普通会员", "V2": "白银会员", "V3": "黄金会员", "V4": "铂金会员"}
)
_MEMBERSHIP_DAYS: Final = 365
_COUPON_DAYS: Final = 30
_OEM_POINTS_PER_ML_POINT: Final = 4
_STORE: Final = "深圳南山万象城店"


@dataclass(frozen=True)
class _Benefit:
    name: str
    face_value: Decimal


_CATALOGUE: Final = MappingProxyType(
    {
        "coffee-10off": _Benefit("精品咖啡立减券", Decimal("10.00")),
        "carwash-std": _Benefit("标准洗车服务券", Decimal("35.00")),
        "parking-1h": _Benefit("商场停车1小时券", Decimal("12.50")),
    }
)


# -- what MeiLife accepts -------------------------------------------------------------------


class _RequestHeader(WireModel):
    msgId: str = Field(min_length=1, max_length=128)
    msgType: str
    timestamp: str
    channel: str = Field(min_length=1)


class _Request(WireModel):
    header: _RequestHeader
    body: dict[str, Any]


class _Bind(WireModel):
    outTradeNo: str = Field(min_length=1, max_length=64)
    oemMemberNo: str = Field(min_length=1, max_length=64)
    mobile: str | None = None
    memberLevel: Literal["V1", "V2", "V3", "V4"]
    memberNo: str | None = None


class _Redeem(WireModel):
    outTradeNo: str = Field(min_length=1, max_length=64)
    oemMemberNo: str = Field(min_length=1, max_length=64)
    mobile: str | None = None
    couponId: str
    quantity: int = Field(1, ge=1, le=100)


class _Exchange(WireModel):
    outTradeNo: str = Field(min_length=1, max_length=64)
    oemMemberNo: str = Field(min_length=1, max_length=64)
    mobile: str | None = None
    direction: Literal["OEM_TO_ML", "ML_TO_OEM"]
    points: int = Field(ge=1, le=10_000_000)


class _Refund(WireModel):
    outTradeNo: str = Field(min_length=1, max_length=64)
    mlOrderNo: str | None = None


# -- helpers --------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(_BEIJING)


def _text(moment: datetime) -> str:
    return moment.strftime(_TIME_FORMAT)


def _refusal(code: str, detail: str = "") -> SandboxFault:
    """A business refusal: HTTP 200 with MeiLife's code and Chinese message."""
    message = _MESSAGES[code] + (f": {detail}" if detail else "")
    return SandboxFault(200, code, message)


def _envelope(code: str, message: str, body: Mapping[str, Any]) -> dict[str, Any]:
    now = _now()
    return {
        "header": {
            "msgId": f"MLR{now:%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}",
            "timestamp": _text(now),
            "code": code,
            "msg": message,
        },
        "body": dict(body),
    }


def _ok(body: Mapping[str, Any]) -> dict[str, Any]:
    return _envelope(_OK, _MESSAGES[_OK], body)


def _parse(model: type[M], data: Any, msg_type: str) -> M:
    """The request body as ``model``, or MeiLife's ``1003`` naming the first bad field."""
    try:
        request = _Request.model_validate(data)
        if request.header.msgType != msg_type:
            raise _refusal("1003", f"header.msgType 应为 {msg_type}")
        return model.model_validate(request.body)
    except ValidationError as exc:
        raise _refusal("1003", field_path(exc.errors()[0]["loc"])) from None


def _member_no(sandbox: Sandbox, wire: _Bind) -> str:
    """The member number a bind gets: the one named, the member's own, or a new one."""
    bound = [
        order.data
        for order in sandbox.orders.values()
        if order.operation is Operation.LIFESTYLE_LINK
    ]
    if wire.memberNo is not None:
        holder = next((d for d in bound if d["answer"]["memberNo"] == wire.memberNo), None)
        if holder is None:
            raise _refusal("1001")
        if holder["oemMemberNo"] != wire.oemMemberNo:
            raise _refusal("1002")
        return wire.memberNo
    mine = next((d for d in bound if d["oemMemberNo"] == wire.oemMemberNo), None)
    return str(mine["answer"]["memberNo"]) if mine else f"ML{secrets.randbelow(10**7):07d}"


def _points(wire: _Exchange) -> tuple[int, int]:
    """Points deducted and gained; only whole MeiLife points are exchanged."""
    if wire.direction == "OEM_TO_ML":
        gained = wire.points // _OEM_POINTS_PER_ML_POINT
        return gained * _OEM_POINTS_PER_ML_POINT, gained
    return wire.points, wire.points * _OEM_POINTS_PER_ML_POINT


def _refunded_order(sandbox: Sandbox, wire: _Refund) -> SandboxOrder | None:
    """The order a refund names: by MeiLife's number, else by ours under any operation."""
    if wire.mlOrderNo is not None:
        return sandbox.orders.get(wire.mlOrderNo)
    found = (sandbox.existing(op, wire.outTradeNo) for op in _LIFECYCLE)
    return next((order for order in found if order is not None), None)


def _take(sandbox: Sandbox, order: SandboxOrder, answer: dict[str, Any]) -> dict[str, Any]:
    """Keep a new order with its answer, start its lifecycle, and answer."""
    order.data["answer"] = answer
    sandbox.keep(order)
    sandbox.start_lifecycle(order)
    return _ok(answer)


# -- notifications --------------------------------------------------------------------------


def _opened(order: SandboxOrder) -> dict[str, Any]:
    answer = order.data["answer"]
    return {
        "finishTime": answer["bindTime"],
        "memberNo": answer["memberNo"],
        "memberLevel": _LEVEL_NAMES[answer["memberLevel"]],
        "validUntil": answer["validUntil"],
    }


def _coupon(order: SandboxOrder) -> dict[str, Any]:
    answer = order.data["answer"]
    return {
        "couponId": answer["couponId"],
        "couponName": answer["couponName"],
        "faceValue": answer["faceValue"],
    }


def _verified(order: SandboxOrder) -> dict[str, Any]:
    if order.status != "unused":
        code = "3004" if order.status == "refunded" else "3002"
        raise SandboxFault(409, code, _MESSAGES[code])
    order.status = "used"
    return {"finishTime": _text(_now()), **_coupon(order), "storeName": _STORE}


def _refunded(order: SandboxOrder) -> dict[str, Any]:
    if order.status == "used":
        raise SandboxFault(409, "3002", _MESSAGES["3002"])
    if order.status == "unused":
        order.status = "refunded"
        order.data["refundTime"] = _text(_now())
    return {"finishTime": order.data["refundTime"], **_coupon(order)}


def _exchanged(order: SandboxOrder) -> dict[str, Any]:
    answer = order.data["answer"]
    return {
        "finishTime": answer["exchangeTime"],
        "deductPoints": answer["deductPoints"],
        "gainPoints": answer["gainPoints"],
    }


# Kind -> (the operation it follows, header.msgType, body.status, the kind's body fields).
_NOTIFICATIONS: Final[
    Mapping[str, tuple[Operation, str, str, Callable[[SandboxOrder], dict[str, Any]]]]
] = MappingProxyType(
    {
        "member_opened": (Operation.LIFESTYLE_LINK, "MEMBER_NOTIFY", "已开通", _opened),
        "coupon_verified": (Operation.LIFESTYLE_REDEEM, "COUPON_NOTIFY", "已核销", _verified),
        "coupon_refunded": (Operation.LIFESTYLE_REDEEM, "COUPON_NOTIFY", "已退款", _refunded),
        "points_exchanged": (
            Operation.LIFESTYLE_EXCHANGE_POINTS,
            "POINTS_NOTIFY",
            "兑换成功",
            _exchanged,
        ),
    }
)
_LIFECYCLE: Final = MappingProxyType(
    {
        Operation.LIFESTYLE_LINK: ("member_opened",),
        Operation.LIFESTYLE_REDEEM: ("coupon_verified",),
        Operation.LIFESTYLE_EXCHANGE_POINTS: ("points_exchanged",),
    }
)


class MeiLifeSandbox:
    """The ``meilife.v1`` simulator: routes, envelope errors and notifications."""

    dialect: str = "meilife.v1"

    def install(self, sandbox: Sandbox) -> None:
        """Add MeiLife's open API routes to ``sandbox.app``."""
        app = sandbox.app

        @app.post("/openapi/member/bind", tags=["meilife"])
        async def bind(request: Request) -> dict[str, Any]:
            """Bind an OEM member to a MeiLife membership at a level (V1..V4)."""
            wire = _parse(_Bind, await sandbox.accept(request), "MEMBER_BIND")
            known = sandbox.existing(Operation.LIFESTYLE_LINK, wire.outTradeNo)
            if known is not None:
                return _ok(known.data["answer"])
            if sandbox.rejects():
                raise _refusal("1001")
            member_no = _member_no(sandbox, wire)
            now = _now()
            order = SandboxOrder(
                reference=sandbox.new_reference("ML-MB"),
                order_id=wire.outTradeNo,
                operation=Operation.LIFESTYLE_LINK,
                data={"oemMemberNo": wire.oemMemberNo},
                status="bound",
            )
            answer = {
                "outTradeNo": wire.outTradeNo,
                "mlOrderNo": order.reference,
                "memberNo": member_no,
                "memberLevel": wire.memberLevel,
                "levelName": _LEVEL_NAMES[wire.memberLevel],
                "bindTime": _text(now),
                "validUntil": (now + timedelta(days=_MEMBERSHIP_DAYS)).date().isoformat(),
            }
            return _take(sandbox, order, answer)

        @app.post("/openapi/coupon/redeem", tags=["meilife"])
        async def redeem(request: Request) -> dict[str, Any]:
            """Issue coupons of a catalogue benefit to a member."""
            wire = _parse(_Redeem, await sandbox.accept(request), "COUPON_REDEEM")
            known = sandbox.existing(Operation.LIFESTYLE_REDEEM, wire.outTradeNo)
            if known is not None:
                return _ok(known.data["answer"])
            benefit = _CATALOGUE.get(wire.couponId)
            if benefit is None:
                raise _refusal("2001")
            if sandbox.rejects():
                raise _refusal("2003")
            now = _now()
            order = SandboxOrder(
                reference=sandbox.new_reference("RD"),
                order_id=wire.outTradeNo,
                operation=Operation.LIFESTYLE_REDEEM,
                status="unused",
            )
            answer = {
                "outTradeNo": wire.outTradeNo,
                "mlOrderNo": order.reference,
                "couponId": wire.couponId,
                "couponName": benefit.name,
                "couponCode": f"{secrets.randbelow(10**12):012d}",
                "quantity": wire.quantity,
                # MeiLife sends yuan as JSON numbers; a float reads back as its shortest repr.
                "faceValue": float(benefit.face_value * wire.quantity),
                "redeemTime": _text(now),
                "validUntil": (now + timedelta(days=_COUPON_DAYS)).date().isoformat(),
            }
            return _take(sandbox, order, answer)

        @app.post("/openapi/points/exchange", tags=["meilife"])
        async def exchange(request: Request) -> dict[str, Any]:
            """Exchange points between the OEM's programme and MeiLife's, four to one."""
            wire = _parse(_Exchange, await sandbox.accept(request), "POINTS_EXCHANGE")
            known = sandbox.existing(Operation.LIFESTYLE_EXCHANGE_POINTS, wire.outTradeNo)
            if known is not None:
                return _ok(known.data["answer"])
            deducted, gained = _points(wire)
            if gained == 0:
                raise _refusal("2005")
            if sandbox.rejects():
                raise _refusal("2004")
            order = SandboxOrder(
                reference=sandbox.new_reference("PX"),
                order_id=wire.outTradeNo,
                operation=Operation.LIFESTYLE_EXCHANGE_POINTS,
                status="exchanged",
            )
            answer = {
                "outTradeNo": wire.outTradeNo,
                "mlOrderNo": order.reference,
                "direction": wire.direction,
                "deductPoints": deducted,
                "gainPoints": gained,
                "exchangeTime": _text(_now()),
            }
            return _take(sandbox, order, answer)

        @app.post("/openapi/coupon/refund", tags=["meilife"])
        async def refund(request: Request) -> dict[str, Any]:
            """Refund a redemption while its coupon is unused; a repeated refund answers again."""
            wire = _parse(_Refund, await sandbox.accept(request), "COUPON_REFUND")
            order = _refunded_order(sandbox, wire)
            if order is None or order.order_id != wire.outTradeNo:
                raise _refusal("3001")
            if order.operation is not Operation.LIFESTYLE_REDEEM:
                raise _refusal("3003")
            if order.status == "used":
                raise _refusal("3002")
            if order.status == "unused":
                order.status = "refunded"
                order.data["refundTime"] = _text(_now())
            return _ok(
                {
                    "outTradeNo": order.order_id,
                    "mlOrderNo": order.reference,
                    "refundStatus": "已退款",
                    "refundTime": order.data["refundTime"],
                }
            )

    def error_body(self, fault: SandboxFault) -> tuple[int, Any]:
        """MeiLife's envelope with its code; system errors are HTTP 500 with ``9999``."""
        code = _KIT_CODES.get(fault.code, fault.code)
        message = fault.message if code == fault.code else _MESSAGES[code]
        status = 500 if fault.status >= 500 else fault.status
        return status, _envelope(code, message, {})

    def webhook(self, sandbox: Sandbox, order: SandboxOrder, kind: str) -> dict[str, Any]:
        """MeiLife's notification of ``kind``; verifying or refunding a coupon happens here."""
        notification = _NOTIFICATIONS.get(kind)
        if notification is None or notification[0] is not order.operation:
            raise SandboxFault(404, "1003", f"no notification {kind!r} for this order")
        _, msg_type, status, fields_of = notification
        fields = fields_of(order)
        order.version += 1
        now = _now()
        return {
            "header": {
                "version": "1.0",
                "msgId": f"MLN{now:%Y%m%d%H%M%S}{secrets.randbelow(10**9):09d}",
                "msgType": msg_type,
                "sendTime": _text(now),
                "seqNo": order.version,
            },
            "body": {
                "outTradeNo": order.order_id,
                "mlOrderNo": order.reference,
                "status": status,
                **fields,
            },
        }

    def lifecycle(self, operation: Operation) -> Sequence[str]:
        """One notification after each operation: opened, verified, exchanged."""
        return _LIFECYCLE.get(operation, ())


DIALECT: Final = MeiLifeSandbox()
"""The ``meilife.v1`` simulator ``create_sandbox`` uses."""
