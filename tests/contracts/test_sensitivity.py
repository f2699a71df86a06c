"""Sensitivity markers and the map masking derives its rules from."""

from typing import Annotated

import pytest
from pydantic import BaseModel

from contracts import (
    EVENT_DATA_MODELS,
    REQUEST_MODELS,
    RESULT_MODELS,
    Customer,
    DataClass,
    FieldKind,
    Location,
    Operation,
    Sensitivity,
    Vehicle,
    de_identified,
    public,
    sensitive,
    sensitivity_map,
    unclassified_fields,
)

_PARTNER_BOUND = [Customer, Vehicle, Location, *REQUEST_MODELS.values()]


class Inner(BaseModel):
    secret: Annotated[str, sensitive(FieldKind.NAME)]
    loose: str


class Outer(BaseModel):
    items: list[Inner]
    maybe: Inner | None = None
    whole: Annotated[Inner, de_identified(FieldKind.CUSTOMER_REF)]
    tags: list[Annotated[str, public(FieldKind.LABEL)]]
    scores: dict[str, Annotated[int, public(FieldKind.QUANTITY)]]


class TestDataClass:
    def test_order(self) -> None:
        assert DataClass.PUBLIC.within(DataClass.DE_IDENTIFIED)
        assert DataClass.DE_IDENTIFIED.within(DataClass.DE_IDENTIFIED)
        assert not DataClass.SENSITIVE.within(DataClass.DE_IDENTIFIED)
        assert not DataClass.DE_IDENTIFIED.within(DataClass.PUBLIC)


class TestSensitivityMap:
    def test_customer(self) -> None:
        found = sensitivity_map(Customer)
        assert found["name"] == Sensitivity(DataClass.SENSITIVE, FieldKind.NAME)
        assert found["national_id"] == Sensitivity(DataClass.SENSITIVE, FieldKind.NATIONAL_ID)
        assert found["phone"] == Sensitivity(DataClass.SENSITIVE, FieldKind.PHONE)
        assert found["city"] == Sensitivity(DataClass.PUBLIC, FieldKind.CITY)
        assert found["member_tier"].data_class is DataClass.DE_IDENTIFIED

    def test_vehicle(self) -> None:
        found = sensitivity_map(Vehicle)
        assert found["vin"] == Sensitivity(DataClass.DE_IDENTIFIED, FieldKind.VIN)
        assert found["plate"] == Sensitivity(DataClass.SENSITIVE, FieldKind.PLATE)
        assert found["brand"].data_class is DataClass.PUBLIC

    def test_location(self) -> None:
        found = sensitivity_map(Location)
        assert found["lat"] == found["lon"] == Sensitivity(DataClass.SENSITIVE, FieldKind.GPS)
        assert found["district"].data_class is DataClass.DE_IDENTIFIED

    def test_nested_paths_are_dotted(self) -> None:
        found = sensitivity_map(REQUEST_MODELS[Operation.COURTESY_CAR_BOOK])
        assert found["customer.national_id"].kind is FieldKind.NATIONAL_ID
        assert found["pickup.lat"].kind is FieldKind.GPS
        assert found["vehicle.vin"].kind is FieldKind.VIN

    def test_money_descends_to_amount_and_currency(self) -> None:
        found = sensitivity_map(RESULT_MODELS[Operation.COURTESY_CAR_BOOK])
        assert found["daily_price.amount"] == Sensitivity(DataClass.PUBLIC, FieldKind.AMOUNT)
        assert found["daily_price.currency"].kind is FieldKind.CURRENCY

    def test_lists_optionals_dicts_and_whole_values(self) -> None:
        found = sensitivity_map(Outer)
        assert found["items[].secret"].kind is FieldKind.NAME
        assert found["maybe.secret"].kind is FieldKind.NAME
        assert found["whole"].kind is FieldKind.CUSTOMER_REF
        assert "whole.secret" not in found
        assert found["tags[]"].kind is FieldKind.LABEL
        assert found["scores{}"].kind is FieldKind.QUANTITY

    def test_unclassified_lists_leaves_without_marker(self) -> None:
        assert unclassified_fields(Outer) == ["items[].loose", "maybe.loose"]

    def test_map_is_read_only_and_cached(self) -> None:
        found = sensitivity_map(Customer)
        assert found is sensitivity_map(Customer)
        with pytest.raises(TypeError):
            found["name"] = public(FieldKind.NAME)  # type: ignore[index]


class TestEverythingIsClassified:
    @pytest.mark.parametrize("model", _PARTNER_BOUND, ids=lambda m: m.__name__)
    def test_models_sent_to_partners(self, model: type[BaseModel]) -> None:
        assert unclassified_fields(model) == []

    @pytest.mark.parametrize("model", list(RESULT_MODELS.values()), ids=lambda m: m.__name__)
    def test_results(self, model: type[BaseModel]) -> None:
        assert unclassified_fields(model) == []

    @pytest.mark.parametrize("model", list(EVENT_DATA_MODELS.values()), ids=lambda m: m.__name__)
    def test_event_data(self, model: type[BaseModel]) -> None:
        assert unclassified_fields(model) == []

    def test_customer_personal_fields_are_sensitive(self) -> None:
        found = sensitivity_map(Customer)
        for field in ("name", "national_id", "phone", "email", "birth_date", "address"):
            assert found[field].data_class is DataClass.SENSITIVE, field
