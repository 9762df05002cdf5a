"""POST /api/v1/sync/push and PUT /api/v1/attachments over HTTP against a real database."""

from __future__ import annotations

import gzip
import uuid

import orjson
import pytest
import sqlalchemy as sa
from support import VILLAGE_A, VILLAGE_B, VILLAGE_C, problem
from support.households import household_answers, photo, submission

from server.db import db
from server.models import (
    Conflict,
    Device,
    Household,
    HouseholdRevision,
    Submission,
    SubmissionRevision,
)

PUSH = "/api/v1/sync/push"


@pytest.fixture()
def phone(accounts):
    """An enumerator of village A logged in on device phone-a."""
    return accounts.headers("enumerator", [VILLAGE_A], device_id="phone-a")


def push(client, headers, items, device_id="phone-a", **extra):
    response = client.post(PUSH, json={"device_id": device_id, "submissions": items, **extra}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return response.get_json()["results"]


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


def test_accepted_then_duplicate_is_stored_once(client, app, phone):
    item = submission(VILLAGE_A)
    first = push(client, phone, [item])[0]
    assert first["status"] == "accepted", first
    assert first["rev"] == 1 and first["household_rev"] == 1 and first["missing_attachments"] == []
    assert first["outputs"]["classification"] in {"poor", "near_poor", "average", "not_poor"}

    again = push(client, phone, [item])[0]
    assert again == {"id": item["id"], "status": "duplicate", "rev": 1, "missing_attachments": []}
    sid = uuid.UUID(item["id"])
    assert count(app, Submission, Submission.id == sid) == 1
    assert count(app, SubmissionRevision, SubmissionRevision.submission_id == sid) == 1
    assert count(app, HouseholdRevision, HouseholdRevision.household_id == uuid.UUID(item["household_id"])) == 1
    with app.app_context():
        stored = db.session.get(Submission, sid)
        assert stored.review_state == "received" and stored.area_code == VILLAGE_A
        assert stored.classification == first["outputs"]["classification"]
        assert stored.computed  # the server's own calculations are stored


def test_same_rev_different_content_is_a_conflict_and_changes_nothing(client, app, phone):
    item = submission(VILLAGE_A)
    push(client, phone, [item])
    changed = {**item, "answers": household_answers(head_name="Trần Thị Bình")}
    result = push(client, phone, [changed])[0]
    assert result["status"] == "conflict" and result["rev"] == 1 and result["detail"]
    with app.app_context():
        assert db.session.get(Submission, uuid.UUID(item["id"])).answers["head_name"] == item["answers"]["head_name"]


def test_edit_keeps_history_and_stale_revision_is_rejected(client, app, phone):
    item = submission(VILLAGE_A)
    push(client, phone, [item])
    edit = {**item, "rev": 2, "household_rev": 1, "answers": household_answers(floor_area=75)}
    assert push(client, phone, [edit])[0]["status"] == "accepted"
    # The old revision replayed as it was: a harmless duplicate.
    assert push(client, phone, [item])[0]["status"] == "duplicate"
    # An old revision with new content: refused, precisely.
    stale = {**item, "answers": household_answers(floor_area=10)}
    stale["rev"] = 1
    result = push(client, phone, [stale])[0]
    assert result["status"] in {"conflict", "rejected"}
    sid = uuid.UUID(item["id"])
    with app.app_context():
        revs = db.session.execute(sa.select(SubmissionRevision.rev).where(
            SubmissionRevision.submission_id == sid).order_by(SubmissionRevision.rev)).scalars().all()
        assert revs == [1, 2]
        assert db.session.get(Submission, sid).answers["floor_area"] == 75


def test_one_bad_item_does_not_block_the_batch(client, app, phone):
    good1, good2 = submission(VILLAGE_A), submission(VILLAGE_A)
    bad_answers = household_answers()
    bad_answers["members"][0]["birth_year"] = 1700
    bad = submission(VILLAGE_A, answers=bad_answers)
    wrong_type = {**submission(VILLAGE_A), "rev": "one"}
    results = push(client, phone, [good1, bad, wrong_type, good2])
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "accepted"]
    assert any(e["path"] == "answers/members/0/birth_year" for e in results[1]["errors"]), results[1]
    assert results[2]["errors"][0]["path"] == "rev"
    assert count(app, Submission, Submission.id.in_([uuid.UUID(bad["id"]), uuid.UUID(wrong_type["id"])])) == 0
    assert count(app, Household, Household.id == uuid.UUID(bad["household_id"])) == 0


