"""Every list of the API, followed by its ``next_cursor`` to the end, sees each row exactly once.

The list routes are found in the app itself (its URL map, and the OpenAPI document for what
each GET answers): a new list whose answer has ``next_cursor`` fails
``test_every_list_route_is_walked`` until it gets a walk here. A cursor that is not one the
list made (tampered, another list's, or signed but holding a position of the wrong type) is a
410 ``cursor.invalid``, never a 500.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from support import VILLAGE_D, problem
from support.households import household_answers, submission

from sync.cursors import encode_cursor

COMMUNE_D, PROVINCE_D = "79-25747", "79"   # village D's commune and province (tests/conftest.py)
LIMIT, ROWS = 2, 5                          # five rows in pages of two: 2 + 2 + 1

# GET routes of /api/v1 that answer something other than a documented JSON body.
NOT_JSON = {"/api/v1/openapi.json", "/api/v1/attachments/<string:sha256>",
            "/api/v1/forms/<string:form_id>/export"}  # a zip of CSV files, or XLSX
# Lists with a next_cursor that are not pages of items, and the test that walks them.
WALKED_ELSEWHERE = {
    "/api/v1/sync/pull": "test_sync_pull.py::test_cursor_walks_pages_then_returns_only_changes "
                         "(a change feed: next_cursor is always set and has_more ends the walk)",
}


@dataclass
class Listing:
    """A list with rows in it, and what following its cursors must find."""

    path: str
    headers: dict
    key: str                                  # the item field that identifies a row
    expected: set                             # every row, as values of `compared`
    params: dict = field(default_factory=dict)
    compared: str | None = None               # compare this field instead of `key`


# --- making rows through the HTTP API ---------------------------------------------------------

def _admin(accounts) -> tuple:
    user = accounts.create("admin", [PROVINCE_D])
    tokens = accounts.login(user.username)
    return user, {"Authorization": f"Bearer {tokens['access_token']}"}


def _create_users(client, headers) -> list[dict]:
    made = []
    for i in range(ROWS):
        response = client.post("/api/v1/users", headers=headers, json={
            "username": f"lat-trang-{i}-{uuid.uuid4().hex[:6]}", "password": "correct horse battery",
            "role": "enumerator", "areas": [VILLAGE_D]})
        assert response.status_code == 201, response.get_json()
        made.append(response.get_json())
    return made


def _push(client, headers, device_id: str, items: list[dict]) -> list[dict]:
    response = client.post("/api/v1/sync/push", json={"device_id": device_id, "submissions": items}, headers=headers)
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["id"] for r in results] == [item["id"] for item in items]
    return results


def _visits(client, accounts) -> tuple[dict, list[dict]]:
    """Five households of village D, each with its first visit from one phone."""
    phone = accounts.headers("enumerator", [VILLAGE_D], device_id="walk-phone-1")
    items = [submission(VILLAGE_D, answers=household_answers(head_name=f"Hộ thứ {i}")) for i in range(ROWS)]
    assert [r["status"] for r in _push(client, phone, "walk-phone-1", items)] == ["accepted"] * ROWS
    return phone, items


def users(client, accounts) -> Listing:
    admin, headers = _admin(accounts)
    made = _create_users(client, headers)
    return Listing("/api/v1/users", headers, "username", {u["username"] for u in made} | {admin.username})


def areas(client, accounts) -> Listing:
    _, headers = _admin(accounts)
    made = []
    for i in range(ROWS):
        response = client.post("/api/v1/areas", headers=headers,
                               json={"parent": COMMUNE_D, "code": f"w{i}", "name": f"Tổ dân phố {i}"})
        assert response.status_code == 201, response.get_json()
        made.append(response.get_json()["code"])
    return Listing("/api/v1/areas", headers, "code", set(made) | {VILLAGE_D}, params={"parent": COMMUNE_D})


def devices(client, accounts) -> Listing:
    enumerator = accounts.create("enumerator", [VILLAGE_D])
    made = {f"walk-device-{i}" for i in range(ROWS)}
    for device_id in sorted(made):
        accounts.login(enumerator.username, device_id=device_id, device_name="Điện thoại")
    return Listing("/api/v1/devices", accounts.headers("supervisor", [COMMUNE_D]), "id", made)


def audit(client, accounts) -> Listing:
    admin, headers = _admin(accounts)
    made = _create_users(client, headers)
    # The admin's own creation is an entry of the province too.
    return Listing("/api/v1/audit", headers, "id", {u["id"] for u in made} | {str(admin.id)},
                   params={"action": "user.create"}, compared="target_id")


def households(client, accounts) -> Listing:
    _, made = _visits(client, accounts)
    return Listing("/api/v1/households", accounts.headers("supervisor", [COMMUNE_D]), "id",
                   {item["household_id"] for item in made})


def submissions(client, accounts) -> Listing:
    _, made = _visits(client, accounts)
    # A second visit to each household: ten submissions of five households.
    phone = accounts.headers("enumerator", [VILLAGE_D], device_id="walk-phone-2")
    again = [submission(VILLAGE_D, household_id=item["household_id"], household_rev=1,
                        answers=household_answers(head_name=f"Hộ thứ {i}", floor_area=60 + i))
             for i, item in enumerate(made)]
    assert [r["status"] for r in _push(client, phone, "walk-phone-2", again)] == ["accepted"] * ROWS
    return Listing("/api/v1/submissions", accounts.headers("supervisor", [COMMUNE_D]), "id",
                   {item["id"] for item in made + again})


def conflicts(client, accounts) -> Listing:
    """Two phones change the same field of each of five households from the same revision."""
    first, made = _visits(client, accounts)
    second = accounts.headers("enumerator", [VILLAGE_D], device_id="walk-phone-2")

    def visit(item, floor_area):
        return submission(VILLAGE_D, household_id=item["household_id"], household_rev=1,
                          answers=household_answers(floor_area=floor_area, latrine_type="none"))

    _push(client, first, "walk-phone-1", [visit(item, 70) for item in made])
    results = _push(client, second, "walk-phone-2", [visit(item, 20) for item in made])
    made_conflicts = {r.get("conflict_id") for r in results}
    assert None not in made_conflicts and len(made_conflicts) == ROWS, results
    return Listing("/api/v1/conflicts", accounts.headers("supervisor", [COMMUNE_D]), "id", made_conflicts)


def complaints(client, accounts) -> Listing:
    _, made = _visits(client, accounts)
    supervisor = accounts.headers("supervisor", [COMMUNE_D])
    ids = set()
    for item in made:
        response = client.post(f"/api/v1/households/{item['household_id']}/complaints", headers=supervisor,
                               json={"year": 2026, "received_on": "2026-11-20", "text": "Hộ khiếu nại"})
        assert response.status_code == 201, response.get_json()
        ids.add(response.get_json()["id"])
    return Listing("/api/v1/complaints", supervisor, "id", ids)


def assignments(client, accounts) -> Listing:
    _, made = _visits(client, accounts)
    supervisor = accounts.headers("supervisor", [COMMUNE_D])
    enumerator = accounts.create("enumerator", [VILLAGE_D])
    response = client.post("/api/v1/assignments", headers=supervisor, json={
        "household_ids": [item["household_id"] for item in made], "enumerator_id": str(enumerator.id)})
    assert response.status_code == 200, response.get_json()
    return Listing("/api/v1/assignments", supervisor, "household_id", {item["household_id"] for item in made})


@dataclass(frozen=True)
class ListRoute:
    populate: Callable[..., Listing]
    purpose: str            # the cursor's purpose, as paginate() is called
    role: str               # who may read the list
    key_type: type          # the type of the key the list is ordered by
    sorted_by: str | None = None  # a list sorted by another column first: its cursor holds [value, key]


LIST_ROUTES = {
    "/api/v1/users": ListRoute(users, "users", "admin", str),
    "/api/v1/areas": ListRoute(areas, "areas", "admin", str),
    "/api/v1/devices": ListRoute(devices, "devices", "supervisor", str),
    "/api/v1/audit": ListRoute(audit, "audit", "admin", int),
    "/api/v1/households": ListRoute(households, "households", "supervisor", uuid.UUID),
    "/api/v1/submissions": ListRoute(submissions, "submissions:-received_at", "supervisor", uuid.UUID,
                                     sorted_by="2026-11-29T00:00:00+00:00"),
    "/api/v1/conflicts": ListRoute(conflicts, "conflicts", "supervisor", uuid.UUID),
    "/api/v1/assignments": ListRoute(assignments, "assignments", "supervisor", uuid.UUID),
    "/api/v1/complaints": ListRoute(complaints, "complaints", "supervisor", uuid.UUID),
}


# --- finding the list routes ------------------------------------------------------------------

def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _cursor_routes(app, client) -> set[str]:
    """GET routes of the URL map whose documented answer carries a next_cursor."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    found, undocumented = set(), set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.rule.startswith("/api/v1/"):
            continue
        get = spec["paths"].get(_openapi_path(rule.rule), {}).get("get", {})
        schema = get.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            undocumented.add(rule.rule)
        elif "next_cursor" in _resolve(spec, schema).get("properties", {}):
            found.add(rule.rule)
    # A list without a documented answer would escape the check below.
    assert undocumented == NOT_JSON, "document the answer of every GET route, or name it in NOT_JSON"
    return found


