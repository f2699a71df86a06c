"""Money as integer minor units plus an ISO 4217 currency; never a float."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from contracts.sensitivity import FieldKind, public

__all__ = [
    "CURRENCY_EXPONENTS",
    "CurrencyMismatch",
    "Money",
    "minor_unit_exponent",
]

# ISO 4217 minor-unit exponents for the currencies partners settle in.
CURRENCY_EXPONENTS: Final = MappingProxyType(
    {
        "CNY": 2,
        "HKD": 2,
        "MOP": 2,
        "TWD": 2,
        "USD": 2,
        "EUR": 2,
        "GBP": 2,
        "CHF": 2,
        "SGD": 2,
        "AUD": 2,
        "CAD": 2,
        "NZD": 2,
        "THB": 2,
        "MYR": 2,
        "AED": 2,
        "SEK": 2,
        "NOK": 2,
        "DKK": 2,
        "JPY": 0,
        "KRW": 0,
        "VND": 0,
        "KWD": 3,
        "BHD": 3,
    }
)


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined or compared."""

    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"cannot combine {left} with {right}: currencies differ")
        self.left = left
        self.right = right


def minor_unit_exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (CNY: 2, JPY: 0)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValueError(f"unknown currency {currency!r}: expected an ISO 4217 code") from None


class Money(BaseModel):
    """An amount in integer minor units (fen for CNY) of one ISO 4217 currency."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"examples": [{"amount": 123456, "currency": "CNY"}]},
    )

    amount: Annotated[StrictInt, public(FieldKind.AMOUNT)] = Field(
        description="Amount in the currency's minor unit (fen for CNY)."
    )
    currency: Annotated[str, public(FieldKind.CURRENCY)] = Field(
        description="ISO 4217 currency code.", examples=["CNY"]
    )

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        minor_unit_exponent(value)
        return value

    @classmethod
    def of(cls, value: str | Decimal | int, currency: str) -> Self:
        """Build from a major-unit decimal such as ``"1234.56"``; floats are refused."""
        if isinstance(value, float | bool) or not isinstance(value, str | Decimal | int):
            raise TypeError(f"money needs a decimal string, Decimal or int, not {type(value)!r}")
        exponent = minor_unit_exponent(currency)
        try:
            major = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal amount") from None
        if not major.is_finite():
            raise ValueError(f"{value!r} is not a finite amount")
        minor = major.scaleb(exponent)
        if minor != minor.to_integral_value():
            raise ValueError(f"{value!r} has more decimals than {currency} allows ({exponent})")
        return cls(amount=int(minor), currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        """Zero in the given currency."""
        return cls(amount=0, currency=currency)

    @classmethod
    def total(cls, values: Iterable[Money], currency: str) -> Self:
        """Sum of amounts that must all be in ``currency`` (zero when empty)."""
        amount = 0
        for value in values:
            if value.currency != currency:
                raise CurrencyMismatch(currency, value.currency)
            amount += value.amount
        return cls(amount=amount, currency=currency)

    @property
    def exponent(self) -> int:
        """Decimal places of this currency's minor unit."""
        return CURRENCY_EXPONENTS[self.currency]

    def to_decimal(self) -> Decimal:
        """The amount in major units, exact (``Decimal("1234.56")``)."""
        return Decimal(self.amount).scaleb(-self.exponent)

    def apply_rate(self, rate: Decimal | int) -> Money:
        """Multiply by a rate, rounding half-up to the minor unit.

        This is the one place in the code base where money is rounded. Ties round
        away from zero (ROUND_HALF_UP), so the amount of a reversal is exactly the
        negation of the original and the two net to zero.
        """
        if isinstance(rate, float | bool) or not isinstance(rate, Decimal | int):
            raise TypeError(f"a rate must be a Decimal or int, not {type(rate)!r}")
        product = (Decimal(self.amount) * Decimal(rate)).to_integral_value(ROUND_HALF_UP)
        return Money(amount=int(product), currency=self.currency)

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split into parts proportional to ``weights`` that sum exactly to this amount."""
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError("allocation needs non-negative weights with a positive sum")
        total = sum(weights)
        parts = [self.amount * w // total for w in weights]
        # Leftover minor units go one each to the first parts, so nothing is lost.
        for index in range(self.amount - sum(parts)):
            parts[index % len(parts)] += 1
        return [Money(amount=part, currency=self.currency) for part in parts]

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def __mul__(self, factor: object) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            return NotImplemented
        return Money(amount=self.amount * factor, currency=self.currency)

    __rmul__ = __mul__

    def _key(self, other: object) -> int:
        if not isinstance(other, Money):
            raise TypeError(f"cannot compare Money with {type(other)!r}")
        self._same_currency(other)
        return other.amount

    def __lt__(self, other: object) -> bool:
        return self.amount < self._key(other)

    def __le__(self, other: object) -> bool:
        return self.amount <= self._key(other)

    def __gt__(self, other: object) -> bool:
        return self.amount > self._key(other)

    def __ge__(self, other: object) -> bool:
        return self.amount >= self._key(other)

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"
