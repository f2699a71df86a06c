"""Service categories, the operations in each, and the purposes data is shared for."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = [
    "OPERATION_CATEGORY",
    "OPERATION_PURPOSE",
    "PURPOSE_CATEGORY",
    "Operation",
    "Purpose",
    "ServiceCategory",
    "operations_of",
]


class ServiceCategory(StrEnum):
    """The partner categories the gateway ships adapters for."""

    RENTAL = "rental"
    INSURANCE = "insurance"
    CHARGING = "charging"
    LIFESTYLE = "lifestyle"


class Operation(StrEnum):
    """A partner service the OEM app can start; the ``operation`` of a service request."""

    COURTESY_CAR_BOOK = "courtesy_car.book"
    INSURANCE_QUOTE = "insurance.quote"
    INSURANCE_BIND = "insurance.bind"
    CHARGING_SEARCH = "charging.search"
    CHARGING_START = "charging.start"
    CHARGING_STOP = "charging.stop"
    LIFESTYLE_LINK = "lifestyle.link"
    LIFESTYLE_REDEEM = "lifestyle.redeem"
    LIFESTYLE_EXCHANGE_POINTS = "lifestyle.exchange_points"


class Purpose(StrEnum):
    """Why personal data is disclosed to a partner (PIPL: a specific purpose)."""

    COURTESY_CAR_DELIVERY = "courtesy_car_delivery"
    INSURANCE_QUOTATION = "insurance_quotation"
    INSURANCE_UNDERWRITING = "insurance_underwriting"
    CLAIMS_HANDLING = "claims_handling"
    CHARGING_ACCESS = "charging_access"
    CHARGING_USAGE_ANALYTICS = "charging_usage_analytics"
    MEMBERSHIP_LINKING = "membership_linking"
    BENEFIT_REDEMPTION = "benefit_redemption"
    POINTS_EXCHANGE = "points_exchange"


OPERATION_CATEGORY: Final = MappingProxyType(
    {
        Operation.COURTESY_CAR_BOOK: ServiceCategory.RENTAL,
        Operation.INSURANCE_QUOTE: ServiceCategory.INSURANCE,
        Operation.INSURANCE_BIND: ServiceCategory.INSURANCE,
        Operation.CHARGING_SEARCH: ServiceCategory.CHARGING,
        Operation.CHARGING_START: ServiceCategory.CHARGING,
        Operation.CHARGING_STOP: ServiceCategory.CHARGING,
        Operation.LIFESTYLE_LINK: ServiceCategory.LIFESTYLE,
        Operation.LIFESTYLE_REDEEM: ServiceCategory.LIFESTYLE,
        Operation.LIFESTYLE_EXCHANGE_POINTS: ServiceCategory.LIFESTYLE,
    }
)
"""The category each operation belongs to."""

OPERATION_PURPOSE: Final = MappingProxyType(
    {
        Operation.COURTESY_CAR_BOOK: Purpose.COURTESY_CAR_DELIVERY,
        Operation.INSURANCE_QUOTE: Purpose.INSURANCE_QUOTATION,
        Operation.INSURANCE_BIND: Purpose.INSURANCE_UNDERWRITING,
        Operation.CHARGING_SEARCH: Purpose.CHARGING_ACCESS,
        Operation.CHARGING_START: Purpose.CHARGING_ACCESS,
        Operation.CHARGING_STOP: Purpose.CHARGING_ACCESS,
        Operation.LIFESTYLE_LINK: Purpose.MEMBERSHIP_LINKING,
        Operation.LIFESTYLE_REDEEM: Purpose.BENEFIT_REDEMPTION,
        Operation.LIFESTYLE_EXCHANGE_POINTS: Purpose.POINTS_EXCHANGE,
    }
)
"""The purpose an operation discloses data for by default."""

PURPOSE_CATEGORY: Final = MappingProxyType(
    {
        Purpose.COURTESY_CAR_DELIVERY: ServiceCategory.RENTAL,
        Purpose.INSURANCE_QUOTATION: ServiceCategory.INSURANCE,
        Purpose.INSURANCE_UNDERWRITING: ServiceCategory.INSURANCE,
        Purpose.CLAIMS_HANDLING: ServiceCategory.INSURANCE,
        Purpose.CHARGING_ACCESS: ServiceCategory.CHARGING,
        Purpose.CHARGING_USAGE_ANALYTICS: ServiceCategory.CHARGING,
        Purpose.MEMBERSHIP_LINKING: ServiceCategory.LIFESTYLE,
        Purpose.BENEFIT_REDEMPTION: ServiceCategory.LIFESTYLE,
        Purpose.POINTS_EXCHANGE: ServiceCategory.LIFESTYLE,
    }
)
"""The category whose partners may be given data for each purpose."""


def operations_of(category: ServiceCategory) -> tuple[Operation, ...]:
    """The operations of one category, in declaration order."""
    return tuple(op for op, cat in OPERATION_CATEGORY.items() if cat is category)
