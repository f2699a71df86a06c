"""MeiLife v1 notifications: ``header``/``body`` envelope, Chinese statuses, Beijing local time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field

from adapters._wire import (
    Counter,
    WireModel,
    canonical_terms,
    cny_of,
    parse,
    require_object,
    to_utc,
    unknown_kind,
)
from contracts import (
    CancelReason,
    CanonicalEvent,
    EventData,
    EventId,
    EventType,
    LifestyleBenefitRedeemed,
    LifestyleMembershipLinked,
    LifestylePointsExchanged,
    Money,
    OrderCancelled,
    OrderId,
    PartnerReference,
    Text,
)

__all__ = ["MeiLifeWebhooks"]

# China has kept UTC+8 all year since 1991, so a fixed offset is exact and needs no tz database.
_BEIJING: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"

# MeiLife's Chinese level names; a level it adds later is passed on as MeiLife names it.
_LEVELS: Final = MappingProxyType(
    {"普通会员": "standard", "白银会员": "silver", "黄金会员": "gold", "铂金会员": "platinum"}
)


def _beijing_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError('must be a "yyyy-MM-dd HH:mm:ss" string in Beijing time')
    try:
        local = datetime.strptime(value, _TIME_FORMAT)
    except ValueError:
        raise ValueError(f'{value[:40]!r} is not "yyyy-MM-dd HH:mm:ss"') from None
    return to_utc(local.replace(tzinfo=_BEIJING))


def _yuan_number(value: object) -> Money:
    if isinstance(value, str):
        raise ValueError("must be a JSON number of yuan, not a string")
    return cny_of(value)


_BeijingTime = Annotated[datetime, BeforeValidator(_beijing_time)]
_YuanNumber = Annotated[Money, BeforeValidator(_yuan_number)]
_Points = Annotated[int, Field(ge=0)]


class _Header(WireModel):
    msgId: EventId
    msgType: str
    seqNo: Counter = 0


class _Message(WireModel):
    header: _Header
    body: dict[str, Any]


class _Body(WireModel):
    outTradeNo: OrderId
    mlOrderNo: PartnerReference
    status: str
    finishTime: _BeijingTime


class _MemberOpened(WireModel):
    memberNo: PartnerReference
    memberLevel: Text


class _CouponVerified(WireModel):
    couponId: PartnerReference
    faceValue: _YuanNumber


class _PointsExchanged(WireModel):
    deductPoints: _Points
    gainPoints: _Points


def _linked(body: Mapping[str, Any], common: _Body) -> EventData:
    wire = parse(_MemberOpened, body, at="body")
    tier = _LEVELS.get(wire.memberLevel, wire.memberLevel)
    return LifestyleMembershipLinked(partner_member_ref=wire.memberNo, partner_tier=tier)


def _redeemed(body: Mapping[str, Any], common: _Body) -> EventData:
    wire = parse(_CouponVerified, body, at="body")
    return LifestyleBenefitRedeemed(
        redemption_id=common.mlOrderNo, benefit_id=wire.couponId, amount=wire.faceValue
    )


def _refunded(body: Mapping[str, Any], common: _Body) -> EventData:
    return OrderCancelled(reason=CancelReason.REFUND)


def _exchanged(body: Mapping[str, Any], common: _Body) -> EventData:
    wire = parse(_PointsExchanged, body, at="body")
    return LifestylePointsExchanged(
        exchange_id=common.mlOrderNo,
        points_debited=wire.deductPoints,
        points_credited=wire.gainPoints,
    )


_E = EventType
_Mapper = Callable[[Mapping[str, Any], _Body], EventData]
# Keyed by message type, then by the Chinese status text MeiLife puts in body.status.
_KINDS: Final[Mapping[str, Mapping[str, tuple[EventType, _Mapper]]]] = MappingProxyType(
    {
        "MEMBER_NOTIFY": {"已开通": (_E.LIFESTYLE_MEMBERSHIP_LINKED, _linked)},
        "COUPON_NOTIFY": {
            "已核销": (_E.LIFESTYLE_BENEFIT_REDEEMED, _redeemed),
            "已退款": (_E.ORDER_CANCELLED, _refunded),
        },
        "POINTS_NOTIFY": {"兑换成功": (_E.LIFESTYLE_POINTS_EXCHANGED, _exchanged)},
    }
)


class MeiLifeWebhooks:
    """Translates MeiLife's membership, coupon and points notifications into canonical events."""

    dialect: str = "meilife.v1"

    def event_types(self) -> frozenset[EventType]:
        """The canonical event types MeiLife's message types and statuses map to."""
        return frozenset(t for statuses in _KINDS.values() for t, _ in statuses.values())

    def translate(self, payload: Mapping[str, Any], *, partner_id: str) -> CanonicalEvent:
        """The canonical event of one MeiLife notification; ``header.msgId`` is the event id."""
        message = parse(_Message, require_object(payload))
        statuses = _KINDS.get(message.header.msgType)
        if statuses is None:
            raise unknown_kind("header.msgType", message.header.msgType, _KINDS)
        common = parse(_Body, message.body, at="body")
        kind = statuses.get(common.status)
        if kind is None:
            raise unknown_kind("body.status", common.status, statuses)
        event_type, data_of = kind
        with canonical_terms():
            return CanonicalEvent(
                event_id=message.header.msgId,
                type=event_type,
                partner_id=partner_id,
                order_id=common.outTradeNo,
                partner_reference=common.mlOrderNo,
                # finishTime is when the status took effect; a retried message keeps it.
                occurred_at=common.finishTime,
                sequence=message.header.seqNo,
                data=data_of(message.body, common),
            )
