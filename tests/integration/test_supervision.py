"""A commune's day of review: bulk decisions that refuse a stale item alone, comments, and the
field-by-field diff between two revisions of a submission."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, COMMUNE_Y, VILLAGE_A, problem
from support.households import household_answers, submission

from server.db import db
from server.models import AuditEntry, Submission

PUSH = "/api/v1/sync/push"


@pytest.fixture()
def pushed(client, accounts):
    phone = accounts.headers("enumerator", [VILLAGE_A], device_id="sup-a")
    items = [submission(VILLAGE_A, answers=household_answers(floor_area=30 + 10 * i)) for i in range(3)]
    results = client.post(PUSH, json={"device_id": "sup-a", "submissions": items}, headers=phone).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * 3
    return phone, accounts.headers("supervisor", [COMMUNE_X]), items


def etag(client, headers, sid) -> str:
    return client.get(f"/api/v1/submissions/{sid}", headers=headers).headers["ETag"]


def test_bulk_review_decides_each_item_and_refuses_a_stale_one_alone(client, app, pushed):
    phone, supervisor, items = pushed
    tags = {item["id"]: etag(client, supervisor, item["id"]) for item in items}
    # The phone sends a new revision of the second one after the supervisor read the queue.
    edited = dict(items[1], rev=2, answers=household_answers(floor_area=44))
    assert client.post(PUSH, json={"device_id": "sup-a", "submissions": [edited]},
                       headers=phone).get_json()["results"][0]["status"] == "accepted"
    other = str(uuid.uuid4())
    body = {"action": "approve", "items": [{"id": i["id"], "etag": tags[i["id"]]} for i in items]
            + [{"id": other, "etag": '"x"'}]}
    response = client.post("/api/v1/submissions/review", json=body, headers=supervisor)
    assert response.status_code == 200, response.get_json()
    results = {r["id"]: r for r in response.get_json()["results"]}
    assert [results[i["id"]]["status"] for i in items] == [200, 412, 200]
    assert results[items[1]["id"]]["etag"] == etag(client, supervisor, items[1]["id"]).strip('"')
    assert results[other]["status"] == 404
    with app.app_context():
        states = {str(s.id): s.review_state for s in db.session.execute(sa.select(Submission).where(
            Submission.id.in_([uuid.UUID(i["id"]) for i in items]))).scalars()}
        assert states == {items[0]["id"]: "approved", items[1]["id"]: "received", items[2]["id"]: "approved"}
        assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "submission.approve")).scalar_one() == 2
    assert results[items[0]["id"]]["etag"] == etag(client, supervisor, items[0]["id"]).strip('"')


def test_bulk_changes_need_a_comment_and_stay_in_scope(client, accounts, pushed):
    _, supervisor, items = pushed
    item = {"id": items[0]["id"], "etag": etag(client, supervisor, items[0]["id"])}
    body = problem(client.post("/api/v1/submissions/review", json={"action": "reject", "items": [item]},
                               headers=supervisor), 422)
    assert body["errors"][0]["path"] == "comment"
    outsider = accounts.headers("supervisor", [COMMUNE_Y])
    results = client.post("/api/v1/submissions/review", json={"action": "approve", "items": [item]},
                          headers=outsider).get_json()["results"]
    assert results == [{"id": items[0]["id"], "status": 404, "code": "request.not_found",
                        "detail": "No such submission in your areas."}]


def test_comments_are_kept_in_order_with_their_revision_and_audited(client, app, accounts, pushed):
    _, supervisor, items = pushed
    url = f"/api/v1/submissions/{items[0]['id']}/comments"
    first = client.post(url, json={"body": "  Kiểm tra lại diện tích nhà  "}, headers=supervisor)
    assert first.status_code == 201 and first.get_json()["body"] == "Kiểm tra lại diện tích nhà"
    assert client.post(url, json={"body": "Đã gọi cho trưởng thôn"}, headers=supervisor).status_code == 201
    listed = client.get(url, headers=supervisor).get_json()["items"]
    assert [c["body"] for c in listed] == ["Kiểm tra lại diện tích nhà", "Đã gọi cho trưởng thôn"]
    assert {c["rev"] for c in listed} == {1}
    assert problem(client.post(url, json={"body": "   "}, headers=supervisor), 422)["errors"][0]["path"] == "body"
    outsider = accounts.headers("supervisor", [COMMUNE_Y])
    problem(client.get(url, headers=outsider), 404)
    problem(client.post(url, json={"body": "x"}, headers=outsider), 404)
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "submission.comment")).scalar_one() == 2


def test_diff_is_field_by_field_with_members_matched_by_key(client, pushed):
    phone, supervisor, items = pushed
    base = household_answers(floor_area=30)
    for i, member in enumerate(base["members"]):
        member["member_id"] = f"member-{i:04d}"
    item = submission(VILLAGE_A, answers=base)
    changed = household_answers(floor_area=48)
    changed["members"] = [dict(m) for m in base["members"]]
    changed["members"][1]["birth_year"] -= 1
    changed["members"][-2:] = changed["members"][:-3:-1]  # the last two swap places (the head stays first)
    for rev, answers in ((1, base), (2, changed)):
        [result] = client.post(PUSH, json={"device_id": "sup-a", "submissions": [dict(item, rev=rev, answers=answers)]},
                               headers=phone).get_json()["results"]
        assert result["status"] == "accepted", result
    response = client.get(f"/api/v1/submissions/{item['id']}/diff?from=1&to=2", headers=supervisor)
    assert response.status_code == 200, response.get_json()
    changes = {c["path"]: (c["before"], c["after"]) for c in response.get_json()}
    assert changes["floor_area"] == (30, 48)
    assert changes["members[member_id=member-0001]/birth_year"] == (base["members"][1]["birth_year"],
                                                            base["members"][1]["birth_year"] - 1)
    assert changes["members/@order"][1] == [m["member_id"] for m in changed["members"]]
    assert not any(path.startswith("members[member_id=member-0000]") for path in changes)
    assert client.get(f"/api/v1/submissions/{item['id']}/diff?from=2&to=2", headers=supervisor).get_json() == []
    body = problem(client.get(f"/api/v1/submissions/{item['id']}/diff?from=1&to=9", headers=supervisor), 422)
    assert body["errors"][0]["path"] == "to"
