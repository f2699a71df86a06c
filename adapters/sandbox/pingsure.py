"""Simulator of PingSure's v1 API: quotes priced from the covers, proposals, surrenders.

Speaks the dialect ``adapters.pingsure.outbound`` documents: ``POST /api/v1/quotes``,
``POST /api/v1/proposals``, ``POST /api/v1/policies/{proposal_no}/surrender``; money in
fen, times at ``+08:00``, the policy period an ISO 8601 duration, errors as
``{"error_code": 40901, "error_msg": "..."}`` whose first three digits are the status.

A quote is priced per cover: the compulsory cover (JQX) at its regulated flat rate, the
third-party and damage covers by the driver's age band, the damage cover also by the
powertrain and the vehicle's age; the EV-battery cover (SDX) only for new-energy
vehicles. A proposal binds a quote that has not expired; PingSure then notifies the
policy issued. Claims, surrender and underwriting notices are sent with the
``POST /_orders/{proposal_no}/emit/{kind}`` control.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, Final, TypeVar

from fastapi import Request
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from adapters.pingsure.outbound import DatePeriod
from adapters.sandbox.kit import Sandbox, SandboxFault, SandboxOrder
from contracts import Money, Operation

__all__ = ["DIALECT", "PingSureSandbox"]

M = TypeVar("M", bound=BaseModel)

_BEIJING: Final = timezone(timedelta(hours=8))
_QUOTE_VALIDITY: Final = timedelta(hours=72)
_CHANNEL_CODE: Final = "OEM-AUTO"  # what PingSure calls the OEM's channel in its notices
_ACCEPTED: Final = {"status": 100, "status_desc": "已受理，待承保"}

# PingSure's error codes; the first three digits are the HTTP status.
_MISSING_FIELD: Final = "40012"
_INVALID_FIELD: Final = "40013"
_NO_PROPOSAL: Final = "40401"
_NO_QUOTE: Final = "40402"
_QUOTE_EXPIRED: Final = "40901"
_IN_FORCE: Final = "40903"
_DECLINED: Final = "42201"
_NOT_OFFERED: Final = "42202"


class _Cover(StrEnum):
    JQX = "JQX"
    SZX = "SZX"
    CSX = "CSX"
    CSRY = "CSRY"
    BLX = "BLX"
    SDX = "SDX"
    JYFW = "JYFW"


class _Energy(StrEnum):
    CD = "CD"
    CDHH = "CDHH"
    ZC = "ZC"
    YDHH = "YDHH"
    RLDC = "RLDC"
    RY = "RY"


# Cover -> (name on the policy, base premium in fen for a family car).
_COVERS: Final = MappingProxyType(
    {
        _Cover.JQX: ("机动车交通事故责任强制保险", 95_000),
        _Cover.SZX: ("机动车第三者责任保险", 110_000),
        _Cover.CSX: ("机动车损失保险", 280_000),
        _Cover.CSRY: ("机动车车上人员责任保险", 9_000),
        _Cover.BLX: ("玻璃单独破碎险", 25_000),
        _Cover.SDX: ("新能源汽车三电系统保障", 60_000),
        _Cover.JYFW: ("道路救援服务", 8_000),
    }
)
# Damage claims cost more on electric drivetrains (battery packs, repair networks).
_DAMAGE_BY_ENERGY: Final = MappingProxyType(
    {
        _Energy.CD: Decimal("1.25"),
        _Energy.CDHH: Decimal("1.15"),
        _Energy.ZC: Decimal("1.15"),
        _Energy.YDHH: Decimal("1.05"),
        _Energy.RLDC: Decimal("1.30"),
        _Energy.RY: Decimal("1.00"),
    }
)
_NEW_ENERGY: Final = frozenset({_Energy.CD, _Energy.CDHH, _Energy.ZC, _Energy.RLDC})
_BY_DRIVER_AGE: Final = MappingProxyType(
    {
        "18-24": Decimal("1.35"),
        "25-29": Decimal("1.10"),
        "30-39": Decimal("1.00"),
        "40-49": Decimal("0.95"),
        "50-59": Decimal("1.00"),
        "60+": Decimal("1.15"),
    }
)
_UNKNOWN_DRIVER: Final = Decimal("1.10")
_DRIVER_RATED: Final = frozenset({_Cover.SZX, _Cover.CSX})
_DEPRECIATION_PER_YEAR: Final = Decimal("0.08")
_DEPRECIATION_FLOOR: Final = Decimal("0.60")


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


_Period = Annotated[DatePeriod, BeforeValidator(DatePeriod.parse)]
_Required = Annotated[str, Field(min_length=1)]


class _VehicleIn(_In):
    vin: Annotated[str, Field(min_length=17, max_length=17)]
    model_year: Annotated[int, Field(ge=1990, le=2100)]
    energy_type: _Energy


class _DriverIn(_In):
    age_band: str | None = None


class _QuoteIn(_In):
    channel_order_no: _Required
    city_name: str | None = None
    effective_time: AwareDatetime
    insurance_period: _Period
    coverage_codes: Annotated[list[_Cover], Field(min_length=1)]
    vehicle: _VehicleIn
    driver: _DriverIn | None = None


class _ApplicantIn(_In):
    name: _Required
    id_no: _Required


class _ProposalIn(_In):
    channel_order_no: _Required
    quote_no: _Required
    effective_time: AwareDatetime
    insurance_period: _Period
    applicant: _ApplicantIn
    vehicle: _VehicleIn


class _SurrenderIn(_In):
    channel_order_no: _Required
    surrender_reason: int


def _read(model: type[M], body: Any) -> M:
    """The request body as PingSure reads it, or its 400 naming the field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        if first["type"] == "missing":
            raise SandboxFault(400, _MISSING_FIELD, f"必填字段缺失：{where}") from exc
        raise SandboxFault(400, _INVALID_FIELD, f"字段格式错误：{where}") from exc


