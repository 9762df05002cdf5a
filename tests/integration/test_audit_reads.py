"""Reads of personal data (a household's and a submission's detail, a revision diff) and every
push are audited: who, what, when, from which request (the server's request id)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, VILLAGE_A, problem
from support.households import household_answers, submission

from conftest import test_config as make_test_config
from server import create_app
from server.cli import initialise
from server.db import db
from server.models import AuditEntry
from server.scoping import Scope
from server.services.areas import set_area_type
from server.services.users import create_user

PUSH = "/api/v1/sync/push"


def entries(transaction, action: str) -> list:
    return transaction.execute(sa.select(AuditEntry.__table__).where(AuditEntry.action == action)
                               .order_by(AuditEntry.id)).all()


def push(client, headers, items, device_id="au-a"):
    response = client.post(PUSH, json={"device_id": device_id, "submissions": items}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture()
def pushed(client, accounts):
    phone = accounts.headers("enumerator", [VILLAGE_A], device_id="au-a")
    item = submission(VILLAGE_A)
    assert push(client, phone, [item]).get_json()["results"][0]["status"] == "accepted"
    supervisor = accounts.create("supervisor", [COMMUNE_X])
    headers = {"Authorization": f"Bearer {accounts.login(supervisor.username)['access_token']}"}
    return item, supervisor, headers, phone


@pytest.mark.parametrize("kind", ["household", "submission", "diff"])
def test_a_detail_read_is_audited_with_who_what_and_when(client, transaction, pushed, kind):
    item, supervisor, headers, _ = pushed
    target, url, action = {
        "household": (item["household_id"], f"/api/v1/households/{item['household_id']}", "household.read"),
        "submission": (item["id"], f"/api/v1/submissions/{item['id']}", "submission.read"),
        "diff": (item["id"], f"/api/v1/submissions/{item['id']}/diff?from=1&to=1", "submission.diff_read"),
    }[kind]
    before = dt.datetime.now(dt.UTC)
    response = client.get(url, headers=headers, environ_base={"REMOTE_ADDR": "192.0.2.44"})
    assert response.status_code == 200, response.get_json()
    [entry] = entries(transaction, action)
    assert (entry.actor_id, entry.actor_username) == (supervisor.id, supervisor.username)
    assert (entry.target_type, entry.target_id, entry.area_code) == (
        "submission" if kind != "household" else "household", target, VILLAGE_A)
    assert (entry.request_id, entry.client_address) == (response.headers["X-Request-ID"], "192.0.2.44")
    assert before - dt.timedelta(seconds=1) <= entry.at.replace(tzinfo=dt.UTC) <= dt.datetime.now(dt.UTC)
    # Read again: audited again.
    assert client.get(url, headers=headers).status_code == 200
    assert len(entries(transaction, action)) == 2


def test_a_read_that_finds_nothing_writes_nothing(client, transaction, pushed):
    _, _, headers, _ = pushed
    problem(client.get(f"/api/v1/households/{uuid.uuid4()}", headers=headers), 404)
    problem(client.get(f"/api/v1/submissions/{uuid.uuid4()}", headers=headers), 404)
    assert entries(transaction, "household.read") == entries(transaction, "submission.read") == []


def test_the_detail_is_served_whole_after_the_audit_commit(client, pushed):
    """The audit commits before the view renders: what the read loaded must not be expired and
    read again (nor be half-empty)."""
    item, _, headers, _ = pushed
    body = client.get(f"/api/v1/households/{item['household_id']}", headers=headers).get_json()
    assert body["id"] == item["household_id"] and body["answers"] and body["revisions"] and body["submissions"]
    detail = client.get(f"/api/v1/submissions/{item['id']}", headers=headers).get_json()
    assert detail["answers"] and detail["revisions"][0]["rev"] == 1


def test_every_push_is_audited_once_with_its_counts_and_stored_ids(client, transaction, pushed):
    _, _, _, phone = pushed
    good, other = submission(VILLAGE_A), submission(VILLAGE_A)
    bad = submission(VILLAGE_A, answers=household_answers(floor_area=-5))
    first = push(client, phone, [good, bad, other])
    again = push(client, phone, [good])
    pushes = entries(transaction, "sync.push")[-2:]
    assert [p.request_id for p in pushes] == [first.headers["X-Request-ID"], again.headers["X-Request-ID"]]
    assert pushes[0].detail == {"counts": {"accepted": 2, "duplicate": 0, "conflict": 0, "rejected": 1},
                                "stored": [good["id"], other["id"]]}
    assert pushes[1].detail == {"counts": {"accepted": 0, "duplicate": 1, "conflict": 0, "rejected": 0},
                                "stored": []}
    assert all(p.target_type == "device" and p.target_id == "au-a" and p.actor_username.startswith("enumerator-")
               for p in pushes)


# --- SQLite: the read takes no write lock; the audit's own transaction does -------------------------


def test_on_sqlite_the_read_is_deferred_and_only_the_audit_entry_takes_the_write_lock(tmp_path):
    app = create_app(make_test_config(f"sqlite:///{tmp_path / 'audit.sqlite3'}", tmp_path))
    statements: list[str] = []
    with app.app_context():
        initialise()
        set_area_type(Scope(None), COMMUNE_X, "rural", dt.date(2025, 7, 1))  # the answers' setting
        create_user(Scope(None), username="phoneau", password="correct horse battery", role="enumerator",
                    areas=[f"{COMMUNE_X}"])
        create_user(Scope(None), username="giamsatau", password="correct horse battery", role="supervisor",
                    areas=[COMMUNE_X])

        @sa.event.listens_for(db.engine, "before_cursor_execute")
        def _record(_conn, _cursor, statement, *_args):
            if statement.startswith("BEGIN"):
                statements.append(statement)
            elif statement.startswith("INSERT INTO audit_log"):
                statements.append("INSERT audit")
            elif "FROM households" in statement:
                statements.append("SELECT household")
    try:
        client = app.test_client()

        def token(name):
            return client.post("/api/v1/auth/login", json={"username": name, "password": "correct horse battery"}
                               ).get_json()["access_token"]

        phone = {"Authorization": f"Bearer {token('phoneau')}"}
        item = submission(COMMUNE_X)
        assert push(client, phone, [item], "au-sqlite").get_json()["results"][0]["status"] == "accepted"
        supervisor = {"Authorization": f"Bearer {token('giamsatau')}"}
        statements.clear()
        assert client.get(f"/api/v1/households/{item['household_id']}", headers=supervisor).status_code == 200
        # The read (authentication, the household) in a deferred transaction, which ends; then the
        # audit entry alone in an IMMEDIATE one.
        assert statements == ["BEGIN", "SELECT household", "BEGIN IMMEDIATE", "INSERT audit"], statements
    finally:
        with app.app_context():
            db.engine.dispose()
