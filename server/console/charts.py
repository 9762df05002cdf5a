"""Charts that need no internet: SVG drawn on the server, sent inside the page.

Communes work on LANs and patchy links, so the console loads no chart library: each chart is a
small ``<svg>`` built here from plain numbers. The CSP forbids inline styles, so the markup uses
SVG *presentation attributes* only (``fill``, ``font-size``, ``text-anchor``), never ``style=``.

Bars are laid out in percentages of the chart's width, without a ``viewBox``: the SVG stretches
to the width of a phone or a laptop while its text keeps its size (a scaled ``viewBox`` would
shrink the labels to nothing on a phone). The map is the exception: distances must keep their
proportions, so it scales as a whole.

Every chart is an image with a ``<title>`` and a ``<desc>`` for screen readers, and comes with
its figures as a table (``Chart.columns`` / ``Chart.rows``), which the page shows under it: the
same numbers for whoever cannot see the picture, prints the page, or wants to copy them.

Pure: no Flask, no database. Texts come from the caller (already translated); numbers are
spelled here the Vietnamese way (``1.500``, ``12,5``) unless ``lang`` is ``en``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

# Colours with at least 3:1 contrast against white (WCAG 1.4.11, graphical objects).
CLASS_COLOURS = {
    "poor": "#b42318",
    "near_poor": "#a15c00",
    "average": "#2f6fba",
    "not_poor": "#2e7d4f",
    "unclassified": "#6b7280",
}
BAR_COLOUR = "#1f5f99"
TEXT_COLOUR = "#1b1f24"
MUTED_COLOUR = "#57606a"
GRID_COLOUR = "#d0d7de"

MIN_SLOTS = 7  # a column chart is at least a week wide
FONT = 14  # px: text does not scale with the chart
ROW = 46  # px per bar: a label line, then the bar
BAR = 18


# --- numbers ----------------------------------------------------------------------------------

def number(value: float | int | None, decimals: int = 0, lang: str = "vi") -> str:
    """``1234567.5`` as ``1.234.567,5`` (vi) or ``1,234,567.5`` (en); None as an en dash."""
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    if lang == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def percent(part: float, whole: float, lang: str = "vi") -> str:
    return number(100 * part / whole, 1, lang) + " %" if whole else "–"


def _pct(x: float) -> str:
    """A length in percent of the chart's width, short and exact enough."""
    return f"{x:.3f}".rstrip("0").rstrip(".") + "%"


_ID = re.compile(r"[^a-z0-9-]")


def _id(text: str) -> str:
    return _ID.sub("-", text.lower()) or "chart"


# --- the result -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    """One kind of value in a stacked chart: its key in the data, its label, its colour."""

    key: str
    label: str
    colour: str


@dataclass(frozen=True)
class Chart:
    """A chart's SVG and the same figures as a table (headings, then rows of spelled cells)."""

    id: str
    title: str
    svg: Markup
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)  # per column: right-aligned in the table
    empty: bool = False
    # The series' colours, shown by the page as an HTML list beside the picture: HTML wraps on a
    # narrow phone, text inside an SVG does not.
    legend: list[Series] = field(default_factory=list)

    def swatch(self, series: Series) -> Markup:
        """A small square of the series' colour (decorative: the label says the rest)."""
        return Markup('<svg class="swatch-svg" width="14" height="14" aria-hidden="true" focusable="false">'
                      '<rect width="14" height="14" rx="2" fill="{}"/></svg>').format(series.colour)

    def __html__(self) -> str:  # {{ chart }} in a template renders the picture
        return str(self.svg)


def _svg_open(chart_id: str, title: str, desc: str, height: float, extra: str = "") -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" width="100%" '
            f'height="{height:g}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
            f'font-size="{FONT}" fill="{TEXT_COLOUR}"{extra}>'
            f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>')


def _empty(chart_id: str, title: str, message: str, columns: list[str]) -> Chart:
    svg = (_svg_open(chart_id, title, message, 40)
           + f'<text x="0" y="24" fill="{MUTED_COLOUR}">{escape(message)}</text></svg>')
    return Chart(chart_id, title, Markup(svg), columns, [], [False] * len(columns), empty=True)


# --- horizontal bars --------------------------------------------------------------------------

