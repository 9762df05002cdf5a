"""The API docs render in a real headless Chromium from the app's own assets (no internet), under
the app's Content-Security-Policy (no inline script or style allowed) without a violation."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import sync_playwright
from support.live import LiveServer, fresh_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("e2e")) as url:
        server = LiveServer(url, workers=1)
        server.cli("init")
        with server:
            yield server


# Collects what the CSP blocked, before any of the page's own scripts run.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def test_swagger_ui_renders_offline(live):
    requested: list[str] = []
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.add_init_script(RECORD_VIOLATIONS)
            response = page.goto(f"{live.url}/api/docs")
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
            page.wait_for_selector('[data-path="/api/v1/sync/push"]', timeout=20_000)
            assert "rasoat" in page.title() or page.locator("h2.title").inner_text().startswith("rasoat")
            assert page.locator(".opblock").count() >= 20
            # Open an operation: its schema and example render too (more of Swagger UI's code).
            page.locator('[data-path="/api/v1/sync/push"]').first.click()
            page.wait_for_selector(".opblock.is-open .parameters-container, .opblock.is-open .opblock-section",
                                   timeout=10_000)
            violations = page.evaluate("window.__cspViolations")
        finally:
            browser.close()
    outside = [url for url in requested if not url.startswith(live.url) and not url.startswith("data:")]
    assert outside == [], outside
    assert violations == [], violations
    refused = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
    assert refused == [], refused
