"""Scorecard months: ``YYYY-MM`` in Asia/Shanghai, their bounds and neighbours."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from gateway.problems import Problem

__all__ = [
    "SHANGHAI",
    "current_month",
    "month_bounds",
    "month_of",
    "months_back",
    "next_month",
    "parse_month",
    "previous_month",
]

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
_PATTERN: Final = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def parse_month(value: str) -> str:
    """`value` when it is ``YYYY-MM``; else a 422 ``invalid-month`` problem."""
    if not _PATTERN.fullmatch(value) or value < "1970-01":
        raise Problem(
            f"month must be YYYY-MM, such as 2026-11; got {value[:20]!r}.",
            slug="invalid-month",
            title="Month is invalid",
            status=422,
        )
    return value


def _split(month: str) -> tuple[int, int]:
    year, number = month.split("-")
    return int(year), int(number)


def _join(year: int, number: int) -> str:
    return f"{year:04d}-{number:02d}"


def next_month(month: str) -> str:
    """The month after `month`."""
    year, number = _split(month)
    return _join(year + number // 12, number % 12 + 1)


def previous_month(month: str) -> str:
    """The month before `month`."""
    year, number = _split(month)
    return _join(year - 1, 12) if number == 1 else _join(year, number - 1)


def months_back(month: str, count: int) -> list[str]:
    """The `count` months before `month`, newest first."""
    found: list[str] = []
    for _ in range(count):
        month = previous_month(month)
        found.append(month)
    return found


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of the month in Asia/Shanghai, as UTC datetimes."""
    year, number = _split(month)
    start = datetime(year, number, 1, tzinfo=SHANGHAI)
    after_year, after_number = _split(next_month(month))
    end = datetime(after_year, after_number, 1, tzinfo=SHANGHAI)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_of(moment: datetime) -> str:
    """The month a moment falls in, in Asia/Shanghai."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m")


def current_month(now: datetime) -> str:
    """The month in progress at `now` (Asia/Shanghai)."""
    return month_of(now)
