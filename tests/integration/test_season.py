"""The commune's season: the village meeting (under half agreeing sends the visit back), complaints,
the posting list (only what the law posts), and the commune's decision that closes the year."""

from __future__ import annotations

import io
import uuid

import openpyxl
import pytest
import sqlalchemy as sa
from support import COMMUNE_X, COMMUNE_Y, VILLAGE_A, problem
from support.households import household_answers, submission

from server.db import db
from server.models import AuditEntry, Submission

PUSH = "/api/v1/sync/push"


def push(client, phone, items):
    return client.post(PUSH, json={"device_id": "season", "submissions": items}, headers=phone).get_json()["results"]


@pytest.fixture()
def season(client, accounts):
    phone = accounts.headers("enumerator", [VILLAGE_A], device_id="season")
    poor = household_answers(head_name="Lò Thị Mai", income_agriculture=6_000_000, floor_area=20,
                             latrine_type="none", water_source="unprotected_well", address="Bản Pá, xóm 2")
    items = [submission(VILLAGE_A, answers=poor),
             submission(VILLAGE_A, answers=household_answers(head_name="Vàng A Sử", income_agriculture=60_000_000)),
             submission(VILLAGE_A, answers=household_answers(head_name="Nguyễn Văn Giàu"))]
    results = push(client, phone, items)
    assert [r["status"] for r in results] == ["accepted"] * 3, results
    classes = [r["outputs"]["classification"] for r in results]
    assert classes[0] == "poor" and classes[1] == "near_poor" and classes[2] not in ("poor", "near_poor"), classes
    return phone, accounts.headers("supervisor", [COMMUNE_X]), items


def test_a_meeting_under_half_agreeing_sends_the_visit_back_to_the_phone(client, app, season):
    phone, supervisor, items = season
    hid = items[0]["household_id"]
    url = f"/api/v1/households/{hid}/meetings"
    agreed = client.post(url, json={"year": 2026, "held_on": "2026-11-25", "present": 30, "agreeing": 15},
                         headers=supervisor)
    assert agreed.status_code == 201 and agreed.get_json()["agreed"] is True
    with app.app_context():
        assert db.session.get(Submission, uuid.UUID(items[0]["id"])).review_state == "received"
    refused = client.post(url, json={"year": 2026, "held_on": "2026-11-28", "present": 30, "agreeing": 14},
                          headers=supervisor)
    assert refused.status_code == 201 and refused.get_json()["agreed"] is False
    with app.app_context():
        stored = db.session.get(Submission, uuid.UUID(items[0]["id"]))
        assert stored.review_state == "changes_requested" and "14/30" in stored.review_comment
    reviews = client.get("/api/v1/sync/pull", headers=phone).get_json()["changes"]["reviews"]
    assert [(r["submission_id"], r["review_state"]) for r in reviews] == [(items[0]["id"], "changes_requested")]
    assert "Rà soát lại" in reviews[0]["comment"]
    assert [m["agreed"] for m in client.get(url, headers=supervisor).get_json()["items"]] == [True, False]
    assert problem(client.post(url, json={"year": 2026, "held_on": "2026-11-28", "present": 3, "agreeing": 4},
                               headers=supervisor), 422)["errors"][0]["path"] == "agreeing"
    assert problem(client.post(url, json={"year": 2025, "held_on": "2026-11-28", "present": 3, "agreeing": 2},
                               headers=supervisor), 422)["errors"][0]["path"] == "year"


def test_complaints_are_received_then_resolved_once(client, accounts, season):
    _, supervisor, items = season
    hid = items[1]["household_id"]
    made = client.post(f"/api/v1/households/{hid}/complaints", headers=supervisor,
                       json={"year": 2026, "received_on": "2026-11-27", "text": "Hộ cho rằng mình là hộ nghèo"})
    assert made.status_code == 201 and made.get_json()["status"] == "open"
    cid = made.get_json()["id"]
    listed = client.get("/api/v1/complaints?status=open", headers=supervisor).get_json()["items"]
    assert [c["id"] for c in listed] == [cid]
    done = client.post(f"/api/v1/complaints/{cid}/resolve", headers=supervisor,
                       json={"outcome": "rejected", "resolution": "Đã xác minh: thu nhập trên chuẩn"})
    assert done.status_code == 200 and done.get_json()["status"] == "resolved"
    assert done.get_json()["outcome"] == "rejected"
    problem(client.post(f"/api/v1/complaints/{cid}/resolve", headers=supervisor,
                        json={"outcome": "upheld", "resolution": "x"}), 409)
    assert client.get("/api/v1/complaints?status=open", headers=supervisor).get_json()["items"] == []
    outsider = accounts.headers("supervisor", [COMMUNE_Y])
    assert client.get("/api/v1/complaints", headers=outsider).get_json()["items"] == []
    problem(client.post(f"/api/v1/complaints/{cid}/resolve", headers=outsider,
                        json={"outcome": "upheld", "resolution": "x"}), 404)


