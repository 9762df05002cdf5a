"""Tự khóa (issue 9, item 3): after the chosen minutes without a touch the app locks itself, in
chromium at a phone's size against gunicorn. The key leaves memory, the PIN screen comes back,
and the form that was open had its draft saved. Time is moved by Playwright's clock (no sleeps);
the minutes are the phone's real setting, chosen in "Thêm" (the shortest choice: 1 minute).
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect, sync_playwright
from support.field_app import ENUMERATOR, FORM_KEY, Phone, launch
from support.live import LiveServer, fresh_database


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("field-lock")) as url:
        server = LiveServer(url, workers=2, env={"RASOAT_DEMO": "1"})
        server.cli("init")
        server.cli("demo")
        with server:
            yield server


@pytest.fixture()
def phone(live):
    with sync_playwright() as p:
        browser = launch(p)
        device = Phone(browser, live.url)
        try:
            yield device
        finally:
            device.close()
            browser.close()


def locked(phone: Phone) -> bool:
    return phone.page.evaluate("window.rasoatApp.session === null")


def test_the_app_locks_itself_when_idle_and_the_open_form_is_kept(phone):
    page = phone.page
    page.clock.install()  # Date and timers under the test's hand; time still flows meanwhile
    phone.open()
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()

    # "Thêm" → "Tự khóa sau": 5 minutes unless chosen; the shortest choice is 1 minute.
    page.get_by_role("button", name="Thêm").click()
    choice = page.get_by_label("Tự khóa sau")
    expect(choice).to_have_value("5")
    choice.select_option("1")
    phone.shot("field-more-autolock-393")
    page.locator(".bar-back").click()

    page.get_by_role("button", name="+ Hộ mới").click()
    page.locator("select[name=form]").select_option(FORM_KEY)
    page.get_by_test_id("start-visit").click()
    name = page.get_by_label("Họ và tên chủ hộ")
    name.fill("Mai Văn Tú")
    expect(page.get_by_test_id("saved")).to_contain_text("Đã lưu trên máy")

    # Touches keep it open: 40 s, a key, 40 s more is 80 s since the start, 40 s since the key.
    page.clock.fast_forward(40_000)
    name.press("End")
    page.clock.fast_forward(40_000)
    assert not locked(phone)
    expect(page.locator(".rf-title")).to_be_visible()

    # Typing, then a full minute untouched: locked.
    name.fill("Mai Văn Tuấn")
    page.clock.fast_forward(61_000)
    expect(page.get_by_role("heading", name="Mở khóa")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        "Ứng dụng đã tự khóa sau 1 phút không dùng. Phiếu đang làm vẫn còn trong Bản nháp.")
    assert locked(phone)
    assert page.evaluate("window.rasoatApp.formHandle === null && window.rasoatApp.leaveForm === null")
    expect(page.locator(".rf-title")).to_have_count(0)
    assert "Mai Văn" not in page.content()
    phone.shot("field-autolocked-393")

    # The PIN again: the draft is there with the last thing typed.
    phone.unlock()
    expect(page.locator("nav.tabs [data-tab=drafts]")).to_have_class("tab active")
    page.get_by_test_id("draft").click()
    expect(page.get_by_label("Họ và tên chủ hộ")).to_have_value("Mai Văn Tuấn")

    # The choice is the phone's, read at start: a reload keeps 1 minute, and the home screen
    # locks too.
    page.reload()
    phone.unlock()
    page.clock.fast_forward(30_000)
    assert not locked(phone)
    page.clock.fast_forward(31_000)
    expect(page.get_by_role("heading", name="Mở khóa")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Ứng dụng đã tự khóa sau 1 phút không dùng.")
    assert locked(phone)
    assert phone.violations() == []
    assert phone.foreign_requests() == []
    assert phone.errors == []
