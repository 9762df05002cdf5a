"""Reports (Báo cáo) and exports (Xuất dữ liệu) at the console, in a real Chromium against
gunicorn: the poverty summary on the page counts what was pushed (official: approved visits; the
preview: all), each report downloads as XLSX, CSV and JSON with the same figures as the API's,
the form's export takes the queue's filters, and another commune's supervisor gets none of it."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import openpyxl
import pytest
from playwright.sync_api import expect
from support.console_pages import LAPTOP, PHONE, assert_clean, call, chromium, login, open_console, screenshot, \
    season_server


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with season_server(tmp_path_factory.mktemp("console-reports")) as (live, season):
        with chromium() as browser:
            yield live, season, browser


def summary(page) -> dict[str, list[str]]:
    rows = page.locator("#poverty-summary tbody tr")
    return {rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").all_inner_texts()
            for i in range(rows.count())}


def download(page, link_name: str):
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name, exact=True).click()
    return info.value


def test_the_summary_counts_approved_visits_and_the_preview_counts_all(world):
    live, season, browser = world
    page = open_console(browser, live, "giamsat", LAPTOP)
    page.get_by_role("link", name="Báo cáo").click()
    expect(page.locator("#counting")).to_contain_text("Số liệu chính thức")
    official = summary(page)
    approved = [h for h in season.households if h.submission_id in season.approved]
    for village, name in zip(season.villages(), ("Tổ dân phố số 1", "Tổ dân phố số 2")):
        mine = [h for h in approved if h.village == village]
        poor = sum(h.classification == "poor" for h in mine)
        assert official[name][:3] == [str(len(mine)), str(poor),
                                      f"{100 * poor / len(mine):.1f}".replace(".", ",") + " %"]
    assert official["Tổng cộng"][0] == str(len(approved))

    page.get_by_label("Xem trước: tính cả hồ sơ chưa duyệt").check()
    page.get_by_role("button", name="Xem", exact=True).click()
    expect(page.locator("#counting")).to_contain_text("XEM TRƯỚC")
    preview = summary(page)
    assert preview["Tổng cộng"][:2] == [str(season.count()), str(season.count(classification="poor"))]
    screenshot(page, "console-reports")
    assert_clean(page, live)
    page.context.close()


def test_every_report_downloads_with_the_apis_figures(world):
    live, season, browser = world
    page = open_console(browser, live, "giamsat", PHONE)
    page.goto(f"{live.url}/console/reports?year={season.year}")
    token = login(live, "giamsat")
    api = call(live, "GET", f"/api/v1/reports/poverty?year={season.year}", token)

    xlsx = download(page, "Tổng hợp hộ nghèo, cận nghèo, mức sống trung bình – tải XLSX")
    assert xlsx.suggested_filename == f"rasoat-poverty-{season.commune}-{season.year}.xlsx"
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.path().read_bytes())).active.iter_rows(values_only=True))
    assert rows[0][0].startswith("Số liệu chính thức")
    total = next(r for r in rows if r[1] == "Tổng cộng")
    assert list(total[2:5]) == [api["total"]["households"], api["total"]["poor"], api["total"]["poor_rate"]]

    register = download(page, "Danh sách hộ được rà soát – tải CSV")
    text = register.path().read_bytes().decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    header = next(i for i, line in enumerate(lines) if line and line[0] == "STT")
    codes = {line[1] for line in lines[header + 1:] if line}
    assert codes == {h.code for h in season.households if h.submission_id in season.approved}

    deprivations = download(page, "Thiếu hụt dịch vụ xã hội cơ bản theo chỉ số – tải JSON")
    data = json.loads(deprivations.path().read_bytes())
    from_api = call(live, "GET", f"/api/v1/reports/deprivations?year={season.year}", token)
    assert data["rows"] == from_api["rows"] and data["total"] == from_api["total"]
    assert data["counts"] == "approved"
    # Each download is audited, as the API's are.
    audit = call(live, "GET", "/api/v1/audit?action=report.register", login(live, "admin"))["items"]
    assert [e["actor_username"] for e in audit] == ["giamsat"]
    assert_clean(page, live)
    page.context.close()


def test_the_export_takes_the_queues_filters(world):
    live, season, browser = world
    page = open_console(browser, live, "giamsat", LAPTOP)
    page.get_by_role("link", name="Xuất dữ liệu").click()
    page.locator("#status").select_option("approved")
    page.locator("#where").fill("member_count:ge:1")
    with page.expect_download() as info:
        page.get_by_role("button", name="Tải CSV (zip)").click()
    archive = zipfile.ZipFile(io.BytesIO(info.value.path().read_bytes()))
    names = archive.namelist()
    assert "household-review.csv" in names and any("members" in n for n in names), names
    main = list(csv.DictReader(io.StringIO(archive.read("household-review.csv").decode("utf-8-sig"))))
    assert sorted(r["KEY"] for r in main) == sorted(season.approved)
    assert {r["review_state"] for r in main} == {"approved"}

    # A condition on a field the form does not have is refused, naming it, on the page.
    page.goto(f"{live.url}/console/exports")
    page.locator("#where").fill("no_such_field:eq:1")
    page.get_by_role("button", name="Tải Excel (XLSX)").click()
    expect(page.locator(".notice.error")).to_contain_text("no_such_field")
    screenshot(page, "console-exports")
    assert_clean(page, live)
    page.context.close()


def test_another_communes_supervisor_downloads_nothing_of_this_one(world):
    live, season, browser = world
    page = open_console(browser, live, "khac", LAPTOP)
    response = page.goto(f"{live.url}/console/reports/register.csv?area={season.commune}&year={season.year}")
    assert response.status == 404
    page.goto(f"{live.url}/console/reports?area={season.commune}")
    expect(page.locator(".notice.error")).to_contain_text("Không tìm thấy trong địa bàn của bạn")
    response = page.goto(f"{live.url}/console/season/posting.pdf?village={season.commune}-t01&year={season.year}")
    assert response.status == 404
    page.goto(f"{live.url}/console/exports")
    page.locator("#status").select_option("approved")
    with page.expect_download() as info:
        page.get_by_role("button", name="Tải CSV (zip)").click()
    archive = zipfile.ZipFile(io.BytesIO(info.value.path().read_bytes()))
    assert archive.read("household-review.csv").decode("utf-8-sig").count("\n") == 1  # the header alone
    page.context.close()
