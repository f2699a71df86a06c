"""PingSure v1 outbound API: motor insurance quotes, proposals (binding) and surrenders.

The dialect, as PingSure documents it to channel partners:

- **Auth**: every request HMAC-signed (``X-Key-Id``, ``X-Timestamp``, ``X-Nonce``,
  ``X-Signature``; see ``adapters.auth``); the gateway's client attaches it.
- **Shape**: JSON, snake_case. Our order id travels as ``channel_order_no`` (its
  notifications quote it back there); PingSure's references are ``quote_no`` and
  ``proposal_no`` (the proposal is what a bind creates; its ``policy_no`` is
  reserved at once and confirmed by the policy-issued notification).
- **Units**: money in integer fen (``total_premium_fen``); times ISO 8601 with the
  ``+08:00`` offset; a policy period is ``effective_time`` plus an ISO 8601
  duration ``insurance_period`` (``"P1Y"``), its last covered day being the day
  before the period ends; coverages are PingSure's own codes (``JQX`` compulsory,
  ``SZX`` third-party, ``CSX`` damage, ``CSRY`` driver and passengers, ``BLX``
  glass, ``SDX`` EV battery, ``JYFW`` roadside assistance); powertrains are
  ``energy_type`` codes (``CD`` battery-electric, ``CDHH`` plug-in hybrid, ``ZC``
  range extender, ``YDHH`` hybrid, ``RLDC`` fuel cell, ``RY`` combustion).
- **Idempotency**: the ``Idempotency-Key`` header on quotes and proposals; PingSure
  also answers a repeated proposal for the same ``channel_order_no`` with the
  first one.
- **Errors**: HTTP 4xx with ``{"error_code": 40901, "error_msg": "..."}``, the
  first three digits of the code being the HTTP status (``40012`` missing field,
  ``40013`` invalid field, ``40401`` no such proposal, ``40402`` no such quote,
  ``40901`` quote expired, ``40903`` policy already in force, ``42201``
  underwriting declined, ``42202`` coverage not offered for the vehicle); 401/403
  for signatures, 429 with ``Retry-After``, 5xx for its outages.
- **Pagination**: none; every call answers one object.

Paths::

    POST /api/v1/quotes                                 price a vehicle's covers
    POST /api/v1/proposals                              bind a quote (real-name applicant)
    POST /api/v1/policies/{proposal_no}/surrender       surrender before the start date
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from types import MappingProxyType
from typing import Annotated, Any, Final, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import AwareDatetime, BeforeValidator, Field, PlainSerializer, ValidationError

from adapters._http import canonical, read_json, read_model, send, status_error
from adapters._wire import FenInt, OffsetDateTime, WireModel, field_path
from adapters.errors import PartnerCallError, PartnerRejected, PartnerUnavailable
from adapters.pingsure.webhooks import _COVERAGES, _coverage
from adapters.protocol import OutboundCall
from contracts import (
    Coverage,
    InsurancePolicy,
    InsuranceQuote,
    InsuranceQuotes,
    Operation,
    OrderId,
    PartnerReference,
    Powertrain,
    ServiceResult,
    Text,
    national_id_birth_date,
)

__all__ = ["DatePeriod", "PingSureApi"]

W = TypeVar("W", bound=WireModel)

_BEIJING: Final = timezone(timedelta(hours=8))
_QUOTES: Final = "/api/v1/quotes"
_PROPOSALS: Final = "/api/v1/proposals"
_CUSTOMER_REQUEST: Final = 1  # surrender_reason 1: the policyholder asked (see webhooks.py)
# No such proposal (a quote number, or nothing bound), or the policy is already in force.
_NOT_CANCELLABLE: Final = frozenset({"40401", "40903"})
_CODES: Final = MappingProxyType({coverage: code for code, coverage in _COVERAGES.items()})
_ENERGY_TYPES: Final = MappingProxyType(
    {
        Powertrain.BEV: "CD",  # 纯电动
        Powertrain.PHEV: "CDHH",  # 插电混合动力
        Powertrain.EREV: "ZC",  # 增程式
        Powertrain.HEV: "YDHH",  # 油电混合动力
        Powertrain.FCEV: "RLDC",  # 燃料电池
        Powertrain.ICE: "RY",  # 燃油
    }
)
# PingSure's driver-age rating bands: (lowest age of the band, its code), oldest first.
_AGE_BANDS: Final = ((60, "60+"), (50, "50-59"), (40, "40-49"), (30, "30-39"), (25, "25-29"))
_YOUNGEST_BAND: Final = "18-24"
_DISCLOSED_BAND: Final = re.compile(r"(?:(\d{2})-\d{2}|(\d{2})\+|under-18)")
_DURATION: Final = re.compile(r"P(?:(\d{1,4})Y)?(?:(\d{1,4})M)?(?:(\d{1,4})W)?(?:(\d{1,5})D)?")
# A century bounds any real policy period and keeps date arithmetic inside the calendar.
_MAX_MONTHS: Final = 1200
_MAX_DAYS: Final = 36_600


@dataclass(frozen=True, slots=True)
class DatePeriod:
    """An ISO 8601 duration of whole days (``P1Y``, ``P6M``, ``P2W``, ``P30D``)."""

    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: object) -> Self:
        """The period of ``text``; a ``ValueError`` for anything but a date-only duration."""
        if not isinstance(text, str):
            raise ValueError("must be an ISO 8601 duration string such as P1Y")
        match = _DURATION.fullmatch(text)
        if match is None or not any(match.groups()):
            raise ValueError(f"{text[:40]!r} is not an ISO 8601 duration of years, months or days")
        years, months, weeks, days = (int(part or 0) for part in match.groups())
        period = cls(years=years, months=months, days=weeks * 7 + days)
        if period.years * 12 + period.months + period.days == 0:
            raise ValueError("must not be empty")
        if period.years * 12 + period.months > _MAX_MONTHS or period.days > _MAX_DAYS:
            raise ValueError(f"{text[:40]!r} is longer than any policy period")
        return period

    def __str__(self) -> str:
        parts = ((self.years, "Y"), (self.months, "M"), (self.days, "D"))
        return "P" + "".join(f"{count}{unit}" for count, unit in parts if count)

    def last_day_from(self, start: date) -> date:
        """The last day covered by a period starting at 00:00 on ``start``.

        ``P1Y`` from 2025-04-01 covers up to 2026-03-31 (24:00). When the end would fall
        on a day the month lacks (``P1Y`` from 29 February), cover runs to the month's end.
        """
        year, month = divmod(start.month - 1 + self.years * 12 + self.months, 12)
        year, month = start.year + year, month + 1
        month_days = calendar.monthrange(year, month)[1]
        if start.day > month_days:
            end = date(year, month, month_days)
        else:
            end = date(year, month, start.day) - timedelta(days=1)
        return end + timedelta(days=self.days)


_POLICY_PERIOD: Final = DatePeriod(years=1)
"""Motor policies run a year; the canonical contract names only the start date."""


def _midnight_in_beijing(day: date) -> str:
    return datetime.combine(day, time(), _BEIJING).isoformat()


_CoverageCode = Annotated[Coverage, PlainSerializer(_CODES.__getitem__, return_type=str)]
"""A canonical coverage, sent as PingSure's code."""

