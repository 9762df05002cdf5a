"""Logging in to the console: Vietnamese first with an English switch that is remembered, back to
the page asked for (and never to another site), wrong passwords counted by the same throttle as
the API's login (a lockout in one is a lockout in the other), the session's row in auth_sessions,
and the cookie marked Secure in production."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from support.console import (
    LAPTOP,
    PASSWORDS,
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

from server import create_app

LIMIT = 3  # failures of one username from one address before the lockout


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    env = {"RASOAT_LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS": str(LIMIT)}
    with console_server(tmp_path_factory.mktemp("login"), env=env) as world:
        yield world


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_vietnamese_first_english_remembered_and_back_to_the_page_asked_for(world, viewport):
    with browser() as b:
        page = new_page(b, world, viewport)
        page.goto(f"{world.url}/console/households")
        assert "/console/login?next=/console/households" in page.url
        assert page.locator("html").get_attribute("lang") == "vi"
        expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
        assert fits_the_screen(page)
        screenshot(page, f"console-login-{viewport[0]}")

        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
        page.goto(f"{world.url}/console/login")  # remembered without ?lang
        expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
        page.get_by_role("link", name="Tiếng Việt").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")

        page.goto(f"{world.url}/console/login?next=/console/households")
        page.get_by_label("Tên đăng nhập").fill("giamsat")
        page.get_by_label("Mật khẩu").fill(PASSWORDS["giamsat"])
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url("**/console/households")
        expect(page.get_by_role("heading", level=1)).to_have_text("Hộ gia đình")
        nav = page.get_by_role("navigation", name="Các trang")
        expect(nav.get_by_role("link", name="Hồ sơ")).to_be_visible()
        expect(nav.get_by_role("link", name="Quản trị")).to_have_count(0)  # a supervisor is no admin
        assert fits_the_screen(page)
        screenshot(page, f"console-households-{viewport[0]}")

        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("navigation", name="Pages").get_by_role("link", name="Submissions")).to_be_attached()
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("status")).to_have_text("You have logged out.")
        page.goto(f"{world.url}/console/submissions")
        assert "/console/login" in page.url
        assert violations(page) == [] and foreign_requests(page, world) == []


def test_next_never_leads_to_another_site(world):
    with browser() as b:
        page = new_page(b, world, LAPTOP)
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/api/v1/me"):
            log_in(page, world, "giamsat", target)
            assert page.url.startswith(f"{world.url}/console/"), (target, page.url)
            page.context.clear_cookies()
        assert foreign_requests(page, world) == []


def test_an_admin_sees_the_admin_pages_and_an_enumerator_is_sent_to_the_field_app(world):
    with browser() as b:
        page = new_page(b, world, LAPTOP)
        log_in(page, world, "admin")
        nav = page.get_by_role("navigation", name="Các trang")
        expect(nav.get_by_role("link", name="Quản trị")).to_be_visible()
        page.context.clear_cookies()
        page.goto(f"{world.url}/console/login")
        page.get_by_label("Tên đăng nhập").fill("rasoat1")
        page.get_by_label("Mật khẩu").fill(PASSWORDS["rasoat1"])
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Hãy dùng ứng dụng thực địa")
        expect(page.get_by_role("navigation", name="Các trang")).to_have_count(0)
        assert violations(page) == []


def test_wrong_passwords_share_the_apis_throttle(world):
    with browser() as b:
        page = new_page(b, world, LAPTOP)
        page.goto(f"{world.url}/console/login")
        for _ in range(LIMIT):
            page.get_by_label("Tên đăng nhập").fill("rasoat2")
            page.get_by_label("Mật khẩu").fill("not-the-password")
            page.get_by_role("button", name="Đăng nhập").click()
            expect(page.get_by_role("alert")).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")
            expect(page.get_by_label("Tên đăng nhập")).to_have_value("rasoat2")
        page.get_by_label("Mật khẩu").fill(PASSWORDS["rasoat2"])  # even the right password, now
        with page.expect_response("**/console/login") as answer:
            page.get_by_role("button", name="Đăng nhập").click()
        assert answer.value.status == 429
        expect(page.get_by_role("alert")).to_contain_text("Đăng nhập sai quá nhiều lần")
        assert violations(page) == []
    # The API's login, from the same address, counts the same failures.
    api = world.live.request("POST", "/api/v1/auth/login",
                             json_body={"username": "rasoat2", "password": PASSWORDS["rasoat2"]})
    assert api.status == 429 and int(api.headers["retry-after"]) > 0


def test_a_console_session_is_a_row_of_auth_sessions(world):
    with browser() as b:
        page = new_page(b, world, LAPTOP)
        log_in(page, world, "giamsat", "/console/submissions")
        page.get_by_role("button", name="Đăng xuất").click()
        expect(page.get_by_role("status")).to_have_text("Bạn đã đăng xuất.")
    engine = sa.create_engine(world.live.db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT s.device_id, s.revoked_reason FROM auth_sessions s JOIN users u ON u.id = s.user_id "
                "WHERE u.username = 'giamsat' AND s.device_id IS NULL")).all()
    finally:
        engine.dispose()
    assert rows and all(device is None for device, _ in rows)
    assert "logout" in [reason for _, reason in rows]


def test_the_cookie_is_secure_in_production(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite3'}", "ENV": "production",
                      "SECRET_KEY": "p" * 40, "JWT_KEYS": {"k": "j" * 40}, "JWT_ACTIVE_KID": "k"})
    with app.test_client() as client:
        response = client.get("/console/login")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("rasoat_console_pre=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_the_session_slides_and_an_expired_one_opens_nothing(world):
    """Expiry as the database says: a session used again gets its full time back (the cookie
    too); one whose time has run out sends the browser to the login page."""
    engine = sa.create_engine(world.live.db_url)

    def sessions_of(username: str, change: str | None = None) -> list:
        with engine.begin() as connection:
            where = ("FROM auth_sessions WHERE device_id IS NULL AND revoked_at IS NULL AND user_id = "
                     f"(SELECT id FROM users WHERE username = '{username}')")
            if change:
                connection.execute(sa.text(f"UPDATE auth_sessions SET expires_at = :at WHERE id IN (SELECT id {where})"),
                                   {"at": change})
            return [row[0] for row in connection.execute(sa.text(f"SELECT expires_at {where}"))]

    try:
        with browser() as b:
            page = new_page(b, world, LAPTOP)
            log_in(page, world, "giamsat2", "/console/submissions")  # nobody else's sessions
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            sessions_of("giamsat2", change=(now + dt.timedelta(hours=1)).isoformat(sep=" "))
            with page.expect_response("**/console/households") as answer:
                page.goto(f"{world.url}/console/households")
            assert "rasoat_console=" in (answer.value.header_value("set-cookie") or "")  # the cookie renewed
            [renewed] = sessions_of("giamsat2")
            renewed = renewed if isinstance(renewed, dt.datetime) else dt.datetime.fromisoformat(str(renewed))
            assert renewed.replace(tzinfo=None) > now + dt.timedelta(hours=7)

            sessions_of("giamsat2", change=(now - dt.timedelta(minutes=1)).isoformat(sep=" "))
            page.goto(f"{world.url}/console/households")
            assert "/console/login?next=/console/households" in page.url
    finally:
        engine.dispose()
