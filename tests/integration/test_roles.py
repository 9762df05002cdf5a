"""Who may call what: a role x endpoint matrix over every route the app serves under /api/v1.

The routes are enumerated from ``app.url_map``, so a new endpoint without a row here fails
``test_every_api_route_has_a_declared_rule`` until someone decides who may call it.
"""

from __future__ import annotations

import re
import uuid

import pytest
from support import COMMUNE_X, VILLAGE_A, problem

from server.http import ACCEPTS_ATTRIBUTE
from server.models import ROLES
from server.security.current import PUBLIC_ATTRIBUTE, ROLES_ATTRIBUTE

PUBLIC = "public"
ANY = frozenset(ROLES)
ADMIN = frozenset({"admin"})
STAFF = frozenset({"admin", "supervisor"})
FIELD = frozenset({"enumerator", "supervisor"})
SUPERVISOR = frozenset({"supervisor"})
ENUMERATOR = frozenset({"enumerator"})

# (method, werkzeug rule) -> PUBLIC or the roles allowed.
MATRIX: dict[tuple[str, str], str | frozenset[str]] = {
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    # Accounts
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): PUBLIC,
    ("GET", "/api/v1/me"): ANY,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/<uuid:user_id>"): ADMIN,
    ("PATCH", "/api/v1/users/<uuid:user_id>"): ADMIN,
    ("GET", "/api/v1/devices"): STAFF,
    ("POST", "/api/v1/devices/<string:device_id>/revoke"): STAFF,
    ("POST", "/api/v1/devices/<string:device_id>/release"): STAFF,
    ("GET", "/api/v1/areas"): ANY,
    ("POST", "/api/v1/areas"): ADMIN,
    ("POST", "/api/v1/areas/import"): ADMIN,
    ("PUT", "/api/v1/areas/<string:code>/area-type"): ADMIN,
    ("GET", "/api/v1/audit"): ADMIN,
    # Forms
    ("GET", "/api/v1/forms"): ANY,
    ("POST", "/api/v1/forms"): ADMIN,
    ("GET", "/api/v1/forms/<string:form_id>/versions/<string:version>"): ANY,
    ("PUT", "/api/v1/forms/<string:form_id>/versions/<string:version>"): ADMIN,
    ("POST", "/api/v1/forms/<string:form_id>/versions/<string:version>/publish"): ADMIN,
    ("POST", "/api/v1/forms/<string:form_id>/versions/<string:version>/close"): ADMIN,
    ("POST", "/api/v1/forms/<string:form_id>/versions/<string:version>/reopen"): ADMIN,
    ("GET", "/api/v1/forms/<string:form_id>/versions/<string:version>/parameters"): ANY,
    ("PUT", "/api/v1/forms/<string:form_id>/versions/<string:version>/parameters/<string:province>"): ADMIN,
    # Sync: the phone's calls (supervisors also collect in the field)
    ("POST", "/api/v1/sync/push"): FIELD,
    ("GET", "/api/v1/sync/pull"): ENUMERATOR,  # supervisors do not carry households away on a phone
    ("PUT", "/api/v1/attachments/<string:sha256>"): FIELD,
    ("GET", "/api/v1/attachments/<string:sha256>"): ANY,
    # Supervision
    ("GET", "/api/v1/submissions"): STAFF,
    ("GET", "/api/v1/submissions/<uuid:submission_id>"): STAFF,
    ("GET", "/api/v1/households"): STAFF,
    ("GET", "/api/v1/households/<uuid:household_id>"): STAFF,
    ("PUT", "/api/v1/households/<uuid:household_id>/assignment"): STAFF,
    ("DELETE", "/api/v1/households/<uuid:household_id>/assignment"): STAFF,
    ("GET", "/api/v1/assignments"): STAFF,
    ("POST", "/api/v1/assignments"): STAFF,
    ("POST", "/api/v1/submissions/<uuid:submission_id>/review"): SUPERVISOR,
    ("PATCH", "/api/v1/submissions/<uuid:submission_id>"): SUPERVISOR,
    ("POST", "/api/v1/submissions/review"): SUPERVISOR,
    ("GET", "/api/v1/submissions/<uuid:submission_id>/comments"): STAFF,
    ("POST", "/api/v1/submissions/<uuid:submission_id>/comments"): SUPERVISOR,
    ("GET", "/api/v1/submissions/<uuid:submission_id>/diff"): STAFF,
    # The season
    ("POST", "/api/v1/households/<uuid:household_id>/meetings"): SUPERVISOR,
    ("GET", "/api/v1/households/<uuid:household_id>/meetings"): STAFF,
    ("POST", "/api/v1/households/<uuid:household_id>/complaints"): SUPERVISOR,
    ("GET", "/api/v1/complaints"): STAFF,
    ("POST", "/api/v1/complaints/<uuid:complaint_id>/resolve"): SUPERVISOR,
    ("POST", "/api/v1/areas/<string:code>/decisions"): STAFF,
    ("GET", "/api/v1/areas/<string:code>/decisions"): STAFF,
    ("POST", "/api/v1/areas/<string:code>/decisions/<int:year>/reopen"): ADMIN,
    ("GET", "/api/v1/areas/<string:code>/posting-list"): STAFF,
    # Reports and exports
    ("GET", "/api/v1/reports/poverty"): STAFF,
    ("GET", "/api/v1/reports/deprivations"): STAFF,
    ("GET", "/api/v1/reports/ethnicity"): STAFF,
    ("GET", "/api/v1/reports/changes"): STAFF,
    ("GET", "/api/v1/reports/register"): STAFF,
    ("GET", "/api/v1/forms/<string:form_id>/export"): STAFF,
    ("GET", "/api/v1/conflicts"): STAFF,
    ("GET", "/api/v1/conflicts/<uuid:conflict_id>"): STAFF,
    ("POST", "/api/v1/conflicts/<uuid:conflict_id>/resolve"): SUPERVISOR,
}

