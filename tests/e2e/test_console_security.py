"""The console's doors, over real HTTP against gunicorn, walking every route of the console
blueprint (so a page added later is checked too):

- without a session, every page redirects to the login page and every POST is refused;
- an enumerator reaches no page but the one telling them to use the field app;
- a supervisor of another commune reaches none of the demo commune's records by URL (403/404 on
  every route with an id, nothing of its households on the list pages), and changes nothing;
- a form posted without its CSRF token, or with another session's, is refused and changes nothing;
- logout, and the API deactivating the user, end the cookie session at its very next request;
- the cookie is HttpOnly, SameSite=Strict, scoped to /console.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect
from support.console import (
    DEMO_COMMUNE,
    DEMO_VILLAGE,
    HOUSEHOLDS,
    LAPTOP,
    PASSWORDS,
    browser,
    console_server,
    foreign_requests,
    log_in,
    new_page,
    violations,
    visit,
)

from server import create_app

SKIPPED = {"console.static"}
# Route arguments that name one record (the others name a report, a format, an action).
RECORD_IDS = {"submission_id", "household_id", "conflict_id", "user_id", "complaint_id", "device_id", "form_id"}
NAMES = [name for name, _ in HOUSEHOLDS]


class Browserless:
    """A cookie jar over LiveServer.request: enough to log in and post forms like a browser."""

    def __init__(self, world):
        self.world = world
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None):
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        response = self._send(method, path, body, sent)
        for name, value in re.findall(r"(?:^|, )(rasoat_[a-z_]+)=([^;]*)", response.headers.get("set-cookie", "")):
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return response

    def _send(self, method, path, body, headers):
        import http.client

        from support.live import Response

        live = self.world.live
        connection = http.client.HTTPConnection(live.host, live.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers={"Connection": "close", **headers})
            raw = connection.getresponse()
            # Several Set-Cookie headers: join them so that the jar sees each.
            set_cookie = ", ".join(v for k, v in raw.getheaders() if k.lower() == "set-cookie")
            headers_out = {k.lower(): v for k, v in raw.getheaders()}
            headers_out["set-cookie"] = set_cookie
            return Response(raw.status, headers_out, raw.read())
        finally:
            connection.close()

    def token(self, path: str = "/console/login") -> str:
        page = self.request("GET", path)
        found = re.search(rb'<meta name="csrf-token" content="([0-9a-f]+)">', page.body)
        assert found, page.body[:300]
        return found.group(1).decode()

    def log_in(self, username: str) -> None:
        token = self.token()
        response = self.request("POST", "/console/login", {"username": username, "password": PASSWORDS[username],
                                                           "csrf_token": token})
        assert response.status == 303, (response.status, response.body[:300])
        assert "rasoat_console" in self.cookies


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with console_server(tmp_path_factory.mktemp("security")) as world:
        name = "Trần Văn Bình"
        world.push([visit(world, name, floor_area=40, latrine_type="none")], "rasoat1")
        [conflicted] = world.push([visit(world, name, floor_area=45, latrine_type="none")], "rasoat2")
        world.conflict_id = conflicted["conflict_id"]
        yield world


@pytest.fixture(scope="module")
def routes(world):
    """(endpoint, rule, methods) of every console route, with ids of the demo commune's records."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "s" * 40,
                      "JWT_KEYS": {"k": "j" * 40}, "JWT_ACTIVE_KID": "k"})
    token = world.token("giamsat")
    me = {"Authorization": f"Bearer {token}"}
    pushed = world.pushed["Phạm Văn Đức"]
    users = world.live.request("GET", "/api/v1/users", headers={
        "Authorization": f"Bearer {world.token('admin')}"}).json()["items"]
    values = {
        "submission_id": pushed["id"], "household_id": pushed["household_id"], "conflict_id": world.conflict_id,
        "user_id": next(u["id"] for u in users if u["username"] == "rasoat1"), "complaint_id": str(uuid.uuid4()),
        "device_id": "console-test-phone-rasoat1", "form_id": "household-review", "version": "2022.2",
        "action": "close", "fmt": "xlsx", "name": "poverty",
    }
    assert world.live.request("GET", f"/api/v1/submissions/{pushed['id']}", headers=me).status == 200
    out = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console.") and rule.endpoint not in SKIPPED:
            path = adapter.build(rule.endpoint, {a: values[a] for a in rule.arguments})
            out.append((rule.endpoint, path, sorted(rule.methods - {"HEAD", "OPTIONS"}),
                        bool(set(rule.arguments) & RECORD_IDS)))
    assert len(out) > 20 and any(e == "console.submission" for e, _, _, _ in out)
    return out


