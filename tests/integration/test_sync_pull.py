"""GET /api/v1/sync/pull: scoped, resumable, 410 on bad cursors."""

from __future__ import annotations

import uuid

import pytest
from support import VILLAGE_A, VILLAGE_B, problem
from support.households import household_answers, submission

from sync.cursors import decode_cursor, encode_cursor

PULL = "/api/v1/sync/pull"


def cursor_key_of(app) -> bytes:
    return app.config["SECRET_KEY"].encode()


def push(client, headers, items, device_id):
    response = client.post("/api/v1/sync/push", json={"device_id": device_id, "submissions": items}, headers=headers)
    assert response.status_code == 200
    return response.get_json()["results"]


@pytest.fixture()
def two_villages(client, accounts):
    a = accounts.headers("enumerator", [VILLAGE_A], device_id="pull-a")
    b = accounts.headers("enumerator", [VILLAGE_B], device_id="pull-b")
    mine = [submission(VILLAGE_A) for _ in range(3)]
    theirs = [submission(VILLAGE_B) for _ in range(2)]
    assert all(r["status"] == "accepted" for r in push(client, a, mine, "pull-a"))
    assert all(r["status"] == "accepted" for r in push(client, b, theirs, "pull-b"))
    return a, b, mine, theirs


def test_pull_gives_forms_with_parameters(client, accounts):
    headers = accounts.headers("enumerator", [VILLAGE_A])
    body = client.get(PULL, headers=headers).get_json()
    forms = {(f["form_id"], f["version"]): f for f in body["changes"]["forms"]}
    f2022 = forms[("household-review", "2022.1")]
    assert f2022["state"] == "published" and len(f2022["sha256"]) == 64
    assert f2022["parameters"]["income_line_rural"] == 1500000
    assert body["has_more"] is False and body["next_cursor"]


def test_pull_is_scoped_to_the_users_villages(client, two_villages):
    a, b, mine, theirs = two_villages
    got = client.get(PULL, headers=a).get_json()["changes"]["households"]
    assert {h["id"] for h in got} == {m["household_id"] for m in mine}
    assert all(h["area"] == VILLAGE_A for h in got)
    # prefill: last review's answers travel with the household
    assert got[0]["answers"]["members"] and got[0]["rev"] == 1
    other = client.get(PULL, headers=b).get_json()["changes"]["households"]
    assert {h["id"] for h in other} == {t["household_id"] for t in theirs}


@pytest.mark.parametrize("role, areas", [("supervisor", ["01-00004"]), ("supervisor", ["01"]), ("admin", [])])
def test_supervisors_and_admins_do_not_pull(client, accounts, two_villages, role, areas):
    """Supervisors read households through /api/v1/households; a province's supervisor must not
    be able to carry the whole province away on a phone."""
    body = problem(client.get(f"{PULL}?limit=500", headers=accounts.headers(role, areas)), 403, "auth.forbidden")
    assert "enumerator" in body["detail"]


def test_cursor_walks_pages_then_returns_only_changes(client, two_villages):
    a, _, mine, _ = two_villages
    seen, cursor, pages = [], None, 0
    while True:
        url = f"{PULL}?limit=1" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=a).get_json()
        seen += [h["id"] for h in body["changes"]["households"]]
        cursor, pages = body["next_cursor"], pages + 1
        if not body["has_more"]:
            break
        assert pages < 10
    assert sorted(seen) == sorted(m["household_id"] for m in mine) and len(seen) == len(set(seen))
    # Nothing changed since: an empty delta.
    assert client.get(f"{PULL}?cursor={cursor}", headers=a).get_json()["changes"]["households"] == []
    # A new visit shows up in the next delta.
    new = submission(VILLAGE_A)
    push(client, a, [new], "pull-a")
    delta = client.get(f"{PULL}?cursor={cursor}", headers=a).get_json()["changes"]["households"]
    assert [h["id"] for h in delta] == [new["household_id"]]


def review(client, supervisor, submission_id, action, comment=None):
    etag = client.get(f"/api/v1/submissions/{submission_id}", headers=supervisor).headers["ETag"]
    response = client.post(f"/api/v1/submissions/{submission_id}/review", headers={**supervisor, "If-Match": etag},
                           json={"action": action, "comment": comment})
    assert response.status_code == 200, response.get_json()


def test_review_outcomes_reach_the_phone(client, accounts, two_villages):
    a, _, mine, _ = two_villages
    cursor = client.get(PULL, headers=a).get_json()["next_cursor"]
    review(client, accounts.headers("supervisor", ["01-00004"]), mine[0]["id"], "request_changes", "Thiếu ảnh nhà")
    reviews = client.get(f"{PULL}?cursor={cursor}", headers=a).get_json()["changes"]["reviews"]
    assert reviews == [{**reviews[0], "submission_id": mine[0]["id"], "review_state": "changes_requested",
                        "comment": "Thiếu ảnh nhà", "rev": 1}]