def bars(chart_id: str, title: str, items: Sequence[tuple[str, float]], *, label_heading: str,
         value_heading: str, empty_message: str, lang: str = "vi", decimals: int = 0, unit: str = "",
         colour: str = BAR_COLOUR, maximum: float | None = None) -> Chart:
    """One horizontal bar per item (label, value): the label above its bar, the value at the
    right end of the label's line. ``maximum`` fixes the full width (100 for percentages);
    otherwise the largest value fills it."""
    chart_id = _id(chart_id)
    columns = [label_heading, value_heading]
    if not items:
        return _empty(chart_id, title, empty_message, columns)
    top = maximum if maximum else max((v for _, v in items), default=0) or 1
    spelled = [number(v, decimals, lang) + unit for _, v in items]
    parts = [_svg_open(chart_id, title, "; ".join(f"{label}: {s}" for (label, _), s in zip(items, spelled)),
                       ROW * len(items))]
    for i, ((label, value), text) in enumerate(zip(items, spelled)):
        y = i * ROW
        width = 100 * max(0.0, min(value, top)) / top
        parts.append(
            f'<g><text x="0" y="{y + FONT + 2}">{escape(label)}</text>'
            f'<text x="100%" y="{y + FONT + 2}" text-anchor="end" font-weight="bold">{escape(text)}</text>'
            f'<rect x="0" y="{y + FONT + 8}" width="100%" height="{BAR}" fill="{GRID_COLOUR}" fill-opacity="0.35"/>'
            f'<rect x="0" y="{y + FONT + 8}" width="{_pct(width)}" height="{BAR}" fill="{colour}">'
            f'<title>{escape(label)}: {escape(text)}</title></rect></g>')
    parts.append("</svg>")
    return Chart(chart_id, title, Markup("".join(parts)), columns,
                 [[label, text] for (label, _), text in zip(items, spelled)], [False, True])


# --- stacked horizontal bars ------------------------------------------------------------------

def stacked_bars(chart_id: str, title: str, series: Sequence[Series], items: Sequence[tuple[str, Mapping[str, float]]],
                 *, label_heading: str, total_heading: str, empty_message: str, lang: str = "vi") -> Chart:
    """One bar per item, split into its series (e.g. a village's households by classification),
    all bars on the same scale (the largest total fills the width); ``Chart.legend`` names the
    colours."""
    chart_id = _id(chart_id)
    columns = [label_heading, *(s.label for s in series), total_heading]
    totals = [sum(values.get(s.key, 0) or 0 for s in series) for _, values in items]
    if not items or not any(totals):
        return _empty(chart_id, title, empty_message, columns)
    top = max(totals)
    desc = "; ".join(f"{label}: " + ", ".join(f"{s.label} {number(values.get(s.key, 0) or 0, 0, lang)}"
                                             for s in series) for label, values in items)
    parts = [_svg_open(chart_id, title, desc, ROW * len(items))]
    for i, ((label, values), total) in enumerate(zip(items, totals)):
        y = i * ROW
        parts.append(f'<g><text x="0" y="{y + FONT + 2}">{escape(label)}</text>'
                     f'<text x="100%" y="{y + FONT + 2}" text-anchor="end" font-weight="bold">'
                     f'{escape(number(total, 0, lang))}</text>')
        start = 0.0
        for s in series:
            value = values.get(s.key, 0) or 0
            if value <= 0:
                continue
            width = 100 * value / top
            parts.append(f'<rect x="{_pct(start)}" y="{y + FONT + 8}" width="{_pct(width)}" height="{BAR}" '
                         f'fill="{s.colour}"><title>{escape(label)}, {escape(s.label)}: '
                         f'{escape(number(value, 0, lang))}</title></rect>')
            start += width
        parts.append("</g>")
    parts.append("</svg>")
    rows = [[label, *(number(values.get(s.key, 0) or 0, 0, lang) for s in series), number(total, 0, lang)]
            for (label, values), total in zip(items, totals)]
    return Chart(chart_id, title, Markup("".join(parts)), columns, rows, [False] + [True] * (len(series) + 1),
                 legend=list(series))


# --- columns (a time series) ------------------------------------------------------------------

def columns(chart_id: str, title: str, items: Sequence[tuple[str, float]], *, label_heading: str,
            value_heading: str, empty_message: str, lang: str = "vi", height: int = 180,
            colour: str = BAR_COLOUR, max_labels: int = 6) -> Chart:
    """One column per item in order (e.g. households received per day), with the largest value
    marked on a grid line and at most ``max_labels`` labels under the columns (first and last
    always), so that a month of days stays readable on a phone."""
    chart_id = _id(chart_id)
    heading = [label_heading, value_heading]
    if not items:
        return _empty(chart_id, title, empty_message, heading)
    top = max(v for _, v in items) or 1
    n = len(items)
    plot_top, plot_bottom = FONT + 10, height
    plot = plot_bottom - plot_top
    slot = 100 / max(n, MIN_SLOTS)  # a few days do not make a few walls
    desc = "; ".join(f"{label}: {number(v, 0, lang)}" for label, v in items)
    parts = [_svg_open(chart_id, title, desc, height + FONT + 12)]
    parts.append(f'<text x="0" y="{FONT}" fill="{MUTED_COLOUR}">{escape(number(top, 0, lang))}</text>'
                 f'<line x1="0" x2="100%" y1="{plot_top}" y2="{plot_top}" stroke="{GRID_COLOUR}" '
                 f'stroke-dasharray="4 4"/>'
                 f'<line x1="0" x2="100%" y1="{plot_bottom}" y2="{plot_bottom}" stroke="{MUTED_COLOUR}"/>')
    for i, (label, value) in enumerate(items):
        h = plot * max(0.0, value) / top
        parts.append(f'<rect x="{_pct(i * slot + slot * 0.15)}" y="{plot_bottom - h:.1f}" '
                     f'width="{_pct(slot * 0.7)}" height="{h:.1f}" fill="{colour}">'
                     f'<title>{escape(label)}: {escape(number(value, 0, lang))}</title></rect>')
    for i in _label_positions(n, max_labels):
        anchor = "start" if i == 0 else "end" if i == n - 1 and n > 1 else "middle"
        x = 0 if anchor == "start" else n * slot if anchor == "end" else (i + 0.5) * slot
        parts.append(f'<text x="{_pct(x)}" y="{plot_bottom + FONT + 6}" text-anchor="{anchor}" '
                     f'fill="{MUTED_COLOUR}">{escape(items[i][0])}</text>')
    parts.append("</svg>")
    return Chart(chart_id, title, Markup("".join(parts)), heading,
                 [[label, number(v, 0, lang)] for label, v in items], [False, True])


