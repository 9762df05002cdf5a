"""axe-core (vendored from npm, tests/e2e/vendor/) finds no serious or critical accessibility
violation on any console page: the test walks the console as an admin and as a supervisor,
following every link of the navigation and of the pages it reaches (so the other helper's pages
and any page added later are checked too), plus the login page and an error page.

axe is evaluated in the page through the DevTools protocol, which the page's CSP does not
govern; the CSP is left on, and the test also asserts that no page broke it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.console_pages import LAPTOP, PHONE, assert_clean, chromium, open_console, season_server

AXE = (Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js").read_text(encoding="utf-8")
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}
# Links that are not pages to check: files, leaving the console, changing state.
SKIP_SUFFIXES = (".pdf", ".xlsx", ".csv", ".json", ".js", ".css", ".png", ".svg")
MAX_PAGES = 60
# One page per kind: /console/submissions/<id> stands for every submission.
ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with season_server(tmp_path_factory.mktemp("console-axe")) as (live, season):
        with chromium() as browser:
            yield live, season, browser


def serious_violations(page) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE + "\n;true")
    result = page.evaluate("(rules) => axe.run(document, rules)", RULES)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def links(page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all(
        "a[href]:not([download])", "els => els.map(e => e.href)")
    out = []
    for href in hrefs:
        parts = urlsplit(href)
        if not href.startswith(base + "/console") or parts.path.endswith(SKIP_SUFFIXES):
            continue
        if "lang=" in parts.query or "cursor=" in parts.query or parts.path.endswith("/logout"):
            continue
        out.append(href.split("#")[0])
    return out


def walk(page, live) -> dict[str, list[str]]:
    """Every console page reachable by links from the front door (each path once, with the first
    query string found for it), and the serious violations found on each."""
    found: dict[str, list[str]] = {}
    queue = [f"{live.url}/console/"]
    seen_paths: set[str] = set()
    while queue and len(found) < MAX_PAGES:
        url = queue.pop(0)
        path = ID.sub("/<id>", urlsplit(url).path)
        if path in seen_paths:
            continue
        seen_paths.add(path)
        response = page.goto(url)
        assert response.status in (200, 303), (url, response.status)
        landed = ID.sub("/<id>", urlsplit(page.url).path)
        found[landed] = serious_violations(page)
        assert_clean(page, live)
        queue.extend(links(page, live.url))
    return found


@pytest.mark.parametrize(("username", "viewport"), [("admin", LAPTOP), ("giamsat", PHONE)])
def test_no_console_page_has_a_serious_or_critical_violation(world, username, viewport):
    live, season, browser = world
    page = open_console(browser, live, username, viewport)
    found = walk(page, live)
    # The walk reached the pages of both helpers (a broken navigation would hide pages from axe).
    expected = {"/console/dashboard", "/console/submissions", "/console/reports", "/console/exports",
                "/console/season", "/console/season/meetings", "/console/season/posting",
                "/console/season/complaints", "/console/season/decision", "/console/map"}
    if username == "admin":
        expected |= {"/console/admin", "/console/admin/users", "/console/admin/areas", "/console/admin/devices",
                     "/console/admin/forms", "/console/admin/parameters", "/console/admin/audit"}
    assert expected <= set(found), sorted(expected - set(found))
    bad = {path: problems for path, problems in found.items() if problems}
    assert bad == {}, bad
    page.context.close()


def test_the_login_and_error_pages_have_no_serious_or_critical_violation(world):
    live, season, browser = world
    context = browser.new_context(viewport={"width": PHONE[0], "height": PHONE[1]})
    page = context.new_page()
    page.goto(f"{live.url}/console/login")
    assert serious_violations(page) == []
    page.goto(f"{live.url}/console/no-such-page")
    assert serious_violations(page) == []
    context.close()
