"""The sync core's rules as a phone meets them over HTTP: each item judged alone whatever it
holds, bounded visit dates, a submission revised only by its enumerator, the year row following
the visit date, and every item code published."""

from __future__ import annotations

import datetime as dt
import json
import inspect
import re
import uuid

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, VILLAGE_A
from support.households import household_answers, submission

import sync.core
import sync.decisions
import sync.items
from server.db import db
from server.errors import PUSH_ITEM_CODES
from server.models import HouseholdYear, Submission, SubmissionRevision

PUSH = "/api/v1/sync/push"


@pytest.fixture()
def phone(accounts):
    return accounts.headers("enumerator", [VILLAGE_A], device_id="phone-a")


def push(client, headers, items, device_id="phone-a"):
    # The standard library's encoder: orjson's stops at 255 levels, and these tests go deeper.
    body = json.dumps({"device_id": device_id, "submissions": items}, ensure_ascii=False)
    response = client.post(PUSH, data=body.encode(), content_type="application/json", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return response.get_json()["results"]


def codes(result: dict) -> list[tuple[str, str]]:
    return [(e["path"], e["code"]) for e in result.get("errors", [])]


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_absurd_items_are_rejected_alone_and_the_valid_ones_beside_them_are_stored(client, app, phone):
    mine = submission(VILLAGE_A)
    assert push(client, phone, [mine])[0]["status"] == "accepted"
    year_one = submission(VILLAGE_A, started_at=None, finished_at="0001-01-01T00:00:00+07:00")
    far_future = submission(VILLAGE_A, started_at=None, finished_at="9999-12-31T23:59:59-12:00")
    deep_edit = dict(mine, rev=2, answers={**mine["answers"], "note": nested(600)})
    deep_new = submission(VILLAGE_A, answers={"x": nested(489)})
    valid = submission(VILLAGE_A)
    results = push(client, phone, [year_one, deep_edit, valid, far_future, deep_new])
    assert [codes(r) for r in results] == [
        [("finished_at", "visit_too_early")], [("answers", "too_deep")], [],
        [("finished_at", "visit_in_future")], [("answers", "too_deep")]]
    assert results[2]["status"] == "accepted"
    with app.app_context():
        assert db.session.get(Submission, uuid.UUID(valid["id"])) is not None
        assert db.session.get(Submission, uuid.UUID(mine["id"])).rev == 1


def test_visit_dates_are_bounded_with_a_code_each(client, phone, config):
    now = dt.datetime.now(dt.UTC)
    soon = (now + dt.timedelta(hours=20)).isoformat()
    results = push(client, phone, [
        submission(VILLAGE_A, started_at=None, finished_at="1900-01-01T08:00:00+07:00"),
        submission(VILLAGE_A, started_at=None, finished_at="2019-12-31T23:59:59+07:00"),
        submission(VILLAGE_A, started_at=None, finished_at="2099-10-01T08:00:00+07:00"),
        submission(VILLAGE_A, started_at="2026-10-02T09:00:00+07:00", finished_at="2026-10-02T08:00:00+07:00"),
        submission(VILLAGE_A, started_at="2026-10-02T08:00:00+07:00", finished_at=None),
        submission(VILLAGE_A, started_at=None, finished_at=soon),  # a phone clock a little ahead
        submission(VILLAGE_A, started_at=None, finished_at="2020-01-01T00:00:00+07:00"),
    ])
    assert [codes(r) for r in results] == [
        [("finished_at", "visit_too_early")], [("finished_at", "visit_too_early")],
        [("finished_at", "visit_in_future")], [("started_at", "visit_start_after_end")], [], [], []]
    config["EARLIEST_VISIT"] = "2025-01-01"
    [late] = push(client, phone, [submission(VILLAGE_A, started_at=None, finished_at="2024-06-01T08:00:00+07:00")])
    assert codes(late) == [("finished_at", "visit_too_early")]


def test_only_the_enumerator_who_created_a_submission_revises_it(client, app, accounts, phone):
    mine = submission(VILLAGE_A)
    assert push(client, phone, [mine])[0]["status"] == "accepted"
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    detail = client.get(f"/api/v1/submissions/{mine['id']}", headers=supervisor)
    approved = client.post(f"/api/v1/submissions/{mine['id']}/review", json={"action": "approve"},
                           headers={**supervisor, "If-Match": detail.headers["ETag"]})
    assert approved.status_code == 200, approved.get_json()

    neighbour = accounts.headers("enumerator", [VILLAGE_A], device_id="phone-b")
    theirs = dict(mine, rev=2, answers=household_answers(floor_area=12))
    [result] = push(client, neighbour, [theirs], device_id="phone-b")
    assert codes(result) == [("id", "not_your_submission")]
    with app.app_context():
        stored = db.session.get(Submission, uuid.UUID(mine["id"]))
        assert (stored.rev, stored.review_state) == (1, "approved")
        assert stored.answers["floor_area"] == mine["answers"]["floor_area"]
        assert db.session.execute(sa.select(sa.func.count()).select_from(SubmissionRevision).where(
            SubmissionRevision.submission_id == stored.id)).scalar_one() == 1
    # Their visit of the same household is a new submission of it, merged as any second visit.
    visit = submission(VILLAGE_A, household_id=mine["household_id"], household_rev=1,
                       answers=household_answers(floor_area=12))
    [second] = push(client, neighbour, [visit], device_id="phone-b")
    assert second["status"] == "accepted" and second["household_rev"] == 2


def test_the_year_row_follows_the_latest_visit_not_the_latest_arrival(client, app, phone):
    later = submission(VILLAGE_A, started_at=None, finished_at="2026-11-20T10:00:00+07:00",
                       answers=household_answers(floor_area=40))
    earlier = submission(VILLAGE_A, household_id=later["household_id"], household_rev=1, started_at=None,
                         finished_at="2026-10-01T10:00:00+07:00", answers=household_answers(floor_area=25))
    assert push(client, phone, [later])[0]["status"] == "accepted"
    assert push(client, phone, [earlier])[0]["status"] == "accepted"  # arrives last, visited first
    with app.app_context():
        [row] = db.session.execute(sa.select(HouseholdYear).where(
            HouseholdYear.household_id == uuid.UUID(later["household_id"]))).scalars()
        assert (row.year, str(row.submission_id)) == (2026, later["id"])
        assert row.visit_at == dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


def test_the_review_year_is_the_forms_parameter_and_every_revision_says_what_it_was_computed_with(
        client, app, accounts, phone):
    admin = accounts.headers("admin", [])
    before = submission(VILLAGE_A, started_at=None, finished_at="2025-12-31T17:30:00+00:00")  # 00:30, 1 Jan 2026
    assert push(client, phone, [before])[0]["status"] == "accepted"
    override = client.put("/api/v1/forms/household-review/versions/2022.1/parameters/01", headers=admin,
                          json={"parameters": {"review_year": 2025}, "reason": "Đợt rà soát 2025 kéo dài"})
    assert override.status_code in (200, 201), override.get_json()
    after = submission(VILLAGE_A, started_at=None, finished_at="2026-01-05T09:00:00+07:00")
    assert push(client, phone, [after])[0]["status"] == "accepted"
    with app.app_context():
        first, second = (db.session.get(Submission, uuid.UUID(i["id"])) for i in (before, after))
        assert (first.year, second.year) == (2026, 2025)  # the form's parameter, then the province's override
        revision = db.session.execute(sa.select(SubmissionRevision).where(
            SubmissionRevision.submission_id == second.id)).scalar_one()
        version_sha = client.get("/api/v1/forms/household-review/versions/2022.1",
                                 headers=admin).headers["ETag"].strip('"')
        assert revision.provenance == {"form_id": "household-review", "form_version": "2022.1",
                                       "form_sha256": version_sha, "parameter_set": {"province": "01", "revision": 1},
                                       "visit_date": "2026-01-05", "review_year": 2025}
        first_revision = db.session.execute(sa.select(SubmissionRevision).where(
            SubmissionRevision.submission_id == first.id)).scalar_one()
        assert first_revision.provenance["parameter_set"] is None
        assert first_revision.provenance["visit_date"] == "2026-01-01"  # the visit's date in Vietnam
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    detail = client.get(f"/api/v1/submissions/{after['id']}", headers=supervisor).get_json()
    assert detail["revisions"][0]["provenance"]["review_year"] == 2025
    assert detail["revisions"][0]["computed"]


def _emitted_codes() -> set[str]:
    """Every code a pushed item's answer can carry, read from the source of the rules that make them."""
    rules = (sync.core.judge, sync.core.push_item, sync.core._visit_time_errors, sync.core._area_type_mismatch,
             sync.decisions.decide, sync.items.nesting_error)
    source = "\n".join(inspect.getsource(rule) for rule in rules)
    return (set(re.findall(r'_error\([^,]+,\s*"([a-z_]+)"', source))
            | set(re.findall(r'Decision\(Outcome\.\w+,\s*"([a-z_]+)"', source))
            | set(re.findall(r'"code":\s*"([a-z_]+)"', source)))


def test_every_item_code_is_in_the_catalogue_and_the_openapi_document(client):
    emitted = _emitted_codes()
    assert {"not_your_submission", "visit_too_early", "unknown_area", "stale_revision"} <= emitted
    assert emitted <= set(PUSH_ITEM_CODES), emitted - set(PUSH_ITEM_CODES)
    spec = client.get("/api/v1/openapi.json").get_json()
    push_op = spec["paths"]["/api/v1/sync/push"]["post"]
    assert set(push_op["x-rasoat-item-codes"]) == set(PUSH_ITEM_CODES)
    schema = spec["components"]["schemas"]["PushItemError"]
    assert set(schema["properties"]["code"]["enum"]) == set(PUSH_ITEM_CODES)
    assert all(PUSH_ITEM_CODES[code] for code in PUSH_ITEM_CODES)


def test_a_session_without_a_device_cannot_push_under_another_users_phone(client, app, accounts, phone):
    other = accounts.create("enumerator", [VILLAGE_A])
    tokens = accounts.login(other.username)  # no device_id: a session not bound to a phone
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    item = submission(VILLAGE_A)
    response = client.post(PUSH, json={"device_id": "phone-a", "submissions": [item]}, headers=headers)
    assert response.status_code == 409 and response.get_json()["code"] == "auth.device_taken"
    assert response.get_json()["errors"][0]["path"] == "device_id"
    with app.app_context():
        assert db.session.get(Submission, uuid.UUID(item["id"])) is None
    [own] = push(client, headers, [item], device_id="phone-of-their-own")
    assert own["status"] == "accepted"
