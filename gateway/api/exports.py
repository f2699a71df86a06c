"""Aggregated exports for de-identified partners, small groups suppressed (k-anonymity)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query

from contracts import Operation, Purpose, ServiceCategory
from gateway.api.deps import ContainerDep, problem_responses
from gateway.oauth.resource import Principal, require_scopes
from gateway.privacy.audit import record_disclosure
from gateway.problems import NotFound, Problem
from gateway.registry import UnknownPartner
from masking import DEFAULT_K, POLICY_VERSION, k_anonymous

__all__ = ["router"]

router = APIRouter(tags=["privacy"])

_SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
_GROUPS: Final = ("station_id", "day_part", "powertrain")
_FIELDS: Final = tuple(
    {"path": name, "data_class": "public", "kind": "code", "operator": "k_anonymous_count"}
    for name in (*_GROUPS, "count")
)

Exporter = Annotated[Principal, Depends(require_scopes("admin"))]


def _day_part(moment: datetime) -> str:
    hour = moment.astimezone(_SHANGHAI).hour
    return ("night", "morning", "afternoon", "evening")[hour // 6]


def _month(value: str) -> tuple[datetime, datetime]:
    try:
        start = datetime.strptime(value, "%Y-%m").replace(tzinfo=_SHANGHAI)
    except ValueError:
        raise Problem(
            f"month must be YYYY-MM, such as 2026-11; got {value[:20]!r}.",
            slug="invalid-month",
            title="Month is invalid",
            status=422,
        ) from None
    end = (start + timedelta(days=32)).replace(day=1)
    return start.astimezone(UTC), end.astimezone(UTC)


@router.get(
    "/v1/partners/{partner_id}/exports/charging-usage",
    summary="Charging usage for a charging partner, k-anonymous",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def charging_usage(
    container: ContainerDep,
    _principal: Exporter,
    partner_id: Annotated[str, Path(examples=["voltgrid"])],
    month: Annotated[str, Query(examples=["2026-11"], description="YYYY-MM, Asia/Shanghai")],
    k: Annotated[int, Query(ge=2, le=100, description="Smallest group shown.")] = DEFAULT_K,
) -> dict[str, Any]:
    """Charging sessions started through the gateway in a month, by station, part of the
    day and powertrain, for a partner whose agreement lists `charging_usage_analytics`.
    Groups of fewer than `k` sessions are left out and only counted; the export is
    recorded in the disclosure audit."""
    try:
        agreement = container.registry.get(partner_id)
    except UnknownPartner as exc:
        raise NotFound(str(exc), slug="unknown-partner", title="Unknown partner") from exc
    purpose = Purpose.CHARGING_USAGE_ANALYTICS
    if agreement.category is not ServiceCategory.CHARGING or purpose not in agreement.data.purposes:
        raise Problem(
            f"{partner_id}'s agreement does not list {purpose.value}; no usage data is shared.",
            slug="purpose-not-agreed",
            title="Purpose not in the agreement",
            status=409,
        )
    start, end = _month(month)
    async with container.uow() as uow:
        orders = await uow.orders.for_partner_between(partner_id, start, end)
        records = [
            {
                "station_id": order.request.get("station_id"),
                "day_part": _day_part(order.created_at),
                "powertrain": (order.request.get("vehicle") or {}).get("powertrain"),
            }
            for order in orders
            if order.operation == Operation.CHARGING_START.value and order.result is not None
        ]
        export = k_anonymous(records, by=_GROUPS, k=k)
        await record_disclosure(
            uow,
            order_id=None,
            customer_id=None,
            partner_id=partner_id,
            purpose=purpose.value,
            policy_version=POLICY_VERSION,
            fields=_FIELDS,
            now=container.clock(),
        )
        await uow.commit()
    return {"partner_id": partner_id, "month": month, "purpose": purpose.value} | export.as_json()