_EnergyType = Annotated[Powertrain, PlainSerializer(_ENERGY_TYPES.__getitem__, return_type=str)]
"""A canonical powertrain, sent as PingSure's energy type code."""

_StartTime = Annotated[date, PlainSerializer(_midnight_in_beijing, return_type=str)]
"""A canonical start date, sent as 00:00 Beijing time on that day."""

_PingSureCoverage = Annotated[Coverage, BeforeValidator(_coverage)]
"""A coverage code PingSure answers with, read as the canonical coverage."""

_Period = Annotated[DatePeriod, BeforeValidator(DatePeriod.parse)]


# -- what we send ---------------------------------------------------------------------------


class _Vehicle(WireModel):
    vin: str
    plate_no: str | None = None
    brand_name: str | None = None
    model_name: str | None = None
    model_year: int
    energy_type: _EnergyType


class _Driver(WireModel):
    age_band: str | None = None
    birth_date: date | None = None
    id_no: str | None = None


class _QuoteRequest(WireModel):
    channel_order_no: str
    city_name: str | None = None
    effective_time: _StartTime
    insurance_period: str
    coverage_codes: Annotated[list[_CoverageCode], Field(min_length=1)]
    vehicle: _Vehicle
    driver: _Driver | None = None


class _Applicant(WireModel):
    name: str
    id_no: str
    mobile: str | None = None


class _ProposalRequest(WireModel):
    channel_order_no: str
    quote_no: str
    effective_time: _StartTime
    insurance_period: str
    applicant: _Applicant
    vehicle: _Vehicle


class _SurrenderRequest(WireModel):
    channel_order_no: str
    surrender_reason: int


# -- what PingSure answers ------------------------------------------------------------------


class _QuoteItem(WireModel):
    coverage_code: _PingSureCoverage
    premium_fen: FenInt


class _QuoteAnswer(WireModel):
    quote_no: PartnerReference
    channel_order_no: OrderId
    insurer_name: Text
    total_premium_fen: FenInt
    items: Annotated[list[_QuoteItem], Field(min_length=1)]
    expire_time: OffsetDateTime


