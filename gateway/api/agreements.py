"""Checking a draft partner agreement before it goes into the registry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from contracts import PartnerAgreement
from gateway.api.deps import ContainerDep, ManagerDep, problem_responses
from gateway.registry import conflicts

__all__ = ["router"]

router = APIRouter(prefix="/v1/agreements", tags=["partners"])

# A courtesy-car partner being onboarded in Shenzhen and Guangzhou; valid as it stands.
DRAFT_AGREEMENT_EXAMPLE: dict[str, Any] = {
    "id": "quickwheels",
    "name": "QuickWheels Mobility",
    "category": "rental",
    "partner_class": "capability",
    "tier": "bronze",
    "volume_cap_share": "0.20",
    "cities": ["Shenzhen", "Guangzhou"],
    "api": {
        "base_url": "https://api.quickwheels.example/v1",
        "dialect": "canonical",
        "auth": {"type": "api_key", "header": "X-Api-Key", "secret_ref": "quickwheels_api_key"},
        "timeouts": {"connect": 2, "read": 10},
    },
    "webhook": {"dialect": "canonical", "rate_limit_per_minute": 300},
    "sla": {
        "terms": [
            {
                "operation": "courtesy_car.book",
                "name": "accept",
                "stop": "rental.order.accepted",
                "target": "PT5M",
                "compliance_percent": 95,
            },
            {
                "operation": "courtesy_car.book",
                "name": "deliver",
                "stop": "rental.vehicle.delivered",
                "target": "PT30M",
                "compliance_percent": 95,
            },
        ],
        "api_availability_percent": 99.5,
        "api_latency_p95_ms": 800,
        "breach_credit_percent": 10,
    },
    "commission": {
        "plans": [
            {
                "kind": "percentage",
                "rate": "0.07",
                "min": {"amount": 500, "currency": "CNY"},
                "valid_from": "2026-12-01",
            }
        ]
    },
    "data": {"tier": "de_identified", "purposes": ["courtesy_car_delivery"]},
    "exclusivity": {"serves_competitors": True, "exclusive_in_category": False},
    "validity": {"valid_from": "2026-12-01", "valid_to": "2027-11-30"},
}


class AgreementCheck(BaseModel):
    """The outcome of checking a draft agreement."""

    valid: bool = Field(description="True when the agreement can go into the registry as is.")
    agreement: PartnerAgreement = Field(description="The agreement as the gateway reads it.")
    replaces_existing: bool = Field(description="A partner with this id is already registered.")
    conflicts: list[str] = Field(
        description="Clashes with registered partners (exclusivity), as `path: reason`."
    )


@router.post(
    "/validate",
    response_model=AgreementCheck,
    summary="Check a draft partner agreement",
    responses=problem_responses(400, 401, 403, 422),
)
async def validate_agreement(
    container: ContainerDep,
    _manager: ManagerDep,
    agreement: Annotated[
        PartnerAgreement,
        Body(
            openapi_examples={
                "new rental partner": {
                    "summary": "A courtesy-car partner being onboarded",
                    "value": DRAFT_AGREEMENT_EXAMPLE,
                }
            }
        ),
    ],
) -> AgreementCheck:
    """Validate a draft agreement against the contract and against the registered partners.

    Field errors are a 422 problem listing every offending field; clashes with
    registered partners (an exclusive partner sharing a city) come back as
    `conflicts` with `valid: false`. Nothing is stored.
    """
    others = [a for a in container.registry.all() if a.id != agreement.id]
    found = [
        f"{path}: {reason}"
        for partner_id, path, reason in conflicts([*others, agreement])
        if partner_id == agreement.id or reason.startswith(f"{agreement.id} ")
    ]
    return AgreementCheck(
        valid=not found,
        agreement=agreement,
        replaces_existing=agreement.id in container.registry,
        conflicts=found,
    )
