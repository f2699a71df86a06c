"""Money: integer minor units, refusals, and the one rounding rule."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from contracts import CurrencyMismatch, Money, minor_unit_exponent


def cny(amount: int) -> Money:
    return Money(amount=amount, currency="CNY")


class TestConstruction:
    def test_serialises_as_amount_and_currency(self) -> None:
        assert cny(123456).model_dump(mode="json") == {"amount": 123456, "currency": "CNY"}

    def test_round_trips_through_json(self) -> None:
        assert Money.model_validate_json('{"amount": 5, "currency": "USD"}') == Money(
            amount=5, currency="USD"
        )

    def test_rejects_unknown_currency(self) -> None:
        with pytest.raises(ValidationError, match="unknown currency 'XYZ'"):
            Money(amount=1, currency="XYZ")

    def test_rejects_bool_amount(self) -> None:
        with pytest.raises(ValidationError):
            Money(amount=True, currency="CNY")

    def test_rejects_float_amount(self) -> None:
        with pytest.raises(ValidationError):
            Money(amount=1.5, currency="CNY")

    def test_rejects_numeric_string_amount(self) -> None:
        with pytest.raises(ValidationError):
            Money.model_validate({"amount": "100", "currency": "CNY"})

    def test_rejects_extra_fields(self) -> None:
        with pytest.raises(ValidationError):
            Money.model_validate({"amount": 1, "currency": "CNY", "fx": 1})

    def test_is_immutable(self) -> None:
        money = cny(1)
        with pytest.raises(ValidationError):
            money.amount = 2  # type: ignore[misc]

    def test_zero(self) -> None:
        assert Money.zero("EUR") == Money(amount=0, currency="EUR")

    def test_exponents(self) -> None:
        assert minor_unit_exponent("CNY") == 2
        assert minor_unit_exponent("JPY") == 0
        assert minor_unit_exponent("KWD") == 3


class TestOf:
    def test_from_decimal_string(self) -> None:
        assert Money.of("1234.56", "CNY") == cny(123456)

    def test_from_whole_number_string(self) -> None:
        assert Money.of("100", "CNY") == cny(10000)

    def test_from_decimal_and_int(self) -> None:
        assert Money.of(Decimal("0.10"), "CNY") == cny(10)
        assert Money.of(7, "CNY") == cny(700)

    def test_trailing_zeros_beyond_exponent_are_exact(self) -> None:
        assert Money.of("1.500", "CNY") == cny(150)

    def test_negative(self) -> None:
        assert Money.of("-0.01", "CNY") == cny(-1)

    def test_yen_has_no_minor_unit(self) -> None:
        assert Money.of("500", "JPY") == Money(amount=500, currency="JPY")

    def test_rejects_float(self) -> None:
        with pytest.raises(TypeError, match="not <class 'float'>"):
            Money.of(1234.56, "CNY")  # type: ignore[arg-type]

    def test_rejects_bool(self) -> None:
        with pytest.raises(TypeError):
            Money.of(True, "CNY")

    def test_rejects_too_many_decimals(self) -> None:
        with pytest.raises(ValueError, match="more decimals than CNY allows"):
            Money.of("1234.567", "CNY")

    def test_rejects_decimals_for_yen(self) -> None:
        with pytest.raises(ValueError, match="more decimals than JPY allows"):
            Money.of("1.5", "JPY")

    def test_rejects_garbage(self) -> None:
        with pytest.raises(ValueError, match="not a decimal amount"):
            Money.of("12,00", "CNY")

    def test_rejects_infinity(self) -> None:
        with pytest.raises(ValueError, match="not a finite amount"):
            Money.of("Infinity", "CNY")

    def test_to_decimal_is_exact(self) -> None:
        assert Money.of("1234.56", "CNY").to_decimal() == Decimal("1234.56")
        assert str(Money.of("1234.56", "CNY")) == "1234.56 CNY"


class TestArithmetic:
    def test_add_and_subtract(self) -> None:
        assert cny(100) + cny(25) == cny(125)
        assert cny(100) - cny(125) == cny(-25)

    def test_negate(self) -> None:
        assert -cny(100) == cny(-100)

    def test_multiply_by_int_either_side(self) -> None:
        assert cny(2000) * 3 == cny(6000)
        assert 3 * cny(2000) == cny(6000)

    def test_multiply_by_float_is_refused(self) -> None:
        with pytest.raises(TypeError):
            _ = cny(100) * 1.5

    def test_multiply_by_bool_is_refused(self) -> None:
        with pytest.raises(TypeError):
            _ = cny(100) * True

    def test_adding_an_int_is_refused(self) -> None:
        with pytest.raises(TypeError):
            _ = cny(100) + 1

    def test_mixing_currencies_raises(self) -> None:
        with pytest.raises(CurrencyMismatch, match="CNY with USD"):
            _ = cny(1) + Money(amount=1, currency="USD")

    def test_currency_mismatch_is_a_value_error(self) -> None:
        assert issubclass(CurrencyMismatch, ValueError)

    def test_comparisons(self) -> None:
        assert cny(1) < cny(2) <= cny(2) < cny(3)
        assert cny(3) > cny(2) >= cny(2)

    def test_comparing_currencies_raises(self) -> None:
        with pytest.raises(CurrencyMismatch):
            _ = cny(1) < Money(amount=2, currency="HKD")

    def test_equality_includes_currency(self) -> None:
        assert cny(1) != Money(amount=1, currency="USD")

    def test_hashable(self) -> None:
        assert len({cny(1), cny(1), cny(2)}) == 2

    def test_total(self) -> None:
        assert Money.total([cny(1), cny(2)], "CNY") == cny(3)
        assert Money.total([], "CNY") == cny(0)

    def test_total_refuses_other_currency(self) -> None:
        with pytest.raises(CurrencyMismatch):
            Money.total([Money(amount=1, currency="USD")], "CNY")


class TestApplyRate:
    def test_eight_percent_of_1234_56_rounds_down(self) -> None:
        # 123456 * 0.08 = 9876.48 fen -> 9876
        assert cny(123456).apply_rate(Decimal("0.08")) == cny(9876)

    def test_half_rounds_up(self) -> None:
        assert cny(5).apply_rate(Decimal("0.5")) == cny(3)  # 2.5 -> 3
        assert cny(1).apply_rate(Decimal("0.5")) == cny(1)  # 0.5 -> 1

    def test_just_below_half_rounds_down(self) -> None:
        assert cny(1).apply_rate(Decimal("0.4999")) == cny(0)

    def test_thirty_percent_share_of_premium(self) -> None:
        assert Money.of("4321.00", "CNY").apply_rate(Decimal("0.30")) == cny(129630)

    def test_negative_ties_mirror_positive(self) -> None:
        # A reversal must be exactly the negation of the original entry.
        assert cny(-5).apply_rate(Decimal("0.5")) == cny(-3)
        assert cny(-5).apply_rate(Decimal("0.5")) == -cny(5).apply_rate(Decimal("0.5"))

    def test_int_rate(self) -> None:
        assert cny(7).apply_rate(2) == cny(14)

    def test_float_rate_is_refused(self) -> None:
        with pytest.raises(TypeError):
            cny(100).apply_rate(0.08)  # type: ignore[arg-type]


class TestAllocate:
    def test_parts_sum_to_whole(self) -> None:
        parts = cny(100).allocate([1, 1, 1])
        assert parts == [cny(34), cny(33), cny(33)]
        assert Money.total(parts, "CNY") == cny(100)

    def test_weighted(self) -> None:
        assert cny(1000).allocate([7, 3]) == [cny(700), cny(300)]

    def test_negative_amount_sums_to_whole(self) -> None:
        assert Money.total(cny(-100).allocate([1, 2]), "CNY") == cny(-100)

    def test_refuses_zero_weights(self) -> None:
        with pytest.raises(ValueError):
            cny(1).allocate([0, 0])
