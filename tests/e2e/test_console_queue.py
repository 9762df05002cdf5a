"""The queue's bulk approval (a submission that changed meanwhile is reported, not approved, and
does not stop the others), a correction refused beside its field and then accepted as a new
revision, and a conflict resolved side by side, in Chromium against gunicorn."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from support.console import (
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
    visit,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with console_server(tmp_path_factory.mktemp("queue")) as world:
        yield world


def _row(page, name):
    return page.locator("table.queue tbody tr", has_text=name)


def test_bulk_approval_reports_each_item_and_refuses_a_stale_one(world):
    with browser() as b:
        page = new_page(b, world, LAPTOP)
        log_in(page, world, "giamsat", "/console/submissions")
        expect(page.locator("table.queue tbody tr")).to_have_count(4)
        _row(page, "Nguyễn Thị Hoà").get_by_role("checkbox").check()
        _row(page, "Trần Văn Bình").get_by_role("checkbox").check()
        expect(page.locator("[data-checked-count=item]")).to_have_text("2")

        # Meanwhile the enumerator's phone sends a new revision of one of them.
        fixed = world.pushed["Trần Văn Bình"]
        [result] = world.push([{**fixed, "rev": 2, "answers": {**fixed["answers"], "floor_area": 72}}])
        assert result["status"] == "accepted", result

        page.get_by_role("button", name="Duyệt các hồ sơ đã chọn").click()
        results = page.locator("#bulk-results")
        expect(results).to_contain_text("Đã duyệt 1/2 hồ sơ")
        expect(results.locator("li.ok")).to_have_count(1)
        expect(results.locator("li.stale")).to_contain_text("hồ sơ vừa thay đổi")
        expect(_row(page, "Nguyễn Thị Hoà")).to_contain_text("Đã duyệt")
        expect(_row(page, "Trần Văn Bình")).to_contain_text("Chờ duyệt")
        screenshot(page, "console-queue-bulk-1280")

        # Select-all ticks every row of the page.
        page.get_by_label("Chọn tất cả hồ sơ trên trang").check()
        expect(page.locator("[data-checked-count=item]")).to_have_text("4")
        assert violations(page) == [] and foreign_requests(page, world) == []


def test_a_correction_is_refused_beside_its_field_then_becomes_a_revision(world):
    name = "Lê Thị Hòa"
    with browser() as b:
        page = new_page(b, world, LAPTOP)
        log_in(page, world, "giamsat", "/console/submissions")
        _row(page, name).get_by_role("link", name=name).click()
        page.get_by_role("heading", name="Hiệu chỉnh câu trả lời").click()  # opens the <details>
        area = page.locator("#a-floor_area")
        area.fill("-5")
        page.get_by_label("Lý do hiệu chỉnh (bắt buộc)").fill("Đo lại diện tích tại nhà")
        page.get_by_role("button", name="Lưu hiệu chỉnh").click()
        row = page.locator("#row-floor_area")
        expect(row).to_have_class("row invalid")
        expect(row.locator(".field-error")).not_to_be_empty()
        expect(page.locator("#a-floor_area")).to_have_value("-5")  # what was typed is kept
        expect(page.locator("#notice")).to_contain_text("Hiệu chỉnh chưa được lưu")
        screenshot(page, "console-correction-422-1280")

        page.locator("#a-floor_area").fill("60")
        page.get_by_role("button", name="Lưu hiệu chỉnh").click()
        expect(page.locator("#notice")).to_contain_text("Đã lưu hiệu chỉnh")
        history = page.locator("#history")
        expect(history).to_contain_text("Hiệu chỉnh")
        expect(history).to_contain_text("Đo lại diện tích tại nhà")
        history.get_by_role("link", name="Xem thay đổi từ lần 1 sang lần 2").click()
        expect(page.locator("#diff td.after").first).to_have_text("60")
        assert violations(page) == [] and foreign_requests(page, world) == []


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_a_conflict_is_resolved_side_by_side(world, viewport):
    # Each run on a household of its own, both visits starting from its first revision.
    name, area = ("Phạm Văn Đức", 40) if viewport == LAPTOP else ("Nguyễn Thị Hoà", 41)
    [first] = world.push([visit(world, name, floor_area=area, latrine_type="none")], "rasoat1")
    [second] = world.push([visit(world, name, floor_area=area + 5, latrine_type="none")], "rasoat2")
    assert first["status"] == "accepted" and second.get("conflict_id"), (first, second)
    with browser() as b:
        page = new_page(b, world, viewport)
        log_in(page, world, "giamsat", f"/console/conflicts/{second['conflict_id']}")
        field = page.locator("fieldset.side").first
        expect(field).to_contain_text("Tổng diện tích ở (m²)")
        expect(field.locator(".choice").nth(0)).to_contain_text(str(area))
        expect(field.locator(".choice").nth(1)).to_contain_text(str(area + 5))
        assert fits_the_screen(page)
        screenshot(page, f"console-conflict-{viewport[0]}")
        page.get_by_role("button", name="Xử lý xung đột").click()  # nothing chosen
        expect(field.locator(".field-error")).to_have_text("Hãy chọn một giá trị.")
        field.locator("input[type=radio][value=value]").check()
        field.get_by_label("Giá trị khác").fill("43")
        page.get_by_label("Ghi chú (không bắt buộc)").fill("Đo lại tại nhà")
        page.get_by_role("button", name="Xử lý xung đột").click()
        expect(page.locator("#notice")).to_contain_text("Đã xử lý xung đột")
        page.get_by_role("link", name="Danh sách xung đột").click()
        expect(page.locator("#empty")).to_be_visible()
        household = world.live.request("GET", f"/api/v1/households/{world.pushed[name]['household_id']}",
                                       headers={"Authorization": f"Bearer {world.token('giamsat')}"}).json()
        assert household["answers"]["floor_area"] == 43
        assert violations(page) == [] and foreign_requests(page, world) == []
