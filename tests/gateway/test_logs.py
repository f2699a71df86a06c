"""The log processor keeps tokens, secrets and personal data out of every log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from gateway.logs import REDACTED, configure_logging, get_logger, redact_personal_data

PHONE = "13912345678"
NATIONAL_ID = "440305199001011234"
CARD = "6222021234567890123"
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzd2lmdHJlbnQifQ.c2lnbmF0dXJlLXZhbHVl"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _process(**fields: object) -> dict[str, object]:
    return dict(redact_personal_data(None, "info", dict(fields)))


class TestByName:
    @pytest.mark.parametrize(
        "field",
        [
            "password",
            "client_secret",
            "access_token",
            "Authorization",
            "api_key",
            "phone",
            "national_id",
            "id_number",
            "customer_name",
            "email",
            "webhook_signature",
        ],
    )
    def test_secret_or_personal_field_names_lose_their_value(self, field: str) -> None:
        assert _process(**{field: "anything at all"})[field] == REDACTED

    def test_harmless_fields_are_kept(self) -> None:
        out = _process(partner_id="swiftrent", order_id="ord_1", status=202, duration_ms=3.2)
        assert out == {
            "partner_id": "swiftrent",
            "order_id": "ord_1",
            "status": 202,
            "duration_ms": 3.2,
        }

    def test_booleans_under_sensitive_names_are_kept(self) -> None:
        assert _process(signature_valid=False)["signature_valid"] is False


class TestByValue:
    @pytest.mark.parametrize(
        ("value", "label"),
        [
            (f"call {PHONE} now", "phone"),
            (f"+86 {PHONE}", "phone"),
            (f"id {NATIONAL_ID}", "national_id"),
            ("id 11010519491231002X", "national_id"),
            (f"card {CARD}", "bank_card"),
            ("mail li.lei@example.cn please", "email"),
            (f"token {JWT}", "jwt"),
            ("Authorization: Bearer abcdefghijklmnop", "bearer"),
            (f"secret is {WHSEC}", "webhook_secret"),
        ],
    )
    def test_personal_looking_values_are_masked_anywhere(self, value: str, label: str) -> None:
        out = _process(detail=value)["detail"]
        assert f"[REDACTED:{label}]" in str(out)

    def test_nested_structures_and_the_event_text_are_scanned(self) -> None:
        out = _process(
            event=f"delivered to {PHONE}", context={"items": [f"x {NATIONAL_ID}", {"phone": "1"}]}
        )
        assert PHONE not in json.dumps(out)
        assert NATIONAL_ID not in json.dumps(out)
        assert out["context"] == {"items": ["x [REDACTED:national_id]", {"phone": REDACTED}]}

    @pytest.mark.parametrize(
        "identifier",
        ["242e1234567890123456e85fbe1b76ce", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "a13912345678b"],
    )
    def test_hex_and_base62_ids_are_never_masked(self, identifier: str) -> None:
        assert _process(request_id=identifier, webhook_id=identifier) == {
            "request_id": identifier,
            "webhook_id": identifier,
        }

    def test_a_phone_number_sent_as_request_id_is_masked(self) -> None:
        assert _process(request_id=PHONE)["request_id"] == "[REDACTED:phone]"

    def test_phone_inside_chinese_text_is_masked(self) -> None:
        assert _process(note=f"电话{PHONE}联系")["note"] == "电话[REDACTED:phone]联系"

    def test_order_ids_and_amounts_are_not_mistaken_for_personal_data(self) -> None:
        out = _process(detail="order ord_01J9Z amount 123456 fen at 2026-11-20T08:30:00Z")
        assert out["detail"] == "order ord_01J9Z amount 123456 fen at 2026-11-20T08:30:00Z"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
class TestConfiguredPipeline:
    def test_json_lines_carry_bound_ids_and_no_canaries(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging(level="info", json=True, environment="test")
        structlog.contextvars.bind_contextvars(request_id="req-1")
        try:
            get_logger("test").info(
                "partner.called", partner_id="swiftrent", phone=PHONE, note=f"id {NATIONAL_ID}"
            )
            logging.getLogger("thirdparty").warning("leaked %s", JWT)
            try:
                raise ValueError(f"bad customer {PHONE}")
            except ValueError:
                get_logger("test").exception("failed")
        finally:
            structlog.contextvars.clear_contextvars()
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
        text = json.dumps(lines, ensure_ascii=False)
        assert lines[0]["request_id"] == "req-1" and lines[0]["partner_id"] == "swiftrent"
        assert lines[0]["environment"] == "test"
        for canary in (PHONE, NATIONAL_ID, JWT):
            assert canary not in text
        assert any("ValueError" in str(line.get("exception", "")) for line in lines)
