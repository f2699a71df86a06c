"""Canonical events: the catalog, the envelope, and each type's data model."""

from typing import Any

import pytest
from pydantic import ValidationError

from contracts import (
    EVENT_CATEGORY,
    EVENT_DATA_MODELS,
    EVENT_STATUS,
    CanonicalEvent,
    EventType,
    OrderStatus,
    RentalCompleted,
    ServiceCategory,
    event_catalog,
)

_CATALOG = {entry.type: entry for entry in event_catalog()}


def example(event_type: EventType) -> dict[str, Any]:
    return dict(_CATALOG[event_type].example)


class TestRegistries:
    def test_every_type_has_a_model_status_and_category(self) -> None:
        for event_type in EventType:
            assert event_type in EVENT_DATA_MODELS
            assert event_type in EVENT_STATUS
            assert event_type in EVENT_CATEGORY

    def test_required_types_exist(self) -> None:
        required = {
            "rental.order.accepted",
            "rental.order.rejected",
            "rental.vehicle.dispatched",
            "rental.vehicle.delivered",
            "rental.completed",
            "order.cancelled",
            "insurance.policy.issued",
            "insurance.claim.opened",
            "insurance.claim.settled",
            "charging.session.started",
            "charging.session.completed",
            "lifestyle.membership.linked",
            "lifestyle.benefit.redeemed",
            "lifestyle.points.exchanged",
        }
        assert required <= {t.value for t in EventType}

    def test_statuses(self) -> None:
        assert EVENT_STATUS[EventType.RENTAL_VEHICLE_DELIVERED] is OrderStatus.DELIVERED
        assert EVENT_STATUS[EventType.ORDER_CANCELLED] is OrderStatus.CANCELLED
        assert EVENT_STATUS[EventType.INSURANCE_CLAIM_OPENED] is None

    def test_categories(self) -> None:
        assert EVENT_CATEGORY[EventType.CHARGING_SESSION_COMPLETED] is ServiceCategory.CHARGING
        assert EVENT_CATEGORY[EventType.ORDER_CANCELLED] is None


class TestCatalog:
    def test_lists_every_type(self) -> None:
        assert set(_CATALOG) == set(EventType)

    @pytest.mark.parametrize("event_type", list(EventType))
    def test_example_data_validates_against_its_model(self, event_type: EventType) -> None:
        entry = _CATALOG[event_type]
        model = EVENT_DATA_MODELS[event_type]
        assert model.model_validate(entry.example["data"])
        assert entry.data_schema == model.model_json_schema()

    @pytest.mark.parametrize("event_type", list(EventType))
    def test_example_event_validates_as_envelope(self, event_type: EventType) -> None:
        event = CanonicalEvent.model_validate(example(event_type))
        assert type(event.data) is EVENT_DATA_MODELS[event_type]
        assert event.moves_to is EVENT_STATUS[event_type]

    def test_entries_serialise_to_json(self) -> None:
        entry = _CATALOG[EventType.RENTAL_COMPLETED]
        dumped = entry.model_dump(mode="json")
        assert dumped["type"] == "rental.completed"
        assert dumped["moves_order_to"] == "completed"
        assert "amount" in dumped["data_schema"]["properties"]


class TestEnvelope:
    def test_data_is_typed_by_type(self) -> None:
        event = CanonicalEvent.model_validate(example(EventType.RENTAL_COMPLETED))
        assert isinstance(event.data, RentalCompleted)
        assert event.data.days == 3
        assert event.data.amount.amount == 36000

    def test_round_trips_through_json(self) -> None:
        event = CanonicalEvent.model_validate(example(EventType.CHARGING_SESSION_COMPLETED))
        assert CanonicalEvent.model_validate_json(event.model_dump_json()) == event

    def test_data_errors_are_located_under_data(self) -> None:
        raw = example(EventType.RENTAL_COMPLETED)
        raw["data"] = {"days": 0, "amount": {"amount": 1, "currency": "CNY"}}
        with pytest.raises(ValidationError) as caught:
            CanonicalEvent.model_validate(raw)
        assert [e["loc"] for e in caught.value.errors()] == [("data", "days")]

    def test_data_of_another_type_is_refused(self) -> None:
        raw = example(EventType.RENTAL_COMPLETED)
        raw["data"] = example(EventType.RENTAL_ORDER_ACCEPTED)["data"]
        with pytest.raises(ValidationError, match=r"data\.days"):
            CanonicalEvent.model_validate(raw)

    def test_unknown_type(self) -> None:
        raw = example(EventType.RENTAL_COMPLETED)
        raw["type"] = "rental.teleported"
        with pytest.raises(ValidationError) as caught:
            CanonicalEvent.model_validate(raw)
        assert {e["loc"][0] for e in caught.value.errors()} == {"type", "data"}

    def test_occurred_at_must_be_aware(self) -> None:
        raw = example(EventType.RENTAL_COMPLETED)
        raw["occurred_at"] = "2025-03-14T10:31:00"
        with pytest.raises(ValidationError, match="occurred_at"):
            CanonicalEvent.model_validate(raw)

    def test_sequence_is_not_negative(self) -> None:
        raw = example(EventType.RENTAL_COMPLETED)
        raw["sequence"] = -1
        with pytest.raises(ValidationError, match="sequence"):
            CanonicalEvent.model_validate(raw)

    def test_extra_fields_are_refused(self) -> None:
        raw = example(EventType.RENTAL_COMPLETED)
        raw["data"] = {**raw["data"], "tip": 5}
        with pytest.raises(ValidationError, match=r"data\.tip"):
            CanonicalEvent.model_validate(raw)

    def test_history_order_key(self) -> None:
        first = CanonicalEvent.model_validate(
            {**example(EventType.RENTAL_COMPLETED), "sequence": 1}
        )
        second = first.model_copy(update={"sequence": 2})
        assert sorted([second, first], key=lambda e: e.order_key) == [first, second]
