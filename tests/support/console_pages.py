"""A commune's season in progress, made over real HTTP against a live server, for the console's
season, report, dashboard and admin browser tests.

Phường Ba Đình (01-00004, urban) gets two villages (tổ dân phố) and an enumerator in each, who
push households of known classes with GPS points; the commune's supervisor approves some. The
numbers the pages must show are in ``Season`` (``expected``), so the tests compare the page with
what was sent, not with what the server says.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from support.households import household_answers, submission
from support.live import LiveServer, fresh_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(e.violatedDirective));
"""
PHONE, LAPTOP = (393, 851), (1280, 800)
SCREENSHOTS = Path(os.environ.get("RASOAT_SCREENSHOTS")
                   or Path(__file__).resolve().parents[1] / "e2e" / "screenshots")

COMMUNE = "01-00004"
PASSWORDS = {"admin": "admin-pass-2026", "giamsat": "supervisor-pass-2026", "rasoat1": "enumerator-pass-2026",
             "rasoat2": "enumerator-pass-2026", "khac": "other-supervisor-2026"}
# Urban (a phường): the urban lines of the 2022 form's worked cases.
PATCHES = {
    "poor": {"water_source": "surface", "latrine_type": "over_water", "floor_area": 30, "area_type": "urban",
             "income_wages": 96000000, "income_agriculture": 0},
    "near_poor": {"area_type": "urban", "income_wages": 96000000, "income_agriculture": 0},
    "average": {"area_type": "urban"},
    "not_poor": {"area_type": "urban", "income_agriculture": 144000048},
}
# village suffix -> (enumerator, [classes of its households in order])
PLAN = {
    "t01": ("rasoat1", ["poor", "poor", "poor", "near_poor", "near_poor", "average", "not_poor", "not_poor"]),
    "t02": ("rasoat2", ["poor", "near_poor", "near_poor", "not_poor", "not_poor", "not_poor"]),
}
VILLAGE_NAMES = {"t01": "Tổ dân phố số 1", "t02": "Tổ dân phố số 2"}


@dataclass
class Household:
    id: str
    submission_id: str
    code: str
    head: str
    village: str
    classification: str
    lat: float
    lon: float


@dataclass
class Season:
    year: int
    commune: str
    other_commune: str
    households: list[Household] = field(default_factory=list)
    approved: set[str] = field(default_factory=set)  # submission ids

    def villages(self) -> list[str]:
        return [f"{self.commune}-{suffix}" for suffix in PLAN]

    def count(self, village: str | None = None, classification: str | None = None) -> int:
        return sum(1 for h in self.households if (village is None or h.village == village)
                   and (classification is None or h.classification == classification))


def login(live: LiveServer, username: str, device: str | None = None) -> str:
    body = {"username": username, "password": PASSWORDS[username]}
    if device:
        body["device_id"] = device
    response = live.request("POST", "/api/v1/auth/login", json_body=body)
    assert response.status == 200, response.body
    return response.json()["access_token"]