def test_relevance_violation_is_rejected_with_path(client, phone):
    answers = household_answers()
    answers["members"][0]["stunted"] = "yes"  # a 40-year-old has no child-nutrition answer
    result = push(client, phone, [submission(VILLAGE_A, answers=answers)])[0]
    assert result["status"] == "rejected"
    assert any(e["path"] == "answers/members/0/stunted" for e in result["errors"]), result


@pytest.mark.parametrize("change, path, code", [
    ({"area": VILLAGE_B}, "area", "outside_scope"),
    ({"area": VILLAGE_C}, "area", "outside_scope"),
    ({"area": "01-00004-zz"}, "area", "unknown_area"),
    ({"form_version": "1999.1"}, "form_version", "unknown_form_version"),
    ({"household_rev": 3}, "household_id", "unknown_household"),
])
def test_per_item_rejections(client, phone, change, path, code):
    result = push(client, phone, [{**submission(VILLAGE_A), **change}])[0]
    assert result["status"] == "rejected"
    assert (result["errors"][0]["path"], result["errors"][0]["code"]) == (path, code)


def test_closed_version_is_rejected_but_published_old_version_accepted(client, accounts, phone):
    admin = accounts.headers("admin")
    assert push(client, phone, [submission(VILLAGE_A, year="2022")])[0]["status"] == "accepted"
    assert client.post("/api/v1/forms/household-review/versions/2022.1/close", headers=admin,
                       json={"confirm": "household-review/2022.1"}).status_code == 200
    result = push(client, phone, [submission(VILLAGE_A, year="2022")])[0]
    assert result["errors"][0]["code"] == "form_version_closed"
    assert push(client, phone, [submission(VILLAGE_A, year="2027")])[0]["status"] == "accepted"


def test_household_of_another_area_is_refused(client, accounts, phone):
    other = accounts.headers("enumerator", [VILLAGE_B], device_id="phone-b")
    theirs = submission(VILLAGE_B)
    assert push(client, other, [theirs], device_id="phone-b")[0]["status"] == "accepted"
    mine = submission(VILLAGE_A, household_id=theirs["household_id"], household_rev=1)
    result = push(client, phone, [mine])[0]
    # Answered as for a household the server does not have: where it lives is not this phone's to learn.
    assert (result["status"], result["errors"][0]["code"]) == ("rejected", "unknown_household")
    # and the other enumerator's submission id cannot be edited from here either
    hijack = {**theirs, "area": VILLAGE_A, "rev": 2}
    result = push(client, phone, [hijack])[0]
    assert (result["status"], result["errors"][0]["code"]) == ("rejected", "id_unavailable")


def test_disjoint_changes_from_two_phones_merge(client, app, accounts, phone):
    first = submission(VILLAGE_A)
    push(client, phone, [first])
    other = accounts.headers("enumerator", [VILLAGE_A], device_id="phone-a2")
    hid = first["household_id"]
    a = submission(VILLAGE_A, household_id=hid, household_rev=1, answers=household_answers(floor_area=70))
    b = submission(VILLAGE_A, household_id=hid, household_rev=1,
                   answers=household_answers(water_source=first["answers"]["water_source"], latrine_type="none"))
    ra = push(client, phone, [a])[0]
    rb = push(client, other, [b], device_id="phone-a2")[0]
    assert ra["status"] == rb["status"] == "accepted"
    assert "conflict_id" not in rb
    with app.app_context():
        household = db.session.get(Household, uuid.UUID(hid))
        assert household.rev == 3
        assert household.answers["floor_area"] == 70 and household.answers["latrine_type"] == "none"


def test_overlapping_changes_become_a_conflict_for_a_supervisor(client, app, accounts, phone):
    first = submission(VILLAGE_A)
    push(client, phone, [first])
    hid = first["household_id"]
    other = accounts.headers("enumerator", [VILLAGE_A], device_id="phone-a3")
    a = submission(VILLAGE_A, household_id=hid, household_rev=1, answers=household_answers(floor_area=70))
    b = submission(VILLAGE_A, household_id=hid, household_rev=1, answers=household_answers(floor_area=20))
    push(client, phone, [a])
    rb = push(client, other, [b], device_id="phone-a3")[0]
    assert rb["status"] == "accepted" and rb["conflict_id"]
    with app.app_context():
        conflict = db.session.get(Conflict, uuid.UUID(rb["conflict_id"]))
        assert conflict.status == "open" and conflict.area_code == VILLAGE_A
        paths = {f["path"]: f for f in conflict.fields}
        assert paths["floor_area"]["current"] == 70 and paths["floor_area"]["incoming"] == 20
        # the household keeps the current value; the phone's value is kept in its submission
        assert db.session.get(Household, uuid.UUID(hid)).answers["floor_area"] == 70
        assert db.session.get(Submission, uuid.UUID(b["id"])).answers["floor_area"] == 20


