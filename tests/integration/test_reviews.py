"""Supervisors review submissions (with If-Match) and resolve the conflict queue."""

from __future__ import annotations

import pytest
from support import COMMUNE_X, COMMUNE_Y, VILLAGE_A, problem
from support.households import household_answers, submission

PUSH, PULL = "/api/v1/sync/push", "/api/v1/sync/pull"


def push(client, headers, items, device_id):
    response = client.post(PUSH, json={"device_id": device_id, "submissions": items}, headers=headers)
    assert response.status_code == 200
    return response.get_json()["results"]


@pytest.fixture()
def phone(accounts):
    return accounts.headers("enumerator", [VILLAGE_A], device_id="rv-a")


@pytest.fixture()
def supervisor(accounts):
    return accounts.headers("supervisor", [COMMUNE_X])


def read(client, headers, sid):
    response = client.get(f"/api/v1/submissions/{sid}", headers=headers)
    assert response.status_code == 200
    return response.get_json(), response.headers["ETag"]


def test_request_changes_reaches_the_phone_and_a_new_revision_returns_to_received(client, phone, supervisor):
    item = submission(VILLAGE_A)
    push(client, phone, [item], "rv-a")
    cursor = client.get(PULL, headers=phone).get_json()["next_cursor"]
    _, etag = read(client, supervisor, item["id"])

    reviewed = client.post(f"/api/v1/submissions/{item['id']}/review", headers={**supervisor, "If-Match": etag},
                           json={"action": "request_changes", "comment": "Thiếu diện tích nhà"})
    assert reviewed.status_code == 200, reviewed.get_json()
    body = reviewed.get_json()
    assert body["review_state"] == "changes_requested" and body["review_comment"] == "Thiếu diện tích nhà"
    assert [r["action"] for r in body["reviews"]] == ["request_changes"]
    assert reviewed.headers["ETag"] != etag

    outcome = client.get(f"{PULL}?cursor={cursor}", headers=phone).get_json()["changes"]["reviews"]
    assert [(r["submission_id"], r["review_state"], r["comment"]) for r in outcome] == [
        (item["id"], "changes_requested", "Thiếu diện tích nhà")]

    fixed = {**item, "rev": 2, "answers": household_answers(floor_area=64)}
    assert push(client, phone, [fixed], "rv-a")[0]["status"] == "accepted"
    detail, _ = read(client, supervisor, item["id"])
    assert detail["review_state"] == "received" and detail["rev"] == 2


def test_if_match_is_required_and_stale_tags_are_412(client, phone, supervisor):
    item = submission(VILLAGE_A)
    push(client, phone, [item], "rv-a")
    url = f"/api/v1/submissions/{item['id']}/review"
    problem(client.post(url, headers=supervisor, json={"action": "approve"}), 428)
    _, etag = read(client, supervisor, item["id"])
    # The phone sends a new revision meanwhile: the supervisor's copy is stale.
    push(client, phone, [{**item, "rev": 2, "answers": household_answers(floor_area=66)}], "rv-a")
    stale = problem(client.post(url, headers={**supervisor, "If-Match": etag}, json={"action": "approve"}),
                    412, "request.precondition_failed")
    assert stale["detail"]
    detail, fresh = read(client, supervisor, item["id"])
    assert detail["review_state"] == "received"
    approved = client.post(url, headers={**supervisor, "If-Match": fresh}, json={"action": "approve"})
    assert approved.status_code == 200 and approved.get_json()["review_state"] == "approved"


def test_if_match_star_matches_the_current_submission_and_weak_tags_never_do(client, accounts, phone, supervisor):
    """RFC 9110 13.1.1: ``If-Match: *`` is true when the resource has a current representation;
    If-Match compares strongly, so a weak tag is a 412 (not a missing header, 428)."""
    item = submission(VILLAGE_A)
    push(client, phone, [item], "rv-a")
    url = f"/api/v1/submissions/{item['id']}/review"
    _, etag = read(client, supervisor, item["id"])
    problem(client.post(url, headers={**supervisor, "If-Match": f"W/{etag}"}, json={"action": "approve"}),
            412, "request.precondition_failed")
    problem(client.post(url, headers={**supervisor, "If-Match": " "}, json={"action": "approve"}),
            428, "request.precondition_required")
    # Another commune's supervisor: no current representation for them, so not found, star or not.
    other = accounts.headers("supervisor", [COMMUNE_Y])
    problem(client.post(url, headers={**other, "If-Match": "*"}, json={"action": "approve"}), 404)
    approved = client.post(url, headers={**supervisor, "If-Match": "*"}, json={"action": "approve"})
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["review_state"] == "approved"
    corrected = client.patch(f"/api/v1/submissions/{item['id']}", headers={**supervisor, "If-Match": "*"},
                             json={"answers": {"floor_area": 41}, "reason": "Đo lại diện tích"})
    assert corrected.status_code == 200, corrected.get_json()
    assert corrected.get_json()["rev"] == 2


