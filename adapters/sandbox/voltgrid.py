"""Simulator of VoltGrid's OCPI-lite API: Shenzhen stations, sessions started and stopped.

Speaks the dialect ``adapters.voltgrid.outbound`` documents:

- ``GET /ocpi/2.2/locations`` pages (10 a page, with ``X-Total-Count``,
  ``X-Limit`` and ``Link: <...>; rel="next"``) through 60 stations around
  Shenzhen's Nanshan, Futian, Bao'an, Luohu and Longhua districts, generated
  the same way on every run, within ``radius_m`` of ``lat``/``lon``, nearest
  first;
- ``POST /ocpi/2.2/commands/START_SESSION`` opens a ``PENDING`` session
  (deduplicated on ``authorization_reference``, our order id) and pushes it
  ``ACTIVE`` and then ``COMPLETED``, with the meter running 60 times faster
  than real time;
- ``POST /ocpi/2.2/commands/STOP_SESSION`` completes the session (its figures
  freeze; stopping again answers the same) and pushes ``COMPLETED`` again,
  which the translator reads as the same event (one event id per session and
  status).

Refusals: unknown location -> OCPI 2003 (HTTP 404), invalid or missing
parameters -> 2001 (HTTP 400), a refused search -> 2000 with HTTP 200, a
refused command -> ``result: REJECTED``, an unknown session ->
``UNKNOWN_SESSION``.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any, Final

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from adapters.sandbox.kit import Sandbox, SandboxFault, SandboxOrder
from adapters.voltgrid.outbound import _distance_m
from contracts import Operation

__all__ = ["DIALECT", "VoltGridSandbox"]

_PAGE_SIZE: Final = 10
_COMMAND_TIMEOUT_S: Final = 30
_SPEEDUP: Final = 60
_BATTERY_KWH: Final = Decimal(75)
_VAT: Final = Decimal("1.13")
_KWH: Final = Decimal("0.001")
_FEN: Final = Decimal("0.01")
_TERMINAL: Final = frozenset({"COMPLETED", "INVALID"})
_KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {"session_active": "ACTIVE", "session_completed": "COMPLETED", "session_invalid": "INVALID"}
)
_LIFECYCLES: Final[Mapping[Operation, tuple[str, ...]]] = MappingProxyType(
    {
        Operation.CHARGING_START: ("session_active", "session_completed"),
        Operation.CHARGING_STOP: ("session_completed",),
    }
)


@dataclass(frozen=True)
class _District:
    code: str
    name: str
    postal_code: str
    lat: float
    lon: float
    first_number: int
    landmarks: str
    """Space-separated: one station near each."""


@dataclass(frozen=True)
class _Kind:
    standard: str
    power_type: str
    power_w: int
    base_price: Decimal
    weight: int


_DISTRICTS: Final = (
    _District(
        "NS",
        "南山区",
        "518057",
        22.5405,
        113.9346,
        40,
        "蛇口 后海 科技园 大冲 深圳湾 西丽 前海 南头 华侨城"
        " 粤海 白石洲 桃园 南油 海上世界 留仙洞 塘朗 大学城 红树湾",
    ),
    _District(
        "FT",
        "福田区",
        "518048",
        22.5410,
        114.0550,
        100,
        "车公庙 会展中心 华强北 香蜜湖 梅林 景田 岗厦 皇岗 上沙 下沙 石厦 莲花山",
    ),
    _District(
        "BA",
        "宝安区",
        "518101",
        22.5550,
        113.8830,
        200,
        "宝安中心 西乡 福永 沙井 松岗 新安 翻身 固戍 机场东 石岩 航城 燕罗",
    ),
    _District(
        "LH",
        "罗湖区",
        "518001",
        22.5480,
        114.1310,
        300,
        "东门 国贸 笋岗 莲塘 黄贝岭 翠竹 清水河 布心",
    ),
    _District(
        "LG",
        "龙华区",
        "518109",
        22.6560,
        114.0290,
        400,
        "龙华中心 民治 大浪 观澜 清湖 红山 上塘 深圳北站 油松 福城",
    ),
)
_CONNECTOR_KINDS: Final = (
    _Kind("GB_T_DC", "DC", 120_000, Decimal("1.35"), 55),
    _Kind("GB_T_AC", "AC_1_PHASE", 7_000, Decimal("0.95"), 30),
    _Kind("IEC_62196_T2_COMBO", "DC", 160_000, Decimal("1.55"), 8),
    _Kind("IEC_62196_T2", "AC_3_PHASE", 11_000, Decimal("1.05"), 5),
    _Kind("CHAOJI", "DC", 360_000, Decimal("1.75"), 2),
)
_EVSE_STATUSES: Final = (("AVAILABLE", 70), ("CHARGING", 25), ("OUTOFORDER", 5))
_SURCHARGES: Final = tuple(Decimal(cents) / 100 for cents in (0, 10, 20, 30))
_SPREAD_DEG: Final = 0.02
_CAR_PARKS: Final = ("P1", "P2", "B1", "B2")


@dataclass(frozen=True)
class _Plug:
    """One EVSE with its single connector."""

    evse_uid: str
    connector_id: str
    kind: _Kind
    price: Decimal
    status: str

    def evse(self) -> dict[str, Any]:
        """The OCPI EVSE object."""
        return {
            "uid": self.evse_uid,
            "status": self.status,
            "connectors": [
                {
                    "id": self.connector_id,
                    "standard": self.kind.standard,
                    "format": "CABLE" if self.kind.power_type == "DC" else "SOCKET",
                    "power_type": self.kind.power_type,
                    "max_electric_power": self.kind.power_w,
                    "price_per_kwh": str(self.price),
                }
            ],
        }


@dataclass(frozen=True)
class _Station:
    """One charging location."""

    id: str
    name: str
    address: str
    postal_code: str
    lat: float
    lon: float
    plugs: tuple[_Plug, ...]

    def location(self, updated: str) -> dict[str, Any]:
        """The OCPI Location object."""
        return {
            "country_code": "CN",
            "party_id": "VGD",
            "id": self.id,
            "publish": True,
            "name": self.name,
            "address": self.address,
            "city": "Shenzhen",
            "postal_code": self.postal_code,
            "country": "CHN",
            "coordinates": {"latitude": f"{self.lat:.6f}", "longitude": f"{self.lon:.6f}"},
            "evses": [plug.evse() for plug in self.plugs],
            "time_zone": "Asia/Shanghai",
            "last_updated": updated,
        }

    def plug(self, connector_id: str, evse_uid: str | None) -> _Plug | None:
        """The plug a command names, by connector id (and EVSE uid, when given)."""
        for plug in self.plugs:
            if plug.connector_id == connector_id and evse_uid in (None, plug.evse_uid):
                return plug
        return None


def _station(district: _District, number: int, landmark: str) -> _Station:
    station_id = f"SZ-{district.code}-{number:04d}"
    # Seeded by the id: every run (and every process) builds the same network.
    rng = random.Random(station_id)
    surcharge = rng.choice(_SURCHARGES)
    plugs = []
    for index in range(1, rng.randint(2, 8) + 1):
        (kind,) = rng.choices(_CONNECTOR_KINDS, weights=[k.weight for k in _CONNECTOR_KINDS])
        (status,) = rng.choices(
            [status for status, _ in _EVSE_STATUSES], weights=[w for _, w in _EVSE_STATUSES]
        )
        plugs.append(
            _Plug(
                f"{station_id}-{index:02d}", str(index), kind, kind.base_price + surcharge, status
            )
        )
    fast = any(plug.kind.power_type == "DC" for plug in plugs)
    return _Station(
        id=station_id,
        name=f"VoltGrid{landmark}{'超充站' if fast else '充电站'}",
        address=f"广东省深圳市{district.name}{landmark}{rng.choice(_CAR_PARKS)}停车场",
        postal_code=district.postal_code,
        # Rounded as the coordinates are sent, so distances agree on both sides.
        lat=round(district.lat + rng.uniform(-_SPREAD_DEG, _SPREAD_DEG), 6),
        lon=round(district.lon + rng.uniform(-_SPREAD_DEG, _SPREAD_DEG), 6),
        plugs=tuple(plugs),
    )


_STATIONS: Final = tuple(
    _station(district, district.first_number + index, landmark)
    for district in _DISTRICTS
    for index, landmark in enumerate(district.landmarks.split())
)
_BY_ID: Final[Mapping[str, _Station]] = MappingProxyType({s.id: s for s in _STATIONS})


@dataclass
class _Charge:
    """What the simulated charger knows of one session; ``kwh``/``end`` freeze when it ends."""

    station: _Station
    plug: _Plug
    start: datetime
    kwh: Decimal | None = None
    end: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ok(data: Any) -> dict[str, Any]:
    return {
        "data": data,
        "status_code": 1000,
        "status_message": "Success",
        "timestamp": _stamp(_now()),
    }


def _invalid(what: str) -> SandboxFault:
    return SandboxFault(400, "2001", f"Invalid or missing parameters: {what}")


def _query_number(request: Request, name: str, default: float | None = None) -> float:
    text = request.query_params.get(name)
    if text is None:
        if default is None:
            raise _invalid(name)
        return default
    try:
        number = float(text)
    except ValueError:
        raise _invalid(name) from None
    if not math.isfinite(number):
        raise _invalid(name)
    return number


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid(name)
    return value


def _object(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise _invalid(what)
    return body


def _charge(order: SandboxOrder) -> _Charge:
    charge: _Charge = order.data["charge"]
    return charge


def _meter(charge: _Charge, until: datetime) -> Decimal:
    """Energy delivered so far: the plug's power, 60 times faster, up to a full battery."""
    hours = Decimal((until - charge.start).total_seconds()) / 3600
    energy = Decimal(charge.plug.kind.power_w) / 1000 * hours * _SPEEDUP
    return min(energy, _BATTERY_KWH).quantize(_KWH, ROUND_HALF_UP)


