"""Security headers on every answer (server/headers.py): walks the URL map, so a route added
later is checked without anyone editing this file."""

from __future__ import annotations

import uuid

import pytest
from flask import Response, g
from support import COMMUNE_X, VILLAGE_A, bearer
from werkzeug.routing import UUIDConverter
from werkzeug.routing.converters import AnyConverter, NumberConverter, PathConverter

from server import headers as security_headers
from server.security.current import ROLES_ATTRIBUTE

AREAS_OF = {"admin": [], "supervisor": [COMMUNE_X], "enumerator": [VILLAGE_A]}
# A value for path arguments that names a real file where there is one.
REAL_FILES = {"static": "api-docs/swagger-init.js", "health.swagger_assets": "swagger-ui.css"}
# /readyz opens its own connection from the engine, which the per-test transaction replaces:
# it is checked by test_readyz_has_the_headers, outside that transaction.
OUTSIDE_THE_TRANSACTION = {"health.readyz"}


def _url(rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, UUIDConverter):
            values[name] = str(uuid.UUID(int=7))
        elif isinstance(converter, NumberConverter):
            values[name] = 2026
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, PathConverter):
            values[name] = REAL_FILES.get(rule.endpoint, "no-such-file")
        else:
            values[name] = {"sha256": "0" * 64, "code": COMMUNE_X, "province": "01"}.get(name, "no-such-thing")
    return rule.build(values, append_unknown=False)[1]


def _directives(cache_control: str) -> set[str]:
    return {part.strip().split("=", 1)[0].lower() for part in cache_control.split(",") if part.strip()}


def _header_problems(response, *, credentialed: bool, api: bool) -> list[str]:
    found = []
    h = response.headers
    for name, value in (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                        ("Referrer-Policy", "same-origin")):
        if h.get(name) != value:
            found.append(f"{name}: {h.get(name)!r}")
    policy = h.get("Content-Security-Policy", "")
    if not policy or "unsafe-" in policy:
        found.append(f"CSP: {policy!r}")
    if response.mimetype == "text/html" and not ("script-src 'self'" in policy and "frame-ancestors 'none'" in policy):
        found.append(f"page CSP: {policy!r}")
    if response.mimetype in {"application/json", "application/problem+json"} and "default-src 'none'" not in policy:
        found.append(f"data CSP: {policy!r}")
    cache = _directives(h.get("Cache-Control", ""))
    if not cache:
        found.append("no Cache-Control")
    if (credentialed or api) and (not cache & {"no-store", "private"} or cache & {"public", "s-maxage"}):
        found.append(f"Cache-Control: {h.get('Cache-Control')!r}")
    if "Strict-Transport-Security" in h:
        found.append("HSTS outside production")
    return found


@pytest.fixture()
def role_headers(accounts) -> dict[str, dict]:
    return {role: accounts.headers(role, areas) for role, areas in AREAS_OF.items()}


def test_every_route_answers_with_the_security_headers(app, client, role_headers):
    checked, problems = 0, []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in OUTSIDE_THE_TRANSACTION:
            continue
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, ROLES_ATTRIBUTE, None)
        url = _url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            callers = [("anonymous", {})]
            if roles:  # also as someone allowed in, who gets past authentication
                role = sorted(roles)[0]
                callers.append((role, role_headers[role]))
            for who, headers in callers:
                body = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
                response = client.open(url, method=method, headers=headers, **body)
                response.close()  # files are streamed
                checked += 1
                found = _header_problems(response, credentialed=bool(headers), api=rule.rule.startswith("/api/v1"))
                if found:
                    problems.append((method, url, who, response.status_code, found))
    assert checked > 60  # the walk reached the app's routes
    assert not problems, "\n".join(map(str, problems))


def test_readyz_has_the_headers(app):
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert _header_problems(response, credentialed=False, api=True) == []


def test_routing_errors_carry_the_headers_too(client):
    for response in (client.get("/no/such/page"), client.delete("/healthz")):
        assert response.status_code in (404, 405)
        assert _header_problems(response, credentialed=False, api=True) == []
        assert response.headers["Cache-Control"] == "no-store"


