"""The console's offline charts: well-formed SVG with presentation attributes only (the CSP
forbids inline styles), readable by a screen reader, bars proportional to the numbers, and the
same numbers as a table, spelled the Vietnamese way."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from server.console import charts

SVG = "{http://www.w3.org/2000/svg}"
CLASSES = [charts.Series("poor", "Hộ nghèo", charts.CLASS_COLOURS["poor"]),
           charts.Series("near_poor", "Hộ cận nghèo", charts.CLASS_COLOURS["near_poor"]),
           charts.Series("not_poor", "Không thuộc diện nghèo", charts.CLASS_COLOURS["not_poor"])]


def parse(chart: charts.Chart) -> ET.Element:
    return ET.fromstring(str(chart.svg))


def no_inline_style(root: ET.Element) -> None:
    for element in root.iter():
        assert "style" not in element.attrib, element.tag
        assert element.tag != f"{SVG}style"
        assert element.tag != f"{SVG}script"
        assert not any(name.startswith("on") for name in element.attrib)


def percent(value: str) -> float:
    assert value.endswith("%")
    return float(value[:-1])


@pytest.mark.parametrize(("value", "decimals", "lang", "spelled"), [
    (1500000, 0, "vi", "1.500.000"), (1234567.25, 1, "vi", "1.234.567,2"), (12.5, 1, "vi", "12,5"),
    (1500000, 0, "en", "1,500,000"), (0.5, 2, "en", "0.50"), (None, 0, "vi", "–"), (-3200, 0, "vi", "-3.200"),
])
def test_numbers_are_spelled_the_vietnamese_way(value, decimals, lang, spelled):
    assert charts.number(value, decimals, lang) == spelled


def test_bars_are_proportional_accessible_and_free_of_inline_styles():
    chart = charts.bars("deprivations", "Thiếu hụt theo chỉ số", [("Bảo hiểm y tế", 30), ("Nước <sạch>", 15),
                                                                   ("Nhà tiêu", 0)],
                        label_heading="Chỉ số", value_heading="Số hộ", empty_message="Chưa có số liệu")
    root = parse(chart)
    no_inline_style(root)
    assert root.get("role") == "img"
    labelled = root.get("aria-labelledby").split()
    titles = {e.get("id"): e.text for e in root if e.tag in (f"{SVG}title", f"{SVG}desc")}
    assert titles[labelled[0]] == "Thiếu hụt theo chỉ số"
    assert "Bảo hiểm y tế: 30" in titles[labelled[1]]
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    widths = [percent(r.get("width")) for r in bars]
    assert widths == [100, 50, 0]
    # Text is escaped, not markup.
    assert "Nước <sạch>" in [t.text for t in root.iter(f"{SVG}text")]
    assert chart.columns == ["Chỉ số", "Số hộ"]
    assert chart.rows == [["Bảo hiểm y tế", "30"], ["Nước <sạch>", "15"], ["Nhà tiêu", "0"]]
    assert chart.numeric == [False, True]
    assert not chart.empty


def test_a_fixed_maximum_gives_percentages_their_true_length():
    chart = charts.bars("rates", "Tỷ lệ", [("A", 25.0), ("B", 12.5)], label_heading="", value_heading="",
                        empty_message="", maximum=100, decimals=1, unit=" %")
    widths = [percent(r.get("width")) for r in parse(chart).iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert widths == [25, 12.5]
    assert chart.rows[1] == ["B", "12,5 %"]


def test_stacked_bars_share_one_scale_and_add_up():
    items = [("Thôn 1", {"poor": 4, "near_poor": 2, "not_poor": 14}), ("Thôn 2", {"poor": 1, "not_poor": 9})]
    chart = charts.stacked_bars("classes", "Phân loại hộ theo thôn", CLASSES, items, label_heading="Thôn",
                                total_heading="Tổng", empty_message="Chưa có")
    root = parse(chart)
    no_inline_style(root)
    segments = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    # Thôn 1 (20 households) fills the width: 20 %, 10 %, 70 %; Thôn 2 (10) half of it.
    spans = [(percent(r.get("x")), percent(r.get("width"))) for r in segments]
    assert spans == [(0, 20), (20, 10), (30, 70), (0, 5), (5, 45)]
    assert segments[0].get("fill") == charts.CLASS_COLOURS["poor"]
    assert segments[0].find(f"{SVG}title").text == "Thôn 1, Hộ nghèo: 4"
    assert [s.label for s in chart.legend] == ["Hộ nghèo", "Hộ cận nghèo", "Không thuộc diện nghèo"]
    assert 'fill="#b42318"' in str(chart.swatch(chart.legend[0]))
    assert [t.text for t in root.iter(f"{SVG}text")][:2] == ["Thôn 1", "20"]  # no legend inside the picture
    assert chart.columns == ["Thôn", "Hộ nghèo", "Hộ cận nghèo", "Không thuộc diện nghèo", "Tổng"]
    assert chart.rows == [["Thôn 1", "4", "2", "14", "20"], ["Thôn 2", "1", "0", "9", "10"]]


@pytest.mark.parametrize("kind", ["bars", "stacked", "columns", "map"])
def test_no_data_says_so_instead_of_drawing_nothing(kind):
    if kind == "bars":
        chart = charts.bars("x", "T", [], label_heading="a", value_heading="b", empty_message="Chưa có số liệu")
    elif kind == "stacked":
        chart = charts.stacked_bars("x", "T", CLASSES, [("Thôn 1", {})], label_heading="a", total_heading="b",
                                    empty_message="Chưa có số liệu")
    elif kind == "columns":
        chart = charts.columns("x", "T", [], label_heading="a", value_heading="b", empty_message="Chưa có số liệu")
    else:
        chart = charts.point_map("x", "T", [], CLASSES, columns=["a", "b", "c", "d"], empty_message="Chưa có số liệu")
    root = parse(chart)
    no_inline_style(root)
    assert chart.empty and chart.rows == []
    assert "Chưa có số liệu" in [t.text for t in root.iter(f"{SVG}text")]


def test_columns_label_a_long_series_sparsely_but_always_first_and_last():
    days = [(f"{d:02d}/10", d % 7) for d in range(1, 32)]
    chart = charts.columns("days", "Theo ngày", days, label_heading="Ngày", value_heading="Số phiếu",
                           empty_message="")
    root = parse(chart)
    no_inline_style(root)
    columns = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(columns) == 31
    heights = [float(r.get("height")) for r in columns]
    tallest = max(heights)
    assert heights[5] == pytest.approx(tallest)  # 06/10: 6, the largest
    assert heights[6] == 0  # 07/10: 0
    assert heights[2] == pytest.approx(tallest / 2)  # 03/10: 3
    labels = [t.text for t in root.iter(f"{SVG}text")][1:]  # the first text is the maximum
    assert labels[0] == "01/10" and labels[-1] == "31/10" and len(labels) <= 6
    assert len(chart.rows) == 31


def test_the_map_keeps_distances_in_proportion_and_lists_every_point():
    # Three houses: B 1 km east of A, C 1 km north of A (at 21° N).
    lat, lon = 21.0, 105.8
    east = 1 / (charts.EARTH_KM_PER_DEGREE * math.cos(math.radians(lat)))
    north = 1 / charts.EARTH_KM_PER_DEGREE
    points = [charts.Point(lat, lon, "Hộ A", "poor"), charts.Point(lat, lon + east, "Hộ B", "near_poor"),
              charts.Point(lat + north, lon, "Hộ C", "not_poor")]
    chart = charts.point_map("map", "Bản đồ", points, CLASSES, columns=["Hộ", "Vĩ độ", "Kinh độ", "Phân loại"],
                             empty_message="")
    root = parse(chart)
    no_inline_style(root)
    assert root.get("viewBox").startswith("0 0 640 ")
    dots = {c.find(f"{SVG}title").text: (float(c.get("cx")), float(c.get("cy"))) for c in root.iter(f"{SVG}circle")}
    (ax, ay), (bx, by), (cx, cy) = dots["Hộ A (Hộ nghèo)"], dots["Hộ B (Hộ cận nghèo)"], dots["Hộ C (Không thuộc diện nghèo)"]
    assert by == pytest.approx(ay, abs=0.2) and cx == pytest.approx(ax, abs=0.2)  # east is right, north is up
    assert bx > ax and cy < ay
    assert bx - ax == pytest.approx(ay - cy, rel=0.01)  # 1 km is 1 km either way
    assert [r[0] for r in chart.rows] == ["Hộ A", "Hộ B", "Hộ C"]
    assert chart.rows[0][1:] == ["21,00000", "105,80000", "Hộ nghèo"]
    assert any((t.text or "").endswith(" m") or (t.text or "").endswith(" km") for t in root.iter(f"{SVG}text"))


def test_a_single_house_still_makes_a_map():
    chart = charts.point_map("one", "Bản đồ", [charts.Point(10.0, 106.0, "Hộ A", "poor")], CLASSES,
                             columns=["a", "b", "c", "d"], empty_message="")
    (circle,) = parse(chart).iter(f"{SVG}circle")
    assert 0 < float(circle.get("cx")) < 640


@pytest.mark.parametrize(("km", "bar"), [(0.37, 0.2), (1.2, 1), (7.7, 5), (0.0031, 0.002), (25, 20)])
def test_the_scale_bar_is_a_round_distance(km, bar):
    assert charts._round_distance(km) == pytest.approx(bar)
