"""Error-budget burn alerts: multi-window, multi-burn-rate (Google SRE workbook, ch. 5).

A window pair alerts when the error budget burns at least ``factor`` times as fast
as the objective allows over both its long window (the burn is significant) and
its short window (it is still going on). Rates are computed and compared as exact
fractions, so 72 bad of 100 against a 95 % objective is exactly 14.4x and alerts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from typing import Final

__all__ = [
    "FAST_BURN",
    "BurnAlert",
    "BurnWindow",
    "WindowCounts",
    "burn_rate",
    "fast_burn",
]


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """A long window, its short companion, and the burn rate at which both alert."""

    long: timedelta
    short: timedelta
    factor: float

    def __post_init__(self) -> None:
        if not timedelta(0) < self.short < self.long:
            raise ValueError(f"need 0 < short < long, got short={self.short} long={self.long}")
        if not self.factor > 0:
            raise ValueError(f"factor must be positive, got {self.factor}")


FAST_BURN: Final[tuple[BurnWindow, ...]] = (
    BurnWindow(timedelta(hours=1), timedelta(minutes=5), 14.4),
    BurnWindow(timedelta(hours=6), timedelta(minutes=30), 6.0),
)
"""The workbook's paging pairs: 2 % of a 30-day budget in 1 h, 5 % in 6 h."""


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """Events in one window: how many missed the objective, out of how many."""

    bad: int
    total: int

    def __post_init__(self) -> None:
        if not 0 <= self.bad <= self.total:
            raise ValueError(f"need 0 <= bad <= total, got bad={self.bad} total={self.total}")


@dataclass(frozen=True, slots=True)
class BurnAlert:
    """A window pair whose long and short burn rates both reached its factor."""

    window: BurnWindow
    long_rate: float
    short_rate: float

    def describe(self) -> str:
        """E.g. ``burning 21.3x over 1h and 28.0x over 5m (threshold 14.4x)``."""
        return (
            f"burning {self.long_rate:.1f}x over {_span(self.window.long)} and "
            f"{self.short_rate:.1f}x over {_span(self.window.short)} "
            f"(threshold {self.window.factor:g}x)"
        )


def burn_rate(counts: WindowCounts, objective: float) -> float:
    """Error rate / error budget (``1 - objective``); 0 when the window saw no events.

    ``objective`` is the share of good events promised, e.g. 0.95, strictly
    between 0 and 1.
    """
    return float(_rate(counts, _budget(objective)))


def fast_burn(
    counts: Mapping[timedelta, WindowCounts],
    objective: float,
    *,
    windows: Sequence[BurnWindow] = FAST_BURN,
    min_events: int = 1,
) -> list[BurnAlert]:
    """An alert for each window pair whose long and short burn rates both reach its factor.

    ``counts`` maps each window duration to its counts and must hold every long
    and short duration of ``windows`` (``KeyError`` otherwise). A pair whose long
    window saw fewer than ``min_events`` events does not alert: a single bad event
    in a quiet hour is not an outage.
    """
    budget = _budget(objective)
    missing = sorted({d for w in windows for d in (w.long, w.short)} - counts.keys())
    if missing:
        raise KeyError(f"no counts for the window(s) {', '.join(map(_span, missing))}")
    alerts = []
    for window in windows:
        long, short = counts[window.long], counts[window.short]
        if long.total < min_events:
            continue
        long_rate, short_rate = _rate(long, budget), _rate(short, budget)
        factor = Fraction(str(window.factor))
        if long_rate >= factor and short_rate >= factor:
            alerts.append(BurnAlert(window, float(long_rate), float(short_rate)))
    return alerts


def _budget(objective: float) -> Fraction:
    if not 0 < objective < 1:
        raise ValueError(f"objective must be strictly between 0 and 1, got {objective}")
    return 1 - Fraction(str(objective))


def _rate(counts: WindowCounts, budget: Fraction) -> Fraction:
    if counts.total == 0:
        return Fraction(0)
    return Fraction(counts.bad, counts.total) / budget


def _span(duration: timedelta) -> str:
    """``1h``, ``5m``, ``1h30m``, ``3d``."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
