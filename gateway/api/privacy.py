"""Privacy over HTTP: customers' consents, the disclosure audit, relay number resolution."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts import EXAMPLE_CUSTOMER, EXAMPLE_PHONE, PURPOSE_CATEGORY, Purpose, ServiceCategory
from gateway.api.deps import MAX_ROW_ID, ContainerDep, problem_responses
from gateway.bootstrap import Container
from gateway.oauth.resource import Principal, require_scopes
from gateway.persistence.tables import ConsentRow, DisclosureRow
from gateway.privacy.audit import disclosures_of
from gateway.privacy.consents import (
    DEFAULT_SOURCE,
    consent_state,
    grant_consent,
    withdraw_consent,
)
from gateway.privacy.relays import resolve_relay
from gateway.problems import FieldError, NotFound, Problem

__all__ = [
    "EXAMPLE_CONSENT",
    "EXAMPLE_CUSTOMER_ID",
    "EXAMPLE_REAL_NUMBER",
    "EXAMPLE_VIRTUAL_NUMBER",
    "router",
]

router = APIRouter(tags=["privacy"])

EXAMPLE_CUSTOMER_ID: Final = str(EXAMPLE_CUSTOMER.customer_id)
EXAMPLE_PURPOSE: Final = Purpose.CHARGING_USAGE_ANALYTICS.value
EXAMPLE_CONSENT: Final[dict[str, Any]] = {
    "category": "charging",
    "purpose": EXAMPLE_PURPOSE,
    "evidence": "app consent text v3.2",
}
# Outside the default pool on purpose: the examples test binds it without ever
# meeting a number a dispatch test bound.
EXAMPLE_VIRTUAL_NUMBER: Final = "17110000042"
EXAMPLE_REAL_NUMBER: Final = EXAMPLE_PHONE

_CUSTOMER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"

Writer = Annotated[Principal, Depends(require_scopes("services:write"))]
Reader = Annotated[Principal, Depends(require_scopes("services:write", "orders:read", any_of=True))]
Auditor = Annotated[Principal, Depends(require_scopes("audit:read", "admin", any_of=True))]
Resolver = Annotated[Principal, Depends(require_scopes("relay:resolve"))]
CustomerIdPath = Annotated[
    str,
    Path(
        description="The OEM's id of the customer.",
        examples=[EXAMPLE_CUSTOMER_ID],
        max_length=64,
        pattern=_CUSTOMER_PATTERN,
    ),
]


class ConsentGrant(BaseModel):
    """A consent the customer gave in the OEM app."""

    model_config = ConfigDict(extra="forbid")

    category: ServiceCategory = Field(description="The category whose partners may get data.")
    purpose: Purpose = Field(description="What for; must be a purpose of the category.")
    partner_id: str | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9_-]{1,39}$",
        description="Only this partner of the category; omit for every partner of it.",
    )
    evidence: str | None = Field(
        None, max_length=200, description="E.g. the version of the consent text the app showed."
    )


class ConsentView(BaseModel):
    """A consent in force (or just withdrawn) and where it comes from."""

    id: int | None = Field(description="None for a contract default that was never withdrawn.")
    customer_id: str
    category: str
    purpose: str
    partner_id: str | None = Field(description="None: every partner of the category.")
    source: str = Field(
        description="`app` (the customer consented in the app) or `contract_default` "
        "(the OEM's service contract covers the purpose; see PGW_CONSENT_DEFAULT_PURPOSES)."
    )
    granted_at: datetime | None = Field(description="None for a contract default.")
    evidence: str | None = None

    @classmethod
    def of(cls, row: ConsentRow) -> ConsentView:
        """The view of a stored consent."""
        return cls(
            id=row.id,
            customer_id=row.customer_id,
            category=row.category,
            purpose=row.purpose,
            partner_id=row.partner_id,
            source=row.source,
            granted_at=row.granted_at if row.source != DEFAULT_SOURCE else None,
            evidence=row.evidence,
        )

    @classmethod
    def default(cls, customer_id: str, purpose: str) -> ConsentView:
        """A purpose the service contract covers for this customer."""
        return cls(
            id=None,
            customer_id=customer_id,
            category=PURPOSE_CATEGORY[Purpose(purpose)].value,
            purpose=purpose,
            partner_id=None,
            source=DEFAULT_SOURCE,
            granted_at=None,
        )


class ConsentList(BaseModel):
    """Everything a customer's data may be shared for right now."""

    customer_id: str
    consents: list[ConsentView]


