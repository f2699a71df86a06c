"""Standard Webhooks signatures, interoperable with the official `standardwebhooks` package."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from gateway.webhooks.signature import SignatureError, SignatureFailure, sign, verify

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = b'{"type":"rental.order.accepted","data":{"eta_minutes":25}}'


def _headers(webhook_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


class TestInterop:
    def test_a_delivery_signed_by_the_official_package_verifies(self) -> None:
        now = datetime.now(UTC)
        signature = Webhook(SECRET).sign("msg_1", now, BODY.decode())
        webhook_id, ts = verify(
            _headers("msg_1", int(now.timestamp()), signature),
            BODY,
            [SECRET],
            now=time.time(),
            tolerance_seconds=300,
        )
        assert (webhook_id, ts) == ("msg_1", int(now.timestamp()))

    def test_our_signature_verifies_with_the_official_package(self) -> None:
        ts = int(time.time())
        headers = _headers("msg_2", ts, sign(SECRET, "msg_2", ts, BODY))
        assert Webhook(SECRET).verify(BODY, headers) == {
            "type": "rental.order.accepted",
            "data": {"eta_minutes": 25},
        }


class TestRefusals:
    def test_missing_headers_are_named(self) -> None:
        with pytest.raises(SignatureError) as caught:
            verify({"webhook-id": "m"}, BODY, [SECRET], now=time.time(), tolerance_seconds=300)
        assert caught.value.failure is SignatureFailure.MISSING_HEADERS
        assert (
            "webhook-timestamp" in caught.value.detail
            and "webhook-signature" in caught.value.detail
        )

    def test_a_timestamp_that_is_not_a_number(self) -> None:
        with pytest.raises(SignatureError) as caught:
            verify(
                _headers("m", 0, "v1,x") | {"webhook-timestamp": "yesterday"},
                BODY,
                [SECRET],
                now=time.time(),
                tolerance_seconds=300,
            )
        assert caught.value.failure is SignatureFailure.INVALID_TIMESTAMP

    @pytest.mark.parametrize("skew", [-301, 301])
    def test_timestamps_outside_five_minutes_are_stale(self, skew: int) -> None:
        now = int(time.time())
        ts = now + skew
        with pytest.raises(SignatureError) as caught:
            verify(
                _headers("m", ts, sign(SECRET, "m", ts, BODY)),
                BODY,
                [SECRET],
                now=now,
                tolerance_seconds=300,
            )
        assert caught.value.failure is SignatureFailure.STALE_TIMESTAMP

    def test_tampered_body_fails(self) -> None:
        ts = int(time.time())
        with pytest.raises(SignatureError) as caught:
            verify(
                _headers("m", ts, sign(SECRET, "m", ts, BODY)),
                BODY + b" ",
                [SECRET],
                now=ts,
                tolerance_seconds=300,
            )
        assert caught.value.failure is SignatureFailure.BAD_SIGNATURE

    def test_signature_bound_to_the_webhook_id(self) -> None:
        ts = int(time.time())
        with pytest.raises(SignatureError):
            verify(
                _headers("other", ts, sign(SECRET, "m", ts, BODY)),
                BODY,
                [SECRET],
                now=ts,
                tolerance_seconds=300,
            )

    def test_no_secret_issued(self) -> None:
        ts = int(time.time())
        with pytest.raises(SignatureError) as caught:
            verify(
                _headers("m", ts, sign(SECRET, "m", ts, BODY)),
                BODY,
                [],
                now=ts,
                tolerance_seconds=300,
            )
        assert caught.value.failure is SignatureFailure.NO_SECRET


class TestRotation:
    def test_any_of_several_signatures_may_match(self) -> None:
        ts = int(time.time())
        header = f"v1,bm90LWl0 {sign(OTHER, 'm', ts, BODY)} v2,ignored"
        assert verify(_headers("m", ts, header), BODY, [OTHER], now=ts, tolerance_seconds=300)

    def test_the_previous_secret_still_verifies_during_the_overlap(self) -> None:
        ts = int(time.time())
        headers = _headers("m", ts, sign(OTHER, "m", ts, BODY))
        assert verify(headers, BODY, [SECRET, OTHER], now=ts, tolerance_seconds=300) == ("m", ts)
