"""Households across years and submission details, as supervisors see them."""

from __future__ import annotations

import pytest
from support import COMMUNE_X, COMMUNE_Y, VILLAGE_A, VILLAGE_C, problem
from support.households import household_answers, photo, submission


def push(client, headers, items, device_id):
    response = client.post("/api/v1/sync/push", json={"device_id": device_id, "submissions": items}, headers=headers)
    assert response.status_code == 200
    return response.get_json()["results"]


@pytest.fixture()
def visited(client, accounts):
    """A household visited in 2025 (2022 standard) and again in 2026 with the new standard's form
    (a visit may not be dated ahead of the server's clock)."""
    phone = accounts.headers("enumerator", [VILLAGE_A], device_id="hh-a")
    content, sha = photo(b"\xff\xd8\xff house photo bytes")
    first = submission(VILLAGE_A, answers=household_answers(head_name="Đỗ Thị Hoà", house_photo=f"sha256:{sha}"),
                       attachments=[{"name": "house_photo", "sha256": sha, "size": len(content)}],
                       started_at="2025-10-02T08:11:00+07:00", finished_at="2025-10-02T08:40:12+07:00")
    assert push(client, phone, [first], "hh-a")[0]["status"] == "accepted"
    later = submission(VILLAGE_A, year="2027", household_id=first["household_id"], household_rev=1,
                       answers=household_answers("2027", head_name="Đỗ Thị Hoà"),
                       finished_at="2026-10-05T09:00:00+07:00")
    assert push(client, phone, [later], "hh-a")[0]["status"] == "accepted"
    return first, later, sha, phone


def test_household_history_across_years(client, accounts, visited):
    first, later, *_ = visited
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    body = client.get(f"/api/v1/households/{first['household_id']}", headers=supervisor).get_json()
    assert body["rev"] == 2 and body["area"] == VILLAGE_A and body["head_name"] == "Đỗ Thị Hoà"
    assert [r["rev"] for r in body["revisions"]] == [1, 2]
    # The review year is the form's review_year parameter (2026 and 2027 in the bundled forms),
    # not the visit date's year.
    assert [y["year"] for y in body["years"]] == [2026, 2027]
    assert all(y["classification"] in {"poor", "near_poor", "average", "not_poor"} for y in body["years"])
    assert {s["form_version"] for s in body["submissions"]} == {"2022.1", "2027.1"}
    assert body["conflicts"] == []


def test_household_search_is_accent_and_case_insensitive(client, accounts, visited):
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    for q in ("do thi hoa", "ĐỖ THỊ HOÀ", "Đỗ Thị Hòa"):
        items = client.get(f"/api/v1/households?q={q}", headers=supervisor).get_json()["items"]
        assert [h["id"] for h in items] == [visited[0]["household_id"]], q


def test_submission_detail_shows_missing_attachments(client, accounts, visited):
    first, _, sha, enumerator = visited
    content = b"\xff\xd8\xff house photo bytes"
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    detail = client.get(f"/api/v1/submissions/{first['id']}", headers=supervisor).get_json()
    assert detail["complete"] is False and detail["missing_attachments"] == [sha]
    assert detail["attachments"] == [{"name": "house_photo", "sha256": sha, "size": len(content),
                                      "received": False}]
    assert detail["revisions"][0]["rev"] == 1 and detail["revisions"][0]["source"] == "phone"
    assert detail["review_state"] == "received" and detail["computed"]
    # The bytes from another phone do not complete it: the submission's enumerator must send them.
    phone = accounts.headers("enumerator", [VILLAGE_A])
    assert client.put(f"/api/v1/attachments/{sha}", data=content, content_type="image/jpeg",
                      headers=phone).status_code == 201
    detail = client.get(f"/api/v1/submissions/{first['id']}", headers=supervisor).get_json()
    assert detail["complete"] is False and detail["missing_attachments"] == [sha]
    assert client.put(f"/api/v1/attachments/{sha}", data=content, content_type="image/jpeg",
                      headers=enumerator).status_code == 201
    detail = client.get(f"/api/v1/submissions/{first['id']}", headers=supervisor).get_json()
    assert detail["complete"] is True and detail["missing_attachments"] == []


def test_submission_list_filters(client, accounts, visited):
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    items = client.get("/api/v1/submissions?year=2027", headers=supervisor).get_json()["items"]
    assert [s["id"] for s in items] == [visited[1]["id"]]
    items = client.get("/api/v1/submissions?status=approved", headers=supervisor).get_json()["items"]
    assert items == []


def test_other_communes_see_nothing(client, accounts, visited):
    first = visited[0]
    other = accounts.headers("supervisor", [COMMUNE_Y])
    assert client.get("/api/v1/households", headers=other).get_json()["items"] == []
    assert client.get("/api/v1/submissions", headers=other).get_json()["items"] == []
    problem(client.get(f"/api/v1/households/{first['household_id']}", headers=other), 404)
    problem(client.get(f"/api/v1/submissions/{first['id']}", headers=other), 404)
    problem(client.get(f"/api/v1/attachments/{visited[2]}", headers=other), 404)
    village_c = accounts.headers("enumerator", [VILLAGE_C])
    problem(client.get("/api/v1/households", headers=village_c), 403)
