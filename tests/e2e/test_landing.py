"""Opening the server in a browser: a Vietnamese landing page (not a JSON 404), an English switch
that is remembered, the demo accounts in demo mode, every asset from the server itself, nothing
blocked by the CSP, usable at a phone's width and a laptop's. Screenshots go to
``$RASOAT_SCREENSHOTS`` (default: the test's temporary folder) to be looked at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from support.live import LiveServer, fresh_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective));
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("landing")) as url:
        server = LiveServer(url, workers=1, env={"RASOAT_DEMO": "1"})
        server.cli("init")
        server.cli("demo")
        with server:
            yield server


@pytest.mark.parametrize("viewport", [(393, 851), (1280, 800)], ids=["phone", "laptop"])
def test_the_landing_page_speaks_vietnamese_first_and_remembers_english(live, tmp_path, viewport):
    shots = Path(os.environ.get("RASOAT_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.on("request", lambda request: requested.append(request.url))
            page.add_init_script(RECORD_VIOLATIONS)
            response = page.goto(f"{live.url}/")
            assert response.status == 200 and response.headers["content-type"].startswith("text/html")
            assert page.locator("html").get_attribute("lang") == "vi"
            assert page.locator("h1").inner_text().startswith("rasoat: rà soát hộ nghèo")
            assert page.get_by_role("link", name="Mở tài liệu API").get_attribute("href") == "/api/docs"
            assert page.get_by_role("link", name="Mở ứng dụng thực địa").get_attribute("href") == "/app/"
            assert page.get_by_role("link", name="Vào trang quản lý").get_attribute("href") == "/console/"
            demo = page.locator("section.demo tbody tr")
            assert demo.count() == 3 and "giamsat" in demo.nth(1).inner_text()
            # Nothing wider than the screen (a phone must not scroll sideways).
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
            page.screenshot(path=str(shots / f"landing-vi-{viewport[0]}.png"), full_page=True)

            page.get_by_role("link", name="English").click()
            page.wait_for_load_state()
            assert page.locator("html").get_attribute("lang") == "en"
            page.goto(f"{live.url}/")  # remembered without ?lang
            assert page.locator("h1").inner_text() == "rasoat: the household poverty review"
            page.screenshot(path=str(shots / f"landing-en-{viewport[0]}.png"), full_page=True)
            page.get_by_role("link", name="Tiếng Việt").click()
            page.wait_for_load_state()
            assert page.locator("html").get_attribute("lang") == "vi"
            # The console's door: not logged in, its login page, in the language just chosen.
            page.get_by_role("link", name="Vào trang quản lý").click()
            page.wait_for_load_state()
            assert page.url.startswith(f"{live.url}/console/login")
            assert page.locator("html").get_attribute("lang") == "vi"
            violations = page.evaluate("window.__cspViolations")
        finally:
            browser.close()
    assert [url for url in requested if not url.startswith(live.url)] == []
    assert violations == []
