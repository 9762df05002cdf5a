"""A supervisor's correction through the console's form (HTTP through the app, a cookie session
and its CSRF token): typed numbers are read as the phone reads them (forms.typed), so "2,5" in
an integer field is refused beside the field instead of being stored as 25; a text answer the
supervisor did not touch is not "corrected" by the round trip through a text box."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, VILLAGE_A
from support.households import household_answers, submission

from server.db import db
from server.models import Submission, SubmissionRevision

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _token(page: bytes) -> str:
    return TOKEN.search(page.decode()).group(1)


@pytest.fixture()
def console(client, accounts):
    phone = accounts.headers("enumerator", [VILLAGE_A], device_id="phone-a")
    item = submission(VILLAGE_A, answers=household_answers(address="Số 12,\nthôn Đông ", income_other=0))
    [result] = client.post("/api/v1/sync/push", json={"device_id": "phone-a", "submissions": [item]},
                           headers=phone).get_json()["results"]
    assert result["status"] == "accepted", result
    supervisor = accounts.create("supervisor", [COMMUNE_X])
    login = client.get("/console/login")
    answer = client.post("/console/login", data={"username": supervisor.username, "password": "correct horse battery",
                                                 "csrf_token": _token(login.data)})
    assert answer.status_code == 303, answer.data[:500]
    return item["id"]


def _correct(client, sid: str, **fields) -> tuple[int, str]:
    page = client.get(f"/console/submissions/{sid}")
    assert page.status_code == 200
    etag = re.search(r'name="etag" value="([^"]+)"', page.data.decode()).group(1)
    form = {"csrf_token": _token(page.data), "etag": etag, "reason": "Hộ khai lại",
            # What the browser posts back for the address box: newlines dropped.
            "a.address": "Số 12,thôn Đông", **{f"a.{k}": v for k, v in fields.items()}}
    response = client.post(f"/console/submissions/{sid}/correct", data=form)
    return response.status_code, response.data.decode()


def test_a_number_the_phone_would_refuse_is_refused_beside_its_field(client, app, console):
    status, body = _correct(client, console, income_other="2,5")
    assert status == 422
    assert "2,5" in body  # shown again as typed, with the service's message
    with app.app_context():
        stored = db.session.get(Submission, uuid.UUID(console))
        assert stored.rev == 1 and stored.answers["income_other"] == 0


def test_a_grouped_number_is_read_and_only_the_changed_field_is_corrected(client, app, console):
    status, body = _correct(client, console, income_other="1.500.000")
    assert status in (200, 303), body[:2000]
    with app.app_context():
        stored = db.session.get(Submission, uuid.UUID(console))
        assert stored.rev == 2 and stored.answers["income_other"] == 1_500_000
        assert stored.answers["address"] == "Số 12,\nthôn Đông "  # untouched: not "corrected"
        revision = db.session.execute(sa.select(SubmissionRevision).where(
            SubmissionRevision.submission_id == uuid.UUID(console), SubmissionRevision.rev == 2)).scalar_one()
        assert revision.source == "correction"
