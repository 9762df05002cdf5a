"""A new release of the field app arriving while a household is being filled (issue 9: "a
service-worker update mid-survey has made forms unusable offline"; "app updates are applied only
between households").

The shell is served from a copy of server/field_app (RASOAT_FIELD_APP_DIR); mid-form, a file of
the copy changes, as when a new release is deployed. The browser installs the new service worker,
which waits: the open form keeps working (offline too) with the code it started with, and the
page does not reload. Once the enumerator leaves the form, the app offers the update; after it,
the draft is intact and the new version serves the app."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from support.field_app import ENUMERATOR, FORM_KEY, Phone, fill_page, household, launch
from support.live import LiveServer, fresh_database

SHELL = Path(__file__).resolve().parents[2] / "server" / "field_app"
WORKER_VERSION = """() => new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => resolve(event.data.version);
    navigator.serviceWorker.controller.postMessage({type: 'version'}, [channel.port2]);
})"""


@pytest.fixture()
def shell_copy(tmp_path) -> Path:
    copy = tmp_path / "field_app"
    shutil.copytree(SHELL, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return copy


@pytest.fixture()
def live(tmp_path, shell_copy):
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), tmp_path) as url:
        server = LiveServer(url, workers=2, env={"RASOAT_DEMO": "1", "RASOAT_FIELD_APP_DIR": str(shell_copy)})
        server.cli("init")
        server.cli("demo")
        with server:
            yield server


def test_an_update_arriving_mid_form_waits_for_the_household_to_end(live, shell_copy):
    with sync_playwright() as p:
        browser = launch(p)
        phone = Phone(browser, live.url)
        try:
            page = phone.open()
            phone.log_in(*ENUMERATOR)
            phone.wait_synced()
            page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=20000)
            old_version = page.evaluate(WORKER_VERSION)
            assert old_version == live.request("GET", "/app/version.json").json()["version"]

            # A household under way.
            answers = household("Trần Văn Dũng", "MT-0401", ["head_m40"], area_type="urban")
            page.get_by_role("button", name="+ Hộ mới").click()
            page.locator("select[name=form]").select_option(FORM_KEY)
            page.get_by_test_id("start-visit").click()
            expect(page.locator(".rf-title")).to_be_visible()
            fill_page(page, {k: v for k, v in answers.items() if k != "address"})
            expect(page.get_by_test_id("saved")).to_contain_text("Đã lưu trên máy")
            page.evaluate("window.__samePage = true")

            # A new release is deployed; the browser finds it (as it does on its own at navigation
            # and every 24 hours; here asked at once).
            css = shell_copy / "css" / "app.css"
            css.write_text(css.read_text() + "\n/* release 2 */\n")
            new_version = live.request("GET", "/app/version.json").json()["version"]
            assert new_version != old_version
            page.evaluate("window.rasoatApp.updates.registration.update()")
            page.wait_for_function("() => window.rasoatApp.updates.waiting === true", timeout=30000)

            # Mid-form: nothing changes under the enumerator's fingers, offline included.
            assert page.evaluate("window.__samePage") is True
            assert page.evaluate(WORKER_VERSION) == old_version
            expect(page.locator(".banner-update")).to_have_count(0)
            phone.offline(True)
            page.get_by_label("Địa chỉ", exact=False).fill("Số 7, ngõ 3, tổ 2")
            page.get_by_label("Địa chỉ", exact=False).dispatch_event("change")
            page.get_by_test_id("form-next").click()
            expect(page.locator(".rf-title")).to_have_text("Danh sách thành viên hộ")
            expect(page.get_by_test_id("saved")).to_contain_text("Đã lưu trên máy")
            phone.shot("field-update-mid-form-393")
            assert page.evaluate("window.__samePage") is True

            # Between households: the update is offered, and taken.
            page.locator(".bar-back").click()
            expect(page.locator(".banner-update")).to_be_visible()
            phone.shot("field-update-offered-393")
            page.get_by_role("button", name="Cập nhật ngay").click()
            expect(page.get_by_role("heading", name="Mở khóa")).to_be_visible(timeout=20000)
            assert page.evaluate("window.__samePage === undefined")
            assert page.evaluate(WORKER_VERSION) == new_version
            caches = page.evaluate("caches.keys()")
            assert caches == [f"rasoat-shell-{new_version}"]

            # The draft came through whole, still offline.
            phone.unlock()
            assert phone.tab_count("drafts") == 1
            phone.tab("drafts")
            page.get_by_test_id("draft").click()
            expect(page.get_by_label("Họ và tên chủ hộ")).to_have_value("Trần Văn Dũng")
            expect(page.get_by_label("Địa chỉ", exact=False)).to_have_value("Số 7, ngõ 3, tổ 2")
            assert phone.violations() == []
            assert phone.errors == []
        finally:
            phone.close()
            browser.close()
