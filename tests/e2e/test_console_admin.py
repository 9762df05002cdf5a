"""An admin at the console, in a real Chromium against gunicorn: an XLSForm with one mistake is
refused with the mistake named by sheet and row, the corrected workbook becomes a draft that is
previewed page by page and published after a confirmation; users, villages (CSV import with its
row errors), devices, province parameters and the audit log, each through its page."""

from __future__ import annotations

import io
import json
import re

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
    with season_server(tmp_path_factory.mktemp("console-admin")) as (live, season):
        with chromium() as browser:
            yield live, season, browser


def xlsform(constraint: str) -> bytes:
    book = openpyxl.Workbook()
    survey = book.active
    survey.title = "survey"
    for row in (["type", "name", "label::Tiếng Việt (vi)", "label::English (en)", "required", "constraint"],
                ["begin_group", "nha", "Nhà ở", "Housing", "", ""],
                ["integer", "so_phong", "Số phòng ở", "Rooms", "yes", constraint],
                ["select_one cn", "mai_nha", "Mái nhà bền chắc?", "Durable roof?", "yes", ""],
                ["end_group", "", "", "", "", ""]):
        survey.append(row)
    choices = book.create_sheet("choices")
    for row in (["list_name", "name", "label::Tiếng Việt (vi)", "label::English (en)"],
                ["cn", "co", "Có", "Yes"], ["cn", "khong", "Không", "No"]):
        choices.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "form_title", "default_language"])
    settings.append(["khao-sat-nha", "2026.1", "Khảo sát nhà ở", "vi"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(page, data: bytes, name: str = "nha.xlsx") -> None:
    page.locator("#file").set_input_files({"name": name, "mimeType": "application/vnd.openxmlformats-officedocument."
                                                                       "spreadsheetml.sheet", "buffer": data})
    page.get_by_role("button", name="Tải lên", exact=True).click()
    page.wait_for_load_state()


def test_an_xlsform_with_one_mistake_is_shown_by_sheet_and_row_then_fixed_and_published(world):
    live, season, browser = world
    page = open_console(browser, live, "admin", LAPTOP)
    page.get_by_role("link", name="Quản trị").click()
    page.get_by_role("link", name="Biểu mẫu").first.click()
    expect(page.locator("h1")).to_have_text("Biểu mẫu")
    # A constraint that does not parse, on the survey sheet's row 3.
    upload(page, xlsform(". >= 1 and and . <= 20"))
    problems = page.locator("#form-problems tbody tr")
    expect(problems).to_have_count(1)
    cells = problems.first.locator("th, td").all_inner_texts()
    assert cells[:3] == ["survey", "3", "constraint"], cells
    assert "khao-sat-nha" not in page.locator("main").inner_text()  # nothing was saved
    screenshot(page, "console-admin-form-error")
    assert_clean(page, live)

    upload(page, xlsform(". >= 1 and . <= 20"))
    expect(page.locator(".notice.ok")).to_contain_text("Đã tạo bản nháp")
    expect(page.locator("#state")).to_have_text("Bản nháp")
    preview = page.locator("#preview")
    expect(preview.locator("h3").first).to_have_text("1. Nhà ở")
    expect(preview).to_contain_text("Số phòng ở")
    expect(preview).to_contain_text("Lựa chọn: Có; Không")

    page.get_by_role("button", name="Ban hành", exact=True).click()
    expect(page.locator("#confirm")).to_contain_text("Ban hành khao-sat-nha phiên bản 2026.1?")
    token = login(live, "admin")
    versions = call(live, "GET", "/api/v1/forms", token)["items"]
    assert [v["state"] for f in versions if f["form_id"] == "khao-sat-nha" for v in f["versions"]] == ["draft"]
    page.get_by_role("button", name="Tôi xác nhận: ban hành").click()
    expect(page.locator("#state")).to_have_text("Đã ban hành")
    versions = call(live, "GET", "/api/v1/forms", token)["items"]
    assert [v["state"] for f in versions if f["form_id"] == "khao-sat-nha" for v in f["versions"]] == ["published"]
    screenshot(page, "console-admin-form-published")

    # Closing needs the version named, as the API's confirm does.
    page.locator("#confirm-input").fill("khao-sat-nha/2026.0")
    page.get_by_role("button", name="Đóng phiên bản").click()
    expect(page.locator("#state")).to_have_text("Đã ban hành")
    expect(page.locator(".notice.error")).to_be_visible()
    page.locator("#confirm-input").fill("khao-sat-nha/2026.1")
    page.locator("#close-reason").fill("Thử nghiệm xong")
    page.get_by_role("button", name="Đóng phiên bản").click()
    expect(page.locator("#state")).to_have_text("Đã đóng")
    assert_clean(page, live)
    page.context.close()


def test_the_audit_log_shows_the_publication_and_filters_by_action(world):
    live, season, browser = world
    page = open_console(browser, live, "admin", LAPTOP)
    page.goto(f"{live.url}/console/admin/audit?action=form.")
    rows = page.locator("#audit tbody tr")
    actions = [a.strip() for a in rows.locator("td:nth-child(3)").all_inner_texts()]
    assert actions[:3] == ["form.close", "form.publish", "form.create"], actions  # newest first
    page.goto(f"{live.url}/console/admin/audit?action=form.publish")
    expect(page.locator("#audit tbody tr")).to_have_count(1)
    expect(page.locator("#audit tbody tr")).to_contain_text("khao-sat-nha")
    page.context.close()


def test_users_are_created_with_a_role_and_area_and_deactivated(world):
    live, season, browser = world
    page = open_console(browser, live, "admin", PHONE)
    page.goto(f"{live.url}/console/admin/users")
    page.locator("#username").fill("rasoat3")
    page.locator("#display_name").fill("Lò Văn Ba")
    page.locator("#role").select_option("enumerator")
    page.locator("#password").fill("mat-khau-dai-2026")
    page.locator("#areas").fill("01-00004-zz")  # no such village
    page.get_by_role("button", name="Tạo người dùng").last.click()
    expect(page.locator(".notice.error")).to_contain_text("Không có địa bàn với mã này")
    page.locator("#password").fill("mat-khau-dai-2026")
    page.locator("#areas").fill(f"{season.commune}-t01")
    page.get_by_role("button", name="Tạo người dùng").last.click()
    expect(page.locator(".notice.ok")).to_contain_text("Đã tạo người dùng")
    # The account works on the API...
    assert live.request("POST", "/api/v1/auth/login", json_body={"username": "rasoat3", "password":
                                                                 "mat-khau-dai-2026"}).status == 200
    page.get_by_role("button", name="Khóa tài khoản").click()
    expect(page.locator(".notice.ok")).to_contain_text("Đã khóa tài khoản")
    expect(page.locator("main .tag").first).to_have_text("Đã khóa")
    # ... and no longer once deactivated.
    assert live.request("POST", "/api/v1/auth/login", json_body={"username": "rasoat3", "password":
                                                                 "mat-khau-dai-2026"}).status == 401
    screenshot(page, "console-admin-user")
    assert_clean(page, live)
    page.context.close()


def test_a_village_csv_with_a_bad_row_is_refused_row_by_row_then_imported(world):
    live, season, browser = world
    page = open_console(browser, live, "admin", LAPTOP)
    page.goto(f"{live.url}/console/admin/areas?parent={season.commune}")
    bad = "parent,code,name\n01-00004,t03,Tổ dân phố số 3\n01-00004,T 4,=cmd\n"
    page.locator("#file").set_input_files({"name": "thon.csv", "mimeType": "text/csv", "buffer": bad.encode()})
    page.get_by_role("button", name="Nhập", exact=True).click()
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(2)
    assert [errors.nth(i).locator("td").all_inner_texts()[:2] for i in range(2)] == [["3", "code"], ["3", "name"]]
    expect(page.locator("#areas")).not_to_contain_text("Tổ dân phố số 3")  # all or nothing
    good = "parent,code,name\n01-00004,t03,Tổ dân phố số 3\n01-00004,t04,Tổ dân phố số 4\n"
    page.locator("#file").set_input_files({"name": "thon.csv", "mimeType": "text/csv", "buffer": good.encode()})
    page.get_by_role("button", name="Nhập", exact=True).click()
    expect(page.locator(".notice.ok")).to_contain_text("Đã nhập danh sách thôn")
    expect(page.locator("#areas")).to_contain_text("Tổ dân phố số 4")
    # The commune's rural/urban periods: a phường is urban since the 2025 reorganisation.
    expect(page.locator("#periods tbody tr")).to_have_count(1)
    expect(page.locator("#periods")).to_contain_text("Thành thị")
    assert_clean(page, live)
    page.context.close()


def test_a_lost_phone_is_revoked_after_a_confirmation(world):
    live, season, browser = world
    page = open_console(browser, live, "admin", PHONE)
    page.goto(f"{live.url}/console/admin/devices")
    card = page.locator("#devices li").filter(has_text="phone-rasoat2")
    expect(card).to_contain_text("Đang dùng")
    card.get_by_role("button", name="Thu hồi").click()
    expect(page.locator("#confirm")).to_contain_text("Thu hồi thiết bị phone-rasoat2?")
    token = login(live, "rasoat2", "phone-rasoat2")  # still works before the confirmation
    page.get_by_role("button", name="Tôi xác nhận: thu hồi").click()
    expect(page.locator(".notice.ok")).to_contain_text("Đã thu hồi thiết bị")
    expect(page.locator("#devices li").filter(has_text="phone-rasoat2")).to_contain_text("Đã thu hồi")
    assert live.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status == 401
    assert_clean(page, live)
    page.context.close()


def test_a_province_overrides_a_parameter_and_keeps_its_history(world):
    live, season, browser = world
    page = open_console(browser, live, "admin", LAPTOP)
    page.goto(f"{live.url}/console/admin/parameters?pick=household-review|2022.1&province=01")
    page.locator("#p-income_line_urban").fill("abc")
    page.locator("#reason").fill("Thử")
    page.get_by_role("button", name="Lưu thành lần sửa đổi mới").click()
    expect(page.locator(".notice.error")).to_be_visible()
    page.locator("#p-income_line_urban").fill("2100000")
    page.locator("#reason").fill("Nghị quyết HĐND thành phố về chuẩn nghèo riêng")
    page.get_by_role("button", name="Lưu thành lần sửa đổi mới").click()
    expect(page.locator(".notice.ok")).to_contain_text("Đã lưu tham số")
    row = page.locator("#parameters tbody tr").filter(has_text="income_line_urban")
    expect(row.locator("td").nth(1)).to_have_text("2.100.000")
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text("income_line_urban = 2100000")
    token = login(live, "admin")
    effective = call(live, "GET", "/api/v1/forms/household-review/versions/2022.1/parameters?province=01", token)
    assert effective["effective"]["income_line_urban"] == 2100000
    assert json.dumps(effective["overrides"][-1]["reason"], ensure_ascii=False).strip('"').startswith("Nghị quyết")
    assert re.search(r"\d", page.locator("#history").inner_text())
    assert_clean(page, live)
    page.context.close()