def _text_of(body: bytes) -> str:
    """Every text inside a file: the cells of an XLSX, the members of a zip, or the bytes."""
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return " ".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return body.decode("utf-8", "replace")


def _state(world) -> str:
    me = {"Authorization": f"Bearer {world.token('giamsat')}"}
    return world.live.request("GET", f"/api/v1/submissions/{world.pushed['Phạm Văn Đức']['id']}",
                              headers=me).json()["review_state"]


def test_no_console_page_is_reachable_without_logging_in(world, routes):
    anonymous = Browserless(world)
    token = anonymous.token()  # a pre-session token: CSRF passes, the session check must not
    for endpoint, path, methods, _ in routes:
        if endpoint == "console.login":
            continue
        for method in methods:
            if method == "GET":
                response = anonymous.request("GET", path)
                assert response.status == 303, (endpoint, response.status)
                assert response.headers["location"].startswith("/console/login?next="), endpoint
            else:
                refused = Browserless(world).request(method, path, {"x": "1"})
                assert refused.status == 403, (endpoint, refused.status)
                response = anonymous.request(method, path, {"csrf_token": token})
                assert response.status == 303 and response.headers["location"].startswith("/console/login"), \
                    (endpoint, response.status)
    assert _state(world) == "received"


def test_an_enumerator_reaches_only_the_page_sending_them_to_the_field_app(world, routes):
    enumerator = Browserless(world)
    enumerator.log_in("rasoat1")
    token = enumerator.token("/console/")
    for endpoint, path, methods, _ in routes:
        if endpoint in ("console.login", "console.logout"):
            continue
        for method in methods:
            response = enumerator.request(method, path, {"csrf_token": token} if method != "GET" else None)
            assert response.status == 403, (endpoint, method, response.status)
            assert not any(name.encode() in response.body for name in NAMES), endpoint
    assert "ứng dụng thực địa".encode() in enumerator.request("GET", "/console/").body


def test_a_supervisor_of_another_commune_reaches_none_of_it(world, routes):
    other = Browserless(world)
    other.log_in("giamsat2")
    token = other.token("/console/submissions")
    checked = 0
    for endpoint, path, methods, has_id in routes:
        if endpoint in ("console.login", "console.logout"):
            continue
        for method in methods:
            # "confirm": past the confirmation step of the pages that ask for one.
            response = other.request(method, path, {"csrf_token": token, "confirm": "yes"} if method != "GET" else None)
            leaked = [name for name in NAMES if name.encode() in response.body]
            assert not leaked, (endpoint, method, leaked)
            if has_id or method != "GET":
                assert response.status in (403, 404, 409, 422), (endpoint, method, response.status)
                assert response.status in (403, 404) or method != "GET", (endpoint, response.status)
                checked += 1
            else:
                assert response.status < 500, (endpoint, response.status)  # a list or a form of its own
                # The same page asked about the demo commune or its village: nothing of it.
                for area in (DEMO_COMMUNE, DEMO_VILLAGE):
                    asked = other.request("GET", f"{path}?area={area}&year=2026&form_id=household-review&format=xlsx")
                    leaked = [name for name in NAMES if name.encode() in asked.body]
                    assert not leaked, (endpoint, area, leaked)
                    if asked.status == 200 and not asked.headers.get("content-type", "").startswith("text/html"):
                        # A file (an export filtered to an area outside the scope): empty of it.
                        assert not [n for n in NAMES if n in _text_of(asked.body)], (endpoint, area)
                    checked += 1
    assert checked > 10
    assert _state(world) == "received"
    # The same ids by the demo commune's own supervisor: found.
    mine = Browserless(world)
    mine.log_in("giamsat")
    assert mine.request("GET", f"/console/submissions/{world.pushed['Phạm Văn Đức']['id']}").status == 200
    assert mine.request("GET", f"/console/conflicts/{world.conflict_id}").status == 200


