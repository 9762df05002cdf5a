"""The commune's season at the console (Decision 24/2021), in a real Chromium against gunicorn:
the village meeting's vote per household (under half agreeing sends the visit back, which the
API then shows), the posting list on screen and as a PDF and an XLSX with nothing but what is
posted, complaints received and settled, and the commune's decision, confirmed before it closes
the year, after which nothing more is recorded until an admin reopens it."""

from __future__ import annotations

import io

import openpyxl
import pytest
from playwright.sync_api import expect
from support.console_pages import (
    LAPTOP,
    PHONE,
    assert_clean,
    call,
    chromium,
    login,
    open_console,
    screenshot,
    season_server,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with season_server(tmp_path_factory.mktemp("console-season")) as (live, season):
        with chromium() as browser:
            yield live, season, browser


def test_the_village_meeting_records_each_vote_and_sends_a_rejected_household_back(world):
    live, season, browser = world
    village = f"{season.commune}-t01"
    poor = [h for h in season.households if h.village == village and h.classification == "poor"]
    page = open_console(browser, live, "giamsat", PHONE)
    page.get_by_role("link", name="Mùa rà soát").click()
    page.get_by_role("link", name="Họp dân").first.click()
    roll = page.locator("#meeting-roll > li")
    expect(roll).to_have_count(season.count(village))
    # The proposed poor come first.
    assert [roll.nth(i).locator("h2 .head").inner_text() for i in range(len(poor))] == \
        sorted((h.head for h in poor), key=lambda head: head.lower())

    agreed, refused = poor[0], poor[1]
    card = page.locator(f"#h-{agreed.id}")
    card.get_by_label("Số người dự").fill("40")
    card.get_by_label("Số người đồng ý").fill("20")  # exactly half: agreed
    card.get_by_role("button", name="Ghi kết quả").click()
    expect(page.locator(".notice.ok")).to_contain_text("hộ được đồng ý")
    expect(page.locator(f"#h-{agreed.id} .vote")).to_contain_text("20/40 đồng ý")

    card = page.locator(f"#h-{refused.id}")
    card.get_by_label("Số người dự").fill("30")
    card.get_by_label("Số người đồng ý").fill("31")  # more than present: refused by the service
    card.get_by_role("button", name="Ghi kết quả").click()
    expect(page.locator(f"#h-{refused.id} .notice.error")).to_be_visible()
    card = page.locator(f"#h-{refused.id}")
    card.get_by_label("Số người đồng ý").fill("14")
    card.get_by_role("button", name="Ghi kết quả").click()
    expect(page.locator(".notice.ok")).to_contain_text("trả về để rà soát lại")
    expect(page.locator(f"#h-{refused.id}")).to_contain_text("Yêu cầu sửa")
    token = login(live, "giamsat")
    detail = call(live, "GET", f"/api/v1/submissions/{refused.submission_id}", token)
    assert detail["review_state"] == "changes_requested"
    screenshot(page, "console-season-meetings")
    assert_clean(page, live)
    page.context.close()


def test_the_posting_list_shows_only_what_is_posted_on_screen_in_pdf_and_xlsx(world):
    live, season, browser = world
    village = f"{season.commune}-t01"
    proposed = [h for h in season.households if h.village == village and h.classification in ("poor", "near_poor")]
    page = open_console(browser, live, "giamsat", LAPTOP)
    page.goto(f"{live.url}/console/season/posting?village={village}&year={season.year}")
    rows = page.locator("#posting-table tbody tr")
    expect(rows).to_have_count(len(proposed))
    text = page.locator("main").inner_text()
    assert all(h.head in text for h in proposed)
    assert "0010860" not in text  # no ID numbers
    expect(page.locator(".posting-list")).to_contain_text("Tổng số: 3 hộ nghèo, 2 hộ cận nghèo.")
    expect(page.get_by_role("button", name="In trang này")).to_be_visible()  # shown once the script runs

    with page.expect_download() as info:
        page.get_by_role("link", name="Tải PDF để in").click()
    pdf = info.value
    assert pdf.suggested_filename == f"danh-sach-niem-yet-{village}-{season.year}.pdf"
    assert pdf.path().read_bytes()[:5] == b"%PDF-"
    with page.expect_download() as info:
        page.get_by_role("link", name="Tải Excel (XLSX)").click()
    sheet = openpyxl.load_workbook(io.BytesIO(info.value.path().read_bytes())).active
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert values[0] == ["STT", "Họ và tên chủ hộ", "Địa chỉ", "Thôn", "Đề nghị"]
    assert sorted(r[1] for r in values[1:]) == sorted(h.head for h in proposed)
    screenshot(page, "console-season-posting")
    assert_clean(page, live)
    page.context.close()


def test_a_complaint_is_received_then_settled_with_its_outcome(world):
    live, season, browser = world
    village = f"{season.commune}-t02"
    household = next(h for h in season.households if h.village == village and h.classification == "not_poor")
    page = open_console(browser, live, "giamsat", PHONE)
    page.goto(f"{live.url}/console/season/complaints?village={village}&year={season.year}")
    expect(page.locator("main")).to_contain_text("Chưa có khiếu nại.")
    page.locator("#household").select_option(household.id)
    page.locator("#text").fill("Hộ cho rằng thu nhập đã kê khai cao hơn thực tế.")
    page.get_by_role("button", name="Ghi khiếu nại").click()
    expect(page.locator(".notice.ok")).to_contain_text("Đã ghi khiếu nại")
    item = page.locator("#complaints > li")
    expect(item).to_have_count(1)
    expect(item).to_contain_text(household.head)
    expect(item).to_contain_text("Đang giải quyết")
    item.get_by_label("Kết quả").select_option("rejected")
    item.get_by_label("Cách giải quyết").fill("Đã xác minh lại thu nhập: đúng như phiếu.")
    item.get_by_role("button", name="Ghi kết quả giải quyết").click()
    expect(page.locator(".notice.ok")).to_contain_text("Đã ghi kết quả giải quyết")
    expect(page.locator("#complaints > li")).to_contain_text("Khiếu nại không đúng")
    token = login(live, "giamsat")
    complaints = call(live, "GET", f"/api/v1/complaints?area={village}", token)["items"]
    assert [(c["status"], c["outcome"]) for c in complaints] == [("resolved", "rejected")]
    screenshot(page, "console-season-complaints")
    assert_clean(page, live)
    page.context.close()


def test_the_commune_decision_is_confirmed_closes_the_year_and_an_admin_reopens_it(world):
    live, season, browser = world
    page = open_console(browser, live, "giamsat", LAPTOP)
    page.goto(f"{live.url}/console/season/decision?commune={season.commune}&year={season.year}")
    summary = page.locator("#year-summary")
    expect(summary).to_contain_text(str(season.count()))
    page.locator("#number").fill("123/QĐ-UBND")
    page.get_by_role("button", name="Ghi quyết định và khóa năm").click()
    confirm = page.locator("#confirm")
    expect(confirm).to_contain_text(f"Xác nhận khóa năm rà soát {season.year}")
    expect(confirm).to_contain_text("hồ sơ chưa duyệt")  # half the visits are not approved
    token = login(live, "giamsat")
    assert call(live, "GET", f"/api/v1/areas/{season.commune}/decisions", token)["items"] == []  # not yet
    screenshot(page, "console-season-decision-confirm")
    page.get_by_role("button", name=f"Tôi xác nhận: khóa năm {season.year}").click()
    expect(page.locator(".notice.ok")).to_contain_text("năm rà soát đã khóa")
    decisions = call(live, "GET", f"/api/v1/areas/{season.commune}/decisions", token)["items"]
    assert [(d["number"], d["year"], d["reopened_at"]) for d in decisions] == [("123/QĐ-UBND", season.year, None)]

    # The year is closed: the meeting page records nothing more, and neither does the API.
    page.goto(f"{live.url}/console/season/meetings?village={season.commune}-t02&year={season.year}")
    expect(page.locator(".notice.warn")).to_contain_text("đã được khóa")
    expect(page.get_by_role("button", name="Ghi kết quả")).to_have_count(0)
    household = next(h for h in season.households if h.village == f"{season.commune}-t02")
    refused = live.request("POST", f"/api/v1/households/{household.id}/meetings",
                           json_body={"year": season.year, "held_on": "2026-11-20", "present": 10, "agreeing": 9},
                           headers={"Authorization": f"Bearer {token}"})
    assert refused.status == 409 and refused.json()["code"] == "season.closed"
    assert_clean(page, live)
    page.context.close()

    admin = open_console(browser, live, "admin", PHONE)
    admin.goto(f"{live.url}/console/season/decision?commune={season.commune}&year={season.year}")
    admin.locator("#reason").fill("Sửa sai sót số liệu của tổ dân phố số 2")
    admin.get_by_role("button", name=f"Mở lại năm {season.year}").click()
    expect(admin.locator(".notice.ok")).to_contain_text("Đã mở lại năm rà soát")
    expect(admin.locator("main")).to_contain_text("Sửa sai sót số liệu")
    expect(admin.get_by_role("button", name="Ghi quyết định và khóa năm")).to_be_visible()
    assert_clean(admin, live)
    admin.context.close()
