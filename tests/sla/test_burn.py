"""Multi-window, multi-burn-rate alerts: rates, exact thresholds, both windows needed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sla.burn import FAST_BURN, BurnAlert, BurnWindow, WindowCounts, burn_rate, fast_burn

H1, M5 = timedelta(hours=1), timedelta(minutes=5)
H6, M30 = timedelta(hours=6), timedelta(minutes=30)
QUIET = WindowCounts(0, 1_000)


def counts(
    h1: WindowCounts = QUIET,
    m5: WindowCounts = QUIET,
    h6: WindowCounts = QUIET,
    m30: WindowCounts = QUIET,
) -> dict[timedelta, WindowCounts]:
    return {H1: h1, M5: m5, H6: h6, M30: m30}


# --- burn_rate -------------------------------------------------------------------------


def test_fast_burn_pairs_are_the_workbook_pairs() -> None:
    assert (BurnWindow(H1, M5, 14.4), BurnWindow(H6, M30, 6.0)) == FAST_BURN


@pytest.mark.parametrize(
    ("bad", "total", "objective", "expected"),
    [
        (0, 0, 0.95, 0.0),  # no traffic: no burn
        (0, 100, 0.95, 0.0),
        (5, 100, 0.95, 1.0),  # exactly on budget
        (72, 100, 0.95, 14.4),
        (100, 100, 0.95, 20.0),
        (1, 1_000, 0.999, 1.0),
        (144, 10_000, 0.999, 14.4),
        (3, 1_000, 0.99, 0.3),
    ],
)
def test_burn_rate(bad: int, total: int, objective: float, expected: float) -> None:
    assert burn_rate(WindowCounts(bad, total), objective) == expected


@pytest.mark.parametrize("objective", [0.0, 1.0, -0.5, 1.5, float("nan")])
def test_objective_must_leave_a_budget(objective: float) -> None:
    with pytest.raises(ValueError, match="objective"):
        burn_rate(WindowCounts(1, 10), objective)


@pytest.mark.parametrize(("bad", "total"), [(-1, 10), (11, 10), (1, 0)])
def test_counts_must_be_possible(bad: int, total: int) -> None:
    with pytest.raises(ValueError, match="bad"):
        WindowCounts(bad, total)


@pytest.mark.parametrize(
    ("long", "short", "factor"),
    [(M5, H1, 14.4), (H1, H1, 14.4), (H1, timedelta(0), 14.4), (H1, M5, 0.0), (H1, M5, -1.0)],
)
def test_windows_must_make_sense(long: timedelta, short: timedelta, factor: float) -> None:
    with pytest.raises(ValueError):
        BurnWindow(long, short, factor)


# --- fast_burn -------------------------------------------------------------------------


def test_zero_traffic_does_not_alert() -> None:
    empty = WindowCounts(0, 0)
    assert fast_burn(counts(empty, empty, empty, empty), 0.95) == []


def test_quiet_traffic_does_not_alert() -> None:
    assert fast_burn(counts(), 0.95) == []


def test_exactly_the_threshold_alerts() -> None:
    # 72 / 100 = 0.72 = 14.4 * 0.05: in floats 0.72 / (1 - 0.95) is 14.39999…
    at = WindowCounts(72, 100)
    assert fast_burn(counts(h1=at, m5=at), 0.95) == [BurnAlert(FAST_BURN[0], 14.4, 14.4)]
    # and 144 of 10,000 against 99.9 %
    at = WindowCounts(144, 10_000)
    assert fast_burn(counts(h1=at, m5=at), 0.999) == [BurnAlert(FAST_BURN[0], 14.4, 14.4)]


def test_just_below_the_threshold_does_not_alert() -> None:
    below = WindowCounts(143, 10_000)
    at = WindowCounts(144, 10_000)
    assert fast_burn(counts(h1=below, m5=at), 0.999) == []
    assert fast_burn(counts(h1=at, m5=below), 0.999) == []


def test_long_window_burning_alone_does_not_alert() -> None:
    # an incident that is over: the hour burned, the last five minutes did not
    assert fast_burn(counts(h1=WindowCounts(900, 1_000)), 0.95) == []


def test_short_window_burning_alone_does_not_alert() -> None:
    # a blip: five bad minutes are not yet a significant share of the budget
    assert fast_burn(counts(m5=WindowCounts(90, 90)), 0.95) == []


def test_both_windows_burning_alert() -> None:
    alerts = fast_burn(counts(h1=WindowCounts(213, 1_000), m5=WindowCounts(28, 100)), 0.99)
    assert alerts == [BurnAlert(FAST_BURN[0], 21.3, 28.0)]
    assert alerts[0].describe() == "burning 21.3x over 1h and 28.0x over 5m (threshold 14.4x)"


def test_each_pair_alerts_on_its_own() -> None:
    six = WindowCounts(35, 100)  # 7x against 95 %: the 6 h pair only
    assert fast_burn(counts(h6=six, m30=six), 0.95) == [BurnAlert(FAST_BURN[1], 7.0, 7.0)]
    hot = WindowCounts(80, 100)  # 16x: both pairs
    assert fast_burn(counts(hot, hot, hot, hot), 0.95) == [
        BurnAlert(FAST_BURN[0], 16.0, 16.0),
        BurnAlert(FAST_BURN[1], 16.0, 16.0),
    ]


def test_too_few_events_in_the_long_window_do_not_alert() -> None:
    one = WindowCounts(1, 1)  # a single failure in a quiet hour is 20x
    assert len(fast_burn(counts(one, one), 0.95)) == 1
    assert fast_burn(counts(one, one), 0.95, min_events=10) == []
    nine, ten = WindowCounts(9, 9), WindowCounts(10, 10)
    assert fast_burn(counts(nine, one), 0.95, min_events=10) == []
    assert len(fast_burn(counts(ten, one), 0.95, min_events=10)) == 1


def test_every_needed_window_must_be_counted() -> None:
    partial = {H1: QUIET, M5: QUIET, H6: QUIET}
    with pytest.raises(KeyError, match="30m"):
        fast_burn(partial, 0.95)
    # extra windows are ignored
    assert fast_burn({**counts(), timedelta(days=3): QUIET}, 0.95) == []


def test_custom_windows() -> None:
    slow = BurnWindow(timedelta(days=3), timedelta(hours=6), 1.0)
    data = {timedelta(days=3): WindowCounts(6, 100), H6: WindowCounts(5, 100)}
    assert fast_burn(data, 0.95, windows=[slow]) == [BurnAlert(slow, 1.2, 1.0)]


@pytest.mark.parametrize(
    ("alert", "text"),
    [
        (
            BurnAlert(FAST_BURN[0], 21.3, 28.0),
            "burning 21.3x over 1h and 28.0x over 5m (threshold 14.4x)",
        ),
        (
            BurnAlert(FAST_BURN[1], 6.04, 12.96),
            "burning 6.0x over 6h and 13.0x over 30m (threshold 6x)",
        ),
        (
            BurnAlert(BurnWindow(timedelta(days=3), timedelta(hours=1, minutes=30), 1.0), 1, 2),
            "burning 1.0x over 3d and 2.0x over 1h30m (threshold 1x)",
        ),
    ],
)
def test_describe(alert: BurnAlert, text: str) -> None:
    assert alert.describe() == text