def test_reject_needs_a_comment_and_scope_is_enforced(client, accounts, phone, supervisor):
    item = submission(VILLAGE_A)
    push(client, phone, [item], "rv-a")
    _, etag = read(client, supervisor, item["id"])
    url = f"/api/v1/submissions/{item['id']}/review"
    body = problem(client.post(url, headers={**supervisor, "If-Match": etag}, json={"action": "reject"}), 422)
    assert body["errors"][0]["path"] == "comment"
    other = accounts.headers("supervisor", [COMMUNE_Y])
    problem(client.post(url, headers={**other, "If-Match": etag}, json={"action": "approve"}), 404)
    problem(client.post(url, headers={**phone, "If-Match": etag}, json={"action": "approve"}), 403)


def conflicted(client, accounts, phone):
    first = submission(VILLAGE_A)
    push(client, phone, [first], "rv-a")
    hid = first["household_id"]
    other = accounts.headers("enumerator", [VILLAGE_A], device_id="rv-b")
    push(client, phone, [submission(VILLAGE_A, household_id=hid, household_rev=1,
                                    answers=household_answers(floor_area=70, latrine_type="none"))], "rv-a")
    result = push(client, other, [submission(VILLAGE_A, household_id=hid, household_rev=1,
                                             answers=household_answers(floor_area=20, latrine_type="none"))], "rv-b")[0]
    assert result["conflict_id"]
    return hid, result["conflict_id"]


def test_conflict_queue_and_resolution(client, accounts, phone, supervisor):
    hid, conflict_id = conflicted(client, accounts, phone)
    queue = client.get("/api/v1/conflicts", headers=supervisor).get_json()["items"]
    assert [c["id"] for c in queue] == [conflict_id]
    assert {f["path"]: (f["current"], f["incoming"]) for f in queue[0]["fields"]} == {"floor_area": (70, 20)}
    assert client.get("/api/v1/conflicts", headers=accounts.headers("supervisor", [COMMUNE_Y])).get_json()["items"] == []

    url = f"/api/v1/conflicts/{conflict_id}/resolve"
    body = problem(client.post(url, headers=supervisor, json={"choices": {"nope": "current"}}), 422)
    assert {e["path"] for e in body["errors"]} == {"choices/nope", "choices/floor_area"}
    bad_value = problem(client.post(url, headers=supervisor, json={"choices": {"floor_area": {"value": -5}}}), 422)
    assert any(e["path"] == "answers/floor_area" for e in bad_value["errors"]), bad_value

    resolved = client.post(url, headers=supervisor, json={"choices": {"floor_area": {"value": 45}},
                                                          "comment": "Đo lại tại nhà"})
    assert resolved.status_code == 200, resolved.get_json()
    assert resolved.get_json()["status"] == "resolved"
    household = client.get(f"/api/v1/households/{hid}", headers=supervisor).get_json()
    assert household["answers"]["floor_area"] == 45 and household["rev"] == 3  # the conflicting visit changed nothing
    assert household["conflicts"] == []
    problem(client.post(url, headers=supervisor, json={"choices": {"floor_area": "incoming"}}), 409,
            "conflict.resolved")
    assert client.get("/api/v1/conflicts", headers=supervisor).get_json()["items"] == []
    done = client.get("/api/v1/conflicts?status=resolved", headers=supervisor).get_json()["items"]
    assert done[0]["resolution"]["comment"] == "Đo lại tại nhà"


def test_choosing_the_phones_value(client, accounts, phone, supervisor):
    hid, conflict_id = conflicted(client, accounts, phone)
    response = client.post(f"/api/v1/conflicts/{conflict_id}/resolve", headers=supervisor,
                           json={"choices": {"floor_area": "incoming"}})
    assert response.status_code == 200, response.get_json()
    assert client.get(f"/api/v1/households/{hid}", headers=supervisor).get_json()["answers"]["floor_area"] == 20
