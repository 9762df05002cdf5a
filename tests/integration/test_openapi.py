"""The OpenAPI document: valid, complete, honest about auth; the docs page works offline; and
schemathesis fuzzes every operation through the WSGI app without getting a 5xx."""

from __future__ import annotations

import io
import re
import tempfile
from functools import cache
from pathlib import Path

import pytest
import schemathesis
from hypothesis import Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from support import bearer

from server import create_app
from server.security.current import PUBLIC_ATTRIBUTE
from conftest import test_config as make_test_config

OPENAPI = "/api/v1/openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
PUBLIC_OPERATIONS = {("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/refresh"), ("post", "/api/v1/auth/logout")}


def _openapi_path(rule: str) -> str:
    """Werkzeug's `/users/<uuid:user_id>` -> OpenAPI's `/users/{user_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == OPENAPI:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), _openapi_path(rule.rule)))
    return routes


def _spec_operations(spec: dict) -> dict[tuple[str, str], dict]:
    return {(method, path): op for path, item in spec["paths"].items()
            for method, op in item.items() if method in HTTP_METHODS}


@cache
def _operations_for_collection() -> list[tuple[str, str]]:
    """The operations to fuzz, known at collection time from a throwaway app (no database I/O)."""
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({**make_test_config("sqlite://", Path(instance)), "LOG_LEVEL": "ERROR"})
        return sorted(_spec_operations(app.test_client().get(OPENAPI).get_json()))


@pytest.fixture(scope="module")
def spec(app) -> dict:
    response = app.test_client().get(OPENAPI)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


# --- the document -----------------------------------------------------------------------------

def test_document_is_valid_openapi(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "rasoat" and spec["info"]["version"]
    # schemathesis validates against the official OpenAPI 3.x meta-schema (raises on failure).
    schemathesis.openapi.from_dict(spec).validate()
    for (method, path), op in _spec_operations(spec).items():
        assert op.get("responses"), f"{method} {path} declares no responses"
        for name in re.findall(r"{([^}]+)}", path):
            declared = [p for p in op.get("parameters", []) + spec["paths"][path].get("parameters", [])
                        if p.get("in") == "path" and p.get("name") == name]
            assert declared, f"{method} {path}: path parameter {name} not declared"


def test_document_lists_every_api_route(app, spec):
    routes = _api_routes(app)
    documented = set(_spec_operations(spec))
    assert routes, "no /api/v1 routes found"
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations the app does not serve"


def test_bearer_security_declared_and_public_operations_marked(app, spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert spec["security"] == [{"bearerAuth": []}]
    operations = _spec_operations(spec)
    public_in_spec = {key for key, op in operations.items() if op.get("security") == []}
    assert PUBLIC_OPERATIONS <= public_in_spec
    # The document agrees with the code: an operation is public in the spec iff its view is @public.
    adapter = app.url_map.bind("localhost")
    for (method, path), op in operations.items():
        sample = re.sub(r"{year}", "2026", path)  # the one integer path variable
        sample = re.sub(r"{[^}]+}", "00000000-0000-4000-8000-000000000000", sample)
        endpoint, _ = adapter.match(sample, method=method.upper())
        view_public = getattr(app.view_functions[endpoint], PUBLIC_ATTRIBUTE, False)
        assert (op.get("security") == []) == view_public, (method, path)


def test_docs_page_uses_only_same_origin_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.IGNORECASE), \
        "the docs page must not load anything from another origin (servers run on LANs without internet)"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/") for a in assets), assets
    assert OPENAPI in html
    for asset in assets:
        with client.get(asset) as response:  # file responses stream: close them
            assert response.status_code == 200, asset


def test_swagger_bundle_is_served(client):
    with client.get("/api/docs/assets/swagger-ui-bundle.js") as response:
        assert response.status_code == 200
        assert response.mimetype in {"text/javascript", "application/javascript"}
        assert len(response.get_data()) > 100_000
        assert "max-age" in response.headers.get("Cache-Control", "")
    assert client.get("/api/docs/assets/../../../etc/passwd").status_code == 404


def test_operations_known_at_collection_match_the_app(spec):
    assert _operations_for_collection() == sorted(_spec_operations(spec))


# --- fuzzing ------------------------------------------------------------------------------------

FUZZ_SETTINGS = settings(
    max_examples=30, deadline=None, database=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
)


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi(OPENAPI, app)


def _fuzz(app, api_schema, method: str, path: str, mode: GenerationMode, headers: dict,
          max_examples: int = 30) -> int:
    operation = api_schema[path][method.upper()]
    calls = []

    @settings(FUZZ_SETTINGS, max_examples=max_examples)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(app=app, headers=headers)
        calls.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()
    return len(calls)


@pytest.mark.parametrize(("method", "path"), _operations_for_collection())
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_no_server_errors_as_national_admin(app, client, accounts, api_schema, method, path, mode):
    """Everything written here is rolled back with the test's transaction."""
    admin = accounts.create("admin")
    tokens = accounts.login(admin.username)
    assert _fuzz(app, api_schema, method, path, mode, bearer(tokens)) > 0
    # The fuzzing must not have ended the admin's session (else it only exercised the 401 path).
    assert client.get("/api/v1/me", headers=bearer(tokens)).status_code == 200


@pytest.mark.parametrize(("method", "path"), _operations_for_collection())
def test_no_server_errors_anonymous(app, client, api_schema, method, path):
    # Cheaper: most of these stop at the 401 (negative mode also drops the token in the admin run).
    assert _fuzz(app, api_schema, method, path, GenerationMode.NEGATIVE, {}, max_examples=10) > 0



# --- what the fuzzing found ---------------------------------------------------------------------

@pytest.mark.parametrize(("method", "url", "body", "status"), [
    ("post", "/api/v1/areas", {"parent": "01\u0000", "code": "a", "name": "x"}, 422),
    ("post", "/api/v1/auth/login", {"username": "a\u0000", "password": "b"}, 422),
    ("post", "/api/v1/users", {"username": "abcdef", "password": "long enough 123", "role": "admin",
                               "display_name": "\u0000"}, 422),
    ("post", "/api/v1/users", {"username": "abcdef", "password": "long enough 123", "role": "admin",
                               "areas": ["01", "01-\u0000"]}, 422),
    ("put", "/api/v1/areas/01%00/area-type", {"area_type": "rural", "valid_from": "2026-01-01"}, 400),
    ("post", "/api/v1/devices/%00/revoke", None, 400),
    ("post", "/api/v1/devices/%00/release", None, 400),
    ("get", "/api/v1/areas?parent=%00", None, 422),
    ("get", "/api/v1/areas?q=a%00b", None, 422),
    ("get", "/api/v1/audit?action=%00", None, 422),
])
def test_nul_characters_are_refused_not_a_500(accounts, client, method, url, body, status):
    """PostgreSQL cannot store U+0000 in text or JSONB: before the fix these were 500s there."""
    headers = accounts.headers("admin")
    response = getattr(client, method)(url, headers=headers, **({"json": body} if body is not None else {}))
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    if status == 422:
        error = response.get_json()["errors"][0]
        assert error["code"] == "nul"
        if body is not None:
            assert error["path"] in {"parent", "username", "display_name", "areas/1"}


def test_nul_in_a_form_field_is_refused(accounts, client):
    headers = accounts.headers("admin")
    response = client.post("/api/v1/areas/import", headers=headers, content_type="multipart/form-data",
                           data={"note": "a\u0000b", "file": (io.BytesIO(b"parent,code,name\n"), "villages.csv")})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["errors"][0] == {**response.get_json()["errors"][0], "path": "note", "in": "form"}
