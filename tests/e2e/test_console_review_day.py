"""A supervisor's day in the console, in a real Chromium against gunicorn: log in, filter the
queue, open a household, request changes with a comment; the enumerator's phone sends the fixed
revision through the API; a decision taken on the page read before it is refused as stale; the
supervisor sees the new revision and its diff, approves it, and downloads the commune report.
Nothing is blocked by the CSP and no request leaves the server."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from playwright.sync_api import expect
from support.console import (
    DEMO_COMMUNE,
    LAPTOP,
    PHONE,
    browser,
    console_server,
    fits_the_screen,
    foreign_requests,
    log_in,
    new_page,
    screenshot,
    violations,
)
from support.households import household_answers


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with console_server(tmp_path_factory.mktemp("review-day")) as world:
        yield world


def test_a_supervisors_day(world):
    name = "Phạm Văn Đức"
    pushed = world.pushed[name]
    with browser() as b:
        page = new_page(b, world, LAPTOP)
        log_in(page, world, "giamsat")
        page.get_by_role("navigation", name="Các trang").get_by_role("link", name="Hồ sơ").click()
        expect(page.get_by_role("heading", name="Hồ sơ rà soát")).to_be_visible()
        expect(page.locator("table.queue tbody tr")).to_have_count(4)

        # Search without diacritics, then narrow by an answer: floor area under 20 m².
        page.get_by_label("Tìm theo tên chủ hộ hoặc mã hộ").fill("pham van duc")
        # With JavaScript the filter replaces only the queue (htmx), and the address follows.
        with page.expect_request(lambda r: r.headers.get("hx-request") == "true"):
            page.get_by_role("button", name="Lọc", exact=True).click()
        expect(page.locator("table.queue tbody tr")).to_have_count(1)
        page.wait_for_url(re.compile(r"q=pham(\+|%20)van(\+|%20)duc"))
        page.get_by_label("Tìm theo tên chủ hộ hoặc mã hộ").fill("")
        page.get_by_label("Biểu mẫu").select_option("household-review")  # submits on change
        page.wait_for_url("**form_id=household-review**")
        page.locator("details.more > summary").click()
        page.get_by_label("Câu hỏi 1").select_option(label="Tổng diện tích ở (m²)")
        page.get_by_label("Phép so sánh 1").select_option("lt")
        page.locator("#wv1").fill("20")
        page.get_by_role("button", name="Lọc", exact=True).click()
        page.wait_for_url("**wf=floor_area**")
        rows = page.locator("table.queue tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(name)
        assert "where" not in page.url or "floor_area" in page.url
        screenshot(page, "console-queue-filtered-1280")

        # Open the household: laid out like the form, labels and choice labels, not codes.
        rows.first.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
        answers = page.locator("#answers")
        expect(answers).to_contain_text("Họ và tên chủ hộ")
        expect(answers).to_contain_text("Không có nhà tiêu")  # latrine_type "none", by its label
        expect(answers).to_contain_text("Thành viên 1.")
        expect(page.locator("#reason-sentence")).to_contain_text("Thu nhập bình quân")
        page.get_by_label("Ý kiến (bắt buộc khi yêu cầu sửa hoặc từ chối)").fill(
            "Diện tích nhà chưa đúng, nhờ đo lại.")
        page.get_by_role("button", name="Yêu cầu sửa").click()
        expect(page.locator("#notice")).to_contain_text("Đã gửi yêu cầu sửa")
        expect(page.locator("#review-state")).to_have_text("Yêu cầu sửa")
        page.get_by_label("Viết ý kiến").fill("Đã gọi điện cho rà soát viên.")
        page.get_by_role("button", name="Gửi ý kiến").click()
        expect(page.locator("#comments")).to_contain_text("Đã gọi điện cho rà soát viên.")

        # The enumerator's phone sends the fixed household (revision 2) while the page is open.
        [result] = world.push([{**pushed, "rev": 2, "answers": household_answers(
            "2022.2", head_name=name, area_type="urban", floor_area=18, latrine_type="none",
            household_code="BD-0004")}])
        assert result["status"] == "accepted", result

        # A decision on what the supervisor read before is refused, and the page shows the new one.
        page.get_by_role("button", name="Duyệt", exact=True).click()
        expect(page.locator("#notice")).to_contain_text("Hồ sơ vừa được thay đổi")
        expect(page.locator("#review-state")).to_have_text("Chờ duyệt")
        page.get_by_role("link", name="Xem thay đổi từ lần 1 sang lần 2").click()
        diff = page.locator("#diff")
        expect(diff).to_contain_text("Tổng diện tích ở (m²)")
        expect(diff.locator("td.before").first).to_have_text("12,50")
        expect(diff.locator("td.after").first).to_have_text("18")
        screenshot(page, "console-submission-diff-1280")
        page.get_by_role("button", name="Duyệt", exact=True).click()
        expect(page.locator("#notice")).to_contain_text("Đã duyệt hồ sơ")
        expect(page.locator("#review-state")).to_have_text("Đã duyệt")

        # The commune report, counting approved households: this one.
        page.get_by_role("navigation", name="Các trang").get_by_role("link", name="Báo cáo").click()
        with page.expect_download() as download:
            page.get_by_role("link", name="Tổng hợp hộ nghèo, cận nghèo, mức sống trung bình – tải XLSX").click()
        data = download.value.path().read_bytes()
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        cells = [str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row
                 if c is not None]
        assert any("Tổ dân phố số 1" in c for c in cells), cells[:40]
        assert DEMO_COMMUNE in " ".join(cells) or any("Ba Đình" in c for c in cells)

        assert violations(page) == []
        assert foreign_requests(page, world) == []


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_the_queue_and_a_household_fit_the_screen(world, viewport):
    with browser() as b:
        page = new_page(b, world, viewport)
        log_in(page, world, "giamsat", "/console/submissions")
        expect(page.locator("table.queue tbody tr").first).to_be_visible()
        assert fits_the_screen(page)
        screenshot(page, f"console-queue-{viewport[0]}")
        page.locator("table.queue tbody tr").first.get_by_role("link").first.click()
        expect(page.locator("#answers")).to_be_visible()
        assert fits_the_screen(page)
        screenshot(page, f"console-submission-{viewport[0]}")
        page.goto(f"{world.url}/console/login")  # logged in: straight on
        assert "/console/login" not in page.url
        screenshot(page, f"console-home-{viewport[0]}")
        assert violations(page) == []
        assert foreign_requests(page, world) == []


def test_the_console_works_without_javascript(world):
    """htmx only enhances: with JavaScript off, filtering, paging links and a comment are plain
    GETs and POSTs that load whole pages."""
    with browser() as b:
        context = b.new_context(viewport={"width": LAPTOP[0], "height": LAPTOP[1]}, java_script_enabled=False)
        page = context.new_page()
        log_in(page, world, "giamsat", "/console/submissions")
        page.get_by_label("Trạng thái").select_option("received")
        page.get_by_label("Tìm theo tên chủ hộ hoặc mã hộ").fill("le thi hoa")
        page.get_by_role("button", name="Lọc", exact=True).click()
        page.wait_for_url("**status=received**")
        rows = page.locator("table.queue tbody tr")
        expect(rows).to_have_count(1)
        rows.first.get_by_role("link", name="Lê Thị Hòa").click()
        page.get_by_label("Viết ý kiến").fill("Không cần JavaScript.")
        page.get_by_role("button", name="Gửi ý kiến").click()
        expect(page.locator("#notice")).to_have_text("Đã gửi ý kiến.")
        expect(page.locator("#comments")).to_contain_text("Không cần JavaScript.")
