"""A page for driving the field app's form renderer in Chromium (tests/e2e/test_field_app_form*.py).

The page (tests/e2e/pages/form_harness.{html,js}) is a test file, never a route of the app:
Playwright hands it to the browser at ``/form-harness/`` on the live server's origin, with the
Content-Security-Policy the app sends for ``/app/``, and everything it loads (the renderer's
modules, the styles, the message catalogues) comes from the live gunicorn under ``/app/``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "tests" / "e2e" / "pages"
BUNDLED = ROOT / "forms" / "bundled"
SCREENSHOTS = Path(os.environ.get("RASOAT_SCREENSHOTS") or ROOT / "tests" / "e2e" / "screenshots")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective));
"""
PHONE = {"width": 393, "height": 851}


def form_document(name: str = "household-review-2027.v2.json") -> dict:
    return json.loads((BUNDLED / name).read_text(encoding="utf-8"))


def book(name: str = "household-review-2027.v2.cases.json") -> dict:
    return json.loads((BUNDLED / "cases" / name).read_text(encoding="utf-8"))


class Harness:
    """One browser page with the harness loaded; ``mount`` puts a form on it."""

    def __init__(self, page: Page, base_url: str, requested: list[str]):
        self.page = page
        self.base_url = base_url
        self.requested = requested

    def mount(self, **config) -> None:
        self.page.evaluate("config => window.harness.mount(config)", config)
        self.page.locator(".rf-title").first.wait_for()

    def value(self, expression: str):
        return self.page.evaluate(f"() => window.harness.{expression}")

    def violations(self) -> list[str]:
        return self.page.evaluate("window.__cspViolations")

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requested if not url.startswith(self.base_url)]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _fulfil_harness(csp: str):
    def handler(route):
        name = route.request.url.split("/form-harness/", 1)[1].split("?")[0] or "form_harness.html"
        path = PAGES / name
        if not path.is_file() or path.parent != PAGES:
            route.fulfill(status=404, body="")
            return
        kind = "text/html" if path.suffix == ".html" else "text/javascript"
        route.fulfill(status=200, body=path.read_bytes(), headers={
            "Content-Type": f"{kind}; charset=utf-8", "Content-Security-Policy": csp, "Cache-Control": "no-store"})
    return handler


@contextlib.contextmanager
def harness(live, viewport: dict | None = None, *, cpu_throttling: float | None = None) -> Iterator[Harness]:
    """A Chromium page at a phone's size (default) with the harness loaded from ``live``."""
    response = live.request("GET", "/app/")
    assert response.status == 200, "the app's /app/ page must be served"
    csp = response.headers["content-security-policy"]
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=viewport or PHONE)
            page.on("request", lambda request: requested.append(request.url))
            page.add_init_script(RECORD_VIOLATIONS)
            page.route("**/form-harness/**", _fulfil_harness(csp))
            if cpu_throttling:
                session = page.context.new_cdp_session(page)
                session.send("Emulation.setCPUThrottlingRate", {"rate": cpu_throttling})
            page.goto(f"{live.url}/form-harness/form_harness.html")
            page.wait_for_function("window.harness !== undefined")
            yield Harness(page, live.url, requested)
        finally:
            browser.close()