class WithdrawalView(BaseModel):
    """What a withdrawal ended (empty when nothing was in force)."""

    customer_id: str
    purpose: str
    withdrawn_at: datetime
    withdrawn: list[ConsentView]


class DisclosedField(BaseModel):
    """One field a partner received: where, what class, how it was masked (never its value)."""

    path: str = Field(examples=["customer.phone"])
    data_class: str = Field(examples=["contact"])
    kind: str = Field(examples=["phone"])
    operator: str = Field(examples=["relay"])


class DisclosureView(BaseModel):
    """One disclosure to a partner."""

    id: int
    order_id: str | None
    customer_id: str | None
    partner_id: str
    purpose: str
    policy_version: str
    fields: list[DisclosedField]
    at: datetime

    @classmethod
    def of(cls, row: DisclosureRow) -> DisclosureView:
        """The view of a stored disclosure."""
        return cls(
            id=row.id,
            order_id=row.order_id,
            customer_id=row.customer_id,
            partner_id=row.partner_id,
            purpose=row.purpose,
            policy_version=row.policy_version,
            fields=[DisclosedField.model_validate(f) for f in row.fields],
            at=row.created_at,
        )


class DisclosurePageView(BaseModel):
    """A page of a customer's disclosures, newest first."""

    customer_id: str
    disclosures: list[DisclosureView]
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


class RelayNumberView(BaseModel):
    """Who a virtual number stands for while its order is open."""

    virtual_number: str
    real_number: str = Field(description="The customer's own number.")
    order_id: str
    partner_id: str
    bound_at: datetime


def _check_grant(container: Container, grant: ConsentGrant) -> None:
    errors: list[FieldError] = []
    expected = PURPOSE_CATEGORY[grant.purpose]
    if expected is not grant.category:
        errors.append(
            FieldError(
                field="body.purpose",
                reason=f"{grant.purpose.value} is a purpose of the {expected.value} category, "
                f"not of {grant.category.value}",
                type="purpose_category_mismatch",
            )
        )
    if grant.partner_id is not None:
        registry = container.registry
        if grant.partner_id not in registry:
            errors.append(
                FieldError(
                    field="body.partner_id",
                    reason=f"no partner {grant.partner_id} in the registry",
                    type="unknown_partner",
                )
            )
        elif registry.get(grant.partner_id).category is not grant.category:
            errors.append(
                FieldError(
                    field="body.partner_id",
                    reason=f"{grant.partner_id} is not a {grant.category.value} partner",
                    type="partner_category_mismatch",
                )
            )
    if errors:
        raise Problem(
            f"{len(errors)} field{'s are' if len(errors) != 1 else ' is'} invalid: "
            + "; ".join(f"{e.field}: {e.reason}" for e in errors)
            + ".",
            slug="validation-error",
            title="Request is invalid",
            status=422,
            errors=errors,
        )


@router.post(
    "/v1/customers/{customer_id}/consents",
    status_code=201,
    response_model=ConsentView,
    summary="Record a customer's consent",
    responses={
        200: {"description": "The same consent is already in force (nothing changed)"},
        **problem_responses(400, 401, 403, 422),
    },
)
async def grant(
    customer_id: CustomerIdPath,
    principal: Writer,
    container: ContainerDep,
    response: Response,
    body: Annotated[ConsentGrant, Body(examples=[EXAMPLE_CONSENT])],
) -> ConsentView:
    """Record that the customer consented in the app to share data for a purpose.

    The purpose must belong to the category (a 422 names the field otherwise).
    Granting what is already in force answers 200 with the existing consent.
    """
    _check_grant(container, body)
    async with container.uow() as uow:
        row, created = await grant_consent(
            uow,
            customer_id=customer_id,
            purpose=body.purpose,
            partner_id=body.partner_id,
            evidence=body.evidence,
            client_id=principal.client_id,
            now=container.clock(),
        )
        await uow.commit()
    if not created:
        response.status_code = 200
    return ConsentView.of(row)