STANDING_QUOTE_NO: Final = "PQ-2030-88412"
"""A quote the sandbox always holds, so the published bind example works as it stands."""


def _standing_quote(sandbox: Sandbox, quote_no: str) -> SandboxOrder | None:
    if quote_no != STANDING_QUOTE_NO:
        return None
    covers = (_Cover.JQX, _Cover.SZX, _Cover.CSX)
    items = [
        {"coverage_code": c.value, "coverage_name": _COVERS[c][0], "premium_fen": _COVERS[c][1]}
        for c in covers
    ]
    answer = {
        "quote_no": quote_no,
        "insurer_name": sandbox.agreement.name,
        "total_premium_fen": sum(_COVERS[c][1] for c in covers),
        "items": items,
    }
    far = datetime(2100, 1, 1, tzinfo=UTC)
    return SandboxOrder(
        reference=quote_no,
        order_id="ord_standing",
        operation=Operation.INSURANCE_QUOTE,
        data={"answer": answer, "expires_at": far},
        status="quoted",
    )


def _now() -> datetime:
    return datetime.now(_BEIJING)


def _start_day(moment: datetime) -> date:
    return moment.astimezone(_BEIJING).date()


def _premium(cover: _Cover, quote: _QuoteIn) -> int:
    vehicle = quote.vehicle
    if cover is _Cover.SDX and vehicle.energy_type not in _NEW_ENERGY:
        raise SandboxFault(422, _NOT_OFFERED, f"该车辆不可投保所选险种：{cover}")
    rate = Decimal(1)
    if cover in _DRIVER_RATED:
        band = quote.driver.age_band if quote.driver else None
        rate *= _BY_DRIVER_AGE.get(band or "", _UNKNOWN_DRIVER)
    if cover is _Cover.CSX:
        age = max(0, _start_day(quote.effective_time).year - vehicle.model_year)
        rate *= _DAMAGE_BY_ENERGY[vehicle.energy_type]
        rate *= max(_DEPRECIATION_FLOOR, 1 - _DEPRECIATION_PER_YEAR * age)
    return Money(amount=_COVERS[cover][1], currency="CNY").apply_rate(rate).amount


def _policy_issued(order: SandboxOrder) -> tuple[int, str, dict[str, Any]]:
    data = order.data
    policy = {
        "policy_no": data["policy_no"],
        "premium_fen": data["premium_fen"],
        "coverage_codes": data["coverage_codes"],
        "start_date": data["start_date"].isoformat(),
        "end_date": data["end_date"].isoformat(),
    }
    return 200, "承保成功", {"policy": policy}


def _policy_surrendered(order: SandboxOrder) -> tuple[int, str, dict[str, Any]]:
    data = order.data
    policy = {
        "policy_no": data["policy_no"],
        "surrender_reason": 1,
        "refund_premium_fen": data["premium_fen"],
    }
    return 900, "已退保", {"policy": policy}


def _underwriting_declined(order: SandboxOrder) -> tuple[int, str, dict[str, Any]]:
    section = {"decline_code": "UW-R12", "decline_msg": "车辆出险次数超过承保规则"}
    return 410, "核保不通过", {"underwriting": section}


