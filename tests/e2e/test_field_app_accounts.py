"""The field app's accounts on a phone (issue 9, "Accounts on the phone"), in chromium at a
phone's size against gunicorn: log in online once and choose a PIN; the shell is served by the
service worker, so a reload offline still opens (with the PIN); the data on the phone is
encrypted (no clear text in IndexedDB); two users of one phone never see each other's work;
logging out says what unsent work would be lost; a revoked phone wipes its user's data at its
next contact; the English switch is remembered; nothing leaves the host and the CSP blocks
nothing."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect
from support.field_app import ENUMERATOR, PIN, SUPERVISOR, VILLAGE, Phone, api, api_token
from support.live import LiveServer, fresh_database


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("field-accounts")) as url:
        server = LiveServer(url, workers=2, env={"RASOAT_DEMO": "1"})
        server.cli("init")
        server.cli("demo")
        server.cli("user", "create", "rasoat2", "--role", "enumerator", "--area", VILLAGE, "--password-stdin",
                   input="second-enumerator-2026\n")
        with server:
            yield server


def start_visit(phone: Phone) -> None:
    """A new household's draft (what a visit leaves on the phone once started)."""
    page = phone.page
    page.get_by_role("button", name="+ Hộ mới").click()
    page.get_by_test_id("start-visit").click()
    expect(page.locator(".form-root")).to_be_attached()
    page.locator(".bar-back").click()
    expect(page.locator("nav.tabs")).to_be_visible()


def test_login_pin_offline_unlock_and_nothing_in_clear(phone, live):
    page = phone.open()
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    phone.shot("field-login-393")
    # A wrong password says so, in Vietnamese.
    page.locator("input[name=username]").fill(ENUMERATOR[0])
    page.locator("input[name=password]").fill("not-the-password")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("alert")).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")

    page.locator("input[name=password]").fill(ENUMERATOR[1])
    page.get_by_role("button", name="Đăng nhập").click()
    # A PIN that is too easy is refused.
    page.locator("input[name=pin]").fill("111111")
    page.locator("input[name=pin-again]").fill("111111")
    phone.shot("field-pin-393")
    page.get_by_role("button", name="Lưu mã PIN").click()
    expect(page.get_by_role("alert")).to_contain_text("6 chữ số")
    page.locator("input[name=pin]").fill(PIN)
    page.locator("input[name=pin-again]").fill(PIN)
    page.get_by_role("button", name="Lưu mã PIN").click()
    expect(page.locator("nav.tabs")).to_be_visible(timeout=20000)
    phone.wait_synced()  # the first sync runs by itself: forms and areas come down
    expect(page.get_by_role("heading", name="Hộ gia đình")).to_be_visible()
    phone.shot("field-home-393")
    assert page.evaluate("document.documentElement.scrollWidth") <= 393

    # The service worker installed the whole shell and took the page.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=20000)

    # Encrypted at rest: records carry only their key, owner, IV and ciphertext; the form's
    # words and the user's tokens appear nowhere in what IndexedDB holds.
    records = phone.raw_records()
    assert records["forms"], "the forms were downloaded"
    for store in ("forms", "households", "drafts", "outbox", "files"):
        for record in records[store]:
            assert set(record) == {"key", "user", "iv", "data"}, (store, record.keys())
    text = phone.raw_text()
    assert "Phiếu rà soát" not in text and "household-review" not in text
    # No token in clear: the very tokens the session holds (a bare "eyJ" also turns up by chance
    # in half a megabyte of ciphertext, about one run in thirty).
    tokens = page.evaluate("[window.rasoatApp.session.client.accessToken,"
                           " window.rasoatApp.session.client.profile.refresh_token]")
    assert all(len(token) > 20 for token in tokens)
    assert "refresh_token" not in text and not any(token in text for token in tokens)
    assert not any(token.split(".")[1] in text for token in tokens if token.count(".") == 2)  # nor a JWT's claims

    # Offline, a reload opens from the service worker; the PIN unlocks; the forms are there.
    phone.offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="Mở khóa")).to_be_visible()
    phone.shot("field-unlock-393")
    phone.unlock("975310", expect_home=False)
    expect(page.get_by_role("alert")).to_have_text("Sai mã PIN (lần 1).")
    phone.unlock(PIN)
    page.get_by_role("button", name="+ Hộ mới").click()
    expect(page.locator("select[name=form] option")).not_to_have_count(0)
    expect(page.locator("select[name=area] option")).to_have_count(1)
    phone.shot("field-new-household-393")
    phone.offline(False)
    assert phone.violations() == []
    assert phone.foreign_requests() == []
    assert phone.errors == []