def _label_positions(n: int, most: int) -> list[int]:
    if n <= most:
        return list(range(n))
    step = math.ceil((n - 1) / (most - 1))
    picked = list(range(0, n - 1, step))
    if n - 1 - picked[-1] < step / 2 and len(picked) > 1:
        picked.pop()  # keep the last label clear of its neighbour
    return [*picked, n - 1]


# --- the map ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    lat: float
    lon: float
    label: str
    series: str  # a Series key (its colour)


EARTH_KM_PER_DEGREE = 111.32
MAP_WIDTH = 640


def point_map(chart_id: str, title: str, points: Sequence[Point], series: Sequence[Series], *,
              columns: Sequence[str], empty_message: str, lang: str = "vi") -> Chart:
    """GPS points drawn in an SVG with no tiles: an equirectangular projection around the points'
    middle latitude (plenty for a commune, a few km across), north up, fitted to the box, with a
    scale bar. ``columns`` heads the table: label, latitude, longitude, series."""
    chart_id = _id(chart_id)
    heading = list(columns)
    if not points:
        return _empty(chart_id, title, empty_message, heading)
    lats = [p.lat for p in points]
    lons = [p.lon for p in points]
    middle = (min(lats) + max(lats)) / 2
    squeeze = math.cos(math.radians(middle))
    # Degrees of latitude on both axes; a minimum span so one house is not a division by zero.
    x0, x1 = min(lons) * squeeze, max(lons) * squeeze
    y0, y1 = min(lats), max(lats)
    span = max(x1 - x0, y1 - y0, 0.002)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    margin = 24
    inner = MAP_WIDTH - 2 * margin
    width_deg = max(x1 - x0, span * 0.5)
    height_deg = max(y1 - y0, span * 0.5)
    scale = inner / max(width_deg, height_deg)
    w = MAP_WIDTH
    h = round(height_deg * scale + 2 * margin + 30)

    def project(p: Point) -> tuple[float, float]:
        return (w / 2 + (p.lon * squeeze - cx) * scale, (h - 30) / 2 - (p.lat - cy) * scale)

    colours = {s.key: s.colour for s in series}
    labels = {s.key: s.label for s in series}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart map" id="{chart_id}" viewBox="0 0 {w} {h}" '
        f'width="100%" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" font-size="{FONT + 2}" '
        f'fill="{TEXT_COLOUR}" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(empty_message if not points else _map_desc(points, labels, lang))}</desc>'
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#f6f8fa" stroke="{GRID_COLOUR}"/>'
    ]
    for p in points:
        x, y = project(p)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colours.get(p.series, MUTED_COLOUR)}" '
                     f'stroke="#ffffff" stroke-width="1.5"><title>{escape(p.label)} '
                     f'({escape(labels.get(p.series, p.series))})</title></circle>')
    km_per_unit = EARTH_KM_PER_DEGREE / scale
    bar_km = _round_distance(km_per_unit * w / 4)
    bar_px = bar_km / km_per_unit
    spelled = (number(bar_km, 0, lang) + " km") if bar_km >= 1 else (number(bar_km * 1000, 0, lang) + " m")
    parts.append(f'<g><line x1="{margin}" x2="{margin + bar_px:.1f}" y1="{h - 14}" y2="{h - 14}" '
                 f'stroke="{TEXT_COLOUR}" stroke-width="3"/>'
                 f'<text x="{margin + bar_px + 8:.1f}" y="{h - 9}">{escape(spelled)}</text>'
                 f'<text x="{w - margin}" y="{margin}" text-anchor="end" font-weight="bold">N ↑</text></g>')
    parts.append("</svg>")
    rows = [[p.label, number(p.lat, 5, lang), number(p.lon, 5, lang), labels.get(p.series, p.series)]
            for p in points]
    return Chart(chart_id, title, Markup("".join(parts)), heading, rows, [False, True, True, False],
                 legend=list(series))


def _map_desc(points: Sequence[Point], labels: Mapping[str, str], lang: str) -> str:
    counts: dict[str, int] = {}
    for p in points:
        counts[p.series] = counts.get(p.series, 0) + 1
    return "; ".join(f"{labels.get(k, k)}: {number(n, 0, lang)}" for k, n in counts.items())


def _round_distance(km: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above ``km`` (a scale bar's length)."""
    if km <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(km))
    for step in (5, 2, 1):
        if step * power <= km:
            return step * power
    return power

