"""MeiLife v1 notifications: each recorded message, and each way one can be malformed."""

from datetime import UTC, datetime
from typing import Any

import pytest

import adapters.meilife
from adapters import TranslationError
from adapters.meilife import MeiLifeWebhooks
from contracts import CancelReason, CanonicalEvent, EventType
from tests.adapters.conftest import MISSING, fixtures_of, load, mutated

_T = EventType
_FIXTURES = fixtures_of(adapters.meilife)
_REDEMPTION_ORDER = "ord_01jwqg1vy08g45ft3wqzphqcss"


def _translate(payload: Any) -> CanonicalEvent:
    return MeiLifeWebhooks().translate(payload, partner_id="meilife")


def _beijing(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


class TestFixtures:
    @pytest.mark.parametrize(
        ("name", "event_type", "order_id", "reference", "sequence", "finished"),
        [
            (
                "member_opened",
                _T.LIFESTYLE_MEMBERSHIP_LINKED,
                "ord_01jwmt93x0e5kyrv3cqseyw6jp",
                "ML-MB-20250601-7730021",
                1,
                "2025-06-01 12:00:01",
            ),
            (
                "coupon_verified",
                _T.LIFESTYLE_BENEFIT_REDEEMED,
                _REDEMPTION_ORDER,
                "RD-55012",
                1,
                "2025-06-02 13:00:00",
            ),
            (
                "coupon_refunded",
                _T.ORDER_CANCELLED,
                _REDEMPTION_ORDER,
                "RD-55012",
                2,
                "2025-06-02 18:14:57",
            ),
            (
                "points_exchanged",
                _T.LIFESTYLE_POINTS_EXCHANGED,
                "ord_01jwt5y9503sqffqygbee9kwxn",
                "PX-1201",
                1,
                "2025-06-03 14:00:00",
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
        finished: str,
    ) -> None:
        payload = load(_FIXTURES, name)
        event = _translate(payload)
        assert event.type is event_type
        assert event.partner_id == "meilife"
        assert event.order_id == order_id
        assert event.partner_reference == reference
        assert event.event_id == payload["header"]["msgId"]
        assert event.sequence == sequence
        assert event.occurred_at == _beijing(finished)
        assert event.occurred_at.tzinfo is UTC

    def test_membership_level_in_chinese_becomes_a_tier(self) -> None:
        assert _translate(load(_FIXTURES, "member_opened")).data.model_dump() == {
            "partner_member_ref": "ML7730021",
            "partner_tier": "silver",
        }

    def test_coupon_face_value_in_yuan_becomes_fen(self) -> None:
        assert _translate(load(_FIXTURES, "coupon_verified")).data.model_dump() == {
            "redemption_id": "RD-55012",
            "benefit_id": "coffee-10off",
            "amount": {"amount": 1250, "currency": "CNY"},
        }

    def test_refund_cancels_the_order(self) -> None:
        data = _translate(load(_FIXTURES, "coupon_refunded")).data.model_dump()
        assert data["reason"] == CancelReason.REFUND

    def test_points_exchange_has_both_sides(self) -> None:
        data = _translate(load(_FIXTURES, "points_exchanged")).data.model_dump()
        assert data == {"exchange_id": "PX-1201", "points_debited": 1000, "points_credited": 250}


class TestTolerance:
    def test_unknown_level_is_passed_on_as_named(self) -> None:
        payload = mutated(_FIXTURES, "member_opened", "body.memberLevel", "黑钻会员")
        assert _translate(payload).data.model_dump()["partner_tier"] == "黑钻会员"

    def test_missing_sequence_number_is_zero(self) -> None:
        assert (
            _translate(mutated(_FIXTURES, "member_opened", "header.seqNo", MISSING)).sequence == 0
        )

    def test_integer_face_value(self) -> None:
        payload = mutated(_FIXTURES, "coupon_verified", "body.faceValue", 10)
        assert _translate(payload).data.model_dump()["amount"]["amount"] == 1000


class TestMalformed:
    @pytest.mark.parametrize(
        ("fixture", "path", "value", "reason"),
        [
            ("coupon_verified", "body.outTradeNo", MISSING, "missing"),
            ("coupon_verified", "body.outTradeNo", "OEM-0001", "pattern"),
            ("coupon_verified", "header.msgType", "ORDER_NOTIFY", "unknown event kind"),
            ("coupon_verified", "body.status", "处理中", "unknown event kind '处理中'"),
            ("coupon_verified", "body.faceValue", "12.50", "JSON number"),
            ("coupon_verified", "body.faceValue", 12.555, "more decimals"),
            ("coupon_verified", "body.faceValue", -3, "negative"),
            ("coupon_verified", "body.faceValue", MISSING, "missing"),
            ("coupon_verified", "body.faceValue", 1e300, "out of range"),
            ("coupon_verified", "body.faceValue", float("nan"), "not a finite number"),
            ("coupon_verified", "header", None, "must be a JSON object"),
            ("coupon_verified", "body.finishTime", "2025-06-02T13:00:00+08:00", "yyyy-MM-dd"),
            ("coupon_verified", "body.finishTime", "2025-06-31 13:00:00", "yyyy-MM-dd"),
            ("coupon_verified", "body.finishTime", "0001-01-01 00:00:00", "date range"),
            ("points_exchanged", "body.deductPoints", -10, "greater than or equal to 0"),
            ("member_opened", "body.memberNo", MISSING, "missing"),
            ("member_opened", "header.msgId", "#1", "pattern"),
            ("member_opened", "body", MISSING, "missing"),
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