# Views under /api/ that are deliberately open. Anything else marked public is a leak.
PUBLIC_ENDPOINTS = {"auth.login", "auth.refresh", "auth.logout", "health.swagger_assets",
                    "api-docs.openapi_json", "api-docs.openapi_swagger_ui"}

# Values for the URL variables: well formed, pointing at nothing in particular.
SAMPLE_ARGUMENTS = {
    "user_id": str(uuid.UUID(int=1)),
    "conflict_id": str(uuid.UUID(int=3)),
    "device_id": "no-such-phone",
    "code": COMMUNE_X,
    "form_id": "no-such-form",
    "version": "2026.1",
    "province": "01",
    "sha256": "0" * 64,
    "submission_id": str(uuid.UUID(int=2)),
    "household_id": str(uuid.UUID(int=3)),
    "complaint_id": str(uuid.UUID(int=4)),
    "year": "2026",
}
AREAS_OF = {"admin": [], "supervisor": [COMMUNE_X], "enumerator": [VILLAGE_A]}


def _url(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: SAMPLE_ARGUMENTS[m.group(1)], rule)


def _api_routes(app) -> dict[tuple[str, str], str]:
    """(method, rule) -> endpoint, for everything under /api/v1."""
    return {(method, rule.rule): rule.endpoint
            for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def _call(client, method: str, rule: str, headers: dict | None = None, **kwargs):
    return client.open(_url(rule), method=method, headers=headers or {}, **kwargs)


def test_every_api_route_has_a_declared_rule(app):
    routes = set(_api_routes(app))
    undeclared = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not undeclared, f"routes without a role rule in MATRIX: {undeclared}"
    assert not stale, f"MATRIX rows for routes that no longer exist: {stale}"


def test_every_api_view_is_marked_public_or_protected(app):
    unguarded, wrongly_public, both = [], [], []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        is_public = getattr(view, PUBLIC_ATTRIBUTE, False) is True
        roles = getattr(view, ROLES_ATTRIBUTE, None)
        if is_public and roles:
            both.append(rule.endpoint)
        elif not is_public and not roles:
            unguarded.append((rule.rule, rule.endpoint))
        elif is_public and rule.endpoint not in PUBLIC_ENDPOINTS:
            wrongly_public.append(rule.endpoint)
    assert not unguarded, f"views with no guard (a leak): {unguarded}"
    assert not wrongly_public, f"views marked public that should not be: {wrongly_public}"
    assert not both, f"views both public and protected: {both}"


def test_declared_roles_match_the_views_guards(app):
    """The matrix and the @requires(...) on each view say the same thing."""
    routes = _api_routes(app)
    for key, allowed in MATRIX.items():
        if key not in routes:
            continue  # reported by test_every_api_route_has_a_declared_rule
        view = app.view_functions[routes[key]]
        if allowed == PUBLIC:
            assert getattr(view, PUBLIC_ATTRIBUTE, False) is True, key
        else:
            assert getattr(view, ROLES_ATTRIBUTE, None) == allowed, key


@pytest.fixture()
def role_headers(accounts) -> dict[str, dict]:
    return {role: accounts.headers(role, AREAS_OF[role]) for role in ROLES}


CASES = sorted(MATRIX.items(), key=lambda item: (item[0][1], item[0][0]))


@pytest.mark.parametrize(("route", "allowed"), CASES, ids=[f"{m} {r}" for (m, r), _ in CASES])
def test_role_matrix(app, client, role_headers, route, allowed):
    method, rule = route
    if allowed == PUBLIC:
        response = _call(client, method, rule)
        assert response.status_code not in (401, 403), (route, response.get_data(as_text=True)[:300])
        return

    anonymous = _call(client, method, rule)
    body = problem(anonymous, 401, "auth.required")
    assert anonymous.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert body["request_id"] == anonymous.headers["X-Request-ID"]

    for role in ROLES:
        response = _call(client, method, rule, role_headers[role])
        if role in allowed:
            assert response.status_code not in (401, 403), (route, role, response.get_data(as_text=True)[:300])
            if response.mimetype == "application/problem+json":
                assert not response.get_json()["code"].startswith("auth."), (route, role, response.get_json())
        else:
            body = problem(response, 403, "auth.forbidden")
            assert "role" in body["detail"], body


# Protected routes with a body that is not JSON (uploads).
NON_JSON_ROUTES = {("POST", "/api/v1/areas/import"), ("PUT", "/api/v1/attachments/<string:sha256>")}
JSON_BODY_ROUTES = [
    (key, allowed) for key, allowed in CASES
    if key[0] in {"POST", "PUT", "PATCH"} and allowed != PUBLIC and key not in NON_JSON_ROUTES
]


@pytest.mark.parametrize(("route", "allowed"), JSON_BODY_ROUTES, ids=[f"{m} {r}" for (m, r), _ in JSON_BODY_ROUTES])
def test_authentication_comes_before_validation(app, client, role_headers, route, allowed):
    """A stranger with a nonsense body learns nothing about the schema: 401/403, never 422."""
    method, rule = route
    view = app.view_functions[_api_routes(app)[route]]
    accepted = getattr(view, ACCEPTS_ATTRIBUTE, frozenset({"application/json"}))
    assert "application/json" in accepted, f"{route} takes no JSON: list it in NON_JSON_ROUTES"
    junk = {"unexpected_field": ["x"], "id": 12}
    problem(_call(client, method, rule, json=junk), 401, "auth.required")
    for role in set(ROLES) - allowed:
        problem(_call(client, method, rule, role_headers[role], json=junk), 403, "auth.forbidden")


# --- the web console (/console/): cookie sessions, guarded by server.console.auth.page ---------

CONSOLE_PUBLIC = {"console.login", "console.logout", "console.static"}


def test_every_console_view_is_guarded_by_the_page_decorator(app):
    """A console page added without ``@auth.page(...)`` would serve to anyone: every route of the
    blueprint declares its roles, enumerators (who work in the field app) reach none but the front
    door, and the admin pages are for admins (devices: supervisors too, for their own areas, as in
    the API). The browser test tests/e2e/test_console_security.py requests each of them."""
    from server.console.auth import ROLES_ATTRIBUTE as CONSOLE_ROLES

    unguarded, enumerator_reachable, admin_leaks = [], [], []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint in CONSOLE_PUBLIC:
            continue
        roles = getattr(app.view_functions[rule.endpoint], CONSOLE_ROLES, None)
        if not roles:
            unguarded.append(rule.rule)
            continue
        if "enumerator" in roles and rule.endpoint != "console.index":
            enumerator_reachable.append(rule.rule)
        if rule.rule.startswith("/console/admin") and not rule.rule.startswith("/console/admin/devices") \
                and roles != ADMIN:
            admin_leaks.append((rule.rule, sorted(roles)))
    assert not unguarded, f"console views without @auth.page: {unguarded}"
    assert not enumerator_reachable, f"console views open to enumerators: {enumerator_reachable}"
    assert not admin_leaks, f"admin pages open to others: {admin_leaks}"
    assert {r.endpoint for r in app.url_map.iter_rules()} >= {"console.queue", "console.submission",
                                                              "console.conflict", "console.household"}
