"""Whether a UUID is stored outside your areas is not yours to learn: a pushed item naming one
is answered as an unknown id would be by every rule (until the id would have to be stored
again, ``id_unavailable``), and a GET or a supervisor's action on one is the same 404 as on an
id that does not exist."""

from __future__ import annotations

import re
import uuid

import orjson
import pytest
from support import COMMUNE_X, COMMUNE_Y, VILLAGE_A, VILLAGE_B, VILLAGE_C, problem
from support.households import household_answers, submission

PUSH = "/api/v1/sync/push"
SERVER_TIME = re.compile(r"\d{4}-\d\d-\d\dT[0-9:.]+\+00:00")


def push(client, headers, items, device_id):
    response = client.post(PUSH, json={"device_id": device_id, "submissions": items}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return response.get_json()["results"]


@pytest.fixture()
def phone(accounts):
    return accounts.headers("enumerator", [VILLAGE_A], device_id="ex-a")


@pytest.fixture()
def theirs(client, accounts):
    """A submission and its household, stored in village B by another enumerator."""
    other = accounts.headers("enumerator", [VILLAGE_B], device_id="ex-b")
    item = submission(VILLAGE_B)
    assert push(client, other, [item], "ex-b")[0]["status"] == "accepted"
    return item


def answered(client, phone, item, ids: dict[str, str]) -> dict:
    """The reply to ``item``, with the ids it names put back to placeholders (to compare)."""
    reply = push(client, phone, [item], "ex-a")[0]
    text = orjson.dumps(reply).decode()
    for value, name in ids.items():
        text = text.replace(value, name)
    return orjson.loads(SERVER_TIME.sub("TIME", text))  # the server's clock, quoted in a message


def compare(client, phone, make, theirs):
    """``make(submission_id, household_id)``: the same item with the other area's ids, then fresh ones."""
    hidden = make(theirs["id"], theirs["household_id"])
    fresh_ids = (str(uuid.uuid4()), str(uuid.uuid4()))
    fresh = make(*fresh_ids)
    return (answered(client, phone, hidden, {theirs["id"]: "SID", theirs["household_id"]: "HID"}),
            answered(client, phone, fresh, {fresh_ids[0]: "SID", fresh_ids[1]: "HID"}))


@pytest.mark.parametrize("case", ["household_rev", "constraint", "future", "undeclared", "edit"])
def test_every_rule_answers_another_areas_ids_as_unknown_ones(client, phone, theirs, case):
    def make(sid, hid):
        base = submission(VILLAGE_A, submission_id=sid, household_id=hid)
        return {
            "household_rev": {**base, "household_rev": 1},
            "constraint": {**base, "answers": household_answers(floor_area=-5)},
            "future": {**base, "finished_at": "2099-01-01T00:00:00+07:00"},
            "undeclared": {**base, "answers": {**base["answers"], "house_photo": "f" * 64}},
            "edit": {**base, "rev": 2},  # an edit of a submission the server does not have: new, rev 2
        }[case]

    hidden, fresh = compare(client, phone, make, theirs)
    if fresh["status"] == "accepted":
        # Only where an unknown id is stored does the answer differ, and then only to say it is taken.
        assert hidden == {"id": "SID", "status": "rejected", "errors": [
            {"path": "id", "code": "id_unavailable", "message": hidden["errors"][0]["message"]},
            {"path": "household_id", "code": "id_unavailable", "message": hidden["errors"][1]["message"]}]}
    else:
        assert hidden == fresh


def test_a_closed_version_answers_another_areas_submission_as_a_new_one(client, accounts, phone, theirs):
    admin = accounts.headers("admin")
    version = theirs["form_version"]
    assert client.post(f"/api/v1/forms/household-review/versions/{version}/close", headers=admin,
                       json={"confirm": f"household-review/{version}"}).status_code == 200
    hidden, fresh = compare(client, phone, lambda sid, hid: submission(VILLAGE_A, submission_id=sid,
                                                                       household_id=hid), theirs)
    assert hidden == fresh
    assert fresh["errors"][0]["code"] == "form_version_closed"


def test_a_new_visit_to_another_areas_household_says_only_that_the_id_is_taken(client, phone, theirs):
    result = push(client, phone, [submission(VILLAGE_A, household_id=theirs["household_id"])], "ex-a")[0]
    assert result["status"] == "rejected"
    assert [(e["path"], e["code"]) for e in result["errors"]] == [("household_id", "id_unavailable")]
    assert VILLAGE_B not in repr(result) and "area" not in result["errors"][0]["message"]


# --- reading and acting by id ---------------------------------------------------------------------


def conflict_in_village_a(client, accounts) -> str:
    first_phone = accounts.headers("enumerator", [VILLAGE_A], device_id="ex-c1")
    second_phone = accounts.headers("enumerator", [VILLAGE_A], device_id="ex-c2")
    first = submission(VILLAGE_A)
    push(client, first_phone, [first], "ex-c1")
    hid = first["household_id"]
    push(client, first_phone, [submission(VILLAGE_A, household_id=hid, household_rev=1,
                                          answers=household_answers(floor_area=70))], "ex-c1")
    result = push(client, second_phone, [submission(VILLAGE_A, household_id=hid, household_rev=1,
                                                    answers=household_answers(floor_area=20))], "ex-c2")[0]
    assert result["conflict_id"], result
    return result["conflict_id"]


def without_request_id(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "request_id"}


def test_reads_and_actions_on_another_areas_ids_are_the_404_of_unknown_ids(client, accounts, theirs):
    conflict_id = conflict_in_village_a(client, accounts)
    outsider = accounts.headers("supervisor", [COMMUNE_Y])  # commune Y: village C only
    insider = accounts.headers("supervisor", [COMMUNE_X])
    sid, hid = theirs["id"], theirs["household_id"]
    requests = [
        ("GET", "/api/v1/households/{}", hid, None),
        ("GET", "/api/v1/submissions/{}", sid, None),
        ("GET", "/api/v1/submissions/{}/diff?from=1&to=1", sid, None),
        ("GET", "/api/v1/conflicts/{}", conflict_id, None),
        ("POST", "/api/v1/submissions/{}/review", sid, {"action": "approve"}),
        ("PATCH", "/api/v1/submissions/{}", sid, {"answers": {"floor_area": 40}, "reason": "x"}),
        ("POST", "/api/v1/conflicts/{}/resolve", conflict_id, {"choices": {"floor_area": "current"}}),
        ("GET", "/api/v1/submissions/{}/comments", sid, None),
        ("POST", "/api/v1/submissions/{}/comments", sid, {"body": "Kiểm tra lại"}),
        ("GET", "/api/v1/households/{}/meetings", hid, None),
        ("DELETE", "/api/v1/households/{}/assignment", hid, None),
    ]
    for method, template, known, body in requests:
        assert client.open(template.format(known), method=method, json=body,
                           headers={**insider, "If-Match": "*"}).status_code != 404, template
        hidden = problem(client.open(template.format(known), method=method, json=body,
                                     headers={**outsider, "If-Match": "*"}), 404, "request.not_found")
        unknown = problem(client.open(template.format(uuid.uuid4()), method=method, json=body,
                                      headers={**outsider, "If-Match": "*"}), 404, "request.not_found")
        assert without_request_id(hidden) == without_request_id(unknown), template
    assert VILLAGE_C  # the outsider's only village holds none of these