def _claim_no(order: SandboxOrder) -> str:
    # One claim per order is enough for demos; every claim notice names the same one.
    claim_no: str = order.data.setdefault("claim_no", f"CLM-{secrets.token_hex(4).upper()}")
    return claim_no


def _claim_reported(order: SandboxOrder) -> tuple[int, str, dict[str, Any]]:
    claim = {
        "claim_no": _claim_no(order),
        "report_time": (_now() - timedelta(minutes=5)).isoformat(timespec="seconds"),
        "accident_desc": "停车场倒车时刮擦立柱，左后门凹陷",
    }
    return 310, "已报案", {"claim": claim}


def _claim_accepted(order: SandboxOrder) -> tuple[int, str, dict[str, Any]]:
    return 320, "已立案", {"claim": {"claim_no": _claim_no(order), "adjuster_code": "SZ-ADJ-031"}}


def _claim_closed(order: SandboxOrder) -> tuple[int, str, dict[str, Any]]:
    # A repair bill between 2,000 and 20,000 yuan, the same on every resend.
    paid = order.data.setdefault("claim_paid_fen", 200_000 + secrets.randbelow(1_800_001))
    return 390, "已结案", {"claim": {"claim_no": _claim_no(order), "paid_amount_fen": paid}}


_Notice = Callable[[SandboxOrder], tuple[int, str, dict[str, Any]]]
_NOTICES: Final[Mapping[str, _Notice]] = MappingProxyType(
    {
        "policy_issued": _policy_issued,
        "policy_surrendered": _policy_surrendered,
        "underwriting_declined": _underwriting_declined,
        "claim_reported": _claim_reported,
        "claim_accepted": _claim_accepted,
        "claim_closed": _claim_closed,
    }
)


