"""VoltGrid OCPI-lite pushes: OCPI ``Session`` objects, kWh decimals, costs in yuan strings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from adapters._wire import (
    WireModel,
    canonical_terms,
    decimal_of,
    money_at,
    parse,
    require_object,
    to_utc,
    unknown_kind,
)
from adapters.errors import TranslationError
from contracts import (
    CanonicalEvent,
    ChargingSessionCompleted,
    ChargingSessionStarted,
    EventData,
    EventType,
    OrderFailed,
    OrderId,
    minor_unit_exponent,
)

__all__ = ["VoltGridWebhooks"]


def _ocpi_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not an RFC 3339 date-time") from None
    # OCPI: every timestamp is UTC, and a missing zone designator means UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else to_utc(moment)


def _non_negative(value: object) -> Decimal:
    number = decimal_of(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _currency(value: str) -> str:
    minor_unit_exponent(value)
    return value


_OcpiTime = Annotated[datetime, BeforeValidator(_ocpi_time)]
_OcpiDecimal = Annotated[Decimal, BeforeValidator(_non_negative)]
# OCPI ids are CiString(36); ours must also fit the event id alphabet we build from them.
_OcpiId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,35}$")]


class _Push(WireModel):
    object: str
    session: dict[str, Any] | None = None


class _Price(WireModel):
    excl_vat: _OcpiDecimal
    incl_vat: _OcpiDecimal


class _Session(WireModel):
    id: _OcpiId
    status: str
    start_date_time: _OcpiTime
    end_date_time: _OcpiTime | None = None
    kwh: _OcpiDecimal
    authorization_reference: OrderId
    location_id: _OcpiId
    connector_id: _OcpiId
    currency: Annotated[str, AfterValidator(_currency)]
    total_cost: _Price | None = None
    last_updated: _OcpiTime


def _started(session: _Session) -> tuple[datetime, EventData]:
    data = ChargingSessionStarted(
        session_id=session.id, station_id=session.location_id, connector_id=session.connector_id
    )
    return session.start_date_time, data


def _completed(session: _Session) -> tuple[datetime, EventData]:
    if session.end_date_time is None:
        raise TranslationError("required for a COMPLETED session", "session.end_date_time")
    if session.total_cost is None:
        raise TranslationError("required for a COMPLETED session", "session.total_cost")
    # The customer pays the price including VAT; that is the amount the order settles.
    amount = money_at(session.total_cost.incl_vat, session.currency, "session.total_cost.incl_vat")
    # Meters bill in watt-hours; digits past the third kWh decimal are measurement noise.
    energy_wh = int((session.kwh * 1000).to_integral_value(ROUND_HALF_UP))
    data = ChargingSessionCompleted(
        session_id=session.id, energy_wh=energy_wh, amount=amount, ended_at=session.end_date_time
    )
    return session.end_date_time, data


def _invalid(session: _Session) -> tuple[datetime, EventData]:
    return session.last_updated, OrderFailed(reason_code="session_invalid")


_E = EventType
_Mapper = Callable[[_Session], tuple[datetime, EventData]]
_STATUSES: Final[Mapping[str, tuple[EventType, _Mapper]]] = MappingProxyType(
    {
        "ACTIVE": (_E.CHARGING_SESSION_STARTED, _started),
        "COMPLETED": (_E.CHARGING_SESSION_COMPLETED, _completed),
        "INVALID": (_E.ORDER_FAILED, _invalid),
    }
)


class VoltGridWebhooks:
    """Translates VoltGrid's OCPI-style session pushes into canonical charging events."""

    dialect: str = "voltgrid.ocpi-lite"

    def event_types(self) -> frozenset[EventType]:
        """The canonical event types VoltGrid's session statuses map to."""
        return frozenset(event_type for event_type, _ in _STATUSES.values())

    def translate(self, payload: Mapping[str, Any], *, partner_id: str) -> CanonicalEvent:
        """The canonical event of one session push (event id ``voltgrid:<session>:<status>``)."""
        push = parse(_Push, require_object(payload))
        if push.object != "session":
            raise unknown_kind("object", push.object, ["session"])
        session = parse(_Session, push.session, at="session")
        status = _STATUSES.get(session.status)
        if status is None:
            raise unknown_kind("session.status", session.status, _STATUSES)
        event_type, data_of = status
        with canonical_terms():
            occurred_at, data = data_of(session)
            return CanonicalEvent(
                # OCPI pushes carry no event id and repeat while a status lasts (meter
                # updates); one id per session status makes those repeats one event.
                event_id=f"voltgrid:{session.id}:{session.status.lower()}",
                type=event_type,
                partner_id=partner_id,
                order_id=session.authorization_reference,
                partner_reference=session.id,
                occurred_at=occurred_at,
                # OCPI has no counter; each event's own status time orders it.
                sequence=0,
                data=data,
            )
