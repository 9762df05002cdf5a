"""The renderer's other inputs in Chromium at a phone's size: GPS with its accuracy (and the
warning when it is poor, and what to do when there is no fix), a photo compressed on the phone,
last year's answers prefilled (without the ones that must not travel, and never coming back
once cleared), choice filters, dates checked against today(), read-only calculations and a
repeat inside a repeat. The form for the last ones is the synthetic form both engines are
compared on (tests/js/form_fixtures.py)."""

from __future__ import annotations

import importlib.util
import os
import struct
import zlib

import pytest
from playwright.sync_api import expect
from support.form_harness import ROOT, book, form_document, harness
from support.live import LiveServer, fresh_database


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("inputs")) as url:
        server = LiveServer(url, workers=1)
        server.cli("init")
        with server:
            yield server


def synthetic_form() -> dict:
    spec = importlib.util.spec_from_file_location("form_fixtures", ROOT / "tests" / "js" / "form_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SYNTHETIC_FORM


def png(width: int, height: int) -> bytes:
    """A camera-sized picture (a gradient), written by hand: no imaging library needed."""
    row = bytes((x * 255 // width) for x in range(width) for _ in range(3))
    raw = b"".join(b"\x00" + row for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def test_gps_accuracy_and_a_photo_compressed_on_the_phone(live):
    with harness(live) as h:
        page = h.page
        h.mount(definition=form_document(), answers={"area_type": "rural"})
        gps = page.locator('[data-field="location"]')
        page.evaluate("window.harness.position = {lat: 21.0285, lon: 105.8542, accuracy: 8.4, altitude: 12}")
        gps.get_by_role("button", name="Lấy vị trí GPS").click()
        expect(gps.locator(".rf-geo-coords")).to_have_text("21,02850, 105,85420")
        expect(gps.locator(".rf-geo-accuracy")).to_have_text("sai số ± 8 m")
        expect(gps.locator(".rf-geo-warning")).to_have_count(0)
        expect(gps.locator(".rf-geo-status")).to_have_text("21,02850, 105,85420sai số ± 8 m")
        assert h.value("lastAnswers.location") == {"lat": 21.0285, "lon": 105.8542, "accuracy": 8.4, "altitude": 12}

        # Under a roof the fix is poor: said plainly, with what to do.
        page.evaluate("window.harness.position = {lat: 21.03, lon: 105.85, accuracy: 120}")
        gps.get_by_role("button", name="Lấy lại vị trí").click()
        expect(gps.locator(".rf-geo-accuracy")).to_have_text("sai số ± 120 m")
        expect(gps.locator(".rf-geo-warning")).to_have_text(
            "Độ chính xác kém (quá 50 m). Ra chỗ thoáng rồi lấy lại vị trí.")
        page.evaluate("window.harness.position = {error: 'denied'}")
        gps.get_by_role("button", name="Lấy lại vị trí").click()
        expect(gps.locator(".rf-geo-problem")).to_contain_text("chưa được phép dùng vị trí")
        # The last fix is kept, and still shown with its accuracy.
        assert h.value("lastAnswers.location")["accuracy"] == 120
        expect(gps.locator(".rf-geo-accuracy")).to_have_text("sai số ± 120 m")

        photo = page.locator('[data-field="house_photo"]')
        picture = png(2400, 1600)
        photo.locator("input[type=file]").set_input_files(
            files=[{"name": "IMG_0001.png", "mimeType": "image/png", "buffer": picture}])
        expect(photo.locator(".rf-photo-thumb")).to_be_visible()
        expect(photo.locator(".rf-photo-status")).to_contain_text("Đã lưu ảnh trên máy")
        ref = h.value("lastAnswers.house_photo")
        assert ref.startswith("sha256:") and len(ref) == 71
        info = page.evaluate("ref => window.harness.imageInfo(ref)", ref)
        assert info["type"] == "image/jpeg"
        assert (info["width"], info["height"]) == (1280, 853)  # the longer side at 1280, proportions kept
        assert info["size"] < len(picture) / 4
        saved = h.value("saved")
        assert saved[-1]["field"] == "house_photo" and saved[-1]["type"] == "image/jpeg"
        assert saved[-1]["hex"] == ref.removeprefix("sha256:")
        h.screenshot("form-gps-photo-393.png")
        photo.get_by_role("button", name="Xóa ảnh").click()
        assert h.value("lastAnswers.house_photo") is None
        assert h.violations() == []
        assert h.foreign_requests() == []


def test_prefill_from_last_years_record(live):
    b = book()
    last_year = dict(b["base"], members=[dict(b["members"][m], member_id=f"m-2026-000{i}")
                                         for i, m in enumerate(b["base"]["members"])])
    # As pull delivers it: the ID numbers were withheld by the server (forms/prefill.py). Values
    # this version cannot take (a calculation, a field it does not have, a bad choice) stay behind.
    del last_year["head_cccd"]
    last_year.update(classification="poor", old_question="x", ethnicity="99")
    record = {"id": "c51d", "rev": 3, "form_id": "household-review", "form_version": "2027.1", "answers": last_year}
    with harness(live) as h:
        page = h.page
        h.mount(definition=form_document(), answers={"area_type": "rural"}, prefill=record)
        expect(page.get_by_label("Mã hộ")).to_have_value("MT-DONG-0001")
        expect(page.get_by_label("Họ và tên chủ hộ")).to_have_value("Nguyễn Văn An")
        expect(page.get_by_label("Số CCCD/định danh cá nhân của chủ hộ")).to_have_value("")
        expect(page.locator('[data-field="household_code"] .rf-prefilled')).to_have_text(
            "Lấy từ lần rà soát trước: kiểm tra lại với hộ.")
        expect(page.get_by_label("Dân tộc của chủ hộ")).to_have_value("")
        draft = h.value("lastAnswers")  # saved at once, as it now stands
        assert draft["area_type"] == "rural" and draft["household_code"] == "MT-DONG-0001"
        assert "classification" not in draft and "old_question" not in draft and "ethnicity" not in draft
        assert [m["member_id"] for m in draft["members"]] == ["m-2026-0000", "m-2026-0001", "m-2026-0002", "m-2026-0003"]
        # The enumerator clears an answer: it stays cleared, even when the draft is reopened.
        page.get_by_label("Địa chỉ (số nhà, thôn/ấp/bản/tổ dân phố)").fill("")
        draft = h.value("lastAnswers")
        assert draft["address"] is None
        h.mount(definition=form_document(), answers=draft, prefill=record)
        expect(page.get_by_label("Địa chỉ (số nhà, thôn/ấp/bản/tổ dân phố)")).to_have_value("")
        expect(page.get_by_label("Mã hộ")).to_have_value("MT-DONG-0001")
        h.screenshot("form-prefill-393.png")
        assert h.violations() == []


def test_choice_filters_dates_read_only_values_and_nested_repeats(live):
    with harness(live) as h:
        page = h.page
        h.mount(definition=synthetic_form(), answers={}, now="2026-10-01T09:00:00+07:00")
        province = page.locator('[data-field="province"]')
        # ${param:region} is "north": the southern city is not offered until allowed.
        expect(province.get_by_role("radio", name="Hà Nội")).to_be_visible()
        expect(province.get_by_role("radio", name="TP Hồ Chí Minh")).to_be_hidden()
        page.locator('[data-field="allow_south"]').get_by_role("radio", name="Có").check()
        expect(province.get_by_role("radio", name="TP Hồ Chí Minh")).to_be_visible()
        province.get_by_role("radio", name="Hà Nội").check()
        district = page.locator('[data-field="district"]')
        expect(district.get_by_role("radio", name="Hoàn Kiếm")).to_be_visible()
        expect(district.get_by_role("radio", name="Quận 1")).to_be_hidden()
        district.get_by_role("radio", name="Hoàn Kiếm").check()
        expect(page.locator('[data-field="code"] input')).to_have_value("01-002")
        expect(page.locator('[data-field="code"] input')).to_be_disabled()
        # The district no longer belongs to the province chosen: said beside it.
        province.get_by_role("radio", name="TP Hồ Chí Minh").check()
        expect(district.locator(".rf-error")).to_have_text("Lựa chọn này không dùng được ở đây, hãy chọn lại.")
        expect(district.get_by_role("radio", name="Hoàn Kiếm")).to_be_hidden()
        district.get_by_role("radio", name="Quận 1").check()
        expect(district.locator(".rf-error")).to_be_hidden()

        visit = page.locator('[data-field="visit_date"] input')
        visit.fill("2026-10-05")
        expect(page.locator('[data-field="visit_date"] .rf-error')).to_have_text("Ngày không được sau hôm nay")
        visit.fill("2026-09-30")
        expect(page.locator('[data-field="visit_date"] .rf-error')).to_be_hidden()
        page.locator('[data-field="visited_at"] input').fill("2026-09-30T08:15")
        assert h.value("lastAnswers.visited_at") == "2026-09-30T08:15:00+07:00"
        expect(page.locator('[data-field="intro"] .rf-note')).to_have_text("Ghi chú")
        page.locator('[data-field="has_farm"]').get_by_role("radio", name="Có").check()
        page.get_by_test_id("form-next").click()

        crops = page.locator('[data-field="crops"]')  # the group's page; maize is dry-season only here
        expect(crops.get_by_role("checkbox", name="Ngô")).to_be_visible()  # ... but the south grows it
        crops.get_by_role("checkbox", name="Lúa").check()
        crops.get_by_role("checkbox", name="Chè").check()
        page.get_by_test_id("form-next").click()
        expect(page.locator('[data-field="area"] .rf-error')).to_have_text("Nhập diện tích khi trồng nhiều loại")
        page.locator('[data-field="area"] input').fill("1,5")
        assert h.value("lastAnswers.area") == 1.5
        page.get_by_test_id("form-next").click()

        # A repeat inside a repeat: cards within a card's page.
        page.get_by_test_id("repeat-add").click()
        page.locator('[data-field="plots/0/plot_name"] input').fill("Bãi trên")
        # Numbers as people write them: letters are refused in plain words, dots group thousands.
        age = page.locator('[data-field="plots/0/owner_age"] input')
        age.fill("bốn mươi")
        age.blur()
        expect(page.locator('[data-field="plots/0/owner_age"] .rf-error')).to_have_text(
            "Chỉ nhập chữ số (ví dụ 1500000 hoặc 1.500.000).")
        assert "owner_age" not in h.value("lastAnswers.plots[0]") or h.value("lastAnswers.plots[0].owner_age") is None
        age.fill("1.040")
        expect(page.locator('[data-field="plots/0/owner_age"] .rf-preview')).to_be_hidden()
        assert h.value("lastAnswers.plots[0].owner_age") == 1040
        expect(page.locator('[data-field="plots/0/owner_age"] .rf-error')).to_be_hidden()
        age.fill("40")
        page.get_by_test_id("repeat-add").click()
        height = page.locator('[data-field="plots/0/trees/0/height"] input')
        height.fill("120")
        height.blur()
        expect(page.locator('[data-field="plots/0/trees/0/height"] .rf-error')).to_have_text("Câu trả lời chưa hợp lệ.")
        height.fill("4")
        expect(page.locator('[data-field="plots/0/trees/0/height"] .rf-error')).to_be_hidden()
        page.get_by_role("button", name="‹ Danh sách").click()
        expect(page.locator('[data-repeat="plots/0/trees"] [data-testid="member-card"]')).to_have_count(1)
        h.screenshot("form-nested-repeat-393.png")
        page.get_by_role("button", name="‹ Danh sách").click()
        assert h.value("lastAnswers.plots")[0]["trees"][0]["height"] == 4
        assert h.value("lastAnswers.plot_count") == 1  # the count follows the cards
        # This form classifies nothing: its result page says it is complete, and finishing hands
        # over what the server would store.
        page.get_by_test_id("form-next").click()
        expect(page.get_by_test_id("result-class")).to_have_text("Phiếu đã trả lời đầy đủ.")
        page.get_by_test_id("form-finish").click()
        page.wait_for_function("window.harness.finished !== null")
        finished = h.value("finished")
        assert finished["outputs"] == {"household_code": "79-760", "head_name": "79-760:1"}
        assert finished["answers"]["plots"][0]["tree_count"] == 1
        assert h.violations() == []
        assert h.foreign_requests() == []