def test_a_review_changed_twice_between_pulls_arrives_once_as_it_stands(client, accounts, two_villages):
    a, _, mine, _ = two_villages
    cursor = client.get(PULL, headers=a).get_json()["next_cursor"]
    supervisor = accounts.headers("supervisor", ["01-00004"])
    review(client, supervisor, mine[0]["id"], "request_changes", "Thiếu ảnh nhà")
    review(client, supervisor, mine[0]["id"], "approve")
    body = client.get(f"{PULL}?cursor={cursor}", headers=a).get_json()
    assert [(r["submission_id"], r["review_state"]) for r in body["changes"]["reviews"]] == [
        (mine[0]["id"], "approved")]
    assert client.get(f"{PULL}?cursor={body['next_cursor']}", headers=a).get_json()["changes"]["reviews"] == []


def test_a_household_changed_twice_between_pulls_arrives_once_as_it_stands(client, two_villages):
    a, _, mine, _ = two_villages
    cursor = client.get(PULL, headers=a).get_json()["next_cursor"]
    household = mine[0]["household_id"]
    for household_rev in (1, 2):
        visit = submission(VILLAGE_A, household_id=household, household_rev=household_rev,
                           answers=household_answers(floor_area=50 + household_rev))
        assert push(client, a, [visit], "pull-a")[0]["status"] == "accepted"
    body = client.get(f"{PULL}?limit=1&cursor={cursor}", headers=a).get_json()
    assert [(h["id"], h["rev"], h["answers"]["floor_area"]) for h in body["changes"]["households"]] == [
        (household, 3, 52)]
    assert body["has_more"] is False
    assert client.get(f"{PULL}?cursor={body['next_cursor']}", headers=a).get_json()["changes"]["households"] == []


def test_bad_cursors_are_410(client, accounts, two_villages):
    a, b, _, _ = two_villages
    cursor = client.get(PULL, headers=a).get_json()["next_cursor"]
    problem(client.get(f"{PULL}?cursor={cursor[:-2]}xx", headers=a), 410, "cursor.invalid")
    problem(client.get(f"{PULL}?cursor=garbage", headers=a), 410, "cursor.invalid")
    problem(client.get(f"{PULL}?cursor={cursor}", headers=b), 410, "cursor.invalid")  # another user's


def test_expired_cursor_is_410(client, config, two_villages):
    a = two_villages[0]
    cursor = client.get(PULL, headers=a).get_json()["next_cursor"]
    config["PULL_CURSOR_MAX_AGE_SECONDS"] = -1
    problem(client.get(f"{PULL}?cursor={cursor}", headers=a), 410, "cursor.invalid")


def test_a_cursor_from_before_the_change_feed_is_410(app, client, two_villages):
    a = two_villages[0]
    cursor = client.get(PULL, headers=a).get_json()["next_cursor"]
    state = decode_cursor(cursor, cursor_key_of(app), purpose="pull")
    assert state["v"] == 3
    # The previous release's feed cursors: refused once, so that the phone starts again and drops
    # what it held (ID numbers among it).
    v2 = encode_cursor({**state, "v": 2}, cursor_key_of(app), purpose="pull")
    problem(client.get(f"{PULL}?cursor={v2}", headers=a), 410, "cursor.invalid")
    # What the previous release wrote: timestamp positions, no version.
    old = encode_cursor({"u": state["u"], "s": state["s"], "h": ["2026-11-01T00:00:00+00:00", str(uuid.uuid4())],
                         "r": None}, cursor_key_of(app), purpose="pull")
    problem(client.get(f"{PULL}?cursor={old}", headers=a), 410, "cursor.invalid")
    forged = encode_cursor({**state, "h": ["1", 2]}, cursor_key_of(app), purpose="pull")
    problem(client.get(f"{PULL}?cursor={forged}", headers=a), 410, "cursor.invalid")


def test_a_cursor_from_before_an_area_change_is_410(client, accounts, two_villages):
    user = accounts.create("enumerator", [VILLAGE_A])
    tokens = accounts.login(user.username)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    cursor = client.get(PULL, headers=headers).get_json()["next_cursor"]
    admin = accounts.headers("admin")
    assert client.patch(f"/api/v1/users/{user.id}", json={"areas": [VILLAGE_A, VILLAGE_B]},
                        headers=admin).status_code == 200
    headers = {"Authorization": f"Bearer {accounts.login(user.username)['access_token']}"}
    problem(client.get(f"{PULL}?cursor={cursor}", headers=headers), 410, "cursor.invalid")
    fresh = client.get(PULL, headers=headers).get_json()["changes"]["households"]
    assert {h["area"] for h in fresh} == {VILLAGE_A, VILLAGE_B}


def test_pull_lists_the_users_areas_with_rural_or_urban(client, accounts):
    headers = accounts.headers("enumerator", [VILLAGE_A])
    areas = client.get(PULL, headers=headers).get_json()["changes"]["areas"]
    assert [(a["code"], a["level"], a["area_type"]) for a in areas] == [(VILLAGE_A, "village", "rural")]
