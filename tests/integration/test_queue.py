"""GET /api/v1/submissions as a commune's queue: every filter, conditions on answers, sorts, and
cursor pages that follow the sort to the end."""

from __future__ import annotations

import datetime as dt

import pytest
from support import COMMUNE_X, VILLAGE_A, VILLAGE_B, problem
from support.households import household_answers, submission

PUSH = "/api/v1/sync/push"
URL = "/api/v1/submissions"


@pytest.fixture()
def queue(client, accounts):
    """Six submissions by two enumerators in two villages, one approved."""
    one = accounts.create("enumerator", [VILLAGE_A, VILLAGE_B])
    two = accounts.create("enumerator", [VILLAGE_A])
    phones = {}
    for user, device in ((one, "q-one"), (two, "q-two")):
        tokens = accounts.login(user.username, device_id=device)
        phones[user.id] = ({"Authorization": f"Bearer {tokens['access_token']}"}, device)
    specs = [
        (one, VILLAGE_A, {"head_name": "Nguyễn Thị Hoà", "floor_area": 30, "latrine_type": "septic",
                          "telecom_services": ["mobile"]}),
        (one, VILLAGE_A, {"head_name": "Trần Văn Bình", "floor_area": 70, "latrine_type": "none"}),
        (one, VILLAGE_B, {"head_name": "Lê Thị Hòa", "floor_area": 55, "latrine_type": "septic"}),
        (two, VILLAGE_A, {"head_name": "Phạm Văn Đức", "floor_area": 12.5, "latrine_type": "none",
                          "household_code": "MT-DONG-0042"}),
        (two, VILLAGE_A, {"head_name": "Hoàng Thị Mai", "floor_area": 90, "latrine_type": "septic",
                          "income_agriculture": 12_000_000}),
        (two, VILLAGE_A, {"head_name": "Đỗ Văn Hùng", "floor_area": 45, "latrine_type": "septic"}),
    ]
    items = []
    for user, village, answers in specs:
        item = submission(village, answers=household_answers(**answers))
        headers, device = phones[user.id]
        [result] = client.post(PUSH, json={"device_id": device, "submissions": [item]},
                               headers=headers).get_json()["results"]
        assert result["status"] == "accepted", result
        items.append((item, user, result))
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    approved = items[1][0]["id"]
    etag = client.get(f"{URL}/{approved}", headers=supervisor).headers["ETag"]
    assert client.post(f"{URL}/{approved}/review", json={"action": "approve"},
                       headers={**supervisor, "If-Match": etag}).status_code == 200
    return supervisor, items, one, two