class PingSureSandbox:
    """The PingSure v1 simulator: prices quotes, binds them, surrenders policies, notifies."""

    dialect: str = "pingsure.v1"

    def __init__(self) -> None:
        # notify_id is PingSure's event id; counting from the clock keeps restarts unique.
        self._notify_ids = itertools.count(time.time_ns() // 1_000_000)

    def install(self, sandbox: Sandbox) -> None:
        """Add PingSure's quote, proposal and surrender routes."""
        app = sandbox.app

        @app.post("/api/v1/quotes", tags=["pingsure"])
        async def create_quote(request: Request) -> dict[str, Any]:
            """Price the requested covers for a vehicle and driver (a quote binds nothing)."""
            body = await sandbox.accept(request)
            wanted = _read(_QuoteIn, body)
            known = sandbox.existing(Operation.INSURANCE_QUOTE, wanted.channel_order_no)
            if known is not None:
                return dict(known.data["answer"])
            if sandbox.rejects():
                raise SandboxFault(422, _DECLINED, "核保不通过：车辆不符合承保规则")
            premiums = {cover: _premium(cover, wanted) for cover in wanted.coverage_codes}
            items = [
                {
                    "coverage_code": cover.value,
                    "coverage_name": _COVERS[cover][0],
                    "premium_fen": fen,
                }
                for cover, fen in premiums.items()
            ]
            now = _now()
            quote_no = sandbox.new_reference("PQ")
            answer = {
                "quote_no": quote_no,
                "channel_order_no": wanted.channel_order_no,
                "insurer_name": sandbox.agreement.name,
                "city_name": wanted.city_name,
                "total_premium_fen": sum(premiums.values()),
                "items": items,
                "effective_time": wanted.effective_time.astimezone(_BEIJING).isoformat(),
                "insurance_period": str(wanted.insurance_period),
                "quote_time": now.isoformat(timespec="seconds"),
                "expire_time": (now + _QUOTE_VALIDITY).isoformat(timespec="seconds"),
            }
            order = SandboxOrder(
                reference=quote_no,
                order_id=wanted.channel_order_no,
                operation=Operation.INSURANCE_QUOTE,
                data={"answer": answer, "expires_at": now + _QUOTE_VALIDITY},
                status="quoted",
            )
            sandbox.start_lifecycle(sandbox.keep(order))
            return answer

        @app.post("/api/v1/proposals", tags=["pingsure"])
        async def create_proposal(request: Request) -> dict[str, Any]:
            """Bind a quote; one proposal per channel_order_no, repeats answer the first."""
            body = await sandbox.accept(request)
            wanted = _read(_ProposalIn, body)
            known = sandbox.existing(Operation.INSURANCE_BIND, wanted.channel_order_no)
            if known is not None:
                return dict(known.data["answer"])
            quoted = sandbox.orders.get(wanted.quote_no) or _standing_quote(
                sandbox, wanted.quote_no
            )
            if quoted is None or quoted.operation is not Operation.INSURANCE_QUOTE:
                raise SandboxFault(404, _NO_QUOTE, "报价单不存在")
            if quoted.data["expires_at"] < datetime.now(UTC):
                raise SandboxFault(409, _QUOTE_EXPIRED, "报价已过期，请重新报价")
            if sandbox.rejects():
                raise SandboxFault(422, _DECLINED, "核保不通过：车辆出险次数超过承保规则")
            offer = quoted.data["answer"]
            starts = _start_day(wanted.effective_time)
            codes = [item["coverage_code"] for item in offer["items"]]
            answer = {
                "proposal_no": sandbox.new_reference("TDAA"),
                "channel_order_no": wanted.channel_order_no,
                "quote_no": wanted.quote_no,
                "policy_no": sandbox.new_reference("PDAA"),
                **_ACCEPTED,
                "insurer_name": offer["insurer_name"],
                "total_premium_fen": offer["total_premium_fen"],
                "coverage_codes": codes,
                "effective_time": wanted.effective_time.astimezone(_BEIJING).isoformat(),
                "insurance_period": str(wanted.insurance_period),
                "accept_time": _now().isoformat(timespec="seconds"),
            }
            order = SandboxOrder(
                reference=answer["proposal_no"],
                order_id=wanted.channel_order_no,
                operation=Operation.INSURANCE_BIND,
                data={
                    "answer": answer,
                    "policy_no": answer["policy_no"],
                    "premium_fen": answer["total_premium_fen"],
                    "coverage_codes": codes,
                    "start_date": starts,
                    "end_date": wanted.insurance_period.last_day_from(starts),
                },
                status="accepted",
            )
            sandbox.start_lifecycle(sandbox.keep(order))
            return answer

        @app.post("/api/v1/policies/{proposal_no}/surrender", tags=["pingsure"])
        async def surrender(proposal_no: str, request: Request) -> dict[str, Any]:
            """Surrender a policy before its start date, for the full premium back."""
            body = await sandbox.accept(request)
            wanted = _read(_SurrenderIn, body)
            order = sandbox.orders.get(proposal_no) or next(
                (o for o in sandbox.orders.values() if o.data.get("policy_no") == proposal_no),
                None,
            )
            if (
                order is None
                or order.operation is not Operation.INSURANCE_BIND
                or order.order_id != wanted.channel_order_no
            ):
                raise SandboxFault(404, _NO_PROPOSAL, "投保单不存在")
            if order.status != "surrendered":
                if _now().date() >= order.data["start_date"]:
                    raise SandboxFault(409, _IN_FORCE, "保单已生效，不能线上退保")
                order.status = "surrendered"
                order.version += 1
                order.data["surrender"] = {
                    "proposal_no": order.reference,
                    "policy_no": order.data["policy_no"],
                    "status": 900,
                    "status_desc": "已退保",
                    "refund_premium_fen": order.data["premium_fen"],
                    "surrender_time": _now().isoformat(timespec="seconds"),
                }
            return dict(order.data["surrender"])

    def error_body(self, fault: SandboxFault) -> tuple[int, Any]:
        """PingSure's error shape; the kit's own faults get the status followed by 00."""
        code = int(fault.code) if fault.code.isdigit() else fault.status * 100
        return fault.status, {"error_code": code, "error_msg": fault.message}

    def webhook(self, sandbox: Sandbox, order: SandboxOrder, kind: str) -> dict[str, Any]:
        """PingSure's notification of ``kind`` for a proposal, as its translator reads it."""
        if order.operation is not Operation.INSURANCE_BIND:
            raise SandboxFault(409, "40900", "a quote has no policy to notify about")
        notice = _NOTICES.get(kind)
        if notice is None:
            raise SandboxFault(
                404, "40400", f"no notification {kind!r}; expected one of {', '.join(_NOTICES)}"
            )
        status, description, section = notice(order)
        return {
            "partner_code": _CHANNEL_CODE,
            "sign_type": "HMAC-SHA256",
            "notify_id": next(self._notify_ids),
            "status": status,
            "status_desc": description,
            "status_time": _now().isoformat(timespec="seconds"),
            "channel_order_no": order.order_id,
            "proposal_no": order.reference,
            **section,
        }

    def lifecycle(self, operation: Operation) -> Sequence[str]:
        """After a bind PingSure notifies the policy issued; a quote notifies nothing."""
        return ("policy_issued",) if operation is Operation.INSURANCE_BIND else ()


DIALECT: Final = PingSureSandbox()
"""The simulator ``create_sandbox`` uses for agreements naming ``pingsure.v1``."""