def test_a_form_posted_without_its_csrf_token_is_refused(world):
    submission_id = world.pushed["Phạm Văn Đức"]["id"]
    with browser() as b:
        page = new_page(b, world, LAPTOP)
        log_in(page, world, "giamsat", f"/console/submissions/{submission_id}")
        page.locator("#decide input[name=csrf_token]").evaluate("input => input.remove()")
        page.get_by_role("button", name="Duyệt", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Biểu mẫu đã hết hạn")
        assert _state(world) == "received"
        # Another browser's token is no better.
        page.goto(f"{world.url}/console/submissions/{submission_id}")
        page.locator("#decide input[name=csrf_token]").evaluate("input => input.value = '0'.repeat(64)")
        page.get_by_role("button", name="Duyệt", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Biểu mẫu đã hết hạn")
        assert _state(world) == "received"
        assert violations(page) == [] and foreign_requests(page, world) == []
    # And without a browser: no token, a token of another session, the pre-session token.
    one, two = Browserless(world), Browserless(world)
    one.log_in("giamsat")
    two.log_in("giamsat")
    path = f"/console/submissions/{submission_id}/review"
    assert one.request("POST", path, {"action": "approve"}).status == 403
    assert one.request("POST", path, {"action": "approve", "csrf_token": two.token("/console/submissions")}).status == 403
    assert one.request("POST", "/console/login", {"username": "giamsat", "password": "x"}).status == 403
    assert _state(world) == "received"


def test_logout_and_deactivation_end_the_cookie_session_at_once(world):
    first = Browserless(world)
    first.log_in("rasoat2")  # an enumerator: the front door answers 403, not a redirect
    kept = dict(first.cookies)
    assert first.request("GET", "/console/").status == 403
    assert first.request("POST", "/console/logout", {"csrf_token": first.token("/console/")}).status == 303
    replay = Browserless(world)
    replay.cookies = kept
    assert replay.request("GET", "/console/").status == 303  # the old cookie no longer opens anything

    supervisor = Browserless(world)
    supervisor.log_in("giamsat2")
    assert supervisor.request("GET", "/console/submissions").status == 200
    admin = {"Authorization": f"Bearer {world.token('admin')}"}
    users = world.live.request("GET", "/api/v1/users", headers=admin).json()["items"]
    user_id = next(u["id"] for u in users if u["username"] == "giamsat2")
    changed = world.live.request("PATCH", f"/api/v1/users/{user_id}", json_body={"active": False}, headers=admin)
    assert changed.status == 200, changed.body
    response = supervisor.request("GET", "/console/submissions")
    assert response.status == 303 and response.headers["location"].startswith("/console/login")
    world.live.request("PATCH", f"/api/v1/users/{user_id}", json_body={"active": True}, headers=admin)


def test_the_session_cookie_is_httponly_strict_and_scoped(world):
    session = Browserless(world)
    token = session.token()
    response = session.request("POST", "/console/login", {"username": "giamsat", "password": PASSWORDS["giamsat"],
                                                          "csrf_token": token})
    cookie = next(c for c in response.headers["set-cookie"].split(", rasoat_") if "rasoat_console=" in c
                  or c.startswith("console="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP in development; production adds it (test_console_login)
    # A forged cookie (a session id without the server's signature) opens nothing.
    forged = Browserless(world)
    forged.cookies = {"rasoat_console": str(uuid.uuid4())}
    assert forged.request("GET", "/console/submissions").status == 303
