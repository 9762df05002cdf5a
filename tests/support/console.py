"""What the console's browser tests share: a live gunicorn with the demo commune and a few
households pushed by its enumerator through the API, a second commune's supervisor, and a
headless Chromium (Debian's) that records CSP violations and every request it makes.

    with console_server(tmp_path) as world:      # a LiveServer plus who is who
        with browser() as b:
            page = new_page(b, world, (1280, 800))
            log_in(page, world, "giamsat")
"""

from __future__ import annotations

import contextlib
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

DEMO_COMMUNE, DEMO_VILLAGE = "01-00004", "01-00004-t01"
OTHER_COMMUNE = "01-00008"
PASSWORDS = {"admin": "demo-admin-2026", "giamsat": "demo-supervisor-2026", "rasoat1": "demo-enumerator-2026",
             "giamsat2": "other-commune-2026", "rasoat2": "second-enumerator-2026"}
DEVICE = "console-test-phone"

# The demo commune's households: (head's name, answers that make them differ).
HOUSEHOLDS = (
    ("Nguyễn Thị Hoà", {"floor_area": 30, "latrine_type": "septic", "household_code": "BD-0001"}),
    ("Trần Văn Bình", {"floor_area": 70, "latrine_type": "none", "household_code": "BD-0002"}),
    ("Lê Thị Hòa", {"floor_area": 55, "latrine_type": "septic", "household_code": "BD-0003"}),
    ("Phạm Văn Đức", {"floor_area": 12.5, "latrine_type": "none", "household_code": "BD-0004"}),
)


@dataclass
class World:
    live: LiveServer
    pushed: dict[str, dict] = field(default_factory=dict)  # head's name -> the pushed item

    @property
    def url(self) -> str:
        return self.live.url

    def token(self, username: str, device_id: str | None = None) -> str:
        body = {"username": username, "password": PASSWORDS[username]}
        if device_id:
            body["device_id"] = device_id
        response = self.live.request("POST", "/api/v1/auth/login", json_body=body)
        assert response.status == 200, response.body
        return response.json()["access_token"]

    def push(self, items: list[dict], username: str = "rasoat1") -> list[dict]:
        device = f"{DEVICE}-{username}"
        token = self.token(username, device)
        response = self.live.request("POST", "/api/v1/sync/push", json_body={"device_id": device, "submissions": items},
                                     headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200, response.body
        return response.json()["results"]


@contextlib.contextmanager
def console_server(directory: Path, *, env: dict | None = None) -> Iterator[World]:
    """The demo (admin, giamsat of the demo commune, rasoat1 of its village), a supervisor of
    another commune (giamsat2), a second enumerator of the demo village (rasoat2), and the demo
    village's households pushed by rasoat1."""
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), directory) as url:
        live = LiveServer(url, workers=2, env={"RASOAT_DEMO": "1", **(env or {})}, directory=directory / "live")
        live.cli("init")
        live.cli("demo")
        live.cli("user", "create", "giamsat2", "--role", "supervisor", "--area", OTHER_COMMUNE,
                 "--display-name", "Giám sát xã khác", "--password-stdin", input=PASSWORDS["giamsat2"] + "\n")
        live.cli("user", "create", "rasoat2", "--role", "enumerator", "--area", DEMO_VILLAGE,
                 "--display-name", "Rà soát viên hai", "--password-stdin", input=PASSWORDS["rasoat2"] + "\n")
        with live:
            world = World(live)
            items = [submission(DEMO_VILLAGE, year="2022.2",
                                answers=household_answers("2022.2", head_name=name, area_type="urban", **answers))
                     for name, answers in HOUSEHOLDS]
            results = world.push(items)
            assert [r["status"] for r in results] == ["accepted"] * len(items), results
            world.pushed = {name: item for (name, _), item in zip(HOUSEHOLDS, items, strict=True)}
            yield world


@contextlib.contextmanager
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(b: Browser, world: World, viewport: tuple[int, int] = LAPTOP, *, locale: str = "vi-VN") -> Page:
    """A page in a fresh context (its own cookies) that records CSP violations (``violations``)
    and every URL it requests (``page.requested``)."""
    context = b.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale=locale)
    page = context.new_page()
    page.requested = []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requested.append(request.url))  # type: ignore[attr-defined]
    page.add_init_script(RECORD_VIOLATIONS)
    return page


def violations(page: Page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def foreign_requests(page: Page, world: World) -> list[str]:
    return [url for url in page.requested if not url.startswith(world.url)]  # type: ignore[attr-defined]


def log_in(page: Page, world: World, username: str, next_path: str = "/console/") -> None:
    page.goto(f"{world.url}/console/login?next={next_path}")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORDS[username])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(lambda url: "/console/login" not in url)


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def visit(world: World, name: str, **answers) -> dict:
    """A new visit (a new submission) to a pushed household, from its first revision."""
    first = world.pushed[name]
    base = {"household_code": first["answers"]["household_code"], **answers}
    return submission(DEMO_VILLAGE, year="2022.2", household_id=first["household_id"], household_rev=1,
                      answers=household_answers("2022.2", head_name=name, area_type="urban", **base))