class _ProposalAnswer(WireModel):
    proposal_no: PartnerReference
    channel_order_no: OrderId
    policy_no: PartnerReference
    insurer_name: Text
    total_premium_fen: FenInt
    coverage_codes: Annotated[list[_PingSureCoverage], Field(min_length=1)]
    effective_time: AwareDatetime
    insurance_period: _Period


class _ErrorAnswer(WireModel):
    error_code: int
    error_msg: str | None = None


# -- reading the canonical payload ------------------------------------------------------------


def _at(payload: Mapping[str, Any], path: str) -> Any:
    value: Any = payload
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _need(payload: Mapping[str, Any], path: str, operation: Operation) -> Any:
    value = _at(payload, path)
    if value is None or value == "":
        raise PartnerRejected(f"{operation}: {path} not disclosed", code="missing_field")
    return value


def _to_wire(model: type[W], data: Mapping[str, Any], operation: Operation) -> W:
    """The request in PingSure's terms; a disclosed value it cannot take is a refusal."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PartnerRejected(
            f"{operation}: {field_path(first['loc'])} cannot be sent: {first['msg']}",
            code="invalid_field",
        ) from exc


def _readable_date(value: object) -> date | None:
    # Masking may blur a birth date or an ID; a value that no longer is one is not used.
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _id_birth_date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return national_id_birth_date(value)
    except ValueError:
        return None


def _age_band(born: date, on: date) -> str:
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return next((band for lowest, band in _AGE_BANDS if age >= lowest), _YOUNGEST_BAND)


def _vehicle(payload: Mapping[str, Any], operation: Operation) -> dict[str, Any]:
    return {
        "vin": _need(payload, "vehicle.vin", operation),
        "plate_no": _at(payload, "vehicle.plate"),
        "brand_name": _at(payload, "vehicle.brand"),
        "model_name": _at(payload, "vehicle.model"),
        "model_year": _need(payload, "vehicle.model_year", operation),
        "energy_type": _need(payload, "vehicle.powertrain", operation),
    }


def _band_of_disclosed(value: object) -> str | None:
    """PingSure's band for the gateway's age band (``30-39``, ``under-18``, ``80+``)."""
    if not isinstance(value, str):
        return None
    match = _DISCLOSED_BAND.fullmatch(value)
    if match is None:
        return None
    lowest = 17 if value == "under-18" else int(match.group(1) or match.group(2))
    return next((band for floor, band in _AGE_BANDS if lowest >= floor), _YOUNGEST_BAND)


def _driver(customer: object, start: object) -> dict[str, Any] | None:
    """PingSure rates the driver's age: the band at the start date, plus what is disclosed.

    Masked views carry no birth date or ID number but the gateway's own ``age_band``
    (``customer.age_band``), which maps onto PingSure's bands by its lower bound.
    """
    if not isinstance(customer, Mapping):
        return None
    birth_date = _readable_date(customer.get("birth_date"))
    born = birth_date or _id_birth_date(customer.get("national_id"))
    start_day = _readable_date(start)
    band = _age_band(born, start_day) if born and start_day else None
    driver = {
        "age_band": band or _band_of_disclosed(customer.get("age_band")),
        "birth_date": birth_date,
        "id_no": customer.get("national_id"),
    }
    return driver if any(value is not None for value in driver.values()) else None


def _quote_request(call: OutboundCall) -> _QuoteRequest:
    op, payload = call.operation, call.payload
    start = _need(payload, "start_date", op)
    return _to_wire(
        _QuoteRequest,
        {
            "channel_order_no": call.order_id,
            "city_name": _at(payload, "customer.city"),
            "effective_time": start,
            "insurance_period": str(_POLICY_PERIOD),
            "coverage_codes": _need(payload, "coverages", op),
            "vehicle": _vehicle(payload, op),
            "driver": _driver(_at(payload, "customer"), start),
        },
        op,
    )


def _proposal_request(call: OutboundCall) -> _ProposalRequest:
    op, payload = call.operation, call.payload
    return _to_wire(
        _ProposalRequest,
        {
            "channel_order_no": call.order_id,
            "quote_no": _need(payload, "quote_id", op),
            "effective_time": _need(payload, "start_date", op),
            "insurance_period": str(_POLICY_PERIOD),
            # Real-name rule: a policy is issued to a named holder with a resident ID.
            "applicant": {
                "name": _need(payload, "customer.name", op),
                "id_no": _need(payload, "customer.national_id", op),
                "mobile": _at(payload, "customer.phone"),
            },
            "vehicle": _vehicle(payload, op),
        },
        op,
    )


# -- reading PingSure's answers ---------------------------------------------------------------


def _failure(response: httpx.Response) -> PartnerCallError:
    """The error of a non-2xx answer: by its status alone, or by PingSure's error code."""
    by_status = status_error(response)
    if by_status is not None:
        return by_status
    status = response.status_code
    try:
        error = _ErrorAnswer.model_validate_json(response.content)
    except ValidationError:
        return PartnerRejected(
            f"HTTP {status} without a PingSure error body", code=f"http_{status}"
        )
    # error_msg may repeat what was sent (names, ids); only the code is quoted.
    return PartnerRejected(
        f"HTTP {status}: PingSure error {error.error_code}", code=str(error.error_code)
    )


