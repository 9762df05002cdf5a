"""Driving the field app (``/app/``) in Debian's chromium at a phone's size, for the browser tests.

A "phone" is a fresh browser context (its own IndexedDB, service worker and device id).
Waits are Playwright's (``expect``, ``wait_for_function``), never fixed sleeps.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 393, "height": 851}
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));
"""
ENUMERATOR = ("rasoat1", "demo-enumerator-2026")
SUPERVISOR = ("giamsat", "demo-supervisor-2026")
VILLAGE = "01-00004-t01"
PIN = "246810"

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("RASOAT_SCREENSHOTS") or ROOT / "tests" / "e2e" / "screenshots")


def launch(playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


class Phone:
    """One phone: a browser context and its page, recording what leaves it and what the CSP blocks."""

    def __init__(self, browser: Browser, base_url: str, viewport: dict | None = None):
        self.base_url = base_url
        self.context: BrowserContext = browser.new_context(viewport=viewport or PHONE, service_workers="allow",
                                                           locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
        self.context.add_init_script(RECORD_VIOLATIONS)
        self.requested: list[str] = []
        self.errors: list[str] = []
        self.context.on("request", lambda request: self.requested.append(request.url))
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def close(self) -> None:
        self.context.close()

    def open(self) -> Page:
        self.page.goto(f"{self.base_url}/app/")
        return self.page

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def offline(self, value: bool = True) -> None:
        self.context.set_offline(value)

    # --- screens --------------------------------------------------------------------------------

    def log_in(self, username: str, password: str, pin: str = PIN) -> None:
        page = self.page
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(password)
        page.get_by_role("button", name="Đăng nhập").click()
        page.locator("input[name=pin]").wait_for()
        if page.locator("input[name=pin-again]").count():
            page.locator("input[name=pin]").fill(pin)
            page.locator("input[name=pin-again]").fill(pin)
            page.get_by_role("button", name="Lưu mã PIN").click()
        else:
            self.unlock(pin)
        expect(page.locator("nav.tabs")).to_be_visible(timeout=20000)

    def unlock(self, pin: str = PIN, *, expect_home: bool = True) -> None:
        page = self.page
        page.locator("input[name=pin]").fill(pin)
        page.get_by_role("button", name="Mở khóa").click()
        if expect_home:
            expect(page.locator("nav.tabs")).to_be_visible(timeout=20000)

    def wait_synced(self, timeout: float = 30000) -> None:
        """Until the engine is idle after at least one whole successful run."""
        self.page.wait_for_function(
            "() => { const s = window.rasoatApp.session; return s && !s.engine.running && s.client.profile.last_sync_at"
            " && !s.engine.lastError; }", timeout=timeout)

    def sync_now(self) -> None:
        """Open "Đồng bộ" (from wherever the app is) and tap "Đồng bộ ngay"; wait for the run to end."""
        if not self.page.get_by_test_id("sync-now").count():
            self.page.get_by_role("button", name="Đồng bộ", exact=True).click()
        self.page.get_by_test_id("sync-now").click()
        # The tap starts the run at once (engine.running is set before the handler returns).
        self.page.wait_for_function("() => !window.rasoatApp.session || !window.rasoatApp.session.engine.running",
                                    timeout=60000)
        expect(self.page.get_by_test_id("sync-now")).to_have_text("Đồng bộ ngay", timeout=30000)

    def tab(self, name: str) -> None:
        self.page.locator(f"nav.tabs [data-tab={name}]").click()

    def tab_count(self, name: str) -> int:
        return int(self.page.locator(f"nav.tabs [data-tab={name}] .tab-count").inner_text())

    # --- what the phone holds ------------------------------------------------------------------

    def raw_records(self) -> dict[str, list[dict[str, Any]]]:
        """Every IndexedDB record as stored (ciphertexts as byte counts), straight from the browser."""
        return self.page.evaluate("""() => new Promise((resolve, reject) => {
            const request = indexedDB.open('rasoat-field');
            request.onerror = () => reject(request.error);
            request.onsuccess = () => {
              const db = request.result;
              const names = Array.from(db.objectStoreNames);
              const tx = db.transaction(names, 'readonly');
              const out = {};
              for (const name of names) {
                const all = tx.objectStore(name).getAll();
                all.onsuccess = () => {
                  out[name] = all.result.map((r) => {
                    const copy = {};
                    for (const [k, v] of Object.entries(r)) {
                      copy[k] = (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) ? {bytes: v.byteLength} : v;
                    }
                    return copy;
                  });
                };
              }
              tx.oncomplete = () => { db.close(); resolve(out); };
            };
          })""")

    def raw_text(self) -> str:
        """Every byte IndexedDB holds for the app, decoded leniently: for "no clear text" checks."""
        return self.page.evaluate("""() => new Promise((resolve, reject) => {
            const request = indexedDB.open('rasoat-field');
            request.onerror = () => reject(request.error);
            request.onsuccess = () => {
              const db = request.result;
              const names = Array.from(db.objectStoreNames);
              const tx = db.transaction(names, 'readonly');
              const parts = [];
              const decoder = new TextDecoder('utf-8', {fatal: false});
              const walk = (v) => {
                if (v instanceof ArrayBuffer) parts.push(decoder.decode(v));
                else if (ArrayBuffer.isView(v)) parts.push(decoder.decode(v));
                else if (v && typeof v === 'object') Object.values(v).forEach(walk);
                else parts.push(String(v));
              };
              for (const name of names) {
                const all = tx.objectStore(name).getAll();
                all.onsuccess = () => all.result.forEach(walk);
              }
              tx.oncomplete = () => { db.close(); resolve(parts.join('\\n')); };
            };
          })""")

    def device_id(self) -> str:
        records = self.raw_records()["settings"]
        return next(r["value"] for r in records if r["key"] == "phone:device_id")

    def user_id(self) -> str:
        return self.page.evaluate("window.rasoatApp.session.vault.user")

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations || []")

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requested if not url.startswith(self.base_url)]


def api_token(live, username: str, password: str) -> str:
    answer = live.request("POST", "/api/v1/auth/login", json_body={"username": username, "password": password})
    assert answer.status == 200, answer.body
    return answer.json()["access_token"]


def api(live, token: str, method: str, path: str, body: Any = None, headers: dict | None = None):
    return live.request(method, path, json_body=body, headers={"Authorization": f"Bearer {token}", **(headers or {})})


# --- filling a household through the form renderer (js/form/) -----------------------------------

CASES = ROOT / "forms" / "bundled" / "cases" / "household-review-2027.v2.cases.json"
FORM_KEY = "household-review@2027.2"


def household(head_name: str, code: str, members: list[str] | None = None, **changes: Any) -> dict:
    """A valid household of the 2027.2 form from the worked cases' base, with its own names."""
    import json

    book = json.loads(CASES.read_text())
    answers = {k: v for k, v in book["base"].items() if k not in ("location", "head_cccd")}
    answers.update(head_name=head_name, household_code=code, **changes)
    names = members or answers["members"]
    answers["members"] = [dict(book["members"][m]) for m in names]
    answers["members"][0]["member_name"] = head_name
    answers["member_count"] = len(names)
    return answers


def fill_page(page: Page, values: dict) -> None:
    """Answer every visible question of the current page (or member) from ``values`` (by name).
    Answers can show or hide other questions, so the page is read again until nothing is left."""
    done: set[str] = set()
    for _ in range(5):
        paths = [p for p in page.locator(".rf-field[data-field]:visible").evaluate_all(
            "(els) => els.map((e) => e.dataset.field)") if p not in done]
        if not paths:
            return
        for path in paths:
            done.add(path)
            name = path.rsplit("/", 1)[-1]
            if values.get(name) is None:
                continue
            value = values[name]
            field = page.locator(f'.rf-field[data-field="{path}"]')
            kind = field.get_attribute("class") or ""
            if "rf-field-select_" in kind:
                if field.locator("select").count():
                    field.locator("select").select_option(str(value))
                else:
                    for v in value if isinstance(value, list) else [value]:
                        field.locator(f'input[value="{v}"]').check()
            elif "rf-field-text" in kind or "rf-field-integer" in kind or "rf-field-decimal" in kind:
                box = field.locator("input, textarea").first
                box.fill(str(value))
                box.dispatch_event("change")


def fill_household(page: Page, answers: dict, *, stop_after_members: int | None = None) -> None:
    """From a new visit's first page to the result page, as an enumerator would tap through."""
    members = answers.get("members", [])
    for _ in range(20):
        if page.get_by_test_id("form-finish").count():
            return
        fill_page(page, answers)
        if page.get_by_test_id("repeat-add").count() and page.get_by_test_id("member-card").count() < len(members):
            for index in range(page.get_by_test_id("member-card").count(), len(members)):
                page.get_by_test_id("repeat-add").click()
                expect(page.get_by_test_id("repeat-done")).to_be_visible()
                fill_page(page, members[index])
                page.get_by_test_id("repeat-done").click()
                expect(page.get_by_test_id("member-card")).to_have_count(index + 1)
                if stop_after_members is not None and index + 1 >= stop_after_members:
                    return
        title = page.locator(".rf-title").inner_text()
        page.get_by_test_id("form-next").click()
        expect(page.locator(".rf-title")).not_to_have_text(title)
    raise AssertionError("never reached the result page")