def call(live: LiveServer, method: str, path: str, token: str, body=None, expect: int = 200):
    response = live.request(method, path, json_body=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status == expect, (method, path, response.status, response.body[:2000])
    return response.json() if response.body else None


def other_commune(live: LiveServer, token: str) -> str:
    areas = call(live, "GET", "/api/v1/areas?parent=01&limit=5", token)["items"]
    return next(a["code"] for a in areas if a["code"] != COMMUNE)


def prepare(live: LiveServer) -> None:
    """Before the server starts: the database, the official areas and forms, a national admin."""
    live.cli("init")
    live.cli("user", "create", "admin", "--role", "admin", "--display-name", "Quản trị tỉnh",
             "--password-stdin", input=PASSWORDS["admin"] + "\n")


def seed(live: LiveServer, *, approve_every: int = 2) -> Season:
    """On the running server (after ``prepare``): accounts, villages and households (see the
    module's docstring). Every ``approve_every``-th household's visit is approved by the
    supervisor; the others stay ``received``."""
    admin = login(live, "admin")
    other = other_commune(live, admin)
    for suffix in PLAN:
        call(live, "POST", "/api/v1/areas", admin, {"parent": COMMUNE, "code": suffix, "name": VILLAGE_NAMES[suffix]},
             expect=201)
    call(live, "POST", "/api/v1/users", admin, {"username": "giamsat", "password": PASSWORDS["giamsat"],
                                                "role": "supervisor", "areas": [COMMUNE],
                                                "display_name": "Ban chỉ đạo phường"}, expect=201)
    call(live, "POST", "/api/v1/users", admin, {"username": "khac", "password": PASSWORDS["khac"],
                                                "role": "supervisor", "areas": [other]}, expect=201)
    for suffix, (enumerator, _) in PLAN.items():
        call(live, "POST", "/api/v1/users", admin, {"username": enumerator, "password": PASSWORDS[enumerator],
                                                    "role": "enumerator", "areas": [f"{COMMUNE}-{suffix}"],
                                                    "display_name": f"Rà soát viên {suffix}"}, expect=201)
    season = Season(year=0, commune=COMMUNE, other_commune=other)
    number = 0
    for suffix, (enumerator, classes) in PLAN.items():
        device = f"phone-{enumerator}"
        token = login(live, enumerator, device)
        village = f"{COMMUNE}-{suffix}"
        items = []
        for i, cls in enumerate(classes):
            number += 1
            code = f"BD-{suffix.upper()}-{i + 1:03d}"
            head = f"Nguyễn Văn {chr(ord('A') + number)}{number}"
            lat, lon = 21.0285 + 0.001 * number, 105.8342 + 0.0008 * (number % 5)
            answers = household_answers("2022", **copy.deepcopy(PATCHES[cls]))
            answers.update(household_code=code, head_name=head, address=f"Số {number}, {VILLAGE_NAMES[suffix]}",
                           location={"lat": lat, "lon": lon, "accuracy": 6.0}, head_cccd=f"0010860{number:05d}")
            item = submission(village, answers=answers)
            items.append(item)
            season.households.append(Household(item["household_id"], item["id"], code, head, village, cls, lat, lon))
        results = call(live, "POST", "/api/v1/sync/push", token, {"device_id": device, "submissions": items})["results"]
        assert [r["status"] for r in results] == ["accepted"] * len(items), results
    supervisor = login(live, "giamsat")
    detail = call(live, "GET", f"/api/v1/submissions/{season.households[0].submission_id}", supervisor)
    season.year = detail["year"]
    for h in season.households[::approve_every]:
        etag = _etag(live, supervisor, h.submission_id)
        response = live.request("POST", f"/api/v1/submissions/{h.submission_id}/review",
                                json_body={"action": "approve", "comment": ""},
                                headers={"Authorization": f"Bearer {supervisor}", "If-Match": etag})
        assert response.status == 200, response.body
        season.approved.add(h.submission_id)
    return season


def _etag(live: LiveServer, token: str, submission_id: str) -> str:
    response = live.request("GET", f"/api/v1/submissions/{submission_id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200, response.body
    return response.headers["etag"]


# --- the browser ------------------------------------------------------------------------------

@contextlib.contextmanager
def season_server(directory: Path, *, approve_every: int = 2) -> Iterator[tuple[LiveServer, Season]]:
    """A live gunicorn on a fresh database (SQLite, or PostgreSQL when TEST_DATABASE_URL says so)
    holding ``seed``'s season."""
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), directory) as url:
        live = LiveServer(url, workers=2, directory=directory / "live")
        prepare(live)
        with live:
            yield live, seed(live, approve_every=approve_every)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_console(browser: Browser, live: LiveServer, username: str, viewport=LAPTOP) -> Page:
    """A new page logged in to the console as ``username`` through the login form; every request
    it makes is kept in ``page.requested`` and CSP violations in ``window.__cspViolations``."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
    page = context.new_page()
    page.requested = []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requested.append(request.url))  # type: ignore[attr-defined]
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{live.url}/console/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORDS[username])
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(lambda url: "/console/login" not in url)
    return page


def assert_clean(page: Page, live: LiveServer) -> None:
    """Nothing the CSP blocked, no request to another host, no sideways scroll."""
    assert page.evaluate("window.__cspViolations") == []
    assert [u for u in page.requested if not u.startswith(live.url)] == []  # type: ignore[attr-defined]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.viewport_size['width']}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