def _end(order: SandboxOrder, status: str) -> None:
    """End a running session as ``status``, freezing its figures; an ended one stays."""
    if order.status in _TERMINAL:
        return
    charge = _charge(order)
    charge.end = _now()
    charge.kwh = _meter(charge, charge.end) if status == "COMPLETED" else Decimal(0)
    order.status = status
    order.version += 1


def _session(order: SandboxOrder, status: str) -> dict[str, Any]:
    """The OCPI Session of ``order`` announced as ``status``."""
    charge = _charge(order)
    now = _now()
    if charge.kwh is not None and charge.end is not None:
        kwh, end = charge.kwh, charge.end
    else:
        kwh, end = (Decimal(0) if status == "PENDING" else _meter(charge, now)), now
    session: dict[str, Any] = {
        "country_code": "CN",
        "party_id": "VGD",
        "id": order.reference,
        "start_date_time": _stamp(charge.start),
        "kwh": str(kwh.quantize(_KWH)),
        "auth_method": "COMMAND",
        "authorization_reference": order.order_id,
        "location_id": charge.station.id,
        "evse_uid": charge.plug.evse_uid,
        "connector_id": charge.plug.connector_id,
        "currency": "CNY",
        "status": status,
        "last_updated": _stamp(now),
    }
    if status in _TERMINAL:
        session["end_date_time"] = _stamp(end)
    if status == "COMPLETED":
        incl_vat = (kwh * charge.plug.price).quantize(_FEN, ROUND_HALF_UP)
        excl_vat = (incl_vat / _VAT).quantize(_FEN, ROUND_HALF_UP)
        session["total_cost"] = {"excl_vat": str(excl_vat), "incl_vat": str(incl_vat)}
    return session


