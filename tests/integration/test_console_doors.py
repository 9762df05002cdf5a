"""Console edges found in review, over HTTP through the app with cookie sessions: a date at the
calendar's end is no 500, a provincial admin reads only their province's parameters, and a
second login on the same browser ends the first session."""

from __future__ import annotations

import re

import sqlalchemy as sa

from server.db import db
from server.models import AuthSession

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _log_in(client, username: str) -> None:
    page = client.get("/console/login")
    token = TOKEN.search(page.data.decode()).group(1)
    answer = client.post("/console/login", data={"username": username, "password": "correct horse battery",
                                                 "csrf_token": token})
    assert answer.status_code == 303, answer.data[:500]


def test_the_audit_log_until_the_last_day_of_the_calendar_is_a_page(client, accounts):
    _log_in(client, accounts.create("admin").username)
    everything = client.get("/console/admin/audit")
    response = client.get("/console/admin/audit?until=9999-12-31")
    assert everything.status_code == response.status_code == 200
    # No upper bound: the same entries as with no date at all (the admin's own login among them).
    rows = re.compile(rb"<tr>.*?</tr>", re.S)
    assert rows.findall(response.data) == rows.findall(everything.data) and len(rows.findall(response.data)) > 1


def test_a_provincial_admin_reads_the_parameters_of_their_own_province_only(client, accounts):
    _log_in(client, accounts.create("admin", ["01"]).username)
    own = client.get("/console/admin/parameters?province=01")
    other = client.get("/console/admin/parameters?province=79")
    assert own.status_code == other.status_code == 200
    # Asked for 79, shown their own (the page's override form is province 01's).
    assert b'<input type="hidden" name="province" value="01">' in own.data
    assert b'<input type="hidden" name="province" value="01">' in other.data
    assert b'name="province" value="79"' not in other.data


def test_a_second_login_on_the_same_browser_ends_the_first_session(client, app, accounts):
    first, second = accounts.create("supervisor", ["01-00004"]), accounts.create("supervisor", ["01-00004"])
    _log_in(client, first.username)
    # The login page is not offered to someone logged in; a second person posts the form anyway
    # (a page left open from before): the first session is over, not left to expire.
    page = client.get("/console/", follow_redirects=True)
    token = TOKEN.search(page.data.decode()).group(1)
    answer = client.post("/console/login", data={"username": second.username, "password": "correct horse battery",
                                                 "csrf_token": token})
    assert answer.status_code == 303
    with app.app_context():
        rows = db.session.execute(sa.select(AuthSession.user_id, AuthSession.revoked_at)
                                  .where(AuthSession.user_id.in_([first.id, second.id]))).all()
    revoked = {user_id: revoked_at is not None for user_id, revoked_at in rows}
    assert revoked == {first.id: True, second.id: False}