def test_two_users_on_one_phone_never_see_each_other(phone, live):
    page = phone.open()
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()
    start_visit(phone)
    assert phone.tab_count("drafts") == 1
    first_user = phone.user_id()
    device = phone.device_id()

    # The phone is registered to the first user: another login is refused until a supervisor
    # releases it, and says so.
    page.get_by_role("button", name="Thêm", exact=True).click()
    page.get_by_role("button", name="Khóa ứng dụng").click()
    page.get_by_role("button", name="Đăng nhập tài khoản khác").click()
    page.locator("input[name=username]").fill("rasoat2")
    page.locator("input[name=password]").fill("second-enumerator-2026")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("alert")).to_contain_text("đang đăng ký cho một người dùng khác")

    token = api_token(live, *SUPERVISOR)
    assert api(live, token, "POST", f"/api/v1/devices/{device}/release").status == 200
    page.get_by_role("button", name="Đăng nhập").click()
    page.locator("input[name=pin-again]").wait_for()
    page.locator("input[name=pin]").fill("135792")
    page.locator("input[name=pin-again]").fill("135792")
    page.get_by_role("button", name="Lưu mã PIN").click()
    expect(page.locator("nav.tabs")).to_be_visible(timeout=20000)
    assert phone.tab_count("drafts") == 0
    second_user = phone.user_id()
    assert second_user != first_user

    # Each user's records are theirs, under their own key: the first user's draft is there,
    # owned by them, and the second user's session reads none of it.
    drafts = phone.raw_records()["drafts"]
    assert [d["user"] for d in drafts] == [first_user]
    assert page.evaluate("window.rasoatApp.session.visits.drafts().then((d) => d.length)") == 0

    # Back to the first user: the unlock screen offers both; their draft is intact.
    page.get_by_role("button", name="Thêm", exact=True).click()
    page.get_by_role("button", name="Khóa ứng dụng").click()
    page.get_by_role("radio", name=ENUMERATOR[0]).click()
    phone.unlock(PIN)
    assert phone.tab_count("drafts") == 1
    phone.shot("field-second-user-393")

    # The phone is revoked and the second user (who holds it now) hears it at the next sync:
    # every account's data leaves the phone, the first user's unsent draft included (a revoked
    # phone is lost or retired; the first user may never unlock on it again).
    page.get_by_role("button", name="Thêm", exact=True).click()
    page.get_by_role("button", name="Khóa ứng dụng").click()
    page.get_by_role("radio", name="rasoat2").click()
    phone.unlock("135792")
    phone.wait_synced()  # the sync an unlock starts is over (a revoke meanwhile may wait on its locks)
    assert api(live, token, "POST", f"/api/v1/devices/{device}/revoke").status == 200
    page.get_by_role("button", name="Đồng bộ", exact=True).click()
    page.get_by_test_id("sync-now").click()
    expect(page.get_by_text("Máy này đã bị thu hồi")).to_be_visible(timeout=20000)
    records = phone.raw_records()
    assert all(records[store] == [] for store in ("forms", "households", "drafts", "outbox", "files")), records
    assert not [r for r in records["settings"] if r["key"].startswith("account:")]


def test_logout_says_what_unsent_work_would_be_lost(phone, live):
    page = phone.open()
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()
    start_visit(phone)
    user = phone.user_id()
    page.get_by_role("button", name="Thêm", exact=True).click()
    page.get_by_test_id("logout").click()
    expect(page.locator(".notice-warn")).to_contain_text("Còn 1 phiếu chưa gửi")
    phone.shot("field-logout-393")
    # Refusing the confirmation deletes nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_test_id("logout-delete").click()
    assert any(d["user"] == user for d in phone.raw_records()["drafts"])
    # Keep: the server session ends, the encrypted data stays for the next unlock.
    page.get_by_test_id("logout-keep").click()
    expect(page.get_by_role("heading", name="Mở khóa")).to_be_visible()
    assert any(d["user"] == user for d in phone.raw_records()["drafts"])
    phone.unlock(PIN)
    assert phone.tab_count("drafts") == 1
    # Delete, confirmed: nothing of the user is left on the phone.
    page.get_by_role("button", name="Thêm", exact=True).click()
    page.get_by_test_id("logout").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("logout-delete").click()
    expect(page.get_by_text("Đã đăng xuất và xóa dữ liệu")).to_be_visible()
    records = phone.raw_records()
    assert all(r["user"] != user for store in ("forms", "households", "drafts", "outbox", "files") for r in records[store])
    assert not [r for r in records["settings"] if user in r["key"]]


def test_a_revoked_phone_wipes_its_users_data_at_next_contact(phone, live):
    page = phone.open()
    phone.log_in(*ENUMERATOR)
    phone.wait_synced()
    start_visit(phone)
    user = phone.user_id()
    assert phone.raw_records()["drafts"]
    token = api_token(live, *SUPERVISOR)
    assert api(live, token, "POST", f"/api/v1/devices/{phone.device_id()}/revoke").status == 200

    page.get_by_role("button", name="Đồng bộ", exact=True).click()
    page.get_by_test_id("sync-now").click()
    expect(page.get_by_text("Máy này đã bị thu hồi")).to_be_visible(timeout=20000)
    phone.shot("field-revoked-393")
    records = phone.raw_records()
    assert all(r["user"] != user for store in ("forms", "households", "drafts", "outbox", "files") for r in records[store])
    assert not [r for r in records["settings"] if user in r["key"]]
    # The phone can no longer log in either.
    expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    page.locator("input[name=username]").fill(ENUMERATOR[0])
    page.locator("input[name=password]").fill(ENUMERATOR[1])
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("alert")).to_contain_text("Máy này đã bị thu hồi")


def test_english_is_remembered_and_the_install_help_is_there(phone, live):
    page = phone.open()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_role("button", name="Tiếng Việt").click()
    phone.log_in(*ENUMERATOR)
    page.get_by_role("button", name="Thêm", exact=True).click()
    expect(page.get_by_role("heading", name="Cài vào màn hình chính")).to_be_visible()
    expect(page.locator("#install ol li")).to_have_count(3)
    phone.shot("field-more-393")
    assert phone.violations() == []


@pytest.mark.parametrize("viewport", [(800, 1280), (1280, 800)], ids=["tablet", "laptop"])
def test_the_app_fits_a_tablet_and_a_laptop(browser, live, viewport):
    phone = Phone(browser, live.url, viewport={"width": viewport[0], "height": viewport[1]})
    try:
        page = phone.open()
        phone.log_in(*ENUMERATOR)
        phone.wait_synced()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
        phone.shot(f"field-home-{viewport[0]}")
        phone.sync_now()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
        phone.shot(f"field-sync-{viewport[0]}")
        assert phone.violations() == []
    finally:
        phone.close()