@router.get(
    "/v1/customers/{customer_id}/consents",
    response_model=ConsentList,
    summary="List a customer's consents",
    responses=problem_responses(401, 403, 422),
)
async def list_consents(
    customer_id: CustomerIdPath, _principal: Reader, container: ContainerDep
) -> ConsentList:
    """The consents in force and the contract defaults that apply, each with its source."""
    async with container.uow() as uow:
        state = await consent_state(uow, container.settings, customer_id)
    return ConsentList(
        customer_id=customer_id,
        consents=[ConsentView.of(row) for row in state.active]
        + [ConsentView.default(customer_id, purpose) for purpose in state.defaults],
    )


@router.delete(
    "/v1/customers/{customer_id}/consents/{purpose}",
    response_model=WithdrawalView,
    summary="Withdraw a customer's consent",
    responses=problem_responses(401, 403, 422),
)
async def withdraw(
    customer_id: CustomerIdPath,
    purpose: Annotated[Purpose, Path(examples=[EXAMPLE_PURPOSE])],
    principal: Writer,
    container: ContainerDep,
) -> WithdrawalView:
    """Withdraw at once every consent of the purpose, and the contract default.

    Nothing is shared for the purpose from the next request on, until the
    customer consents again. Withdrawing again withdraws nothing (200).
    """
    async with container.uow() as uow:
        withdrawal = await withdraw_consent(
            uow,
            container.settings,
            customer_id=customer_id,
            purpose=purpose,
            client_id=principal.client_id,
            now=container.clock(),
        )
        await uow.commit()
    withdrawn = [ConsentView.of(row) for row in withdrawal.consents]
    if withdrawal.default is not None:
        withdrawn.append(ConsentView.of(withdrawal.default))
    return WithdrawalView(
        customer_id=customer_id,
        purpose=withdrawal.purpose,
        withdrawn_at=withdrawal.at,
        withdrawn=withdrawn,
    )


@router.get(
    "/v1/audit/disclosures",
    response_model=DisclosurePageView,
    summary="Read the disclosure audit of a customer",
    responses=problem_responses(401, 403, 422),
)
async def list_disclosures(
    _principal: Auditor,
    container: ContainerDep,
    customer_id: Annotated[
        str,
        Query(
            description="The OEM's id of the customer.",
            examples=[EXAMPLE_CUSTOMER_ID],
            max_length=64,
            pattern=_CUSTOMER_PATTERN,
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    before: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ROW_ID,
            description="`next_before` of the previous page: older disclosures only.",
        ),
    ] = None,
) -> DisclosurePageView:
    """Who received which fields of the customer, newest first.

    Each disclosure names the order, the partner, the purpose, the masking
    policy version and, per field, its path, data class, kind and operator.
    Values are never recorded.
    """
    async with container.uow() as uow:
        page = await disclosures_of(uow, customer_id=customer_id, limit=limit, before=before)
    return DisclosurePageView(
        customer_id=customer_id,
        disclosures=[DisclosureView.of(row) for row in page.rows],
        next_before=page.next_before,
    )


@router.get(
    "/v1/relay-numbers/{virtual_number}",
    response_model=RelayNumberView,
    summary="Resolve a relay number",
    responses=problem_responses(401, 403, 404, 422),
)
async def resolve(
    virtual_number: Annotated[str, Path(examples=[EXAMPLE_VIRTUAL_NUMBER], pattern=r"^\d{1,20}$")],
    _principal: Resolver,
    container: ContainerDep,
) -> RelayNumberView:
    """The customer's number a virtual number stands for, while its order is open.

    A 404 means the number is not bound (never, or its order has closed):
    the call must not be connected.
    """
    async with container.uow() as uow:
        binding = await resolve_relay(uow, virtual_number)
    if binding is None:
        raise NotFound(f"Relay number {virtual_number} is not bound to an open order.")
    return RelayNumberView(
        virtual_number=binding.virtual_number,
        real_number=binding.real_number,
        order_id=binding.order_id,
        partner_id=binding.partner_id,
        bound_at=binding.bound_at,
    )
