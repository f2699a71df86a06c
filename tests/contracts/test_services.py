"""Service requests and results: the discriminated unions and their rules."""

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import (
    EXAMPLE_CUSTOMER,
    EXAMPLE_REQUESTS,
    OPERATION_CATEGORY,
    OPERATION_PURPOSE,
    PURPOSE_CATEGORY,
    REQUEST_MODELS,
    RESULT_MODELS,
    SERVICE_REQUEST_ADAPTER,
    SERVICE_RESULT_ADAPTER,
    ChargingSession,
    CourtesyCarRequest,
    InsuranceBindRequest,
    InsuranceQuoteRequest,
    Operation,
    ServiceCategory,
    operations_of,
)


def example_json(operation: Operation) -> dict[str, Any]:
    return EXAMPLE_REQUESTS[operation].model_dump(mode="json")


class TestCatalogue:
    def test_every_operation_has_a_category_purpose_request_and_result(self) -> None:
        for operation in Operation:
            assert operation in OPERATION_CATEGORY
            assert PURPOSE_CATEGORY[OPERATION_PURPOSE[operation]] is OPERATION_CATEGORY[operation]
            assert operation in REQUEST_MODELS
            assert operation in RESULT_MODELS

    def test_operations_of_category(self) -> None:
        assert operations_of(ServiceCategory.INSURANCE) == (
            Operation.INSURANCE_QUOTE,
            Operation.INSURANCE_BIND,
        )


class TestServiceRequestUnion:
    @pytest.mark.parametrize("operation", list(Operation))
    def test_every_example_parses_to_its_model(self, operation: Operation) -> None:
        parsed = SERVICE_REQUEST_ADAPTER.validate_python(example_json(operation))
        assert type(parsed) is REQUEST_MODELS[operation]
        assert parsed == EXAMPLE_REQUESTS[operation]

    def test_parses_from_json_text(self) -> None:
        raw = EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK].model_dump_json()
        parsed = SERVICE_REQUEST_ADAPTER.validate_json(raw)
        assert isinstance(parsed, CourtesyCarRequest)
        assert parsed.city == "Shenzhen"

    def test_unknown_operation_lists_the_known_ones(self) -> None:
        with pytest.raises(ValidationError, match=r"operation must be one of: courtesy_car\.book"):
            SERVICE_REQUEST_ADAPTER.validate_python({"operation": "rental.teleport"})

    def test_missing_operation(self) -> None:
        with pytest.raises(ValidationError, match="operation must be one of"):
            SERVICE_REQUEST_ADAPTER.validate_python({"days": 3})

    def test_error_location_names_the_field(self) -> None:
        body = example_json(Operation.COURTESY_CAR_BOOK)
        body["vehicle"]["vin"] = "LSVAU2180N2183292"
        with pytest.raises(ValidationError) as caught:
            SERVICE_REQUEST_ADAPTER.validate_python(body)
        assert caught.value.errors()[0]["loc"] == ("courtesy_car.book", "vehicle", "vin")

    def test_result_union(self) -> None:
        raw = {
            "operation": "charging.stop",
            "session_id": "cs-1",
            "station_id": "st-1",
            "connector_id": "1",
            "state": "stopped",
            "started_at": "2030-05-20T09:00:00+08:00",
            "ended_at": "2030-05-20T09:40:00+08:00",
            "energy_wh": 42350,
            "amount": {"amount": 5294, "currency": "CNY"},
        }
        parsed = SERVICE_RESULT_ADAPTER.validate_python(raw)
        assert isinstance(parsed, ChargingSession)
        assert parsed.operation is Operation.CHARGING_STOP


class TestRequestRules:
    def test_window_must_move_forward(self) -> None:
        body = example_json(Operation.COURTESY_CAR_BOOK)
        body["window_end"] = body["window_start"]
        with pytest.raises(ValidationError, match="window_end must be after window_start"):
            CourtesyCarRequest.model_validate(body)

    def test_naive_datetimes_are_refused(self) -> None:
        body = example_json(Operation.COURTESY_CAR_BOOK)
        body["window_start"] = "2030-05-20T09:00:00"
        with pytest.raises(ValidationError, match="timezone"):
            CourtesyCarRequest.model_validate(body)

    def test_days_bounds(self) -> None:
        body = example_json(Operation.COURTESY_CAR_BOOK)
        body["days"] = 0
        with pytest.raises(ValidationError):
            CourtesyCarRequest.model_validate(body)

    def test_coverages_must_not_repeat(self) -> None:
        body = example_json(Operation.INSURANCE_QUOTE)
        body["coverages"] = ["glass", "glass"]
        with pytest.raises(ValidationError, match="coverages must not repeat"):
            InsuranceQuoteRequest.model_validate(body)

    def test_binding_needs_the_national_id(self) -> None:
        body = example_json(Operation.INSURANCE_BIND)
        body["customer"] = EXAMPLE_CUSTOMER.model_dump(mode="json", exclude={"national_id"})
        body["customer"]["birth_date"] = None
        with pytest.raises(ValidationError, match="national_id is required"):
            InsuranceBindRequest.model_validate(body)

    def test_pinned_operations_need_a_partner(self) -> None:
        body = example_json(Operation.CHARGING_START)
        del body["partner_id"]
        with pytest.raises(ValidationError, match="partner_id"):
            SERVICE_REQUEST_ADAPTER.validate_python(body)

    def test_requests_are_immutable(self) -> None:
        request = EXAMPLE_REQUESTS[Operation.COURTESY_CAR_BOOK]
        assert isinstance(request, CourtesyCarRequest)
        with pytest.raises(ValidationError):
            request.days = 5  # type: ignore[misc]
        assert request.window_end - request.window_start == timedelta(hours=2)
