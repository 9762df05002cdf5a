"""RASOAT_MAX_JSON_BYTES holds for bodies sent chunked (no Content-Length) as for declared ones:
every JSON endpoint answers 413 request.too_large, in the test client and through a real
gunicorn (which is what de-chunks a phone's or a proxy's body in production)."""

from __future__ import annotations

import http.client
import io
import json
import os
import uuid

import pytest
from support import problem
from support.live import LiveServer, fresh_database

from server.http import ACCEPTS_ATTRIBUTE, BODY_METHODS

LIMIT = 4096


def json_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every API route that takes a JSON body, with its parameters filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        if "application/json" not in getattr(view, ACCEPTS_ATTRIBUTE, {"application/json"}):
            continue
        for method in sorted(rule.methods & BODY_METHODS):
            routes.append((method, _path(app, rule, method)))
    return routes


def _path(app, rule, method: str) -> str:
    """A URL of ``rule`` with its parameters filled in: a UUID or a year, whichever it matches."""
    adapter = app.url_map.bind("localhost")
    for value in (str(uuid.uuid4()), "2026"):
        try:
            path = adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, value), method=method)
            if adapter.match(path, method=method)[0] == rule.endpoint:
                return path
        except Exception:  # noqa: BLE001 - not a value of this parameter's type: try the next
            continue
    raise AssertionError(f"no URL for {rule}")


def oversized() -> bytes:
    return b'{"pad": "' + b"x" * (LIMIT * 4) + b'"}'


def test_every_json_endpoint_refuses_an_oversized_chunked_body_in_process(app, client, config):
    config["MAX_JSON_BYTES"] = LIMIT
    routes = json_routes(app)
    assert ("POST", "/api/v1/sync/push") in routes and ("POST", "/api/v1/auth/login") in routes
    for method, path in routes:
        body = oversized()
        response = client.open(path, method=method, content_type="application/json",
                               environ_overrides={"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True,
                                                  "HTTP_TRANSFER_ENCODING": "chunked"})
        assert problem(response, 413, "request.too_large")["limit_bytes"] == LIMIT, (method, path)


def test_a_chunked_body_within_the_limit_is_read_as_usual(app, client, accounts, config):
    config["MAX_JSON_BYTES"] = LIMIT
    user = accounts.create("enumerator", ["01-00004-a"])
    body = b'{"username": "%s", "password": "correct horse battery"}' % user.username.encode()
    response = client.post("/api/v1/auth/login", content_type="application/json",
                           environ_overrides={"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True,
                                              "HTTP_TRANSFER_ENCODING": "chunked"})
    assert response.status_code == 200, response.get_json()


# --- through gunicorn -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    directory = tmp_path_factory.mktemp("json-limits")
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), directory) as url:
        server = LiveServer(url, env={"RASOAT_MAX_JSON_BYTES": str(LIMIT)}, workers=1, threads=2,
                            directory=directory / "server")
        server.cli("init")
        server.cli("user", "create", "chunk", "--role", "enumerator", "--area", "01-00004",
                   "--password-stdin", input="correct horse battery\n")
        with server:
            yield server


def send_chunked(live, method: str, path: str, body: bytes, chunk: int = 1024) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection(live.host, live.port, timeout=30)
    try:
        connection.putrequest(method, path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.putheader("Connection", "close")
        connection.endheaders()
        try:
            for start in range(0, len(body), chunk):
                piece = body[start:start + chunk]
                connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            connection.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading it all: its answer is still there
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_every_json_endpoint_refuses_an_oversized_chunked_body_through_gunicorn(app, live):
    routes = json_routes(app)
    assert len(routes) >= 10
    for method, path in routes:
        status, headers, raw = send_chunked(live, method, path, oversized())
        assert status == 413, (method, path, status, raw[:300])
        assert headers["content-type"] == "application/problem+json"
        body = json.loads(raw)
        assert (body["code"], body["limit_bytes"]) == ("request.too_large", LIMIT), (method, path, body)


def test_a_chunked_login_within_the_limit_works_through_gunicorn(live):
    status, _, raw = send_chunked(live, "POST", "/api/v1/auth/login",
                                  b'{"username": "chunk", "password": "correct horse battery"}', chunk=7)
    assert status == 200, raw
    assert json.loads(raw)["token_type"] == "Bearer"
