"""PATCH /api/v1/submissions/{id}: a supervisor's correction is a new revision written through
the sync core, validated like a push, merged into the household, audited; the phone's own next
edit does not undo it."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, COMMUNE_Y, VILLAGE_A, problem
from support.households import household_answers, submission

from server.db import db
from server.models import AuditEntry, Household, Submission, SubmissionRevision

PUSH = "/api/v1/sync/push"


@pytest.fixture()
def pushed(client, accounts):
    phone = accounts.headers("enumerator", [VILLAGE_A], device_id="phone-a")
    item = submission(VILLAGE_A, answers=household_answers(floor_area=30))
    response = client.post(PUSH, json={"device_id": "phone-a", "submissions": [item]}, headers=phone)
    assert response.get_json()["results"][0]["status"] == "accepted"
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    return phone, supervisor, item


def etag(client, supervisor, sid) -> str:
    return client.get(f"/api/v1/submissions/{sid}", headers=supervisor).headers["ETag"]


def test_a_correction_is_a_new_revision_of_the_submission_and_the_household(client, app, pushed):
    phone, supervisor, item = pushed
    sid = item["id"]
    approved = client.post(f"/api/v1/submissions/{sid}/review", json={"action": "approve"},
                           headers={**supervisor, "If-Match": etag(client, supervisor, sid)})
    assert approved.status_code == 200
    response = client.patch(f"/api/v1/submissions/{sid}", json={"answers": {"floor_area": 45},
                                                                "reason": "Đo lại diện tích nhà"},
                            headers={**supervisor, "If-Match": etag(client, supervisor, sid)})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["rev"] == 2 and body["answers"]["floor_area"] == 45 and body["review_state"] == "approved"
    assert response.headers["ETag"] == etag(client, supervisor, sid)
    with app.app_context():
        revision = db.session.execute(sa.select(SubmissionRevision).where(
            SubmissionRevision.submission_id == uuid.UUID(sid), SubmissionRevision.rev == 2)).scalar_one()
        assert (revision.source, revision.reason, revision.answers["floor_area"]) == (
            "correction", "Đo lại diện tích nhà", 45)
        household = db.session.get(Household, uuid.UUID(item["household_id"]))
        assert household.rev == 2 and household.answers["floor_area"] == 45
        [entry] = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "submission.correct")).scalars()
        assert entry.target_id == sid and entry.detail["fields"] == ["floor_area"]

    # The phone, which has not pulled the correction, edits another answer from its own rev 1:
    # its rev 2 is taken (conflict), its rev 3 is merged and keeps the correction.
    edited = dict(item, rev=2, answers=household_answers(floor_area=30, latrine_type="none"))
    [clash] = client.post(PUSH, json={"device_id": "phone-a", "submissions": [edited]}, headers=phone).get_json()[
        "results"]
    assert clash["status"] == "conflict" and clash["rev"] == 2
    [merged] = client.post(PUSH, json={"device_id": "phone-a", "submissions": [dict(edited, rev=3)]},
                           headers=phone).get_json()["results"]
    assert merged["status"] == "accepted" and "conflict_id" not in merged, merged
    with app.app_context():
        household = db.session.get(Household, uuid.UUID(item["household_id"]))
        assert household.answers["floor_area"] == 45 and household.answers["latrine_type"] == "none"


def test_a_correction_is_checked_like_a_push_and_writes_nothing_when_refused(client, app, pushed):
    _, supervisor, item = pushed
    sid = item["id"]
    url = f"/api/v1/submissions/{sid}"
    headers = {**supervisor, "If-Match": etag(client, supervisor, sid)}
    bad = problem(client.patch(url, json={"answers": {"floor_area": -5}, "reason": "x"}, headers=headers), 422)
    assert any(e["path"] == "answers/floor_area" for e in bad["errors"]), bad
    unknown = problem(client.patch(url, json={"answers": {"no_such": 1}, "reason": "x"}, headers=headers), 422)
    assert any(e["path"] == "answers/no_such" for e in unknown["errors"]), unknown
    blank = problem(client.patch(url, json={"answers": {"floor_area": 40}, "reason": "  "}, headers=headers), 422)
    assert blank["errors"][0]["path"] == "reason"
    problem(client.patch(url, json={"answers": {"floor_area": 40}, "reason": "x"}, headers=supervisor), 428)
    problem(client.patch(url, json={"answers": {"floor_area": 40}, "reason": "x"},
                         headers={**supervisor, "If-Match": '"stale"'}), 412)
    with app.app_context():
        assert db.session.get(Submission, uuid.UUID(sid)).rev == 1


def test_another_communes_supervisor_cannot_correct(client, accounts, pushed):
    _, supervisor, item = pushed
    other = accounts.headers("supervisor", [COMMUNE_Y])
    problem(client.patch(f"/api/v1/submissions/{item['id']}", json={"answers": {"floor_area": 40}, "reason": "x"},
                         headers={**other, "If-Match": etag(client, supervisor, item["id"])}), 404)
