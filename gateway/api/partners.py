"""The partner registry, read-only over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from contracts import (
    AgreementStatus,
    DataClass,
    PartnerAgreement,
    PartnerClass,
    PartnerTier,
    ServiceCategory,
)
from gateway.api.deps import ContainerDep, ManagerDep, problem_responses
from gateway.problems import NotFound
from gateway.registry import UnknownPartner
from gateway.scorecards import tier_in_force
from gateway.scorecards.months import current_month

__all__ = ["router"]

router = APIRouter(prefix="/v1/partners", tags=["partners"])


class PartnerSummary(BaseModel):
    """One partner in the registry listing."""

    id: str
    name: str
    category: ServiceCategory
    partner_class: PartnerClass
    status: AgreementStatus
    tier: PartnerTier
    cities: list[str]
    data_tier: DataClass
    webhook_dialect: str


def _summary(agreement: PartnerAgreement) -> PartnerSummary:
    return PartnerSummary(
        id=agreement.id,
        name=agreement.name,
        category=agreement.category,
        partner_class=agreement.partner_class,
        status=agreement.status,
        tier=agreement.tier,
        cities=list(agreement.cities),
        data_tier=agreement.data.tier,
        webhook_dialect=agreement.webhook.dialect,
    )


@router.get(
    "",
    response_model=list[PartnerSummary],
    summary="List partners",
    responses=problem_responses(401, 403, 422),
)
async def list_partners(
    container: ContainerDep,
    _manager: ManagerDep,
    category: Annotated[
        ServiceCategory | None,
        Query(description="Only partners of this category.", examples=["rental"]),
    ] = None,
) -> list[PartnerSummary]:
    """Every partner of the registry (or of one category), ordered by id."""
    agreements = container.registry.by_category(category) if category else container.registry.all()
    return [_summary(a) for a in sorted(agreements, key=lambda a: a.id)]


class PartnerDetail(PartnerAgreement):
    """The partner's agreement and the tier in force this month (Asia/Shanghai)."""

    tier_in_force: PartnerTier


@router.get(
    "/{partner_id}",
    response_model=PartnerDetail,
    summary="One partner's agreement",
    responses=problem_responses(401, 403, 404),
)
async def get_partner(
    container: ContainerDep,
    _manager: ManagerDep,
    partner_id: Annotated[str, Path(description="Partner id.", examples=["swiftrent"])],
) -> PartnerDetail:
    """The partner's whole agreement: SLA terms, commission plans, data sharing, exclusivity;
    and `tier_in_force`, the tier this month after the monthly scorecards (docs/scorecards.md)."""
    try:
        agreement = container.registry.get(partner_id)
    except UnknownPartner as exc:
        raise NotFound(
            f"No partner '{partner_id}' in the registry; GET /v1/partners lists them.",
            slug="unknown-partner",
            title="Unknown partner",
        ) from exc
    tier = await tier_in_force(container, partner_id, current_month(container.clock()))
    return PartnerDetail.model_validate({**agreement.model_dump(), "tier_in_force": tier})
