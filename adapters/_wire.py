"""Building blocks the dialect packages share: wire-model parsing, money and time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from adapters.errors import TranslationError
from contracts import Money

__all__ = [
    "CNY",
    "Counter",
    "EpochMillis",
    "FenInt",
    "OffsetDateTime",
    "WireModel",
    "YuanText",
    "canonical_terms",
    "cny_of",
    "decimal_of",
    "field_path",
    "money_at",
    "parse",
    "require_object",
    "to_utc",
    "unknown_kind",
]

CNY: Final = "CNY"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Milliseconds before 2001-09-09 are almost always seconds sent by mistake; after 2100, garbage.
_MIN_EPOCH_MS: Final = 1_000_000_000_000
_MAX_EPOCH_MS: Final = 4_102_444_800_000
_MAX_DECIMAL: Final = Decimal(10) ** 15
_MIN_EXPONENT: Final = -9
_OBJECT_ERRORS: Final = frozenset({"model_type", "dict_type", "model_attributes_type"})

M = TypeVar("M", bound=BaseModel)


class WireModel(BaseModel):
    """Base of every partner wire model: immutable, and blind to fields it does not read."""

    # Partners add fields without notice; ignoring the ones we do not read keeps a
    # harmless addition from dead-lettering every delivery (a tolerant reader).
    model_config = ConfigDict(extra="ignore", frozen=True)


def field_path(loc: Iterable[int | str], at: str = "") -> str:
    """A partner-side path such as ``session.total_cost.incl_vat`` or ``codes[1]``."""
    path = at
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".")


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] in _OBJECT_ERRORS:
        return "must be a JSON object"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def require_object(payload: object) -> Mapping[str, Any]:
    """The payload as a mapping, or a ``TranslationError`` when the JSON is not an object."""
    if not isinstance(payload, Mapping):
        raise TranslationError(f"expected a JSON object, got {type(payload).__name__}")
    return payload


def parse(model: type[M], data: object, *, at: str = "") -> M:
    """Validate ``data`` (found at partner path ``at``) into a wire model."""
    if data is None and at:
        raise TranslationError("required field is missing", at)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        first = errors[0]
        others = len(errors) - 1
        more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
        raise TranslationError(_reason(first) + more, field_path(first["loc"], at) or None) from e


@contextmanager
def canonical_terms() -> Iterator[None]:
    """Turn a canonical model's refusal of mapped values into a ``TranslationError``."""
    try:
        yield
    except ValidationError as e:
        first = e.errors()[0]
        where = field_path(first["loc"]) or "event"
        # The canonical path is all we know here; the wire models catch partner-side
        # problems first, so reaching this means a mapping gap worth reading in full.
        raise TranslationError(f"does not fit canonical {where}: {_reason(first)}") from e


def unknown_kind(field: str, kind: object, known: Iterable[object]) -> TranslationError:
    """The error for an event kind this dialect does not translate."""
    shown = repr(kind)[:60]
    expected = ", ".join(sorted(str(k) for k in known))
    return TranslationError(f"unknown event kind {shown}; expected one of {expected}", field)


def decimal_of(value: object) -> Decimal:
    """A finite decimal from a JSON string or number; a float goes through its shortest repr."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("must be a decimal number or a decimal string")
    try:
        # repr() of a float is the shortest text that reads back the same: 52.94, not 52.9399...
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{str(value)[:40]!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{str(value)[:40]!r} is not a finite number")
    # Far past any real amount or reading; also keeps decimal arithmetic from overflowing.
    if number.copy_abs() >= _MAX_DECIMAL:
        raise ValueError(f"{str(value)[:40]!r} is out of range")
    # Decimal contexts would quietly round so fine a fraction to zero; refuse it instead.
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < _MIN_EXPONENT:
        raise ValueError(f"{str(value)[:40]!r} has too many decimal places")
    return number


def money_at(value: Decimal, currency: str, field: str) -> Money:
    """Money from a major-unit decimal read by ``decimal_of``, or a ``TranslationError``."""
    try:
        money = Money.of(str(value), currency)
    except ValueError as e:
        raise TranslationError(str(e), field) from e
    if money.amount < 0:
        raise TranslationError("amount must not be negative", field)
    return money


def to_utc(moment: datetime) -> datetime:
    """An aware datetime moved to UTC; a ``ValueError`` when that leaves the calendar."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # 0001-01-01 at +08:00 has no UTC equivalent; pydantic reports ValueErrors, not this.
        raise ValueError("is outside the representable date range") from None


def cny_of(value: object) -> Money:
    """CNY from a yuan decimal (string or JSON number); a ``ValueError`` when it is not one."""
    # Text, so a refusal by Money.of quotes the amount rather than a Decimal(...) repr.
    money = Money.of(str(decimal_of(value)), CNY)
    if money.amount < 0:
        raise ValueError("amount must not be negative")
    return money


def _yuan_text(value: object) -> Money:
    if not isinstance(value, str):
        raise ValueError('must be a string of yuan such as "1234.56"')
    return cny_of(value)


def _fen_int(value: object) -> Money:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer number of fen")
    if value < 0:
        raise ValueError("amount must not be negative")
    if value >= _MAX_DECIMAL * 100:
        raise ValueError("is out of range")
    return Money(amount=value, currency=CNY)


def _epoch_millis(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer of epoch milliseconds")
    if value < _MIN_EPOCH_MS:
        raise ValueError("is too small for epoch milliseconds (seconds sent by mistake?)")
    if value > _MAX_EPOCH_MS:
        raise ValueError("is beyond the year 2100 in epoch milliseconds")
    return _EPOCH + timedelta(milliseconds=value)


def _offset_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise ValueError("must carry a UTC offset such as +08:00")
    return to_utc(moment)


YuanText = Annotated[Money, BeforeValidator(_yuan_text)]
"""CNY sent as a decimal string of yuan (``"1234.56"``), read as Money in fen."""

FenInt = Annotated[Money, BeforeValidator(_fen_int)]
"""CNY sent as an integer number of fen, read as Money."""

EpochMillis = Annotated[datetime, BeforeValidator(_epoch_millis)]
"""Integer milliseconds since 1970-01-01 UTC, read as a UTC datetime."""

OffsetDateTime = Annotated[datetime, BeforeValidator(_offset_datetime)]
"""An ISO 8601 date-time with an explicit offset, read as a UTC datetime."""

Counter = Annotated[int, Field(ge=0, le=2**31 - 1)]
"""A partner's per-order sequence or version counter, within a signed 32-bit integer."""
