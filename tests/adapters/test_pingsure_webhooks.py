"""PingSure v1 notifications: each recorded notification, and each way one can be malformed."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import adapters.pingsure
from adapters import TranslationError
from adapters.pingsure import PingSureWebhooks
from contracts import CancelReason, CanonicalEvent, Coverage, EventType
from tests.adapters.conftest import MISSING, fixtures_of, load, mutated

_T = EventType
_FIXTURES = fixtures_of(adapters.pingsure)
_ORDER = "ord_01jqdsc4a0j4eqxp5r76bqcqzf"
_PROPOSAL = "TDAA202544030000098765"


def _translate(payload: Any) -> CanonicalEvent:
    return PingSureWebhooks().translate(payload, partner_id="pingsure")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestFixtures:
    @pytest.mark.parametrize(
        ("name", "event_type", "order_id", "reference", "event_id", "occurred_at"),
        [
            (
                "policy_issued",
                _T.INSURANCE_POLICY_ISSUED,
                _ORDER,
                _PROPOSAL,
                "pingsure-880000123",
                "2025-03-28T15:20:05+08:00",
            ),
            (
                "claim_reported",
                _T.INSURANCE_CLAIM_OPENED,
                _ORDER,
                _PROPOSAL,
                "pingsure-880004567",
                "2025-05-02T09:12:40+08:00",
            ),
            (
                "claim_accepted",
                _T.INSURANCE_CLAIM_ACKNOWLEDGED,
                _ORDER,
                _PROPOSAL,
                "pingsure-880004602",
                "2025-05-02T10:05:00+08:00",
            ),
            (
                "claim_closed",
                _T.INSURANCE_CLAIM_SETTLED,
                _ORDER,
                _PROPOSAL,
                "pingsure-880007788",
                "2025-05-20T16:30:00+08:00",
            ),
            (
                "underwriting_declined",
                _T.ORDER_FAILED,
                "ord_01jqdv32404as6gdzkg8f0n8p8",
                "TDAA202544030000098770",
                "pingsure-880000130",
                "2025-03-28T15:48:12+08:00",
            ),
            (
                "policy_surrendered",
                _T.ORDER_CANCELLED,
                "ord_01jqt71yw0yjt6rn9pkvr3nv9y",
                "TDAA202544030000099001",
                "pingsure-880009001",
                "2025-04-02T11:00:00+08:00",
            ),
        ],
    )
    def test_envelope(
        self,
        name: str,
        event_type: EventType,
        order_id: str,
        reference: str,
        event_id: str,
        occurred_at: str,
    ) -> None:
        event = _translate(load(_FIXTURES, name))
        assert event.type is event_type
        assert event.partner_id == "pingsure"
        assert event.order_id == order_id
        assert event.partner_reference == reference
        assert event.event_id == event_id
        assert event.sequence == 0
        assert event.occurred_at == _at(occurred_at)
        assert event.occurred_at.tzinfo is UTC

    def test_policy_issued_has_premium_in_fen_and_coverages(self) -> None:
        assert _translate(load(_FIXTURES, "policy_issued")).data.model_dump() == {
            "policy_number": "PDAA202544030000012345",
            "premium": {"amount": 432100, "currency": "CNY"},
            "coverages": [
                Coverage.COMPULSORY_TRAFFIC,
                Coverage.VEHICLE_DAMAGE,
                Coverage.THIRD_PARTY_LIABILITY,
            ],
            "starts_on": date(2025, 4, 1),
            "ends_on": date(2026, 3, 31),
        }

    def test_claim_reported_time_is_utc(self) -> None:
        data = _translate(load(_FIXTURES, "claim_reported")).data.model_dump()
        assert data["claim_id"] == "CLM-2025-000777"
        assert data["reported_at"] == _at("2025-05-02T01:12:00+00:00")
        assert data["reported_at"].utcoffset() == timedelta(0)

    def test_claim_settled_amount_in_fen(self) -> None:
        assert _translate(load(_FIXTURES, "claim_closed")).data.model_dump() == {
            "claim_id": "CLM-2025-000777",
            "settled_amount": {"amount": 850000, "currency": "CNY"},
        }

    def test_declined_names_the_underwriting_rule(self) -> None:
        data = _translate(load(_FIXTURES, "underwriting_declined")).data.model_dump()
        assert data["reason_code"] == "underwriting_declined:UW-R12"

    def test_surrender_reason_maps_to_a_cancel_reason(self) -> None:
        data = _translate(load(_FIXTURES, "policy_surrendered")).data.model_dump()
        assert data["reason"] == CancelReason.DUPLICATE


class TestTolerance:
    def test_unknown_surrender_reason_still_cancels_as_other(self) -> None:
        payload = mutated(_FIXTURES, "policy_surrendered", "policy.surrender_reason", 77)
        assert _translate(payload).data.model_dump()["reason"] == CancelReason.OTHER

    def test_utc_designator_is_accepted(self) -> None:
        payload = mutated(_FIXTURES, "claim_accepted", "status_time", "2025-05-02T02:05:00Z")
        assert _translate(payload).occurred_at == _at("2025-05-02T10:05:00+08:00")


class TestMalformed:
    @pytest.mark.parametrize(
        ("fixture", "path", "value", "field", "reason"),
        [
            ("claim_accepted", "channel_order_no", MISSING, "channel_order_no", "missing"),
            ("claim_accepted", "channel_order_no", "ORD123", "channel_order_no", "pattern"),
            ("claim_accepted", "status", 250, "status", "unknown event kind 250"),
            ("policy_issued", "policy.premium_fen", "4321.00", "policy.premium_fen", "fen"),
            ("policy_issued", "policy.premium_fen", 4321.5, "policy.premium_fen", "fen"),
            ("policy_issued", "policy.premium_fen", -1, "policy.premium_fen", "negative"),
            ("policy_issued", "policy.premium_fen", 10**40, "policy.premium_fen", "out of range"),
            (
                "policy_issued",
                "status_time",
                "9999-12-31T23:59:59-01:00",
                "status_time",
                "date range",
            ),
            ("claim_closed", "claim.paid_amount_fen", MISSING, "claim.paid_amount_fen", "missing"),
            ("policy_issued", "status_time", "2025-03-28 15:20:05", "status_time", "UTC offset"),
            ("policy_issued", "status_time", "28/03/2025", "status_time", "not an ISO 8601"),
            ("policy_issued", "status_time", 1743146405, "status_time", "ISO 8601"),
            ("claim_reported", "claim.report_time", "yesterday", "claim.report_time", "ISO 8601"),
            ("policy_issued", "policy", MISSING, "policy", "missing"),
            ("claim_accepted", "claim", MISSING, "claim", "missing"),
            (
                "policy_issued",
                "policy.coverage_codes",
                ["JQX", "ABC"],
                "policy.coverage_codes[1]",
                "unknown coverage code",
            ),
            ("policy_issued", "policy.coverage_codes", [], "policy.coverage_codes", "at least 1"),
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