def test_the_posting_list_shows_only_what_is_posted(client, season):
    _, supervisor, items = season
    url = f"/api/v1/areas/{VILLAGE_A}/posting-list?year=2026"
    listing = client.get(url, headers=supervisor).get_json()
    assert [(h["head_name"], h["label"]) for h in listing["households"]] == [
        ("Lò Thị Mai", "Hộ nghèo"), ("Vàng A Sử", "Hộ cận nghèo")]
    assert listing["households"][0]["address"] == "Bản Pá, xóm 2"
    assert set(listing["households"][0]) == {"no", "head_name", "address", "village", "classification", "label"}
    cccd = items[0]["answers"]["head_cccd"]
    pdf = client.get(url + "&format=pdf", headers=supervisor)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"]
    xlsx = client.get(url + "&format=xlsx", headers=supervisor)
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["STT", "Họ và tên chủ hộ", "Địa chỉ", "Thôn", "Đề nghị"]
    assert [r[1] for r in rows[1:]] == ["Lò Thị Mai", "Vàng A Sử"]
    for body in (xlsx.data, str(listing).encode()):
        assert cccd.encode() not in body
    assert problem(client.get(f"/api/v1/areas/{COMMUNE_X}/posting-list?year=2026", headers=supervisor),
                   422)["errors"][0]["path"] == "area"


def test_the_communes_decision_closes_the_year_until_an_admin_reopens_it(client, app, accounts, season):
    phone, supervisor, items = season
    decision = client.post(f"/api/v1/areas/{COMMUNE_X}/decisions", headers=supervisor,
                           json={"year": 2026, "number": "125/QĐ-UBND", "decided_on": "2026-12-10"})
    assert decision.status_code == 201, decision.get_json()
    problem(client.post(f"/api/v1/areas/{COMMUNE_X}/decisions", headers=supervisor,
                        json={"year": 2026, "number": "126/QĐ-UBND", "decided_on": "2026-12-11"}), 409,
            "season.closed")
    # A new visit is refused; a retry of what was stored before the decision is still a duplicate.
    late = submission(VILLAGE_A)
    [refused, retry] = push(client, phone, [late, items[0]])
    assert refused["errors"][0]["code"] == "year_closed" and retry["status"] == "duplicate"
    sid = items[1]["id"]
    etag = client.get(f"/api/v1/submissions/{sid}", headers=supervisor).headers["ETag"]
    problem(client.patch(f"/api/v1/submissions/{sid}", headers={**supervisor, "If-Match": etag},
                         json={"answers": {"floor_area": 33}, "reason": "x"}), 409, "season.closed")
    problem(client.post(f"/api/v1/households/{items[0]['household_id']}/meetings", headers=supervisor,
                        json={"year": 2026, "held_on": "2026-12-12", "present": 3, "agreeing": 3}), 409)
    problem(client.post(f"/api/v1/areas/{COMMUNE_X}/decisions/2026/reopen", headers=supervisor,
                        json={"reason": "x"}), 403)
    admin = accounts.headers("admin", [])
    reopened = client.post(f"/api/v1/areas/{COMMUNE_X}/decisions/2026/reopen", headers=admin,
                           json={"reason": "Sai sót số liệu thôn A"})
    assert reopened.status_code == 200 and reopened.get_json()["reopened_at"]
    [accepted] = push(client, phone, [late])
    assert accepted["status"] == "accepted"
    with app.app_context():
        actions = set(db.session.execute(sa.select(AuditEntry.action).where(
            AuditEntry.action.like("season.%"))).scalars())
        assert {"season.decision", "season.reopen"} <= actions
    # Another commune's year is not closed by this one's decision, nor visible to its supervisor.
    outsider = accounts.headers("supervisor", [COMMUNE_Y])
    problem(client.get(f"/api/v1/areas/{COMMUNE_X}/decisions", headers=outsider), 404)


def test_a_submission_says_why_it_got_its_class_in_both_languages(client, season):
    _, supervisor, items = season
    detail = client.get(f"/api/v1/submissions/{items[0]['id']}", headers=supervisor).get_json()
    reasons = detail["reasons"]
    assert "Hộ nghèo" in reasons["sentence"]["vi"] and "Poor household" in reasons["sentence"]["en"]
    deprived = {d["indicator"]: d for d in reasons["deprivations"]}
    assert {"latrine", "water"} <= set(deprived), reasons["deprivations"]
    assert deprived["latrine"]["answers"], deprived["latrine"]  # the answer that caused it
    assert reasons["income"]["line"] == 1_500_000
