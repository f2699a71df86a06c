"""PingSure v1 notifications: snake_case, numeric status codes, fen integers, +08:00 times."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field

from adapters._wire import (
    FenInt,
    OffsetDateTime,
    WireModel,
    canonical_terms,
    parse,
    require_object,
    unknown_kind,
)
from contracts import (
    CancelReason,
    CanonicalEvent,
    Coverage,
    EventData,
    EventType,
    InsuranceClaimAcknowledged,
    InsuranceClaimOpened,
    InsuranceClaimSettled,
    InsurancePolicyIssued,
    LongText,
    OrderCancelled,
    OrderFailed,
    OrderId,
    PartnerReference,
    Text,
)

__all__ = ["PingSureWebhooks"]

# PingSure's coverage codes are the pinyin initials of the Chinese names (交强险 -> JQX).
_COVERAGES: Final = MappingProxyType(
    {
        "JQX": Coverage.COMPULSORY_TRAFFIC,
        "SZX": Coverage.THIRD_PARTY_LIABILITY,
        "CSX": Coverage.VEHICLE_DAMAGE,
        "CSRY": Coverage.DRIVER_PASSENGER,
        "BLX": Coverage.GLASS,
        "SDX": Coverage.EV_BATTERY,
        "JYFW": Coverage.ROADSIDE_ASSISTANCE,
    }
)

# Surrender reasons; a code PingSure adds later still cancels the order, as OTHER.
_SURRENDER_REASONS: Final = MappingProxyType(
    {1: CancelReason.CUSTOMER_REQUEST, 2: CancelReason.DUPLICATE, 3: CancelReason.REFUND}
)


def _coverage(value: object) -> Coverage:
    if not isinstance(value, str) or value not in _COVERAGES:
        raise ValueError(f"unknown coverage code; expected one of {', '.join(_COVERAGES)}")
    return _COVERAGES[value]


class _Notify(WireModel):
    notify_id: Annotated[int, Field(ge=1)]
    status: int
    status_time: OffsetDateTime
    channel_order_no: OrderId
    proposal_no: PartnerReference
    policy: dict[str, Any] | None = None
    claim: dict[str, Any] | None = None
    underwriting: dict[str, Any] | None = None


class _PolicyIssued(WireModel):
    policy_no: PartnerReference
    premium_fen: FenInt
    coverage_codes: Annotated[
        list[Annotated[Coverage, BeforeValidator(_coverage)]], Field(min_length=1)
    ]
    start_date: date
    end_date: date


class _PolicySurrendered(WireModel):
    surrender_reason: int
    surrender_remark: LongText | None = None


class _ClaimReported(WireModel):
    claim_no: PartnerReference
    report_time: OffsetDateTime
    accident_desc: LongText | None = None


class _ClaimAccepted(WireModel):
    claim_no: PartnerReference


class _ClaimClosed(WireModel):
    claim_no: PartnerReference
    paid_amount_fen: FenInt


class _Declined(WireModel):
    decline_code: Text
    decline_msg: LongText | None = None


def _issued(notify: _Notify) -> EventData:
    wire = parse(_PolicyIssued, notify.policy, at="policy")
    return InsurancePolicyIssued(
        policy_number=wire.policy_no,
        premium=wire.premium_fen,
        coverages=wire.coverage_codes,
        starts_on=wire.start_date,
        ends_on=wire.end_date,
    )


def _surrendered(notify: _Notify) -> EventData:
    wire = parse(_PolicySurrendered, notify.policy, at="policy")
    reason = _SURRENDER_REASONS.get(wire.surrender_reason, CancelReason.OTHER)
    return OrderCancelled(reason=reason, note=wire.surrender_remark)


def _declined(notify: _Notify) -> EventData:
    wire = parse(_Declined, notify.underwriting, at="underwriting")
    return OrderFailed(
        reason_code=f"underwriting_declined:{wire.decline_code}", note=wire.decline_msg
    )


def _claim_reported(notify: _Notify) -> EventData:
    wire = parse(_ClaimReported, notify.claim, at="claim")
    return InsuranceClaimOpened(
        claim_id=wire.claim_no, reported_at=wire.report_time, description=wire.accident_desc
    )


def _claim_accepted(notify: _Notify) -> EventData:
    wire = parse(_ClaimAccepted, notify.claim, at="claim")
    return InsuranceClaimAcknowledged(claim_id=wire.claim_no)


def _claim_closed(notify: _Notify) -> EventData:
    wire = parse(_ClaimClosed, notify.claim, at="claim")
    return InsuranceClaimSettled(claim_id=wire.claim_no, settled_amount=wire.paid_amount_fen)


_E = EventType
_Mapper = Callable[[_Notify], EventData]
_STATUSES: Final[Mapping[int, tuple[EventType, _Mapper]]] = MappingProxyType(
    {
        200: (_E.INSURANCE_POLICY_ISSUED, _issued),  # 承保成功
        310: (_E.INSURANCE_CLAIM_OPENED, _claim_reported),  # 报案
        320: (_E.INSURANCE_CLAIM_ACKNOWLEDGED, _claim_accepted),  # 立案
        390: (_E.INSURANCE_CLAIM_SETTLED, _claim_closed),  # 结案赔付
        410: (_E.ORDER_FAILED, _declined),  # 核保不通过
        900: (_E.ORDER_CANCELLED, _surrendered),  # 退保
    }
)


class PingSureWebhooks:
    """Translates PingSure's policy and claim notifications into canonical insurance events."""

    dialect: str = "pingsure.v1"

    def event_types(self) -> frozenset[EventType]:
        """The canonical event types PingSure's status codes map to."""
        return frozenset(event_type for event_type, _ in _STATUSES.values())

    def translate(self, payload: Mapping[str, Any], *, partner_id: str) -> CanonicalEvent:
        """The canonical event of one PingSure notification (event id ``pingsure-<notify_id>``)."""
        notify = parse(_Notify, require_object(payload))
        status = _STATUSES.get(notify.status)
        if status is None:
            raise unknown_kind("status", notify.status, _STATUSES)
        event_type, data_of = status
        with canonical_terms():
            return CanonicalEvent(
                # A bare number says nothing in an order's history; the prefix names its source.
                event_id=f"pingsure-{notify.notify_id}",
                type=event_type,
                partner_id=partner_id,
                order_id=notify.channel_order_no,
                partner_reference=notify.proposal_no,
                occurred_at=notify.status_time,
                # PingSure keeps no per-order counter; its status times are to the second.
                sequence=0,
                data=data_of(notify),
            )