def test_every_list_route_is_walked(app, client):
    found = _cursor_routes(app, client)
    assert set(LIST_ROUTES) | set(WALKED_ELSEWHERE) == found, (
        f"lists without a walk here: {sorted(found - set(LIST_ROUTES) - set(WALKED_ELSEWHERE))}; "
        f"walks of routes that are not lists: {sorted((set(LIST_ROUTES) | set(WALKED_ELSEWHERE)) - found)}")


# --- following next_cursor --------------------------------------------------------------------

def _walk(client, listing: Listing, limit: int = LIMIT) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        params = {**listing.params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(listing.path, query_string=params, headers=listing.headers)
        assert response.status_code == 200, (pages, response.get_data(as_text=True)[:500])
        body = response.get_json()
        pages += 1
        cursor = body["next_cursor"]
        if cursor is not None:
            assert len(body["items"]) == limit, "only the last page may be short"
        else:
            assert 0 < len(body["items"]) <= limit, "the last page is empty or too long"
        items.extend(body["items"])
        if cursor is None:
            assert pages == max(1, math.ceil(len(items) / limit))
            return items
        assert pages <= 50, "the cursor never ends"


@pytest.mark.parametrize("path", sorted(LIST_ROUTES))
def test_following_next_cursor_sees_every_row_once(client, accounts, path):
    listing = LIST_ROUTES[path].populate(client, accounts)
    assert listing.path == path and len(listing.expected) > LIMIT
    items = _walk(client, listing)
    keys = [item[listing.key] for item in items]
    assert len(keys) == len(set(keys)), f"rows seen twice: {sorted({k for k in keys if keys.count(k) > 1})}"
    seen = [item[listing.compared or listing.key] for item in items]
    assert len(seen) == len(listing.expected)
    assert set(seen) == listing.expected
    # The same rows in one page: the walk neither lost nor invented any.
    whole = client.get(path, query_string={**listing.params, "limit": 500}, headers=listing.headers).get_json()
    assert whole["next_cursor"] is None
    assert [item[listing.key] for item in whole["items"]] == keys


# --- cursors that are not the list's ----------------------------------------------------------

def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1:]