async def _post(
    http: httpx.AsyncClient, path: str, body: WireModel, idempotency_key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    response = await send(
        http, "POST", path, json=body.model_dump(mode="json", exclude_none=True), headers=headers
    )
    if not response.is_success:
        raise _failure(response)
    return response


def _same_order(answered: str, call: OutboundCall) -> None:
    if answered != call.order_id:
        raise PartnerUnavailable("PingSure answered for another channel_order_no")


class PingSureApi:
    """Speaks PingSure v1: quotes and proposals out, quotes and policies back."""

    dialect: str = "pingsure.v1"

    def operations(self) -> frozenset[Operation]:
        """Quoting and binding motor insurance."""
        return frozenset({Operation.INSURANCE_QUOTE, Operation.INSURANCE_BIND})

    def retry_safe(self, operation: Operation) -> bool:
        """Both operations may be repeated.

        A quote is a read: pricing the same vehicle again changes nothing. A proposal
        is deduplicated by PingSure on ``channel_order_no`` (our order id): sent again,
        it answers the proposal it already holds instead of opening a second one.
        """
        return operation in self.operations()

    async def call(self, http: httpx.AsyncClient, call: OutboundCall) -> ServiceResult:
        """Quote or bind at PingSure and return the canonical result."""
        if call.operation is Operation.INSURANCE_QUOTE:
            return await self._quote(http, call)
        if call.operation is Operation.INSURANCE_BIND:
            return await self._bind(http, call)
        raise PartnerRejected(f"PingSure offers no {call.operation}", code="unsupported_operation")

    async def cancel(
        self, http: httpx.AsyncClient, *, order_id: str, partner_reference: str | None
    ) -> None:
        """Surrender a proposal's policy; only possible before its start date.

        A quote binds nothing, so PingSure knows no proposal by its number: that, like a
        policy already in force, is ``not_cancellable``.
        """
        if partner_reference is None:
            raise PartnerRejected("no PingSure proposal to surrender", code="not_cancellable")
        body = _SurrenderRequest(channel_order_no=order_id, surrender_reason=_CUSTOMER_REQUEST)
        path = f"/api/v1/policies/{quote(partner_reference, safe='')}/surrender"
        try:
            await _post(http, path, body)
        except PartnerRejected as exc:
            if exc.code in _NOT_CANCELLABLE:
                raise PartnerRejected(
                    f"PingSure cannot surrender it ({exc.reason})", code="not_cancellable"
                ) from exc
            raise

    async def _quote(self, http: httpx.AsyncClient, call: OutboundCall) -> InsuranceQuotes:
        response = await _post(http, _QUOTES, _quote_request(call), call.idempotency_key)
        answer = read_model(_QuoteAnswer, read_json(response), what="PingSure quote")
        _same_order(answer.channel_order_no, call)
        # One insurer's offer; the gateway merges the insurers' and sets each partner_id.
        return canonical(
            lambda: InsuranceQuotes(
                quotes=[
                    InsuranceQuote(
                        quote_id=answer.quote_no,
                        insurer=answer.insurer_name,
                        premium=answer.total_premium_fen,
                        coverages=[item.coverage_code for item in answer.items],
                        valid_until=answer.expire_time,
                    )
                ]
            ),
            what="PingSure quote",
        )

    async def _bind(self, http: httpx.AsyncClient, call: OutboundCall) -> InsurancePolicy:
        response = await _post(http, _PROPOSALS, _proposal_request(call), call.idempotency_key)
        answer = read_model(_ProposalAnswer, read_json(response), what="PingSure proposal")
        _same_order(answer.channel_order_no, call)
        try:
            starts_on = answer.effective_time.astimezone(_BEIJING).date()
            ends_on = answer.insurance_period.last_day_from(starts_on)
        except (ValueError, OverflowError) as exc:
            raise PartnerUnavailable("PingSure proposal period leaves the calendar") from exc
        return canonical(
            lambda: InsurancePolicy(
                policy_number=answer.policy_no,
                insurer=answer.insurer_name,
                premium=answer.total_premium_fen,
                coverages=answer.coverage_codes,
                starts_on=starts_on,
                ends_on=ends_on,
            ),
            what="PingSure proposal",
        )
