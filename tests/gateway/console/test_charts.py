"""The console's server-side SVG charts: structure, accessibility, geometry and escaping."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from gateway.console.charts import Point, line_chart, sparkline

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&"'
PATH_COMMAND = re.compile(r"([MLh])(-?\d+(?:\.\d+)?)(?: (-?\d+(?:\.\d+)?))?")


def _parse(markup: Markup) -> ET.Element:
    return ET.fromstring(str(markup))


def _points(*values: float | None) -> list[Point]:
    return [
        Point(f"2026-{i + 1:02d}", value, "—" if value is None else f"{value:.1f}")
        for i, value in enumerate(values)
    ]


def _chart(points: list[Point], **overrides: object) -> ET.Element:
    options: dict[str, object] = {"title": "Uptime", "y_min": 0.0, "y_max": 100.0}
    options.update(overrides)
    return _parse(line_chart(points, **options))  # type: ignore[arg-type]


def _circles(svg: ET.Element) -> list[ET.Element]:
    return svg.findall(f".//{SVG}circle")


def _cys(svg: ET.Element) -> list[float]:
    return [float(c.attrib["cy"]) for c in _circles(svg)]


def _path_commands(svg: ET.Element) -> list[tuple[str, str, str]]:
    paths = svg.findall(f".//{SVG}path")
    assert len(paths) == 1
    return PATH_COMMAND.findall(paths[0].attrib["d"])


def _classes(element: ET.Element) -> set[str]:
    return set(element.attrib.get("class", "").split())


def _by_class(svg: ET.Element, css_class: str) -> list[ET.Element]:
    return [e for e in svg.iter() if css_class in _classes(e)]


class TestLineChartStructure:
    def test_is_markup_with_one_svg_root(self) -> None:
        chart = line_chart(_points(1, 2), title="Uptime", y_min=0, y_max=100)
        assert isinstance(chart, Markup)
        assert str(chart).startswith("<svg ") and str(chart).endswith("</svg>")
        assert str(chart).count("<svg") == 1
        svg = _parse(chart)
        assert svg.tag == f"{SVG}svg"

    def test_root_is_an_accessible_scalable_image(self) -> None:
        svg = _chart(_points(1, 2), width=400, height=150, css_class="chart chart-wide")
        assert svg.attrib["role"] == "img"
        assert svg.attrib["viewBox"] == "0 0 400 150"
        assert svg.attrib["preserveAspectRatio"] == "xMidYMid meet"
        assert svg.attrib["width"] == "100%"
        assert "height" not in svg.attrib
        assert _classes(svg) == {"chart", "chart-wide"}

    def test_aria_labelledby_names_the_title_and_the_desc(self) -> None:
        svg = _chart(_points(87.5, None, 90.0), title="Availability")
        ids = svg.attrib["aria-labelledby"].split()
        assert len(ids) == 2
        by_id = {e.attrib["id"]: e for e in svg.iter() if "id" in e.attrib}
        title, desc = by_id[ids[0]], by_id[ids[1]]
        assert title.tag == f"{SVG}title" and title.text == "Availability"
        assert desc.tag == f"{SVG}desc"
        assert desc.text == "2026-01: 87.5; 2026-02: —; 2026-03: 90.0"
        # title and desc are the first children, where assistive technology looks.
        assert [child.tag for child in svg[:2]] == [f"{SVG}title", f"{SVG}desc"]

    def test_chart_id_prefixes_the_ids(self) -> None:
        svg = _chart(_points(1), chart_id="uptime")
        assert svg.attrib["aria-labelledby"] == "uptime-title uptime-desc"

    def test_derived_ids_are_stable_and_differ_between_charts(self) -> None:
        first = _chart(_points(1, 2), title="A").attrib["aria-labelledby"]
        again = _chart(_points(1, 2), title="A").attrib["aria-labelledby"]
        other = _chart(_points(1, 2), title="B").attrib["aria-labelledby"]
        assert first == again
        assert first != other

    def test_no_script_no_style_no_external_reference(self) -> None:
        text = str(line_chart(_points(1, None, 3), title="t", y_min=0, y_max=5))
        svg = _parse(Markup(text))
        tags = {e.tag.removeprefix(SVG) for e in svg.iter()}
        assert tags <= {"svg", "title", "desc", "g", "line", "text", "path", "circle"}
        attributes = {name for e in svg.iter() for name in e.attrib}
        assert not {a for a in attributes if a.startswith("on") or "href" in a}
        assert "url(" not in text and "style" not in text

    def test_same_input_gives_the_same_string(self) -> None:
        def render() -> str:
            return str(
                line_chart(
                    _points(3.25, None, 7.75, 1.0),
                    title="Latency",
                    y_min=0,
                    y_max=10,
                    y_ticks=[(0, "0"), (5, "5"), (10, "10")],
                )
            )

        assert render() == render()

    def test_coordinates_are_rounded_to_one_decimal(self) -> None:
        svg = _chart(_points(1 / 3, 2 / 3, math.pi), y_max=7, y_ticks=[(1 / 7, "x")])
        numbers: list[str] = []
        for element in svg.iter():
            for name in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy"):
                if name in element.attrib:
                    numbers.append(element.attrib[name])
            if "d" in element.attrib:
                numbers.extend(n for c in PATH_COMMAND.findall(element.attrib["d"]) for n in c[1:])
        assert numbers
        assert all(re.fullmatch(r"-?\d+\.\d", n) for n in numbers), numbers


class TestSeries:
    def test_one_circle_per_value_with_its_tooltip(self) -> None:
        svg = _chart(_points(10, None, 30, None, None, 60))
        circles = _circles(svg)
        assert len(circles) == 3
        assert all("chart-point" in _classes(c) for c in circles)
        tooltips = [c.findtext(f"{SVG}title") for c in circles]
        assert tooltips == ["2026-01: 10.0", "2026-03: 30.0", "2026-06: 60.0"]

    @pytest.mark.parametrize(
        ("values", "runs"),
        [
            ((1, 2, 3), 1),
            ((1, None, 3), 2),
            ((None, 1, 2, None, None, 3, 4, None), 2),
            ((1, None, 2, None, 3), 3),
            ((None, 5, None), 1),
        ],
    )
    def test_path_starts_a_new_run_after_every_gap(
        self, values: tuple[float | None, ...], runs: int
    ) -> None:
        svg = _chart(_points(*values))
        commands = _path_commands(svg)
        assert [c[0] for c in commands].count("M") == runs
        assert len(commands) == sum(v is not None for v in values)
        line = svg.find(f".//{SVG}path")
        assert line is not None
        assert "chart-line" in _classes(line)
        assert line.attrib["stroke"] == "currentColor"
        assert line.attrib["fill"] == "none"

    def test_path_and_circles_share_coordinates(self) -> None:
        svg = _chart(_points(20, 40, None, 80))
        path_xy = [(float(x), float(y)) for _, x, y in _path_commands(svg)]
        circle_xy = [(float(c.attrib["cx"]), float(c.attrib["cy"])) for c in _circles(svg)]
        assert path_xy == circle_xy

    def test_higher_value_is_higher_on_screen(self) -> None:
        cys = _cys(_chart(_points(10, 50, 30, 90, 0)))
        assert cys[3] < cys[1] < cys[2] < cys[0] < cys[4]

    def test_points_run_left_to_right(self) -> None:
        cxs = [float(c.attrib["cx"]) for c in _circles(_chart(_points(1, 2, 3, 4)))]
        assert cxs == sorted(cxs) and len(set(cxs)) == 4

    def test_values_are_clamped_to_the_range(self) -> None:
        top, bottom, over, under = _cys(_chart(_points(100, 0, 250, -40)))
        assert over == top
        assert under == bottom
        assert top < bottom

    def test_nan_is_a_gap(self) -> None:
        svg = _chart(_points(1, math.nan, 3))
        assert len(_circles(svg)) == 2
        assert [c[0] for c in _path_commands(svg)] == ["M", "M"]

    def test_values_stay_inside_the_plot_area(self) -> None:
        svg = _chart(_points(0, 100), y_ticks=[(0, "0"), (100, "100")])
        grid = [float(line.attrib["y1"]) for line in svg.iter(f"{SVG}line")]
        assert set(_cys(svg)) == {min(grid), max(grid)}


class TestAxes:
    def test_grid_line_and_label_per_tick_inside_the_range(self) -> None:
        ticks = [(0.0, "0 %"), (50.0, "50 %"), (100.0, "100 %"), (150.0, "150 %")]
        svg = _chart(_points(1, 2), y_ticks=ticks)
        (grid,) = _by_class(svg, "chart-grid")
        lines = grid.findall(f"{SVG}line")
        assert len(lines) == 3
        ys = [float(line.attrib["y1"]) for line in lines]
        assert ys == sorted(ys, reverse=True)
        assert all(line.attrib["y1"] == line.attrib["y2"] for line in lines)
        tick_labels = [t.text for t in _by_class(svg, "chart-tick")]
        assert tick_labels == ["0 %", "50 %", "100 %"]

    def test_no_ticks_no_grid(self) -> None:
        assert _by_class(_chart(_points(1, 2)), "chart-grid") == []

    def test_tick_labels_sit_left_of_the_plot_area(self) -> None:
        svg = _chart(_points(1, 2), y_ticks=[(50.0, "50")])
        (label,) = _by_class(svg, "chart-tick")
        assert label.attrib["text-anchor"] == "end"
        assert float(label.attrib["x"]) < min(float(c.attrib["cx"]) for c in _circles(svg))

    def test_axis_lines_are_classed(self) -> None:
        (axis,) = _by_class(_chart(_points(1)), "chart-axis")
        assert len(axis.findall(f"{SVG}line")) == 2

    def test_every_x_label_up_to_twelve_points(self) -> None:
        svg = _chart(_points(*range(12)))
        labels = [t.text for t in _by_class(svg, "chart-label")]
        assert labels == [f"2026-{m:02d}" for m in range(1, 13)]

    def test_alternate_x_labels_beyond_twelve_points(self) -> None:
        svg = _chart(_points(*range(13)))
        labels = [t.text for t in _by_class(svg, "chart-label")]
        assert labels == [f"2026-{m:02d}" for m in range(1, 14, 2)]
        assert len(_circles(svg)) == 13

    def test_never_more_than_twelve_x_labels(self) -> None:
        svg = _chart(_points(*range(30)))
        labels = [t.text for t in _by_class(svg, "chart-label")]
        assert labels == [f"2026-{m:02d}" for m in range(1, 31, 3)]

    def test_x_labels_sit_under_their_points(self) -> None:
        svg = _chart(_points(1, None, 3))
        label_xs = [t.attrib["x"] for t in _by_class(svg, "chart-label")]
        circle_xs = [c.attrib["cx"] for c in _circles(svg)]
        assert label_xs[0] == circle_xs[0] and label_xs[2] == circle_xs[1]
        label_y = float(_by_class(svg, "chart-label")[0].attrib["y"])
        assert label_y > max(_cys(svg))


class TestEmpty:
    def test_no_points_draws_the_frame_and_a_dash(self) -> None:
        svg = _chart([])
        assert svg.find(f".//{SVG}path") is None
        assert _circles(svg) == []
        (empty,) = _by_class(svg, "chart-empty")
        assert empty.text == "—"
        assert empty.attrib["text-anchor"] == "middle"
        assert len(_by_class(svg, "chart-axis")) == 1
        assert svg.findtext(f"{SVG}desc") == "—"

    def test_all_none_keeps_labels_and_description(self) -> None:
        svg = _chart(_points(None, None))
        assert svg.find(f".//{SVG}path") is None
        assert _circles(svg) == []
        assert [t.text for t in _by_class(svg, "chart-empty")] == ["—"]
        assert len(_by_class(svg, "chart-label")) == 2
        assert svg.findtext(f"{SVG}desc") == "2026-01: —; 2026-02: —"

    def test_empty_text_is_configurable_and_escaped(self) -> None:
        chart = line_chart([], title="t", y_min=0, y_max=1, empty_text="<script>no data")
        assert "<script" not in str(chart)
        assert [t.text for t in _by_class(_parse(chart), "chart-empty")] == ["<script>no data"]


class TestEscaping:
    def test_hostile_text_is_escaped_everywhere(self) -> None:
        points = [Point(HOSTILE, 1.0, HOSTILE), Point("ok", None, HOSTILE)]
        chart = line_chart(
            points,
            title=HOSTILE,
            y_min=0,
            y_max=2,
            y_ticks=[(1.0, HOSTILE)],
            css_class=HOSTILE,
            chart_id=HOSTILE,
        )
        text = str(chart)
        assert "<script" not in text.lower()
        svg = _parse(chart)  # still well-formed: nothing broke out of an attribute
        assert svg.findtext(f"{SVG}title") == HOSTILE
        assert svg.findtext(f"{SVG}desc") == f"{HOSTILE}: {HOSTILE}; ok: {HOSTILE}"
        assert svg.attrib["class"] == HOSTILE
        (circle,) = _circles(svg)
        assert circle.findtext(f"{SVG}title") == f"{HOSTILE}: {HOSTILE}"
        assert [t.text for t in _by_class(svg, "chart-label")] == [HOSTILE, "ok"]
        assert [t.text for t in _by_class(svg, "chart-tick")] == [HOSTILE]

    def test_jinja2_autoescape_keeps_the_markup(self) -> None:
        jinja2 = pytest.importorskip("jinja2")
        chart = line_chart(_points(1, 2), title=HOSTILE, y_min=0, y_max=5)
        page = jinja2.Environment(autoescape=True).from_string("<p>{{ chart }}</p>")
        assert page.render(chart=chart) == f"<p>{chart}</p>"


class TestValidation:
    @pytest.mark.parametrize(
        ("y_min", "y_max"), [(1.0, 1.0), (2.0, 1.0), (0.0, math.inf), (math.nan, 1.0)]
    )
    def test_range_must_be_finite_and_increasing(self, y_min: float, y_max: float) -> None:
        with pytest.raises(ValueError, match="y range"):
            line_chart(_points(1), title="t", y_min=y_min, y_max=y_max)
        with pytest.raises(ValueError, match="y range"):
            sparkline([1.0], y_min=y_min, y_max=y_max, label="t")

    def test_size_must_leave_a_plot_area(self) -> None:
        with pytest.raises(ValueError, match="plot area"):
            line_chart(_points(1), title="t", y_min=0, y_max=1, width=40)
        with pytest.raises(ValueError, match="room"):
            sparkline([1.0], y_min=0, y_max=1, label="t", height=4)


class TestSparkline:
    def test_is_a_labelled_fixed_size_image(self) -> None:
        chart = sparkline([1, 2, 3], y_min=0, y_max=3, label="Uptime trend")
        assert isinstance(chart, Markup)
        svg = _parse(chart)
        assert svg.tag == f"{SVG}svg"
        assert svg.attrib["role"] == "img"
        assert svg.attrib["aria-label"] == "Uptime trend"
        assert svg.attrib["viewBox"] == "0 0 120 28"
        assert (svg.attrib["width"], svg.attrib["height"]) == ("120", "28")
        assert svg.findtext(f"{SVG}title") == "Uptime trend"

    def test_line_breaks_at_gaps_and_ends_with_a_dot(self) -> None:
        svg = _parse(sparkline([1, 2, None, 3, 4], y_min=0, y_max=4, label="t"))
        commands = _path_commands(svg)
        assert [c[0] for c in commands] == ["M", "L", "M", "L"]
        (dot,) = _circles(svg)
        assert (dot.attrib["cx"], dot.attrib["cy"]) == commands[-1][1:]

    def test_a_lone_value_between_gaps_is_a_dot(self) -> None:
        svg = _parse(sparkline([1, None, 2, None, 3, 3], y_min=0, y_max=4, label="t"))
        assert [c[0] for c in _path_commands(svg)] == ["M", "h", "M", "h", "M", "L"]

    def test_geometry_clamps_and_orders(self) -> None:
        svg = _parse(sparkline([-5, 0, 2, 4, 9], y_min=0, y_max=4, label="t"))
        xs = [float(c[1]) for c in _path_commands(svg)]
        ys = [float(c[2]) for c in _path_commands(svg)]
        assert xs == sorted(xs) and xs[0] >= 0 and xs[-1] <= 120
        assert ys[0] == ys[1] > ys[2] > ys[3] == ys[4]
        assert min(ys) >= 0 and max(ys) <= 28

    def test_single_value_is_centred(self) -> None:
        svg = _parse(sparkline([2], y_min=0, y_max=4, label="t"))
        (dot,) = _circles(svg)
        assert float(dot.attrib["cx"]) == 60.0

    @pytest.mark.parametrize("values", [[], [None, None]])
    def test_without_values_is_an_empty_labelled_image(self, values: list[float | None]) -> None:
        svg = _parse(sparkline(values, y_min=0, y_max=1, label="no data"))
        assert svg.attrib["aria-label"] == "no data"
        assert svg.find(f".//{SVG}path") is None and _circles(svg) == []

    def test_label_is_escaped(self) -> None:
        chart = sparkline([1.0], y_min=0, y_max=2, label=HOSTILE)
        assert "<script" not in str(chart)
        svg = _parse(chart)
        assert svg.attrib["aria-label"] == HOSTILE
        assert svg.findtext(f"{SVG}title") == HOSTILE
