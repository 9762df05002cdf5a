"""Liveness, readiness, and the request id that ties a response to its log lines."""

from __future__ import annotations

import json
import logging
import re

import pytest
from support import problem

from conftest import test_config as make_test_config
from server import create_app
from server.api.health import migration_heads
from server.db import db


@pytest.fixture()
def plain_client(app):
    """Without the per-test transaction: /readyz opens its own connection from the engine."""
    return app.test_client()


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_dialect_and_migration(app, plain_client):
    response = plain_client.get("/readyz")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    with app.app_context():
        dialect = db.engine.dialect.name
    assert body == {"status": "ready", "database": dialect, "migration": sorted(migration_heads())}
    assert dialect in {"sqlite", "postgresql"}


def test_health_endpoints_need_no_token_and_ignore_a_bad_one(plain_client):
    for path in ("/healthz", "/readyz"):
        assert plain_client.get(path, headers={"Authorization": "Bearer nonsense"}).status_code == 200


def test_readyz_503_when_database_unreachable(tmp_path):
    broken = create_app(make_test_config(f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite3'}", tmp_path))
    body = problem(broken.test_client().get("/readyz"), 503, "server.unavailable")
    assert "unreachable" in body["detail"].lower()
    with broken.app_context():
        db.engine.dispose()


def _json_lines(records) -> list[dict]:
    out = []
    for record in records:
        try:
            out.append(json.loads(record.getMessage()))
        except ValueError:
            continue
    return out


def test_log_lines_carry_the_request_id_of_the_response(client, caplog):
    caplog.set_level(logging.INFO, logger="rasoat.http")
    response = client.get("/healthz")
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    lines = [line for line in _json_lines(caplog.records) if line.get("event") == "request"]
    assert lines, caplog.text
    line = lines[-1]
    assert line["request_id"] == request_id
    assert line["path"] == "/healthz" and line["method"] == "GET" and line["status"] == 200
    assert line["level"] == "info" and "timestamp" in line


def test_each_request_gets_its_own_id(client):
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_an_incoming_request_id_is_logged_beside_the_servers_own(client, caplog):
    """The request id is the server's (the audit log trusts it); the client's is only logged."""
    caplog.set_level(logging.INFO, logger="rasoat.http")
    response = client.get("/healthz", headers={"X-Request-ID": "proxy-abc.123_x"})
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    line = _json_lines(caplog.records)[-1]
    assert (line["request_id"], line["client_request_id"]) == (request_id, "proxy-abc.123_x")
    # Two requests naming the same id still get two ids.
    assert client.get("/healthz", headers={"X-Request-ID": "proxy-abc.123_x"}).headers["X-Request-ID"] != request_id


@pytest.mark.parametrize("unsafe", ["has space", "x" * 65, "new\\nline", "<script>", "ä"])
def test_unsafe_incoming_request_id_is_replaced(client, caplog, unsafe):
    caplog.set_level(logging.INFO, logger="rasoat.http")
    response = client.get("/healthz", headers={"X-Request-ID": unsafe})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert "client_request_id" not in _json_lines(caplog.records)[-1]


def test_problem_bodies_quote_the_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="rasoat.http")
    response = client.get("/api/v1/me")
    body = problem(response, 401, "auth.required")
    assert body["request_id"] == response.headers["X-Request-ID"]
    line = _json_lines(caplog.records)[-1]
    assert line["request_id"] == body["request_id"] and line["status"] == 401


def test_user_is_logged_after_authentication(accounts, client, caplog):
    user = accounts.create("supervisor", ["01-00004"])
    tokens = accounts.login(user.username)
    caplog.set_level(logging.INFO, logger="rasoat.http")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    line = _json_lines(caplog.records)[-1]
    assert line["user"] == user.username
    assert line["request_id"] == response.headers["X-Request-ID"]


def test_unexpected_database_error_is_a_logged_500_problem(accounts, client, caplog, monkeypatch):
    """A failed flush must not break the request log (which reads the user) nor leak a traceback."""
    import server.api.auth as auth_api
    from server.models import Area
    from server.security.current import current_user

    def failing_current_user():
        user = current_user()
        db.session.expire(user)  # as after any earlier commit in the request
        db.session.add(Area(code="01", level="province", name="duplicate", name_folded="duplicate"))
        db.session.flush()  # IntegrityError: the session now needs a rollback

    user = accounts.create("supervisor", ["01-00004"])
    tokens = accounts.login(user.username)
    monkeypatch.setattr(auth_api, "current_user", failing_current_user)
    caplog.set_level(logging.INFO, logger="rasoat")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    body = problem(response, 500, "server.error")
    assert "Traceback" not in response.get_data(as_text=True)
    lines = _json_lines(caplog.records)
    assert any(line.get("event") == "unhandled_exception" and line["request_id"] == body["request_id"]
               for line in lines)
    request_line = [line for line in lines if line.get("event") == "request"][-1]
    assert request_line["status"] == 500 and request_line["request_id"] == body["request_id"]
    assert request_line["user"] == user.username
