"""The API docs render in a real headless Chromium from the app's own assets (no internet)."""

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


def test_swagger_ui_renders_offline(live):
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"{live.url}/api/docs")
            page.wait_for_selector('[data-path="/api/v1/sync/push"]', timeout=20_000)
            assert "rasoat" in page.title() or page.locator("h2.title").inner_text().startswith("rasoat")
            assert page.locator(".opblock").count() >= 20
        finally:
            browser.close()
    outside = [url for url in requested if not url.startswith(live.url) and not url.startswith("data:")]
    assert outside == [], outside
