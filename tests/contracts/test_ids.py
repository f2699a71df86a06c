"""Typed identifiers."""

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts import OrderId, PartnerId, new_event_id, new_order_id, new_ulid

_PARTNER = TypeAdapter(PartnerId)
_ORDER = TypeAdapter(OrderId)


@pytest.mark.parametrize("value", ["swiftrent", "city-car", "v2_partner", "ab"])
def test_partner_id_valid(value: str) -> None:
    assert _PARTNER.validate_python(value) == value


@pytest.mark.parametrize("value", ["SwiftRent", "1car", "a", "x" * 41, "swift rent"])
def test_partner_id_invalid(value: str) -> None:
    with pytest.raises(ValidationError):
        _PARTNER.validate_python(value)


def test_new_order_id_validates() -> None:
    assert _ORDER.validate_python(new_order_id()).startswith("ord_")


def test_new_ids_are_unique() -> None:
    assert len({new_order_id() for _ in range(1000)}) == 1000
    assert new_event_id().startswith("evt_")


def test_ulids_sort_by_time() -> None:
    assert new_ulid(now_ms=1_000) < new_ulid(now_ms=2_000)
    assert len(new_ulid()) == 26
