"""The console's main pages at a phone's width (393×851) and a laptop's (1280×800): each renders
in Vietnamese with nothing the CSP blocks, no request leaving the server and no sideways scroll,
and is saved as a screenshot under tests/e2e/screenshots/ (CI keeps them as artefacts); the
English switch is remembered; and the console's own JavaScript and CSS stay under 100 KB
compressed (every script and stylesheet the pages load, the vendored htmx included)."""

from __future__ import annotations

import gzip

import pytest
from playwright.sync_api import expect
from support.console_pages import LAPTOP, PHONE, assert_clean, chromium, open_console, screenshot, season_server

PAGES = {
    "supervisor": ("giamsat", ["/console/dashboard", "/console/map", "/console/season",
                               "/console/season/meetings", "/console/season/posting",
                               "/console/season/complaints", "/console/season/decision", "/console/reports",
                               "/console/exports", "/console/submissions"]),
    "admin": ("admin", ["/console/admin", "/console/admin/users", "/console/admin/areas?parent=01-00004",
                        "/console/admin/devices", "/console/admin/forms",
                        "/console/admin/forms/household-review/2022.1", "/console/admin/parameters",
                        "/console/admin/audit"]),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with season_server(tmp_path_factory.mktemp("console-pages")) as (live, season):
        with chromium() as browser:
            yield live, season, browser


@pytest.mark.parametrize("who", sorted(PAGES))
@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_the_main_pages_render_cleanly_at_phone_and_laptop_widths(world, who, viewport):
    live, season, browser = world
    username, paths = PAGES[who]
    page = open_console(browser, live, username, viewport)
    for path in paths:
        response = page.goto(f"{live.url}{path}")
        assert response.status == 200, path
        assert page.locator("html").get_attribute("lang") == "vi"
        assert page.locator("h1").count() == 1, path
        assert_clean(page, live)
        name = path.strip("/").replace("/", "-").split("?")[0]
        screenshot(page, name)
    page.context.close()


def test_english_is_remembered_across_the_pages(world):
    live, season, browser = world
    page = open_console(browser, live, "giamsat", LAPTOP)
    page.goto(f"{live.url}/console/season")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Review season")
    page.goto(f"{live.url}/console/dashboard")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("#classes > title")).to_have_text("Classification per area")
    page.goto(f"{live.url}/console/reports")
    expect(page.locator("#counting")).to_contain_text("Official figures")
    screenshot(page, "console-reports-en")
    page.get_by_role("link", name="Tiếng Việt").click()
    expect(page.locator("h1")).to_have_text("Báo cáo")
    page.context.close()


def test_the_consoles_own_scripts_and_styles_are_under_100_kb_compressed(world):
    live, season, browser = world
    page = open_console(browser, live, "admin", LAPTOP)
    assets: set[str] = set()
    page.on("request", lambda r: assets.add(r.url) if r.resource_type in ("script", "stylesheet") else None)
    for path in ("/console/dashboard", "/console/season/posting", "/console/admin/forms", "/console/submissions"):
        page.goto(f"{live.url}{path}")
    page.context.close()
    names = sorted(a.rsplit("/", 1)[-1] for a in assets)
    assert {"console.css", "console.js", "pages.css", "pages.js"} <= set(names), names
    sizes = {}
    for url in assets:
        response = live.request("GET", url.removeprefix(live.url))
        assert response.status == 200
        sizes[url.rsplit("/", 1)[-1]] = len(gzip.compress(response.body, 9))
    assert sum(sizes.values()) < 100 * 1024, sizes
