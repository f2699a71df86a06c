"""The adapters package surface: exports, the error tree, and dialect lookup."""

import ast
from pathlib import Path

import pytest

import adapters
from adapters import (
    WEBHOOK_TRANSLATORS,
    AdapterError,
    PartnerAuthFailed,
    PartnerCallError,
    PartnerRateLimited,
    PartnerRejected,
    PartnerUnavailable,
    TranslationError,
    UnknownDialect,
    translator_for,
)

_PACKAGE = Path(adapters.__file__).parent


class TestExports:
    def test_all_names_exist(self) -> None:
        for name in adapters.__all__:
            assert hasattr(adapters, name), name

    def test_all_is_unique(self) -> None:
        assert len(adapters.__all__) == len(set(adapters.__all__))

    def test_every_module_declares_all(self) -> None:
        for module in _PACKAGE.rglob("*.py"):
            tree = ast.parse(module.read_text(encoding="utf-8"))
            names = {
                t.id
                for node in tree.body
                if isinstance(node, ast.Assign)
                for t in node.targets
                if isinstance(t, ast.Name)
            }
            assert "__all__" in names, module.relative_to(_PACKAGE)

    def test_registry_is_read_only(self) -> None:
        with pytest.raises(TypeError):
            WEBHOOK_TRANSLATORS["x.v1"] = WEBHOOK_TRANSLATORS["swiftrent.v2"]  # type: ignore[index]


class TestErrorTree:
    @pytest.mark.parametrize(
        "error",
        [PartnerAuthFailed, PartnerRateLimited, PartnerUnavailable, PartnerRejected],
    )
    def test_partner_call_errors_share_a_base(self, error: type[Exception]) -> None:
        assert issubclass(error, PartnerCallError)
        assert issubclass(error, AdapterError)

    def test_translation_error_is_an_adapter_error_apart_from_calls(self) -> None:
        assert issubclass(TranslationError, AdapterError)
        assert not issubclass(TranslationError, PartnerCallError)

    def test_translation_error_names_field_and_reason(self) -> None:
        error = TranslationError("required field is missing", "oemOrderNo")
        assert (error.field, error.reason) == ("oemOrderNo", "required field is missing")
        assert str(error) == "oemOrderNo: required field is missing"

    def test_translation_error_without_field(self) -> None:
        error = TranslationError("expected a JSON object, got list")
        assert error.field is None
        assert str(error) == "expected a JSON object, got list"

    def test_only_throttling_and_outages_are_retryable(self) -> None:
        assert PartnerRateLimited.retryable
        assert PartnerUnavailable.retryable
        assert not PartnerAuthFailed.retryable
        assert not PartnerRejected.retryable

    def test_rate_limited_carries_retry_after(self) -> None:
        assert PartnerRateLimited("slow down", retry_after=2.5).retry_after == 2.5
        assert PartnerRateLimited("slow down").retry_after is None

    def test_rejected_carries_the_partner_code(self) -> None:
        error = PartnerRejected("no car in that city", code="E4021")
        assert (error.code, str(error)) == ("E4021", "no car in that city")


class TestLookup:
    def test_unknown_dialect_is_a_key_error_with_a_readable_message(self) -> None:
        with pytest.raises(KeyError) as caught:
            translator_for("acme.v9")
        assert isinstance(caught.value, UnknownDialect)
        assert caught.value.dialect == "acme.v9"
        assert str(caught.value).startswith("no adapter for dialect 'acme.v9'")
        assert "swiftrent.v2" in str(caught.value)

    def test_unknown_dialect_is_not_a_translation_problem(self) -> None:
        assert not issubclass(UnknownDialect, AdapterError)
