"""Server-side SVG charts for the console: no JavaScript, no CDN, no dependencies.

The functions return `markupsafe.Markup` holding one inline ``<svg>`` element, ready to be
dropped into an autoescaped Jinja2 template as ``{{ chart }}``. Every piece of caller text
(title, labels, displayed values, CSS class) is escaped with `markupsafe.escape`.

What the SVG carries:

* ``role="img"`` and ``aria-labelledby`` naming its ``<title>`` and its ``<desc>``; the
  ``<desc>`` lists every point as ``label: display`` so assistive technology gets the data;
* a ``viewBox`` with ``preserveAspectRatio`` and ``width="100%"``, so it scales to its
  container;
* horizontal grid lines at the given y ticks (class ``chart-grid``), tick labels, x labels
  and the two axis lines (class ``chart-axis``);
* the series as one ``<path class="chart-line">`` whose ``M`` commands start a new run
  after every missing value, and a ``<circle class="chart-point">`` per value whose nested
  ``<title>`` is the native hover tooltip;
* colours only through ``currentColor`` and presentation attributes, which CSS overrides.

Output is deterministic: the same input gives the same string, coordinates rounded to one
decimal. Values outside ``[y_min, y_max]`` are clamped; ``None`` (and NaN) is a gap.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Point", "line_chart", "sparkline"]

SVG_NS = "http://www.w3.org/2000/svg"

# Margins of the line chart's plot area, in viewBox units.
_LEFT = 44.0
_RIGHT = 8.0
_TOP = 8.0
_BOTTOM = 24.0
_MAX_X_LABELS = 12
_FONT_SIZE = 11
_POINT_RADIUS = 3.5

# Inner padding of the sparkline, so the stroke and the end marker are not clipped.
_SPARK_PAD = 2.5


@dataclass(frozen=True, slots=True)
class Point:
    """One x position of a line chart."""

    label: str
    """The x-axis label, e.g. ``"2026-06"``."""
    value: float | None
    """The plotted value; ``None`` means no data (a gap in the line, no marker)."""
    display: str
    """The formatted value for the tooltip and the description, e.g. ``"87.5"`` or ``"—"``."""


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    y_min: float,
    y_max: float,
    y_ticks: Sequence[tuple[float, str]] = (),
    width: int = 560,
    height: int = 200,
    css_class: str = "chart",
    empty_text: str = "—",
    chart_id: str | None = None,
) -> Markup:
    """One line chart as an inline ``<svg>``.

    ``y_ticks`` are ``(value, label)`` pairs drawn as horizontal grid lines; ticks outside
    ``[y_min, y_max]`` are left out. Up to 12 points every x label is drawn; beyond that every
    n-th from the first, n = ceil(points / 12), so 13 to 24 points get every second label (the
    ``<desc>`` and the tooltips still name every point). Without any value (no points, or only
    ``None``) the frame is drawn with ``empty_text`` centred in it.

    ``chart_id`` prefixes the ids of ``<title>`` and ``<desc>``; by default it is derived
    from the input, so it is stable and differs between different charts on one page.

    Raises `ValueError` when the y range is not finite and increasing or the size leaves no
    plot area.
    """
    _check_range(y_min, y_max)
    x0, x1 = _LEFT, width - _RIGHT
    y0, y1 = _TOP, height - _BOTTOM
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"a {width}x{height} chart leaves no plot area")

    if chart_id is None:
        chart_id = _derived_id(
            title, points, y_min, y_max, y_ticks, width, height, css_class, empty_text
        )
    title_id = f"{chart_id}-title"
    desc_id = f"{chart_id}-desc"
    description = "; ".join(f"{p.label}: {p.display}" for p in points) or empty_text

    parts = [
        f'<svg xmlns="{SVG_NS}" class="{escape(css_class)}" role="img"'
        f' aria-labelledby="{escape(title_id)} {escape(desc_id)}"'
        f' viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet" width="100%"'
        f' font-size="{_FONT_SIZE}" font-family="sans-serif">',
        f'<title id="{escape(title_id)}">{escape(title)}</title>',
        f'<desc id="{escape(desc_id)}">{escape(description)}</desc>',
    ]

    def y_of(value: float) -> float:
        return _scale_y(value, y_min, y_max, y0, y1)

    grid = [(y_of(value), label) for value, label in y_ticks if y_min <= value <= y_max]
    if grid:
        parts.append('<g class="chart-grid" stroke="currentColor" stroke-opacity="0.15">')
        parts.extend(
            f'<line x1="{_n(x0)}" y1="{_n(y)}" x2="{_n(x1)}" y2="{_n(y)}"/>' for y, _ in grid
        )
        parts.append("</g>")

    parts.append('<g class="chart-axis" fill="currentColor">')
    parts.append(
        f'<line x1="{_n(x0)}" y1="{_n(y0)}" x2="{_n(x0)}" y2="{_n(y1)}"'
        ' stroke="currentColor" stroke-opacity="0.4"/>'
    )
    parts.append(
        f'<line x1="{_n(x0)}" y1="{_n(y1)}" x2="{_n(x1)}" y2="{_n(y1)}"'
        ' stroke="currentColor" stroke-opacity="0.4"/>'
    )
    parts.extend(
        f'<text class="chart-tick" x="{_n(x0 - 4)}" y="{_n(y)}" text-anchor="end"'
        f' dominant-baseline="middle">{escape(label)}</text>'
        for y, label in grid
    )
    step = max(1, math.ceil(len(points) / _MAX_X_LABELS))
    xs = [_band_centre(i, len(points), x0, x1) for i in range(len(points))]
    parts.extend(
        f'<text class="chart-label" x="{_n(x)}" y="{_n(y1 + 16)}"'
        f' text-anchor="middle">{escape(point.label)}</text>'
        for i, (x, point) in enumerate(zip(xs, points, strict=True))
        if i % step == 0
    )
    parts.append("</g>")

    coordinates = [
        None if (value := _usable(point.value)) is None else (x, y_of(value))
        for x, point in zip(xs, points, strict=True)
    ]
    plotted = [(xy, point) for xy, point in zip(coordinates, points, strict=True) if xy is not None]
    if not plotted:
        parts.append(
            f'<text class="chart-empty" x="{_n((x0 + x1) / 2)}" y="{_n((y0 + y1) / 2)}"'
            f' text-anchor="middle" dominant-baseline="middle" fill="currentColor">'
            f"{escape(empty_text)}</text>"
        )
    else:
        parts.append(
            f'<path class="chart-line" d="{_path_data(coordinates)}" fill="none"'
            ' stroke="currentColor" stroke-width="2" stroke-linejoin="round"'
            ' stroke-linecap="round"/>'
        )
        parts.append('<g class="chart-points" fill="currentColor">')
        parts.extend(
            f'<circle class="chart-point" cx="{_n(x)}" cy="{_n(y)}" r="{_POINT_RADIUS}">'
            f"<title>{escape(f'{point.label}: {point.display}')}</title></circle>"
            for (x, y), point in plotted
        )
        parts.append("</g>")

    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(
    values: Sequence[float | None],
    *,
    y_min: float,
    y_max: float,
    label: str,
    width: int = 120,
    height: int = 28,
) -> Markup:
    """A small line without axes for a table cell, ``aria-label``-led by ``label``.

    ``None`` (and NaN) values are gaps; values are clamped to ``[y_min, y_max]``. The last
    value gets a dot, and so does a value alone between gaps, so that every value shows.
    Raises `ValueError` when the y range is not finite and increasing or the size leaves no
    room to draw in.
    """
    _check_range(y_min, y_max)
    x0, x1 = _SPARK_PAD, width - _SPARK_PAD
    y0, y1 = _SPARK_PAD, height - _SPARK_PAD
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"a {width}x{height} sparkline leaves no room to draw in")

    parts = [
        f'<svg xmlns="{SVG_NS}" class="sparkline" role="img" aria-label="{escape(label)}"'
        f' viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet"'
        f' width="{width}" height="{height}">',
        f"<title>{escape(label)}</title>",
    ]
    count = len(values)
    coordinates = [
        None
        if (value := _usable(raw)) is None
        else (_spread(i, count, x0, x1), _scale_y(value, y_min, y_max, y0, y1))
        for i, raw in enumerate(values)
    ]
    drawn = [c for c in coordinates if c is not None]
    if drawn:
        parts.append(
            f'<path class="chart-line" d="{_path_data(coordinates, dot_isolated=True)}"'
            ' fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round"'
            ' stroke-linecap="round"/>'
        )
        x, y = drawn[-1]
        parts.append(
            f'<circle class="chart-point" cx="{_n(x)}" cy="{_n(y)}" r="2" fill="currentColor"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _check_range(y_min: float, y_max: float) -> None:
    if not (math.isfinite(y_min) and math.isfinite(y_max)) or y_max <= y_min:
        raise ValueError(f"y range must be finite and increasing, got [{y_min}, {y_max}]")


def _usable(value: float | None) -> float | None:
    """The value to plot, or None for a gap (missing or NaN)."""
    if value is None or math.isnan(value):
        return None
    return value


def _scale_y(value: float, y_min: float, y_max: float, y0: float, y1: float) -> float:
    """The y coordinate of ``value`` clamped to the range; ``y0`` is the top."""
    clamped = min(max(value, y_min), y_max)
    return y1 - (clamped - y_min) / (y_max - y_min) * (y1 - y0)


def _band_centre(index: int, count: int, x0: float, x1: float) -> float:
    """The centre of the ``index``-th of ``count`` equal bands of ``[x0, x1]``."""
    return x0 + (index + 0.5) * (x1 - x0) / count


def _spread(index: int, count: int, x0: float, x1: float) -> float:
    """``count`` positions from ``x0`` to ``x1`` inclusive; a single one sits in the middle."""
    if count == 1:
        return (x0 + x1) / 2
    return x0 + index * (x1 - x0) / (count - 1)


def _path_data(
    coordinates: Sequence[tuple[float, float] | None], *, dot_isolated: bool = False
) -> str:
    """Path data with one ``M`` per contiguous run, broken at every ``None``.

    With ``dot_isolated`` a run of a single point gets a zero-length ``h0``, which a round
    line cap draws as a dot (a lone ``M`` draws nothing).
    """
    runs: list[list[tuple[float, float]]] = [[]]
    for coordinate in coordinates:
        if coordinate is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(coordinate)
    commands: list[str] = []
    for run in (r for r in runs if r):
        commands.extend(f"{'L' if i else 'M'}{_n(x)} {_n(y)}" for i, (x, y) in enumerate(run))
        if dot_isolated and len(run) == 1:
            commands.append("h0")
    return " ".join(commands)


def _n(number: float) -> str:
    """A coordinate rounded to one decimal, never ``-0.0``."""
    text = f"{number:.1f}"
    return "0.0" if text == "-0.0" else text


def _derived_id(*parts: object) -> str:
    """A stable id from the chart's input (``repr`` of str, float and tuples is stable)."""
    digest = hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()
    return f"chart-{digest[:12]}"