def _bad_positions(key_type: type) -> list:
    """JSON values that are no position in a list keyed on `key_type`."""
    never = [None, True, 1.5, [1], {"after": 1}]
    if key_type is uuid.UUID:
        return never + ["not-a-uuid", "", 12, str(uuid.uuid4())[:-1]]
    if key_type is int:
        return never + ["12", 2**64, -(2**63) - 1]
    return never + [12, "a\x00b"]


def _good_position(key_type: type, sorted_by: str | None = None):
    key = {uuid.UUID: str(uuid.uuid4()), int: 1, str: "a"}[key_type]
    return key if sorted_by is None else [sorted_by, key]


def _bad_sorted_positions(key_type: type, sorted_by: str) -> list:
    key = _good_position(key_type)
    return ([[sorted_by, bad] for bad in _bad_positions(key_type)]
            + [key, [sorted_by], [sorted_by, key, key], ["not a time", key], [12, key], [None, key]])


@pytest.mark.parametrize("path", sorted(LIST_ROUTES))
def test_a_cursor_the_list_did_not_make_is_410(app, client, accounts, path):
    route = LIST_ROUTES[path]
    headers = accounts.headers(route.role, [PROVINCE_D] if route.role == "admin" else [COMMUNE_D])
    secret = app.config["SECRET_KEY"].encode()

    def sign(payload: dict, purpose: str = route.purpose) -> str:
        return encode_cursor(payload, secret, purpose=purpose)

    good = sign({"after": _good_position(route.key_type, route.sorted_by)})
    response = client.get(path, query_string={"cursor": good}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.get_json()["next_cursor"] is None

    other_purpose = "users" if route.purpose != "users" else "areas"
    body_part, signature = good.split(".")
    bad = {
        "garbage": "not-a-cursor",
        "not base64": "!!!.???",
        "tampered body": f"{_flip(body_part, 5)}.{signature}",
        "tampered signature": f"{body_part}.{_flip(signature, 3)}",
        "another list's": sign({"after": _good_position(route.key_type, route.sorted_by)}, other_purpose),
        "no position": sign({}),
        **{f"position {value!r}": sign({"after": value}) for value in (
            _bad_positions(route.key_type) if route.sorted_by is None
            else _bad_sorted_positions(route.key_type, route.sorted_by))},
    }
    for name, cursor in bad.items():
        response = client.get(path, query_string={"cursor": cursor}, headers=headers)
        assert response.status_code == 410, (name, response.status_code, response.get_data(as_text=True)[:300])
        assert problem(response, 410, "cursor.invalid")["detail"], name
