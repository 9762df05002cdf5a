"""The dashboard (Tổng quan) and the map at the console, in a real Chromium against gunicorn: the
charts are SVG drawn by the server, their numbers (and the tables under them) are those of the
households the enumerators pushed, "official figures only" counts the approved visits alone, the
map places every located household, and another commune's supervisor sees none of it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from support.console_pages import LAPTOP, PHONE, assert_clean, chromium, open_console, screenshot, season_server

CLASSES = ("poor", "near_poor", "average", "not_poor")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with season_server(tmp_path_factory.mktemp("console-dashboard")) as (live, season):
        with chromium() as browser:
            yield live, season, browser


def chart_rows(page, chart_id: str) -> dict[str, list[str]]:
    """The data table under a chart (folded in a <details>: read as text, shown or not): first
    cell -> the other cells."""
    figure = page.locator(f"figure:has(#{chart_id})")
    rows = figure.locator("tbody tr")
    return {rows.nth(i).locator("th").text_content().strip(): [c.strip() for c in rows.nth(i).locator("td")
                                                               .all_text_contents()]
            for i in range(rows.count())}


def percent(value: str) -> float:
    return float(value.rstrip("%"))


def test_the_dashboard_draws_what_the_enumerators_sent(world):
    live, season, browser = world
    page = open_console(browser, live, "giamsat", LAPTOP)
    expect(page.locator("h1")).to_have_text("Tổng quan")  # the console's front door for a supervisor
    tiles = dict(zip(page.locator("#tiles dt").all_inner_texts(), page.locator("#tiles dd").all_inner_texts()))
    assert tiles == {"Hộ được tính": str(season.count()), "Hộ nghèo": str(season.count(classification="poor")),
                     "Hộ cận nghèo": str(season.count(classification="near_poor")),
                     "Phiếu đã nhận": str(season.count()), "Phiếu đã duyệt": str(len(season.approved))}

    # Classification per village: the table, and the bars' lengths.
    table = chart_rows(page, "classes")
    for village, name in zip(season.villages(), ("Tổ dân phố số 1", "Tổ dân phố số 2")):
        expected = [str(season.count(village, c)) for c in CLASSES] + ["0", str(season.count(village))]
        assert table[name] == expected, (name, table)
    largest = max(season.count(v) for v in season.villages())
    first_poor = page.locator("#classes rect:has(title)").first
    assert first_poor.locator("title").text_content() == "Tổ dân phố số 1, Hộ nghèo: 3"
    assert percent(first_poor.get_attribute("width")) == pytest.approx(100 * 3 / largest)
    assert page.locator("#classes").get_attribute("role") == "img"
    assert page.locator("#classes > title").text_content() == "Phân loại hộ theo địa bàn"

    # Deprivations: every poor household of the seed lacks water, latrine and floor area.
    poor = season.count(classification="poor")
    deprived = chart_rows(page, "deprived-poor")
    assert deprived["Nguồn nước sinh hoạt"] == [str(poor)]
    assert deprived["Nhà tiêu hợp vệ sinh"] == [str(poor)]
    assert deprived["Bảo hiểm y tế"] == ["0"]
    assert chart_rows(page, "deprived-near-poor")["Nguồn nước sinh hoạt"] == ["0"]

    # Progress per enumerator (received and approved) and per day.
    people = chart_rows(page, "enumerators")
    for suffix, village in zip(("t01", "t02"), season.villages()):
        sent = [h for h in season.households if h.village == village]
        approved = sum(h.submission_id in season.approved for h in sent)
        assert people[f"Rà soát viên {suffix}"] == [str(approved), str(len(sent) - approved), "0", "0", str(len(sent))]
    days = chart_rows(page, "days")
    assert list(days.values()) == [[str(season.count())]]  # all sent today
    assert re.fullmatch(r"\d\d/\d\d", next(iter(days)))
    screenshot(page, "console-dashboard")
    assert_clean(page, live)

    # Official figures only: the approved visits.
    page.locator("#counts").select_option("official")
    page.get_by_role("button", name="Xem", exact=True).click()
    expect(page.locator("#tiles dd").first).to_have_text(str(len(season.approved)))
    approved_poor = sum(h.classification == "poor" and h.submission_id in season.approved for h in season.households)
    assert page.locator("#tiles dd").nth(1).inner_text() == str(approved_poor)
    page.context.close()


def test_the_map_places_every_located_household_and_lists_their_coordinates(world):
    live, season, browser = world
    page = open_console(browser, live, "giamsat", PHONE)
    page.get_by_role("link", name="Xem bản đồ các hộ").click()
    expect(page.locator("#map-counts")).to_have_text(
        f"{season.count()} hộ trên bản đồ; 0 hộ không có tọa độ (trên tổng số {season.count()} hộ).")
    expect(page.locator("#households-map circle")).to_have_count(season.count())
    rows = page.locator("#coordinates tbody tr")
    expect(rows).to_have_count(season.count())
    first = min(season.households, key=lambda h: (h.village, h.code))
    cells = rows.first.locator("th, td").all_inner_texts()
    assert cells[0] == f"{first.head} ({first.code})"
    assert cells[1:3] == [f"{first.lat:.5f}".replace(".", ","), f"{first.lon:.5f}".replace(".", ",")]
    # North is up: the most northern household has the smallest y.
    circles = page.locator("#households-map circle")
    ys = {circles.nth(i).locator("title").text_content(): float(circles.nth(i).get_attribute("cy"))
          for i in range(circles.count())}
    north = max(season.households, key=lambda h: h.lat)
    assert min(ys, key=ys.get).startswith(north.head)
    screenshot(page, "console-map")
    assert_clean(page, live)
    page.context.close()


def test_another_communes_supervisor_sees_none_of_it(world):
    live, season, browser = world
    page = open_console(browser, live, "khac", LAPTOP)
    page.goto(f"{live.url}/console/dashboard")
    expect(page.locator("#tiles dd").first).to_have_text("0")
    page.goto(f"{live.url}/console/dashboard?area={season.commune}")
    expect(page.locator(".notice.error")).to_contain_text("Không tìm thấy trong địa bàn của bạn")
    assert "Tổ dân phố" not in page.locator("main").inner_text()
    page.goto(f"{live.url}/console/map?area={season.commune}")
    expect(page.locator(".notice.error")).to_be_visible()
    expect(page.locator("circle")).to_have_count(0)
    page.goto(f"{live.url}/console/map")
    expect(page.locator("#map-counts")).to_contain_text("0 hộ trên bản đồ")
    page.context.close()
