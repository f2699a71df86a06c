"""VoltGrid OCPI-lite pushes: each recorded session push, and each way one can be malformed."""

from datetime import UTC, datetime
from typing import Any

import pytest

import adapters.voltgrid
from adapters import TranslationError
from adapters.voltgrid import VoltGridWebhooks
from contracts import CanonicalEvent, EventType
from tests.adapters.conftest import MISSING, fixtures_of, load, mutated

_FIXTURES = fixtures_of(adapters.voltgrid)
_ORDER = "ord_01jp969rm0m4j1928jxf6qf2c9"
_SESSION = "VG-SZ-20250314-88213"


def _translate(payload: Any) -> CanonicalEvent:
    return VoltGridWebhooks().translate(payload, partner_id="voltgrid")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class TestFixtures:
    def test_active_session_starts_the_charging_event(self) -> None:
        event = _translate(load(_FIXTURES, "session_active"))
        assert event.type is EventType.CHARGING_SESSION_STARTED
        assert event.partner_id == "voltgrid"
        assert event.order_id == _ORDER
        assert event.partner_reference == _SESSION
        assert event.event_id == f"voltgrid:{_SESSION}:active"
        assert event.sequence == 0
        assert event.occurred_at == _utc("2025-03-14T02:05:12+00:00")
        assert event.occurred_at.tzinfo is UTC
        assert event.data.model_dump() == {
            "session_id": _SESSION,
            "station_id": "SZ-NS-0042",
            "connector_id": "2",
        }

    def test_completed_session_has_energy_in_wh_and_cost_incl_vat_in_fen(self) -> None:
        event = _translate(load(_FIXTURES, "session_completed"))
        assert event.type is EventType.CHARGING_SESSION_COMPLETED
        assert event.order_id == _ORDER
        assert event.event_id == f"voltgrid:{_SESSION}:completed"
        assert event.occurred_at == _utc("2025-03-14T03:40:00+00:00")
        assert event.data.model_dump() == {
            "session_id": _SESSION,
            "energy_wh": 42350,
            "amount": {"amount": 5294, "currency": "CNY"},
            "ended_at": _utc("2025-03-14T11:40:00+08:00"),
        }

    def test_invalid_session_fails_the_order(self) -> None:
        event = _translate(load(_FIXTURES, "session_invalid"))
        assert event.type is EventType.ORDER_FAILED
        assert event.order_id == "ord_01jp9ngtj0ka3g3jetfdvm6zdn"
        assert event.partner_reference == "VG-SZ-20250314-90411"
        assert event.occurred_at == _utc("2025-03-14T06:33:40+00:00")
        assert event.data.model_dump()["reason_code"] == "session_invalid"


class TestOcpiHabits:
    def test_repeated_active_pushes_are_one_event(self) -> None:
        first = _translate(load(_FIXTURES, "session_active"))
        later = mutated(_FIXTURES, "session_active", "session.kwh", 12.8)
        later["session"]["last_updated"] = "2025-03-14T02:35:14Z"
        assert _translate(later).event_id == first.event_id

    def test_time_without_zone_designator_is_utc(self) -> None:
        payload = mutated(
            _FIXTURES, "session_active", "session.start_date_time", "2025-03-14T02:05:12"
        )
        assert _translate(payload).occurred_at == _utc("2025-03-14T02:05:12+00:00")

    def test_time_with_offset_is_converted_to_utc(self) -> None:
        payload = mutated(
            _FIXTURES, "session_active", "session.start_date_time", "2025-03-14T10:05:12+08:00"
        )
        occurred_at = _translate(payload).occurred_at
        assert occurred_at == _utc("2025-03-14T02:05:12+00:00")
        assert occurred_at.tzinfo is UTC

    @pytest.mark.parametrize(
        ("kwh", "energy_wh"), [("42.35", 42350), (7, 7000), (42.3456, 42346), ("0.0004", 0)]
    )
    def test_kwh_as_number_or_string_rounds_to_whole_wh(self, kwh: object, energy_wh: int) -> None:
        payload = mutated(_FIXTURES, "session_completed", "session.kwh", kwh)
        assert _translate(payload).data.model_dump()["energy_wh"] == energy_wh


class TestMalformed:
    @pytest.mark.parametrize(
        ("fixture", "path", "value", "field", "reason"),
        [
            (
                "session_completed",
                "session.authorization_reference",
                MISSING,
                "session.authorization_reference",
                "missing",
            ),
            ("session_active", "object", "cdr", "object", "unknown event kind 'cdr'"),
            ("session_active", "session.status", "PENDING", "session.status", "unknown event"),
            ("session_active", "session", MISSING, "session", "missing"),
            (
                "session_completed",
                "session.total_cost.incl_vat",
                "52.9x",
                "session.total_cost.incl_vat",
                "not a decimal",
            ),
            (
                "session_completed",
                "session.total_cost.incl_vat",
                "52.945",
                "session.total_cost.incl_vat",
                "more decimals",
            ),
            (
                "session_completed",
                "session.total_cost",
                MISSING,
                "session.total_cost",
                "COMPLETED",
            ),
            (
                "session_completed",
                "session.currency",
                "RMB",
                "session.currency",
                "unknown currency",
            ),
            ("session_completed", "session.kwh", "-1", "session.kwh", "negative"),
            ("session_completed", "session.kwh", True, "session.kwh", "decimal"),
            ("session_completed", "session.kwh", "1e999999999", "session.kwh", "out of range"),
            ("session_active", "session", "x", "session", "must be a JSON object"),
            (
                "session_completed",
                "session.end_date_time",
                "14/03/2025 11:40",
                "session.end_date_time",
                "RFC 3339",
            ),
            (
                "session_completed",
                "session.end_date_time",
                MISSING,
                "session.end_date_time",
                "COMPLETED",
            ),
            ("session_active", "session.last_updated", 1741917914, "session.last_updated", "RFC"),
            ("session_active", "session.id", "VG/SZ 1", "session.id", "pattern"),
        ],
    )
    def test_names_the_partner_field(
        self, fixture: str, path: str, value: object, field: str, reason: str
    ) -> None:
        with pytest.raises(TranslationError) as caught:
            _translate(mutated(_FIXTURES, fixture, path, value))
        assert caught.value.field == field
        assert reason in caught.value.reason
        assert str(caught.value).startswith(f"{field}: ")
