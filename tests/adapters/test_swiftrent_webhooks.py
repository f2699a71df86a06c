"""SwiftRent v2 webhooks: each recorded push, and each way a push can be malformed."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

import adapters.swiftrent
from adapters import TranslationError
from adapters.swiftrent import SwiftRentWebhooks
from contracts import CancelReason, CanonicalEvent, EventType, Money
from tests.adapters.conftest import MISSING, fixtures_of, load, mutated

_T = EventType
_FIXTURES = fixtures_of(adapters.swiftrent)
_ORDER = "ord_01jp97g730p8x9cdpak1ffyan2"
_BOOKING = "SR-20250314-0042"


def _translate(payload: Any) -> CanonicalEvent:
    return SwiftRentWebhooks().translate(payload, partner_id="swiftrent")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class TestFixtures:
    @pytest.mark.parametrize(
        ("name", "event_type", "order_id", "reference", "sequence", "occurred_at"),
        [
            ("order_accepted", _T.RENTAL_ORDER_ACCEPTED, _ORDER, _BOOKING, 1, "02:31:00"),
            ("car_dispatched", _T.RENTAL_VEHICLE_DISPATCHED, _ORDER, _BOOKING, 2, "02:38:00"),
            ("car_delivered", _T.RENTAL_VEHICLE_DELIVERED, _ORDER, _BOOKING, 3, "03:02:30"),
            (
                "order_rejected",
                EventType.RENTAL_ORDER_REJECTED,
                "ord_01jp97v6n0kca856r2y5em8g27",
                "SR-20250314-0043",
                1,
                "02:33:00",
            ),
            (
                "order_cancelled",
                EventType.ORDER_CANCELLED,
                "ord_01jp962e80jhpfkpf367cby85k",
                "SR-20250314-0039",
                2,
                "02:45:00",
            ),
            (
                "service_aborted",
                EventType.ORDER_FAILED,
                "ord_01jp788x00vma44nxpdfcbtydc",
                "SR-20250313-0311",
                3,
                "06:30:00",
            ),
        ],
    )
    def test_envelope(
        self,
        name: str,
        event_type: EventType,
        order_id: str,
        reference: str,
        sequence: int,
        occurred_at: str,
    ) -> None:
        payload = load(_FIXTURES, name)
        event = _translate(payload)
        assert event.type is event_type
        assert event.partner_id == "swiftrent"
        assert event.order_id == order_id
        assert event.partner_reference == reference
        assert event.event_id == payload["eventId"]
        assert event.sequence == sequence
        assert event.occurred_at == _utc(f"2025-03-14T{occurred_at}+00:00")
        assert event.occurred_at.utcoffset() == timedelta(0)

    def test_accepted_carries_the_eta_in_utc(self) -> None:
        data = _translate(load(_FIXTURES, "order_accepted")).data
        assert data.model_dump() == {"eta": _utc("2025-03-14T10:55:00+08:00")}

    def test_dispatched_carries_plate_model_and_eta(self) -> None:
        data = _translate(load(_FIXTURES, "car_dispatched")).data
        assert data.model_dump() == {
            "eta": _utc("2025-03-14T02:55:00+00:00"),
            "vehicle_plate": "粤B5N8K2",
            "vehicle_model": "GAC Aion S",
        }

    def test_delivered_carries_the_odometer(self) -> None:
        assert _translate(load(_FIXTURES, "car_delivered")).data.model_dump() == {
            "odometer_km": 12480
        }

    def test_finished_has_days_and_yuan_string_as_fen(self) -> None:
        event = _translate(load(_FIXTURES, "rental_finished"))
        assert event.type is EventType.RENTAL_COMPLETED
        assert event.sequence == 4
        assert event.occurred_at == _utc("2025-03-17T17:15:00+08:00")
        assert event.data.model_dump() == {
            "days": 3,
            "amount": {"amount": 123456, "currency": "CNY"},
        }

    def test_rejected_lower_cases_the_reject_code(self) -> None:
        data = _translate(load(_FIXTURES, "order_rejected")).data.model_dump()
        assert data["reason_code"] == "no_vehicle_available"
        assert data["note"] == "门店附近暂无可用车辆"

    def test_cancelled_maps_reason_and_fee(self) -> None:
        data = _translate(load(_FIXTURES, "order_cancelled")).data.model_dump()
        assert data["reason"] == CancelReason.REPAIR_FINISHED_EARLY
        assert Money.model_validate(data["fee"]) == Money(amount=5000, currency="CNY")

    def test_aborted_becomes_a_failure(self) -> None:
        data = _translate(load(_FIXTURES, "service_aborted")).data.model_dump()
        assert data["reason_code"] == "vehicle_breakdown"


class TestTolerance:
    def test_unknown_cancel_code_still_cancels_as_other(self) -> None:
        payload = load(_FIXTURES, "order_cancelled")
        payload["payload"]["cancelReason"] = "WEATHER"
        assert _translate(payload).data.model_dump()["reason"] == CancelReason.OTHER

    def test_fields_it_does_not_read_are_ignored(self) -> None:
        payload = load(_FIXTURES, "car_delivered")
        payload["newField"] = {"anything": True}
        assert _translate(payload).type is EventType.RENTAL_VEHICLE_DELIVERED

    def test_version_defaults_to_zero(self) -> None:
        payload = load(_FIXTURES, "car_delivered")
        del payload["bookingVersion"]
        assert _translate(payload).sequence == 0

    def test_same_payload_gives_the_same_event(self) -> None:
        assert _translate(load(_FIXTURES, "rental_finished")) == _translate(
            load(_FIXTURES, "rental_finished")
        )


class TestMalformed:
    @pytest.mark.parametrize(
        ("fixture", "path", "value", "reason"),
        [
            ("car_delivered", "oemOrderNo", MISSING, "missing"),
            ("car_delivered", "oemOrderNo", "SR-X1", "pattern"),
            ("car_delivered", "eventType", "CAR_WASHED", "unknown event kind"),
            ("rental_finished", "payload.settleAmount", "12,34.56", "not a decimal"),
            ("rental_finished", "payload.settleAmount", 1234.56, "string of yuan"),
            ("rental_finished", "payload.settleAmount", "1234.567", "more decimals"),
            ("rental_finished", "payload.settleAmount", "-5.00", "negative"),
            ("rental_finished", "payload.settleAmount", MISSING, "missing"),
            ("rental_finished", "payload.settleAmount", "1e999999999", "out of range"),
            ("rental_finished", "payload.settleAmount", "1e-999999999", "decimal places"),
            ("car_delivered", "bookingVersion", 2**31, "less than or equal"),
            ("rental_finished", "payload.rentDays", 0, "greater than or equal to 1"),
            ("car_delivered", "eventTime", "2025-03-14 11:02", "epoch milliseconds"),
            ("car_delivered", "eventTime", 1741921350, "seconds"),
            ("car_dispatched", "payload.estimatedArrivalTime", "soon", "epoch milliseconds"),
            ("car_dispatched", "payload.plateNo", "ZZ12345", "province"),
            ("car_delivered", "eventId", "has space", "pattern"),
        ],
    )
    def test_names_the_partner_field(
        self, fixture: str, path: str, value: object, reason: str
    ) -> None:
        with pytest.raises(TranslationError) as caught:
            _translate(mutated(_FIXTURES, fixture, path, value))
        assert caught.value.field == path
        assert reason in caught.value.reason
        assert str(caught.value).startswith(f"{path}: ")

    def test_chains_the_validation_error(self) -> None:
        with pytest.raises(TranslationError) as caught:
            _translate(mutated(_FIXTURES, "car_delivered", "oemOrderNo", MISSING))
        assert isinstance(caught.value.__cause__, ValidationError)

    def test_canonical_refusal_is_a_translation_error_too(self) -> None:
        with pytest.raises(TranslationError, match="canonical partner_id") as caught:
            SwiftRentWebhooks().translate(load(_FIXTURES, "car_delivered"), partner_id="Not A Slug")
        assert isinstance(caught.value.__cause__, ValidationError)

    def test_refuses_json_that_is_not_an_object(self) -> None:
        with pytest.raises(TranslationError, match="expected a JSON object") as caught:
            _translate([load(_FIXTURES, "car_delivered")])
        assert caught.value.field is None
