"""The canonical service request and result unions, discriminated by ``operation``."""

from __future__ import annotations

from types import MappingProxyType
from typing import Annotated, Any, Final, TypeAlias

from pydantic import BaseModel, Discriminator, Tag, TypeAdapter

from contracts.charging import (
    ChargingSession,
    ChargingStartRequest,
    ChargingStopRequest,
    StationList,
    StationSearchRequest,
)
from contracts.insurance import (
    InsuranceBindRequest,
    InsurancePolicy,
    InsuranceQuoteRequest,
    InsuranceQuotes,
)
from contracts.lifestyle import (
    BenefitRedemption,
    BenefitRedemptionRequest,
    MembershipLink,
    MembershipLinkRequest,
    PointsExchange,
    PointsExchangeRequest,
)
from contracts.operations import Operation
from contracts.rental import CourtesyCarBooking, CourtesyCarRequest

__all__ = [
    "REQUEST_MODELS",
    "RESULT_MODELS",
    "SERVICE_REQUEST_ADAPTER",
    "SERVICE_RESULT_ADAPTER",
    "ServiceRequest",
    "ServiceResult",
]


def _operation_tag(value: Any) -> str | None:
    operation = (
        value.get("operation") if isinstance(value, dict) else getattr(value, "operation", None)
    )
    return None if operation is None else str(operation)


def _by_operation() -> Discriminator:
    # A callable discriminator, because only it lets the error list the operations.
    return Discriminator(
        _operation_tag,
        custom_error_type="unknown_operation",
        custom_error_message="operation must be one of: " + ", ".join(op.value for op in Operation),
    )


ServiceRequest: TypeAlias = Annotated[
    Annotated[CourtesyCarRequest, Tag(Operation.COURTESY_CAR_BOOK.value)]
    | Annotated[InsuranceQuoteRequest, Tag(Operation.INSURANCE_QUOTE.value)]
    | Annotated[InsuranceBindRequest, Tag(Operation.INSURANCE_BIND.value)]
    | Annotated[StationSearchRequest, Tag(Operation.CHARGING_SEARCH.value)]
    | Annotated[ChargingStartRequest, Tag(Operation.CHARGING_START.value)]
    | Annotated[ChargingStopRequest, Tag(Operation.CHARGING_STOP.value)]
    | Annotated[MembershipLinkRequest, Tag(Operation.LIFESTYLE_LINK.value)]
    | Annotated[BenefitRedemptionRequest, Tag(Operation.LIFESTYLE_REDEEM.value)]
    | Annotated[PointsExchangeRequest, Tag(Operation.LIFESTYLE_EXCHANGE_POINTS.value)],
    _by_operation(),
]
"""Any canonical service request; its ``operation`` picks the model."""

ServiceResult: TypeAlias = Annotated[
    Annotated[CourtesyCarBooking, Tag(Operation.COURTESY_CAR_BOOK.value)]
    | Annotated[InsuranceQuotes, Tag(Operation.INSURANCE_QUOTE.value)]
    | Annotated[InsurancePolicy, Tag(Operation.INSURANCE_BIND.value)]
    | Annotated[StationList, Tag(Operation.CHARGING_SEARCH.value)]
    | Annotated[ChargingSession, Tag(Operation.CHARGING_START.value)]
    | Annotated[ChargingSession, Tag(Operation.CHARGING_STOP.value)]
    | Annotated[MembershipLink, Tag(Operation.LIFESTYLE_LINK.value)]
    | Annotated[BenefitRedemption, Tag(Operation.LIFESTYLE_REDEEM.value)]
    | Annotated[PointsExchange, Tag(Operation.LIFESTYLE_EXCHANGE_POINTS.value)],
    _by_operation(),
]
"""Any canonical service result; its ``operation`` picks the model."""

REQUEST_MODELS: Final[MappingProxyType[Operation, type[BaseModel]]] = MappingProxyType(
    {
        Operation.COURTESY_CAR_BOOK: CourtesyCarRequest,
        Operation.INSURANCE_QUOTE: InsuranceQuoteRequest,
        Operation.INSURANCE_BIND: InsuranceBindRequest,
        Operation.CHARGING_SEARCH: StationSearchRequest,
        Operation.CHARGING_START: ChargingStartRequest,
        Operation.CHARGING_STOP: ChargingStopRequest,
        Operation.LIFESTYLE_LINK: MembershipLinkRequest,
        Operation.LIFESTYLE_REDEEM: BenefitRedemptionRequest,
        Operation.LIFESTYLE_EXCHANGE_POINTS: PointsExchangeRequest,
    }
)
"""The request model of each operation."""

RESULT_MODELS: Final[MappingProxyType[Operation, type[BaseModel]]] = MappingProxyType(
    {
        Operation.COURTESY_CAR_BOOK: CourtesyCarBooking,
        Operation.INSURANCE_QUOTE: InsuranceQuotes,
        Operation.INSURANCE_BIND: InsurancePolicy,
        Operation.CHARGING_SEARCH: StationList,
        Operation.CHARGING_START: ChargingSession,
        Operation.CHARGING_STOP: ChargingSession,
        Operation.LIFESTYLE_LINK: MembershipLink,
        Operation.LIFESTYLE_REDEEM: BenefitRedemption,
        Operation.LIFESTYLE_EXCHANGE_POINTS: PointsExchange,
    }
)
"""The result model of each operation."""

SERVICE_REQUEST_ADAPTER: Final[TypeAdapter[ServiceRequest]] = TypeAdapter(ServiceRequest)
"""Validates raw JSON or dicts into the right request model."""

SERVICE_RESULT_ADAPTER: Final[TypeAdapter[ServiceResult]] = TypeAdapter(ServiceResult)
"""Validates raw JSON or dicts into the right result model."""
