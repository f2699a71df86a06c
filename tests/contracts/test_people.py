"""Customer, Vehicle, Location, and the example values the OpenAPI docs use."""

from datetime import date

import pytest
from pydantic import ValidationError

from contracts import (
    EXAMPLE_CUSTOMER,
    EXAMPLE_LOCATION,
    EXAMPLE_NEV_VEHICLE,
    EXAMPLE_VEHICLE,
    Customer,
    Location,
    Vehicle,
)


def customer(**changes: object) -> Customer:
    return Customer.model_validate({**EXAMPLE_CUSTOMER.model_dump(), **changes})


def vehicle(**changes: object) -> Vehicle:
    return Vehicle.model_validate({**EXAMPLE_VEHICLE.model_dump(), **changes})


class TestExamples:
    def test_customer_is_a_shenzhen_customer(self) -> None:
        assert EXAMPLE_CUSTOMER.city == "Shenzhen"
        assert EXAMPLE_CUSTOMER.national_id is not None
        assert EXAMPLE_CUSTOMER.national_id.startswith("440305")

    def test_examples_revalidate_from_json(self) -> None:
        for model in (EXAMPLE_CUSTOMER, EXAMPLE_VEHICLE, EXAMPLE_NEV_VEHICLE, EXAMPLE_LOCATION):
            assert type(model).model_validate_json(model.model_dump_json()) == model

    def test_new_energy_vehicle_has_an_eight_character_plate(self) -> None:
        assert EXAMPLE_NEV_VEHICLE.plate is not None
        assert len(EXAMPLE_NEV_VEHICLE.plate) == 8


class TestCustomer:
    def test_invalid_national_id_names_the_field(self) -> None:
        with pytest.raises(ValidationError) as caught:
            customer(national_id="440305198803161234")
        assert caught.value.errors()[0]["loc"] == ("national_id",)

    def test_invalid_phone(self) -> None:
        with pytest.raises(ValidationError, match="phone"):
            customer(phone="12345")

    def test_phone_is_normalised(self) -> None:
        assert customer(phone="+86 138 0013 8000").phone == "13800138000"

    def test_birth_date_must_match_national_id(self) -> None:
        with pytest.raises(ValidationError, match="differs from the one in national_id"):
            customer(birth_date=date(1990, 1, 1))

    def test_optional_fields_may_be_absent(self) -> None:
        minimal = Customer(customer_id="c-1", name="王芳", phone="13912345678", city="Guangzhou")
        assert minimal.national_id is None

    def test_unknown_field_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            customer(nickname="Ming")


class TestVehicle:
    def test_invalid_vin(self) -> None:
        with pytest.raises(ValidationError, match="check digit"):
            vehicle(vin="LSVAU2180N2183292")

    def test_invalid_plate(self) -> None:
        with pytest.raises(ValidationError, match="plate"):
            vehicle(plate="粤B1234")

    def test_model_year_range(self) -> None:
        with pytest.raises(ValidationError):
            vehicle(model_year=1950)


class TestLocation:
    def test_coordinates_in_range(self) -> None:
        with pytest.raises(ValidationError):
            Location(lat=91, lon=0, city="Shenzhen")

    def test_city_required(self) -> None:
        with pytest.raises(ValidationError, match="city"):
            Location.model_validate({"lat": 22.5, "lon": 113.9})
