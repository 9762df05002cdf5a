"""Citizen ID numbers travel to phones only where the form marks them for prefill; a visit made
from a prefill without them leaves the stored numbers as they are."""

from __future__ import annotations

import copy

import pytest
from support import COMMUNE_X, VILLAGE_A
from support.households import household_answers, submission

PULL, PUSH = "/api/v1/sync/pull", "/api/v1/sync/push"


def push(client, headers, device, items):
    response = client.post(PUSH, json={"device_id": device, "submissions": items}, headers=headers)
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * len(items), results
    return results


def pulled(client, headers) -> dict:
    body = client.get(f"{PULL}?limit=500", headers=headers).get_json()
    return {h["id"]: h for h in body["changes"]["households"]}


def with_member_ids(answers: dict) -> dict:
    out = copy.deepcopy(answers)
    for i, member in enumerate(out["members"]):
        member["member_id"] = f"member-{i:04d}"
    return out


@pytest.fixture()
def household(client, accounts):
    phone = accounts.headers("enumerator", [VILLAGE_A], device_id="id-phone")
    item = submission(VILLAGE_A, answers=with_member_ids(household_answers()))
    push(client, phone, "id-phone", [item])
    stored = item["answers"]
    assert stored["head_cccd"] and [m.get("cccd") for m in stored["members"]].count(None) < len(stored["members"])
    return phone, item


def stored_answers(client, accounts, household_id) -> dict:
    response = client.get(f"/api/v1/households/{household_id}", headers=accounts.headers("supervisor", [COMMUNE_X]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_pull_leaves_the_id_numbers_out_and_nothing_else(client, accounts, household):
    phone, item = household
    got = pulled(client, phone)[item["household_id"]]["answers"]
    sent = item["answers"]
    assert "head_cccd" not in got and all("cccd" not in m for m in got["members"])
    assert got["head_name"] == sent["head_name"] and got["floor_area"] == sent["floor_area"]
    assert [m["member_name"] for m in got["members"]] == [m["member_name"] for m in sent["members"]]
    # Every other answer the phone sent comes back.
    assert {k for k in sent if k != "head_cccd"} <= set(got)
    assert all({k for k in s if k != "cccd"} <= set(g) for s, g in zip(sent["members"], got["members"], strict=True))
    # Another enumerator of the village (who receives the household too) gets no more.
    other = accounts.headers("enumerator", [VILLAGE_A])
    assert "head_cccd" not in pulled(client, other)[item["household_id"]]["answers"]
    # The server keeps them.
    answers = stored_answers(client, accounts, item["household_id"])["answers"]
    assert answers["head_cccd"] == sent["head_cccd"]
    assert [m.get("cccd") for m in answers["members"]] == [m.get("cccd") for m in sent["members"]]


def test_a_visit_made_from_the_prefill_keeps_the_stored_numbers(client, accounts, household):
    phone, item = household
    prefill = pulled(client, phone)[item["household_id"]]
    answers = {**prefill["answers"], "floor_area": 77}
    visit = submission(VILLAGE_A, household_id=item["household_id"], household_rev=prefill["rev"], answers=answers)
    assert push(client, phone, "id-phone", [visit])[0]["household_rev"] == 2
    record = stored_answers(client, accounts, item["household_id"])
    assert record["rev"] == 2 and record["answers"]["floor_area"] == 77
    assert record["answers"]["head_cccd"] == item["answers"]["head_cccd"]
    assert [m.get("cccd") for m in record["answers"]["members"]] == [m.get("cccd") for m in item["answers"]["members"]]
    assert record["conflicts"] == []
    # A number the visit does give replaces the stored one.
    answers = {**pulled(client, phone)[item["household_id"]]["answers"], "head_cccd": "001086099999"}
    visit = submission(VILLAGE_A, household_id=item["household_id"], household_rev=2, answers=answers)
    push(client, phone, "id-phone", [visit])
    assert stored_answers(client, accounts, item["household_id"])["answers"]["head_cccd"] == "001086099999"


FORM = {
    "form_id": "so-ho-khau", "version": "1", "title": "Sổ hộ",
    "fields": [
        {"name": "head_name", "type": "text", "label": "Họ tên chủ hộ"},
        {"name": "cccd", "type": "text", "label": "Số CCCD chủ hộ", "prefill": True},
        {"name": "so_cmnd", "type": "text", "label": "Số CMND cũ"},
        {"name": "ghi_chu", "type": "text", "label": "Ghi chú", "prefill": False},
        {"name": "members", "type": "repeat", "label": "Thành viên", "instance_key": "member_id", "fields": [
            {"name": "member_id", "type": "text", "label": "Mã"},
            {"name": "member_cccd", "type": "text", "label": "Số CCCD"}]},
    ],
}


def test_a_form_sends_an_id_number_it_marks_for_prefill(client, accounts):
    admin = accounts.headers("admin")
    assert client.post("/api/v1/forms", json=FORM, headers=admin).status_code == 201
    assert client.post("/api/v1/forms/so-ho-khau/versions/1/publish", headers=admin).status_code == 200
    phone = accounts.headers("enumerator", [VILLAGE_A], device_id="form-phone")
    answers = {"head_name": "Lò Văn Páo", "cccd": "011086000001", "so_cmnd": "123456789", "ghi_chu": "nhà cuối ngõ",
               "members": [{"member_id": "m-00000001", "member_cccd": "011188000002"}]}
    item = submission(VILLAGE_A, answers=answers, form_id="so-ho-khau", form_version="1")
    push(client, phone, "form-phone", [item])
    assert pulled(client, phone)[item["household_id"]]["answers"] == {
        "head_name": "Lò Văn Páo", "cccd": "011086000001", "members": [{"member_id": "m-00000001"}]}
