"""Realistic example values that pass every validator: a Shenzhen owner and their car.

The OpenAPI examples and the tests use these, so they must keep working as they stand.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Final

from contracts.charging import ChargingStartRequest, ChargingStopRequest, StationSearchRequest
from contracts.insurance import Coverage, InsuranceBindRequest, InsuranceQuoteRequest
from contracts.lifestyle import (
    BenefitRedemptionRequest,
    MembershipLinkRequest,
    PointsDirection,
    PointsExchangeRequest,
)
from contracts.operations import Operation
from contracts.people import Customer, Location, MemberTier, Powertrain, Vehicle
from contracts.rental import CourtesyCarRequest, VehicleClass
from contracts.services import ServiceRequest

__all__ = [
    "EXAMPLE_CUSTOMER",
    "EXAMPLE_LOCATION",
    "EXAMPLE_NATIONAL_ID",
    "EXAMPLE_NEV_PLATE",
    "EXAMPLE_NEV_VEHICLE",
    "EXAMPLE_NEV_VIN",
    "EXAMPLE_PHONE",
    "EXAMPLE_PLATE",
    "EXAMPLE_REQUESTS",
    "EXAMPLE_VEHICLE",
    "EXAMPLE_VIN",
]

# China Standard Time, the offset partners and the OEM app use.
_CST = timezone(timedelta(hours=8), "CST")

EXAMPLE_NATIONAL_ID: Final = "440305198803161235"  # Nanshan, Shenzhen; born 1988-03-16
EXAMPLE_PHONE: Final = "13800138000"
EXAMPLE_VIN: Final = "LSVAU2186N2183292"
EXAMPLE_NEV_VIN: Final = "LGXCE4CB8N0012345"
EXAMPLE_PLATE: Final = "粤B12345"
EXAMPLE_NEV_PLATE: Final = "粤BD12345"

EXAMPLE_CUSTOMER: Final = Customer(
    customer_id="cus-0000482913",
    name="李晓明",
    phone=EXAMPLE_PHONE,
    national_id=EXAMPLE_NATIONAL_ID,
    email="xiaoming.li@example.com",
    birth_date=date(1988, 3, 16),
    address="广东省深圳市南山区科技园科苑路15号",
    city="Shenzhen",
    member_tier=MemberTier.GOLD,
)

EXAMPLE_VEHICLE: Final = Vehicle(
    vin=EXAMPLE_VIN,
    plate=EXAMPLE_PLATE,
    brand="Volkswagen",
    model="Lavida",
    model_year=2022,
    powertrain=Powertrain.ICE,
)

EXAMPLE_NEV_VEHICLE: Final = Vehicle(
    vin=EXAMPLE_NEV_VIN,
    plate=EXAMPLE_NEV_PLATE,
    brand="BYD",
    model="Han EV",
    model_year=2022,
    powertrain=Powertrain.BEV,
)

EXAMPLE_LOCATION: Final = Location(
    lat=22.5405,
    lon=113.9346,
    address="广东省深圳市南山区科技园科苑路15号",
    district="Nanshan",
    city="Shenzhen",
)

_WINDOW_START = datetime(2030, 5, 20, 9, 0, tzinfo=_CST)

EXAMPLE_REQUESTS: Final[MappingProxyType[Operation, ServiceRequest]] = MappingProxyType(
    {
        Operation.COURTESY_CAR_BOOK: CourtesyCarRequest(
            customer=EXAMPLE_CUSTOMER,
            vehicle=EXAMPLE_VEHICLE,
            pickup=EXAMPLE_LOCATION,
            window_start=_WINDOW_START,
            window_end=_WINDOW_START + timedelta(hours=2),
            days=3,
            vehicle_class=VehicleClass.COMPACT,
            repair_order_id="RO-2030-000123",
        ),
        Operation.INSURANCE_QUOTE: InsuranceQuoteRequest(
            customer=EXAMPLE_CUSTOMER,
            vehicle=EXAMPLE_NEV_VEHICLE,
            coverages=[
                Coverage.COMPULSORY_TRAFFIC,
                Coverage.THIRD_PARTY_LIABILITY,
                Coverage.VEHICLE_DAMAGE,
                Coverage.EV_BATTERY,
            ],
            start_date=date(2030, 6, 1),
        ),
        Operation.INSURANCE_BIND: InsuranceBindRequest(
            partner_id="pingsure",
            quote_id="PQ-2030-88412",
            customer=EXAMPLE_CUSTOMER,
            vehicle=EXAMPLE_NEV_VEHICLE,
            start_date=date(2030, 6, 1),
        ),
        Operation.CHARGING_SEARCH: StationSearchRequest(location=EXAMPLE_LOCATION, radius_m=3000),
        Operation.CHARGING_START: ChargingStartRequest(
            partner_id="voltgrid",
            station_id="SZ-NS-0042",
            connector_id="2",
            customer=EXAMPLE_CUSTOMER,
            vehicle=EXAMPLE_NEV_VEHICLE,
        ),
        Operation.CHARGING_STOP: ChargingStopRequest(partner_id="voltgrid", session_id="cs-88213"),
        Operation.LIFESTYLE_LINK: MembershipLinkRequest(
            partner_id="meilife", customer=EXAMPLE_CUSTOMER, oem_member_tier=MemberTier.GOLD
        ),
        Operation.LIFESTYLE_REDEEM: BenefitRedemptionRequest(
            partner_id="meilife", customer=EXAMPLE_CUSTOMER, benefit_id="coffee-10off"
        ),
        Operation.LIFESTYLE_EXCHANGE_POINTS: PointsExchangeRequest(
            partner_id="roadmap",
            customer=EXAMPLE_CUSTOMER,
            points=1000,
            direction=PointsDirection.TO_PARTNER,
        ),
    }
)
"""A valid request for every operation, for OpenAPI examples and walk-throughs."""
