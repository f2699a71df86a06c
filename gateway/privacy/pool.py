"""The relay number pool: ranges and single numbers of the OEM's telephony provider.

`PGW_RELAY_NUMBER_POOL` is a comma-separated list of items, each a number
(`17100000042`) or an inclusive range of numbers of the same length
(`17100000000-17100009999`). The pool is never materialised: a range of a
hundred million numbers costs nothing until a number is picked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, overload

__all__ = ["MAX_NUMBER_LENGTH", "MAX_POOL_SIZE", "NumberPool", "parse_number_pool"]

MAX_NUMBER_LENGTH: Final = 20
"""The longest virtual number `relay_bindings.virtual_number` holds."""

MAX_POOL_SIZE: Final = 10**12
"""More numbers than any provider leases: a larger pool is a typo in a range."""

_DIGITS: Final = re.compile(r"\d{1,20}")


@dataclass(frozen=True, slots=True)
class _Range:
    first: int
    count: int
    width: int

    def number(self, offset: int) -> str:
        return str(self.first + offset).zfill(self.width)


class NumberPool(Sequence[str]):
    """An ordered, duplicate-free sequence of virtual numbers, indexable without expanding."""

    __slots__ = ("_ranges", "_size", "_text")

    def __init__(self, ranges: Sequence[_Range], text: str) -> None:
        self._ranges = tuple(ranges)
        self._size = sum(r.count for r in self._ranges)
        self._text = text

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(index)
        for part in self._ranges:
            if index < part.count:
                return part.number(index)
            index -= part.count
        raise IndexError(index)  # pragma: no cover - the size covers every range

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, str) or not _DIGITS.fullmatch(number):
            return False
        value = int(number)
        return any(
            len(number) == part.width and part.first <= value < part.first + part.count
            for part in self._ranges
        )

    def __iter__(self) -> Iterator[str]:
        for part in self._ranges:
            for offset in range(part.count):
                yield part.number(offset)

    def __repr__(self) -> str:
        return f"NumberPool({self._text!r}, {self._size} numbers)"


def parse_number_pool(text: str) -> NumberPool:
    """The pool `text` describes; raises `ValueError` saying what is wrong with it."""
    ranges: list[_Range] = []
    seen: list[tuple[int, int, int]] = []
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise ValueError("the relay number pool is empty; give a range FIRST-LAST")
    for item in items:
        if not item:
            raise ValueError(f"empty item in the relay number pool {text!r}")
        first_text, dash, last_text = (part.strip() for part in item.partition("-"))
        if not dash:
            last_text = first_text
        for number in (first_text, last_text):
            if not _DIGITS.fullmatch(number):
                raise ValueError(
                    f"{item!r} in the relay number pool: numbers are 1 to "
                    f"{MAX_NUMBER_LENGTH} digits, a range is FIRST-LAST"
                )
        if len(first_text) != len(last_text):
            raise ValueError(f"{item!r} in the relay number pool: both ends need the same length")
        first, last = int(first_text), int(last_text)
        if first > last:
            raise ValueError(f"{item!r} in the relay number pool: the range runs backwards")
        width = len(first_text)
        for other_width, other_first, other_last in seen:
            if other_width == width and first <= other_last and other_first <= last:
                raise ValueError(f"{item!r} in the relay number pool overlaps another item")
        seen.append((width, first, last))
        ranges.append(_Range(first=first, count=last - first + 1, width=width))
    if sum(r.count for r in ranges) > MAX_POOL_SIZE:
        raise ValueError(f"the relay number pool {text!r} holds more than {MAX_POOL_SIZE} numbers")
    return NumberPool(ranges, text)