def _accepted(order: SandboxOrder) -> dict[str, Any]:
    return _ok(
        {
            "result": "ACCEPTED",
            "timeout": _COMMAND_TIMEOUT_S,
            "session": _session(order, order.status),
        }
    )


def _refused(result: str, text: str) -> dict[str, Any]:
    return _ok(
        {
            "result": result,
            "timeout": _COMMAND_TIMEOUT_S,
            "message": [{"language": "zh", "text": text}],
        }
    )


def _locations(sandbox: Sandbox, request: Request) -> Response:
    lat, lon = _query_number(request, "lat"), _query_number(request, "lon")
    radius = _query_number(request, "radius_m")
    offset = int(_query_number(request, "offset", 0))
    limit = int(_query_number(request, "limit", _PAGE_SIZE))
    if offset < 0 or limit < 1 or radius <= 0:
        raise _invalid("offset, limit and radius_m must be positive")
    if sandbox.rejects():
        raise SandboxFault(200, "2000", "This party may not search locations now")
    near = sorted(
        (distance, station.id, station)
        for station in _STATIONS
        if (distance := _distance_m(lat, lon, station.lat, station.lon)) <= radius
    )
    size = min(limit, _PAGE_SIZE)
    updated = _stamp(_now())
    headers = {"X-Total-Count": str(len(near)), "X-Limit": str(size)}
    if offset + size < len(near):
        following = request.url.include_query_params(offset=offset + size, limit=size)
        headers["Link"] = f'<{following}>; rel="next"'
    page = [station.location(updated) for _, _, station in near[offset : offset + size]]
    return JSONResponse(_ok(page), headers=headers)