def ids(client, headers, query: str = "") -> list[str]:
    response = client.get(f"{URL}?limit=500&{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [s["id"] for s in response.get_json()["items"]]


def test_each_filter_selects_exactly_its_submissions(client, queue):
    supervisor, items, one, two = queue
    sid = [item["id"] for item, _, _ in items]
    assert sorted(ids(client, supervisor)) == sorted(sid)
    assert set(ids(client, supervisor, "status=approved")) == {sid[1]}
    assert set(ids(client, supervisor, f"area={VILLAGE_B}")) == {sid[2]}
    assert set(ids(client, supervisor, f"enumerator={two.id}")) == set(sid[3:])
    assert set(ids(client, supervisor, "form_id=household-review&form_version=2022.1")) == set(sid)
    assert ids(client, supervisor, "form_version=2027.1") == []
    poorest = {item["id"] for item, _, result in items if result["outputs"]["classification"] == "near_poor"}
    assert poorest and set(ids(client, supervisor, "classification=near_poor")) == poorest
    assert set(ids(client, supervisor, "year=2026")) == set(sid)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date()
    assert set(ids(client, supervisor, f"received_from={today}&received_to={today}")) == set(sid)
    assert ids(client, supervisor, f"received_to={today - dt.timedelta(days=1)}") == []


def test_q_ignores_case_diacritics_and_tone_placement(client, queue):
    supervisor, items, _, _ = queue
    both_hoa = {items[0][0]["id"], items[2][0]["id"]}
    for q in ("thi hoa", "THỊ HOÀ", "Thị Hòa", "thị hoà"):  # hoà / hòa: the tone mark on either vowel
        assert set(ids(client, supervisor, f"q={q}")) == both_hoa, q
    assert set(ids(client, supervisor, "q=hoa")) == both_hoa | {items[4][0]["id"]}  # and Hoàng: a substring
    assert ids(client, supervisor, "q=MT-DONG-0042") == [items[3][0]["id"]]
    assert ids(client, supervisor, "q=duc") == [items[3][0]["id"]]


def test_where_filters_on_answers_by_the_fields_type(client, queue):
    supervisor, items, _, _ = queue
    sid = [item["id"] for item, _, _ in items]
    form = "form_id=household-review&form_version=2022.1"
    assert set(ids(client, supervisor, f"{form}&where=floor_area:gt:50")) == {sid[1], sid[2], sid[4]}
    assert set(ids(client, supervisor, f"{form}&where=floor_area:le:12.5")) == {sid[3]}
    assert set(ids(client, supervisor, f"{form}&where=floor_area:gt:20&where=latrine_type:eq:none")) == {sid[1]}
    assert set(ids(client, supervisor, f"{form}&where=latrine_type:in:none|simple_pit")) == {sid[1], sid[3]}
    assert set(ids(client, supervisor, f"{form}&where=latrine_type:ne:septic")) == {sid[1], sid[3]}
    assert set(ids(client, supervisor, f"{form}&where=telecom_services:eq:mobile")) >= {sid[0]}
    assert sid[0] not in ids(client, supervisor, f"{form}&where=telecom_services:ne:mobile")
    poor = ids(client, supervisor, f"{form}&where=income_per_person:lt:1500001")  # a calculation, numeric
    assert sid[4] in poor and sid[0] not in poor


@pytest.mark.parametrize("query, path, code", [
    ("form_id=household-review&where=no_such:eq:1", "where/no_such", "unknown_field"),
    ("form_id=household-review&where=birth_year:eq:1990", "where/birth_year", "unknown_field"),  # in a repeat
    ("form_id=household-review&where=floor_area:like:1", "where/floor_area", "invalid_operator"),
    ("form_id=household-review&where=floor_area:gt:big", "where/floor_area", "invalid_value"),
    ("form_id=household-review&where=latrine_type:eq:golden", "where/latrine_type", "invalid_choice"),
    ("form_id=household-review&where=floor_area", "where/floor_area", "invalid"),
    ("where=floor_area:gt:1", "where", "form_required"),
    ("form_id=no-such-form&where=floor_area:gt:1", "form_id", "unknown_form"),
])
def test_a_bad_condition_is_a_422_naming_it(client, queue, query, path, code):
    supervisor = queue[0]
    body = problem(client.get(f"{URL}?{query}", headers=supervisor), 422)
    assert (body["errors"][0]["path"], body["errors"][0]["code"]) == (path, code), body


@pytest.mark.parametrize("sort", ["-received_at", "received_at", "area", "-area", "classification",
                                  "-classification"])
def test_sorted_pages_follow_the_sort_to_the_end(client, queue, sort):
    supervisor, items, _, _ = queue
    seen, cursor = [], None
    while True:
        query = f"sort={sort}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(f"{URL}?{query}", headers=supervisor).get_json()
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(s["id"] for s in seen) == sorted(item["id"] for item, _, _ in items)
    field = {"received_at": "received_at", "area": "area", "classification": "classification"}[sort.lstrip("-")]
    keys = [((s[field] or ""), s["id"]) for s in seen]
    assert keys == sorted(keys, reverse=sort.startswith("-"))
    problem(client.get(f"{URL}?sort={sort}&cursor={cursor or 'x'}", headers=supervisor), 410)