def test_attachments_flow(client, app, phone):
    content, sha = photo()
    answers = household_answers(house_photo=f"sha256:{sha}")
    item = submission(VILLAGE_A, answers=answers, attachments=[{"name": "house_photo", "sha256": sha,
                                                                "size": len(content)}])
    assert push(client, phone, [item])[0]["missing_attachments"] == [sha]

    url = f"/api/v1/attachments/{sha}"
    problem(client.put(url, data=b"other bytes", content_type="image/jpeg", headers=phone), 422)
    problem(client.put(url, data=content, content_type="text/plain", headers=phone), 415)
    assert client.put(url, data=content, content_type="image/jpeg", headers=phone).status_code == 201
    assert client.put(url, data=content, content_type="image/jpeg", headers=phone).status_code == 200
    assert push(client, phone, [item])[0] == {"id": item["id"], "status": "duplicate", "rev": 1,
                                              "missing_attachments": []}
    with client.get(url, headers=phone) as got:  # closing the response closes the file
        assert got.status_code == 200 and got.data == content and got.mimetype == "image/jpeg"


def test_answer_referring_to_an_undeclared_attachment_is_rejected(client, phone):
    _, sha = photo(b"not declared")
    result = push(client, phone, [submission(VILLAGE_A, answers=household_answers(house_photo=f"sha256:{sha}"))])[0]
    assert result["status"] == "rejected" and result["errors"][0]["code"] == "undeclared_attachment"