def test_responses_with_tokens_and_personal_data_are_no_store(client, accounts):
    enumerator = accounts.create("enumerator", [VILLAGE_A])
    login = client.post("/api/v1/auth/login", json={"username": enumerator.username,
                                                     "password": "correct horse battery"})
    assert login.status_code == 200 and "access_token" in login.get_json()
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": login.get_json()["refresh_token"]})
    assert refreshed.status_code == 200 and "access_token" in refreshed.get_json()
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    answers = {
        "login": login,
        "refresh": refreshed,
        "me": client.get("/api/v1/me", headers=bearer(refreshed.get_json())),
        "pull": client.get("/api/v1/sync/pull", headers=bearer(refreshed.get_json())),
        "households": client.get("/api/v1/households", headers=supervisor),
        "submissions": client.get("/api/v1/submissions", headers=supervisor),
    }
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.get_json())
        assert response.headers["Cache-Control"] == "no-store", name
        assert "default-src 'none'" in response.headers["Content-Security-Policy"], name


def test_a_views_own_cache_policy_is_kept_when_it_is_private(client, accounts):
    # Published form versions are revalidated by ETag (server/api/forms.py); they hold no
    # personal data and stay out of shared caches.
    headers = accounts.headers("enumerator", [VILLAGE_A])
    response = client.get("/api/v1/forms/household-review/versions/2027.1", headers=headers)
    assert response.status_code == 200
    assert "private" in _directives(response.headers["Cache-Control"])
    # Swagger UI's files are public and long-lived: not turned into no-store.
    asset = client.get("/api/docs/assets/swagger-ui.css")
    asset.close()
    assert asset.status_code == 200
    assert {"public", "max-age"} <= _directives(asset.headers["Cache-Control"])


@pytest.mark.parametrize(("chosen", "credentialed", "sent"), [
    (None, False, "no-store"),
    (None, True, "no-store"),
    ("public, max-age=86400", False, "public, max-age=86400"),
    ("public, max-age=86400", True, "no-store"),       # an authenticated answer in a shared cache
    ("max-age=600", True, "no-store"),                  # shared caches may keep it: not allowed
    ("s-maxage=60, private", True, "no-store"),
    ("private, max-age=0", True, "private, max-age=0"),
    ("private, no-store", True, "private, no-store"),   # a stricter choice is never weakened
    ("no-store", True, "no-store"),
])
def test_cache_control_rules(app, chosen, credentialed, sent):
    with app.test_request_context("/api/v1/anything"):
        g.user = object() if credentialed else None
        response = Response("{}", mimetype="application/json")
        if chosen:
            response.headers["Cache-Control"] = chosen
        assert security_headers.apply(response).headers["Cache-Control"] == sent


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/auth/refresh"])
def test_token_answers_are_never_shared_cacheable(app, path):
    # Public views, no caller yet: still no-store, whatever the view might choose one day.
    with app.test_request_context(path, method="POST"):
        response = Response("{}", mimetype="application/json")
        response.headers["Cache-Control"] = "public, max-age=60"
        assert security_headers.apply(response).headers["Cache-Control"] == "no-store"


def test_token_endpoints_exist(app):
    # A renamed login or refresh endpoint would silently lose its no-store guarantee.
    assert security_headers.TOKEN_ENDPOINTS <= set(app.view_functions)


def test_a_views_own_csp_is_kept(app):
    with app.test_request_context("/api/v1/anything"):
        response = Response(b"\x89PNG", mimetype="image/png")
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        assert security_headers.apply(response).headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_printed_pdf_may_be_viewed_in_the_browser_but_not_framed(app):
    with app.test_request_context("/api/v1/anything"):
        response = security_headers.apply(Response(b"%PDF-1.7", mimetype="application/pdf"))
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_get_the_page_policy_and_data_gets_none(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Content-Security-Policy"] == security_headers.PAGE_POLICY
    assert b"<script>" not in page.data  # no inline script: the CSP would block it
    script = client.get("/static/api-docs/swagger-init.js")
    script.close()
    assert script.status_code == 200
    assert script.headers["Content-Security-Policy"] == security_headers.PAGE_POLICY
    spec = client.get("/api/v1/openapi.json")
    assert spec.headers["Content-Security-Policy"] == security_headers.DATA_POLICY


def test_hsts_only_in_production(client, config):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    config["ENV"] = "production"
    for response in (client.get("/healthz"), client.get("/api/docs"), client.get("/no/such/page")):
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        assert int(response.headers["Strict-Transport-Security"].split("=")[1].split(";")[0]) >= 180 * 24 * 3600
