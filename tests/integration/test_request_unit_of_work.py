"""What the HTTP layer tells a request's unit of work, now that neither the engine nor the
services read the request themselves (server/http.py ``install_unit_of_work``):

* SQLite: a GET/HEAD/OPTIONS request's transactions begin deferred (they never wait for a
  writer); any other request, and anything outside a request (the CLI), begins IMMEDIATE;
* audit entries carry the request id, the client's address and, when the service names no
  actor, the authenticated caller; outside a request they carry none of these.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from conftest import test_config as make_test_config
from server import create_app
from server.db import db
from server.models import AuditEntry


@pytest.fixture()
def sqlite_app(tmp_path):
    app = create_app(make_test_config(f"sqlite:///{tmp_path / 'begin.sqlite3'}", tmp_path))

    def probe():
        db.session.execute(sa.text("SELECT 1"))
        db.session.commit()
        return {"ok": True}

    app.add_url_rule("/probe", "probe", probe, methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE"])
    begins: list[str] = []
    with app.app_context():
        engine = db.engine

        @sa.event.listens_for(engine, "before_cursor_execute")
        def _record(_conn, _cursor, statement, *_args):
            if statement.startswith("BEGIN"):
                begins.append(statement)

    yield app, begins
    with app.app_context():
        db.engine.dispose()


def test_sqlite_reads_begin_deferred_and_everything_else_immediate(sqlite_app):
    app, begins = sqlite_app
    client = app.test_client()
    for method, expected in (("GET", "BEGIN"), ("HEAD", "BEGIN"), ("OPTIONS", "BEGIN"), ("POST", "BEGIN IMMEDIATE"),
                             ("PUT", "BEGIN IMMEDIATE"), ("DELETE", "BEGIN IMMEDIATE"), ("GET", "BEGIN")):
        begins.clear()
        assert client.open("/probe", method=method).status_code == 200
        assert begins == [expected], method
    # readyz checks the database on its own connection: a read, deferred.
    begins.clear()
    client.get("/readyz")
    assert begins == ["BEGIN"]
    # Outside a request (the CLI): a transaction may write.
    begins.clear()
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.session.commit()
    assert begins == ["BEGIN IMMEDIATE"]


def test_a_session_that_outlives_a_get_request_may_write_again(sqlite_app):
    app, begins = sqlite_app
    client = app.test_client()
    with app.app_context():  # one app context, hence one session, around the request
        assert client.get("/probe").status_code == 200
        begins.clear()
        db.session.execute(sa.text("SELECT 1"))
        db.session.commit()
    assert begins == ["BEGIN IMMEDIATE"]


def test_audit_entries_carry_the_request_and_the_caller(app, client, accounts):
    admin = accounts.headers("admin")
    username = f"dv-{uuid.uuid4().hex[:8]}"
    created = client.post("/api/v1/users", headers={**admin, "X-Request-ID": "audit-origin-1"},
                          environ_base={"REMOTE_ADDR": "192.0.2.7"},
                          json={"username": username, "password": "correct horse battery", "role": "enumerator",
                                "areas": ["01-00004-a"]})
    assert created.status_code == 201, created.get_json()
    with app.app_context():
        entry = db.session.execute(sa.select(AuditEntry).where(
            AuditEntry.action == "user.create", AuditEntry.target_id == created.get_json()["id"])).scalar_one()
        # users.create_user names no actor: the authenticated admin is.
        assert entry.actor_username.startswith("admin-")
        # The request id is the server's own (the one it answered with), never the client's.
        assert (entry.request_id, entry.client_address) == (created.headers["X-Request-ID"], "192.0.2.7")
        assert entry.request_id != "audit-origin-1"

        # A login (public: no caller yet) is audited with its request too.
        logins_before = db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "auth.login")).scalar_one()
    response = client.post("/api/v1/auth/login", headers={"X-Request-ID": "audit-origin-2"},
                           environ_base={"REMOTE_ADDR": "192.0.2.8"},
                           json={"username": username, "password": "correct horse battery"})
    assert response.status_code == 200
    with app.app_context():
        logins = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "auth.login")
                                    .order_by(AuditEntry.id)).scalars().all()
        assert len(logins) == logins_before + 1
        assert (logins[-1].actor_username, logins[-1].request_id, logins[-1].client_address) == (
            username, response.headers["X-Request-ID"], "192.0.2.8")
        assert logins[-1].request_id != "audit-origin-2"


def test_audit_entries_written_outside_a_request_have_no_origin(app):
    # The session fixture created villages through the service, as the CLI would.
    with app.app_context():
        entries = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "area.create")).scalars().all()
    assert entries
    assert all((e.actor_id, e.request_id, e.client_address) == (None, None, None) for e in entries)