def test_gzip_body_and_bad_bodies(client, phone, app):
    item = submission(VILLAGE_A)
    body = gzip.compress(orjson.dumps({"device_id": "phone-a", "submissions": [item]}))
    ok = client.post(PUSH, data=body, headers={**phone, "Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert ok.status_code == 200 and ok.get_json()["results"][0]["status"] == "accepted"
    truncated = client.post(PUSH, data=body[: len(body) // 2],
                            headers={**phone, "Content-Encoding": "gzip", "Content-Type": "application/json"})
    problem(truncated, 400)
    problem(client.post(PUSH, data=b'{"device_id": "phone-a", "submissions": [', headers=phone,
                        content_type="application/json"), 400, "request.malformed_json")
    body = problem(client.post(PUSH, json={"device_id": "phone-a", "submissions": "many"}, headers=phone), 422)
    assert body["errors"][0]["path"] == "submissions"
    problem(client.post(PUSH, json={"device_id": "phone-a", "submissions": [item] * 101}, headers=phone),
            413, "request.too_large")
    bomb = gzip.compress(b'{"device_id": "phone-a", "submissions": [], "x": "' + b"a" * (9 * 1024 * 1024) + b'"}')
    problem(client.post(PUSH, data=bomb, headers={**phone, "Content-Encoding": "gzip",
                                                   "Content-Type": "application/json"}), 413)


def test_device_must_be_the_sessions_and_is_updated(client, app, phone):
    problem(client.post(PUSH, json={"device_id": "someone-else", "submissions": []}, headers=phone), 422)
    push(client, phone, [], pending={"submissions": 3, "attachments": 5}, app_version="1.4.0")
    with app.app_context():
        device = db.session.get(Device, "phone-a")
        assert device.last_sync_at is not None
        assert (device.pending_submissions, device.pending_attachments, device.app_version) == (3, 5, "1.4.0")


def test_admins_do_not_push(client, accounts):
    admin = accounts.headers("admin")
    problem(client.post(PUSH, json={"device_id": "x", "submissions": []}, headers=admin), 403, "auth.forbidden")


def with_member_ids(answers: dict) -> dict:
    for i, member in enumerate(answers["members"]):
        member["member_id"] = f"member-{i:04d}"
    return answers


def test_an_edit_of_ones_own_submission_is_not_a_conflict(client, app, phone):
    item = submission(VILLAGE_A)
    push(client, phone, [item])
    # The phone edits its own visit without having pulled (household_rev still null).
    edit = {**item, "rev": 2, "answers": household_answers(floor_area=81)}
    result = push(client, phone, [edit])[0]
    assert result["status"] == "accepted" and "conflict_id" not in result
    with app.app_context():
        assert db.session.get(Household, uuid.UUID(item["household_id"])).answers["floor_area"] == 81
        assert count(app, Conflict) == 0


def test_members_merge_person_by_person(client, app, accounts, phone):
    base_answers = with_member_ids(household_answers())
    first = submission(VILLAGE_A, answers=base_answers)
    push(client, phone, [first])
    hid = first["household_id"]
    other = accounts.headers("enumerator", [VILLAGE_A], device_id="phone-a4")

    # Phone A corrects member 1's schooling answer; phone B records member 0's new health insurance.
    a_answers = with_member_ids(household_answers())
    a_answers["members"][1]["has_health_insurance"] = "no"
    b_answers = with_member_ids(household_answers())
    b_answers["members"][0]["has_health_insurance"] = "no"
    ra = push(client, phone, [submission(VILLAGE_A, household_id=hid, household_rev=1, answers=a_answers)])[0]
    rb = push(client, other, [submission(VILLAGE_A, household_id=hid, household_rev=1, answers=b_answers)],
              device_id="phone-a4")[0]
    assert ra["status"] == rb["status"] == "accepted", (ra, rb)
    assert "conflict_id" not in rb
    with app.app_context():
        members = db.session.get(Household, uuid.UUID(hid)).answers["members"]
        assert [m["has_health_insurance"] for m in members[:2]] == ["no", "no"]


def test_province_override_drives_the_servers_classification(client, accounts, phone):
    # 144,000,000 đồng a year for 4 people is 3,000,000 a month each: above every 2022 line.
    before = push(client, phone, [submission(VILLAGE_A)])[0]["outputs"]
    assert before["income_per_person"] == 3000000 and before["classification"] == "not_poor"
    hanoi = accounts.headers("admin", ["01"])
    response = client.put("/api/v1/forms/household-review/versions/2022.1/parameters/01", headers=hanoi,
                          json={"parameters": {"income_line_rural": 3000000, "average_line_rural": 4000000},
                                "reason": "Chuẩn nghèo riêng của thành phố"})
    assert response.status_code == 200, response.get_json()
    after = push(client, phone, [submission(VILLAGE_A)])[0]["outputs"]
    assert after["classification"] in {"poor", "near_poor"}
    # Another province keeps the national lines.
    hcm = accounts.headers("enumerator", ["79-25747-d"], device_id="phone-d")
    other = push(client, hcm, [submission("79-25747-d")], device_id="phone-d")[0]["outputs"]
    assert other["classification"] == "not_poor"


def test_area_type_must_be_the_communes(client, phone):
    # The test communes are rural (tests/conftest.py); an enumerator's "urban" would pick the wrong line.
    result = push(client, phone, [submission(VILLAGE_A, answers=household_answers(area_type="urban"))])[0]
    assert result["status"] == "rejected"
    assert [(e["path"], e["code"]) for e in result["errors"]] == [("answers/area_type", "area_type_mismatch")]


def test_household_classification_follows_its_merged_answers(client, app, accounts, phone):
    first = submission(VILLAGE_A)
    push(client, phone, [first])
    hid = first["household_id"]
    other = accounts.headers("enumerator", [VILLAGE_A], device_id="phone-a9")
    # Phone A records a much lower income (72 M a year for 4 people: 1.5 M a month, at the rural line).
    poorer = push(client, phone, [submission(VILLAGE_A, household_id=hid, household_rev=1,
                                             answers=household_answers(income_agriculture=72000000))])[0]
    assert poorer["outputs"]["classification"] in {"poor", "near_poor"}
    # Phone B, from the stale revision 1, only corrects the floor area: its own visit is not poor,
    # but the merged record keeps A's income, so the record stays poor or near-poor.
    late = push(client, other, [submission(VILLAGE_A, household_id=hid, household_rev=1,
                                           answers=household_answers(floor_area=61))], device_id="phone-a9")[0]
    assert late["outputs"]["classification"] == "not_poor" and "conflict_id" not in late
    with app.app_context():
        record = db.session.get(Household, uuid.UUID(hid))
        assert record.answers["income_agriculture"] == 72000000 and record.answers["floor_area"] == 61
        assert record.classification == poorer["outputs"]["classification"]