def _start(sandbox: Sandbox, body: Any) -> dict[str, Any]:
    command = _object(body, "body")
    order_id = _text(command, "authorization_reference")
    _text(_object(command.get("token"), "token"), "uid")
    station = _BY_ID.get(_text(command, "location_id"))
    if station is None:
        raise SandboxFault(404, "2003", "Unknown Location")
    evse_uid = command.get("evse_uid")
    plug = station.plug(
        _text(command, "connector_id"), evse_uid if isinstance(evse_uid, str) else None
    )
    if plug is None:
        raise _invalid("connector_id")
    existing = sandbox.existing(Operation.CHARGING_START, order_id)
    if existing is not None:
        return _accepted(existing)
    if sandbox.rejects():
        return _refused("REJECTED", "充电枪未连接车辆，无法启动充电")
    order = sandbox.keep(
        SandboxOrder(
            reference=sandbox.new_reference("VG-SZ"),
            order_id=order_id,
            operation=Operation.CHARGING_START,
            data={"charge": _Charge(station, plug, _now())},
            status="PENDING",
        )
    )
    sandbox.start_lifecycle(order)
    return _accepted(order)


STANDING_SESSION_ID: Final = "cs-88213"
"""A session the sandbox always holds, so the published stop example works as it stands."""


def _standing_session(sandbox: Sandbox, session_id: str) -> SandboxOrder | None:
    if session_id != STANDING_SESSION_ID:
        return None
    station = _STATIONS[0]
    order = SandboxOrder(
        reference=session_id,
        order_id="ord_" + "0" * 26,
        operation=Operation.CHARGING_START,
        data={"charge": _Charge(station, station.plugs[0], _now())},
        status="ACTIVE",
    )
    return sandbox.keep(order)


def _stop(sandbox: Sandbox, body: Any) -> dict[str, Any]:
    session_id = _text(_object(body, "body"), "session_id")
    order = sandbox.orders.get(session_id) or _standing_session(sandbox, session_id)
    if order is None:
        return _refused("UNKNOWN_SESSION", "充电会话不存在或已归档")
    if sandbox.rejects():
        return _refused("REJECTED", "充电桩暂时无法响应停止指令")
    _end(order, "COMPLETED")
    if order.status == "COMPLETED":
        # The stop's push is about the same session (and order): a view with the stop's
        # lifecycle, sharing the session's data.
        sandbox.start_lifecycle(dataclasses.replace(order, operation=Operation.CHARGING_STOP))
    return _accepted(order)


class VoltGridSandbox:
    """The VoltGrid OCPI-lite simulator."""

    dialect: str = "voltgrid.ocpi-lite"

    def install(self, sandbox: Sandbox) -> None:
        """Add the locations and commands routes."""
        app = sandbox.app

        @app.get("/ocpi/2.2/locations", tags=["voltgrid"])
        async def locations(request: Request) -> Response:
            """Stations within ``radius_m`` of ``lat``/``lon``, nearest first, paged."""
            await sandbox.accept(request)
            return _locations(sandbox, request)

        @app.post("/ocpi/2.2/commands/START_SESSION", tags=["voltgrid"])
        async def start_session(request: Request) -> dict[str, Any]:
            """Start charging on a connector for ``authorization_reference``."""
            return _start(sandbox, await sandbox.accept(request))

        @app.post("/ocpi/2.2/commands/STOP_SESSION", tags=["voltgrid"])
        async def stop_session(request: Request) -> dict[str, Any]:
            """Stop a session; a session that has ended answers as it stands."""
            return _stop(sandbox, await sandbox.accept(request))

    def error_body(self, fault: SandboxFault) -> tuple[int, Any]:
        """The OCPI envelope without data: status_code 2xxx (client) or 3xxx (server)."""
        # Faults of the kit (auth, throttling, outages) carry names, not OCPI codes.
        server = 3000 if fault.status >= 500 else 2000
        code = int(fault.code) if fault.code.isdigit() else server
        return fault.status, {
            "status_code": code,
            "status_message": fault.message,
            "timestamp": _stamp(_now()),
        }

    def webhook(self, sandbox: Sandbox, order: SandboxOrder, kind: str) -> dict[str, Any]:
        """The session push announcing ``kind``; it moves the session to that status."""
        status = _KINDS.get(kind)
        if status is None:
            raise SandboxFault(404, "2000", f"no {kind[:40]} push for this order")
        if status == "ACTIVE":
            if order.status == "PENDING":
                order.status = status
                order.version += 1
        else:
            _end(order, status)
        return {"object": "session", "session": _session(order, status)}

    def lifecycle(self, operation: Operation) -> Sequence[str]:
        """ACTIVE then COMPLETED after a start; COMPLETED after a stop; nothing after a search."""
        return _LIFECYCLES.get(operation, ())


DIALECT: Final = VoltGridSandbox()
"""The simulator ``create_sandbox`` uses for ``voltgrid.ocpi-lite``."""
