"""Forged, replayed, stale and malformed webhook deliveries: refused, nothing stored or applied.

A delivery is refused before anything is written unless its token, its
Standard Webhooks signature (HMAC-SHA256 of ``id.timestamp.body`` with the
partner's current secret) and its timestamp (within 5 minutes) all hold. A
replay of an accepted ``webhook-id`` answers the first answer again and
applies nothing a second time.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from gateway.webhooks.signature import sign
from tests.gateway.webhooks.conftest import event
from tests.security.conftest import Gateway, SignedPartner, assert_problem, dumps

NOW_TOLERANCE = 300


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


async def _accepted_event(gw: Gateway, partner: SignedPartner) -> tuple[str, bytes]:
    order_id = await gw.order()
    body = dumps(event(order_id, "rental.order.accepted", partner_id=partner.partner_id))
    return order_id, body


def _flip(signature: str, index: int) -> str:
    raw = bytearray(base64.b64decode(signature.split(",", 1)[1]))
    raw[index] ^= 0x01
    return "v1," + base64.b64encode(bytes(raw)).decode()


async def _refused_untouched(
    gw: Gateway,
    partner: SignedPartner,
    order_id: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    slug: str,
) -> dict[str, object]:
    before = await gw.snapshot()
    response = await partner.post(body, headers)
    problem = assert_problem(response, status, slug)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Webhook-Signature")
    await gw.assert_unchanged(before)
    assert await gw.order_status(order_id) == ("dispatched", 0)
    return problem


class TestForgedSignatures:
    async def test_signed_with_another_secret(self, any_gateway: Gateway) -> None:
        gw = any_gateway
        citycar, other = await gw.partner("citycar"), await gw.partner("swiftrent")
        order_id, body = await _accepted_event(gw, citycar)
        headers = citycar.headers(body, secret=other.secret)
        await _refused_untouched(gw, citycar, order_id, body, headers, 401, "invalid-signature")

    @pytest.mark.parametrize("index", [0, 15, 31])
    async def test_one_flipped_bit_in_the_signature(self, any_gateway: Gateway, index: int) -> None:
        gw = any_gateway
        citycar = await gw.partner()
        order_id, body = await _accepted_event(gw, citycar)
        headers = citycar.headers(body)
        headers["webhook-signature"] = _flip(headers["webhook-signature"], index)
        await _refused_untouched(gw, citycar, order_id, body, headers, 401, "invalid-signature")

    async def test_one_flipped_byte_in_the_body(self, any_gateway: Gateway) -> None:
        gw = any_gateway
        citycar = await gw.partner()
        order_id, body = await _accepted_event(gw, citycar)
        headers = citycar.headers(body)
        tampered = body.replace(b"rental.order.accepted", b"rental.order.rejected")
        await _refused_untouched(gw, citycar, order_id, tampered, headers, 401, "invalid-signature")

    async def test_the_signature_of_another_body(self, any_gateway: Gateway) -> None:
        gw = any_gateway
        citycar = await gw.partner()
        order_id, body = await _accepted_event(gw, citycar)
        signed_elsewhere = dumps(event(await gw.order(), "rental.order.accepted"))
        headers = citycar.headers(signed_elsewhere)
        await _refused_untouched(gw, citycar, order_id, body, headers, 401, "invalid-signature")

    async def test_the_signature_of_another_webhook_id(self, gateway: Gateway) -> None:
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        headers = citycar.headers(body, webhook_id="msg_signed")
        headers["webhook-id"] = f"msg_{uuid.uuid4().hex}"
        await _refused_untouched(
            gateway, citycar, order_id, body, headers, 401, "invalid-signature"
        )

    async def test_a_timestamp_changed_after_signing(self, gateway: Gateway) -> None:
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        headers = citycar.headers(body, timestamp=_now() - 60)
        headers["webhook-timestamp"] = str(_now())
        await _refused_untouched(
            gateway, citycar, order_id, body, headers, 401, "invalid-signature"
        )

    @pytest.mark.parametrize(
        "value",
        [
            "v1,",
            "v1",
            ",",
            "v1,,",
            "v1,!!!not-base64!!!",
            "v1,AAAA",
            "v1,\u00e9\u00e9\u00e9",
            "v1," + "A" * 20_000,
            "v1a,{valid}",
            "v2,{valid}",
            "V1,{valid}",
            "{valid_bare}",
            "v1:{valid_bare}",
            "v1, {valid_bare}",
        ],
    )
    async def test_malformed_signature_values(self, gateway: Gateway, value: str) -> None:
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        headers = citycar.headers(body)
        valid = headers["webhook-signature"]
        headers["webhook-signature"] = value.format(
            valid=valid.split(",", 1)[1], valid_bare=valid.split(",", 1)[1]
        )
        await _refused_untouched(
            gateway, citycar, order_id, body, headers, 401, "invalid-signature"
        )

    async def test_several_signatures_none_matching(self, any_gateway: Gateway) -> None:
        gw = any_gateway
        citycar, other = await gw.partner("citycar"), await gw.partner("swiftrent")
        order_id, body = await _accepted_event(gw, citycar)
        headers = citycar.headers(body, webhook_id="msg_several")
        timestamp = int(headers["webhook-timestamp"])
        good = headers["webhook-signature"]
        headers["webhook-signature"] = " ".join(
            [
                sign(other.secret, "msg_several", timestamp, body),
                _flip(good, 3),
                "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "v2," + good.split(",", 1)[1],
            ]
        )
        await _refused_untouched(gw, citycar, order_id, body, headers, 401, "invalid-signature")

    async def test_a_valid_signature_among_bad_ones_is_accepted(self, gateway: Gateway) -> None:
        # The rotation case: the refusal above is about the signatures, not their number.
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        headers = citycar.headers(body)
        headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
        response = await citycar.post(body, headers)
        assert response.status_code == 200, response.text
        assert await gateway.order_status(order_id) == ("accepted", 1)


class TestTimestamps:
    @pytest.mark.parametrize("offset", [-NOW_TOLERANCE - 5, NOW_TOLERANCE + 5, -86_400, 10**9])
    async def test_beyond_the_tolerance(self, any_gateway: Gateway, offset: int) -> None:
        gw = any_gateway
        citycar = await gw.partner()
        order_id, body = await _accepted_event(gw, citycar)
        # Correctly signed for the moment it names: only its distance from now is wrong.
        headers = citycar.headers(body, timestamp=_now() + offset)
        await _refused_untouched(gw, citycar, order_id, body, headers, 401, "stale-timestamp")

    @pytest.mark.parametrize("value", ["0", "-1", "1" + "0" * 40])
    async def test_absurd_integer_timestamps_are_stale(self, gateway: Gateway, value: str) -> None:
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        headers = citycar.headers(body)
        headers["webhook-timestamp"] = value
        await _refused_untouched(gateway, citycar, order_id, body, headers, 401, "stale-timestamp")

    @pytest.mark.parametrize(
        "value", ["{now}.5", "{now}e0", "1e9", "0x10", "now", "\u00b2\u00b3", "9" * 5000, "NaN"]
    )
    async def test_timestamps_that_are_not_integer_seconds(
        self, gateway: Gateway, value: str
    ) -> None:
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        headers = citycar.headers(body)
        headers["webhook-timestamp"] = value.format(now=_now())
        await _refused_untouched(
            gateway, citycar, order_id, body, headers, 401, "invalid-signature"
        )


class TestMissingHeaders:
    @pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
    async def test_each_header_missing(self, any_gateway: Gateway, missing: str) -> None:
        gw = any_gateway
        citycar = await gw.partner()
        order_id, body = await _accepted_event(gw, citycar)
        headers = citycar.headers(body)
        del headers[missing]
        problem = await _refused_untouched(
            gw, citycar, order_id, body, headers, 401, "missing-signature"
        )
        assert missing in str(problem["detail"])

    @pytest.mark.parametrize("empty", ["webhook-id", "webhook-timestamp", "webhook-signature"])
    async def test_each_header_empty(self, gateway: Gateway, empty: str) -> None:
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        headers = citycar.headers(body) | {empty: ""}
        problem = await _refused_untouched(
            gateway, citycar, order_id, body, headers, 401, "missing-signature"
        )
        assert empty in str(problem["detail"])

    async def test_all_headers_missing(self, gateway: Gateway) -> None:
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        headers = {"authorization": f"Bearer {citycar.token}", "content-type": "application/json"}
        problem = await _refused_untouched(
            gateway, citycar, order_id, body, headers, 401, "missing-signature"
        )
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            assert name in str(problem["detail"])

    @pytest.mark.parametrize("webhook_id", ["msg\x01ctl", "msg\u00e9", "m" * 129, "msg id\x7f"])
    async def test_unprintable_or_overlong_ids(self, gateway: Gateway, webhook_id: str) -> None:
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        headers = citycar.headers(body, webhook_id=webhook_id)
        await _refused_untouched(
            gateway, citycar, order_id, body, headers, 401, "invalid-webhook-id"
        )


class TestReplays:
    async def test_the_same_delivery_again_is_answered_not_applied(
        self, any_gateway: Gateway
    ) -> None:
        gw = any_gateway
        citycar = await gw.partner()
        order_id, body = await _accepted_event(gw, citycar)
        headers = citycar.headers(body)
        first = await citycar.post(body, headers)
        assert first.status_code == 200, first.text
        assert await gw.order_status(order_id) == ("accepted", 1)
        before = await gw.snapshot()
        for _ in range(3):
            again = await citycar.post(body, headers)
            assert again.status_code == 200
            assert again.content == first.content
            assert again.headers["x-webhook-replay"] == "true"
        await gw.assert_unchanged(before)
        assert await gw.order_status(order_id) == ("accepted", 1)

    async def test_a_new_body_under_an_accepted_id_is_not_applied(self, gateway: Gateway) -> None:
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        first = await citycar.post(body, citycar.headers(body, webhook_id="msg_replayed"))
        assert first.status_code == 200, first.text
        before = await gateway.snapshot()
        # Correctly signed, later, with the same id: still the first delivery's answer.
        other = dumps(
            event(order_id, "rental.vehicle.delivered", partner_id=citycar.partner_id, sequence=3)
        )
        again = await citycar.post(other, citycar.headers(other, webhook_id="msg_replayed"))
        assert again.status_code == 200 and again.content == first.content
        assert again.headers["x-webhook-replay"] == "true"
        await gateway.assert_unchanged(before)
        assert await gateway.order_status(order_id) == ("accepted", 1)

    async def test_a_forged_replay_gets_no_answer_of_the_first(self, gateway: Gateway) -> None:
        citycar = await gateway.partner()
        _, body = await _accepted_event(gateway, citycar)
        headers = citycar.headers(body)
        assert (await citycar.post(body, headers)).status_code == 200
        before = await gateway.snapshot()
        forged = headers | {"webhook-signature": _flip(headers["webhook-signature"], 0)}
        response = await citycar.post(body, forged)
        assert_problem(response, 401, "invalid-signature")
        assert "x-webhook-replay" not in response.headers
        await gateway.assert_unchanged(before)

    async def test_a_captured_delivery_replayed_after_the_tolerance(self, gateway: Gateway) -> None:
        citycar = await gateway.partner()
        order_id, body = await _accepted_event(gateway, citycar)
        # What an eavesdropper kept from six minutes ago, never delivered by the partner.
        headers = citycar.headers(body, timestamp=_now() - NOW_TOLERANCE - 60)
        await _refused_untouched(gateway, citycar, order_id, body, headers, 401, "stale-timestamp")


class TestWhoSends:
    async def test_a_partners_delivery_on_another_partners_route(
        self, any_gateway: Gateway
    ) -> None:
        gw = any_gateway
        citycar, swiftrent = await gw.partner("citycar"), await gw.partner("swiftrent")
        order_id = await gw.order("swiftrent")
        body = dumps(event(order_id, "rental.order.accepted", partner_id=swiftrent.partner_id))
        # citycar's token, signed with swiftrent's stolen secret, on swiftrent's route.
        headers = citycar.headers(body, secret=swiftrent.secret)
        before = await gw.snapshot()
        response = await citycar.post(body, headers, path_partner=swiftrent.partner_id)
        assert_problem(response, 403, "wrong-partner")
        await gw.assert_unchanged(before)
        assert await gw.order_status(order_id) == ("dispatched", 0)

    async def test_an_event_claiming_another_partner_is_not_applied(self, gateway: Gateway) -> None:
        citycar, swiftrent = await gateway.partner("citycar"), await gateway.partner("swiftrent")
        order_id = await gateway.order("swiftrent")
        body = dumps(event(order_id, "rental.order.accepted", partner_id=swiftrent.partner_id))
        response = await citycar.post(body, citycar.headers(body))
        assert_problem(response, 403, "partner-mismatch")
        assert await gateway.order_status(order_id) == ("dispatched", 0)

    async def test_another_partners_order_is_not_applied(self, gateway: Gateway) -> None:
        citycar = await gateway.partner("citycar")
        order_id = await gateway.order("swiftrent")
        body = dumps(event(order_id, "rental.order.accepted", partner_id=citycar.partner_id))
        response = await citycar.post(body, citycar.headers(body))
        assert_problem(response, 403, "foreign-order")
        assert await gateway.order_status(order_id) == ("dispatched", 0)

    async def test_a_duplicate_key_cannot_smuggle_another_partner(self, gateway: Gateway) -> None:
        # JSON parsers disagree on duplicate keys; the gateway acts on the value it checks.
        citycar, swiftrent = await gateway.partner("citycar"), await gateway.partner("swiftrent")
        order_id = await gateway.order("swiftrent")
        body = dumps(event(order_id, "rental.order.accepted", partner_id=swiftrent.partner_id))
        # The first `partner_id` names the sender, the last (the one parsed) another partner.
        first = f'"partner_id":"{citycar.partner_id}","partner_id":'.encode()
        smuggled = body.replace(b'"partner_id":', first, 1)
        assert smuggled.count(b'"partner_id"') == 2
        response = await citycar.post(smuggled, citycar.headers(smuggled))
        assert_problem(response, 403, "partner-mismatch")
        assert await gateway.order_status(order_id) == ("dispatched", 0)
