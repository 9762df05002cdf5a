"""Bad uploads are 4xx problems naming the sheet, row or field, never a 500, and write nothing:
XLSForms with damaged sheet XML or a DTD, villages CSVs with a field past the csv module's
128 KiB limit, a conflict resolution with a value nested 600 lists deep; and both upload
parsers fuzzed through HTTP for a bounded number of examples."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, example, given, settings
from support import COMMUNE_X, VILLAGE_A, problem
from support.hostile import CSV_HEADER, DTDS, hostile_csv, hostile_xlsx, valid_xlsform, xlsform_members, zip_members
from support.households import household_answers, submission

from server.db import db
from server.models import Area, AuditEntry, Conflict, FormVersion, HouseholdRevision
from server.services.areas import village_errors

SURVEY_PART = "xl/worksheets/sheet1.xml"
FUZZ = settings(deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture()
def admin(accounts) -> dict:
    return accounts.headers("admin")


def counts(app, *models) -> dict[str, int]:
    with app.app_context():
        return {m.__tablename__: db.session.execute(sa.select(sa.func.count()).select_from(m)).scalar_one()
                for m in models}


def post_xlsform(client, headers, data: bytes):
    return client.post("/api/v1/forms", data={"file": (io.BytesIO(data), "form.xlsx")},
                       content_type="multipart/form-data", headers=headers)


def post_csv(client, headers, data: bytes):
    return client.post("/api/v1/areas/import", data={"file": (io.BytesIO(data), "villages.csv")},
                       content_type="multipart/form-data", headers=headers)


def survey_with(content: bytes) -> bytes:
    return zip_members({**xlsform_members(), SURVEY_PART: content})


# --- XLSForm ------------------------------------------------------------------------------------

def test_the_fuzzed_xlsform_is_accepted_unharmed(client, admin):
    # Otherwise the fuzz below would only ever see refusals.
    response = post_xlsform(client, admin, valid_xlsform())
    assert response.status_code == 201, response.get_json()


def test_damaged_sheet_xml_is_a_422_naming_the_sheet_and_row(app, client, admin):
    survey = xlsform_members()[SURVEY_PART]
    cut = survey.index(b"<c ", survey.index(b'<row r="3"')) + 2
    before = counts(app, FormVersion, AuditEntry)
    body = problem(post_xlsform(client, admin, survey_with(survey[:cut])), 422, "form.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("survey/row 3", "unreadable_sheet")]
    assert "survey/row 3" in body["detail"]
    assert counts(app, FormVersion, AuditEntry) == before


@pytest.mark.parametrize("dtd", DTDS[:2], ids=["internal-entities", "external-entity"])
def test_a_dtd_is_a_422_naming_the_sheet_and_nothing_is_expanded(app, client, admin, dtd):
    survey = xlsform_members()[SURVEY_PART]
    body_xml = survey[survey.index(b"?>") + 2:].replace(b'<c r="C2" t="s"><v>7</v></c>',
                                                        b'<c r="C2" t="inlineStr"><is><t>&c;&x;</t></is></c>')
    before = counts(app, FormVersion, AuditEntry)
    body = problem(post_xlsform(client, admin, survey_with(dtd + body_xml)), 422, "form.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("survey", "xml_dtd")]
    assert "aaaaaaaaaa" not in str(body) and "root:" not in str(body)
    assert counts(app, FormVersion, AuditEntry) == before


@settings(FUZZ, max_examples=40)
@given(data=hostile_xlsx())
@example(data=survey_with(DTDS[0] + xlsform_members()[SURVEY_PART]))
@example(data=survey_with(xlsform_members()[SURVEY_PART][:-50]))
def test_fuzzed_xlsforms_are_answered_with_a_4xx_problem_and_write_nothing(app, client, admin, data):
    before = counts(app, FormVersion, AuditEntry)
    response = post_xlsform(client, admin, data)
    if response.status_code == 201:  # still a valid form (or made one)
        return
    body = problem(response, response.status_code)
    assert 400 <= response.status_code < 500, body
    assert counts(app, FormVersion, AuditEntry) == before
    if body["code"] == "form.invalid":
        assert body["errors"] and all(isinstance(e["path"], str) for e in body["errors"])


# --- villages CSV -------------------------------------------------------------------------------

def test_a_csv_field_over_128_kib_is_a_422_naming_the_row(app, client, admin):
    data = f"{CSV_HEADER}\n{COMMUNE_X},h1,Thôn Một\n{COMMUNE_X},h2,{'x' * 131_073}\n".encode()
    before = counts(app, Area, AuditEntry)
    body = problem(post_csv(client, admin, data), 422, "request.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("rows/3", "too_long")]
    assert counts(app, Area, AuditEntry) == before


@settings(FUZZ, max_examples=80)
@given(data=hostile_csv())
@example(data=f"{CSV_HEADER}\n{COMMUNE_X},h1,{'x' * 200_000}\n".encode())
@example(data=f"{CSV_HEADER}\n{COMMUNE_X},h1,=cmd|' /C calc'!A0\n".encode())
@example(data=f"{CSV_HEADER}\n{COMMUNE_X},h1,{'ß' * 200}\n".encode())
def test_fuzzed_csvs_are_answered_with_a_4xx_problem_and_write_nothing(app, client, admin, data):
    before = counts(app, Area, AuditEntry)
    response = post_csv(client, admin, data)
    if response.status_code == 201:
        # What was stored obeys the single create's rules.
        for item in response.get_json()["items"]:
            assert village_errors(item["parent"], item["code"].rsplit("-", 1)[1], item["name"]) == [], item
        return
    body = problem(response, response.status_code)
    assert 400 <= response.status_code < 500, body
    assert body["errors"] and all(e["path"] == "file" or e["path"].startswith("rows/") for e in body["errors"])
    assert counts(app, Area, AuditEntry) == before


# --- conflict resolution ------------------------------------------------------------------------

def _conflict(client, accounts) -> str:
    first = accounts.headers("enumerator", [VILLAGE_A], device_id="deep-a")
    second = accounts.headers("enumerator", [VILLAGE_A], device_id="deep-b")
    item = submission(VILLAGE_A)
    hid = item["household_id"]
    for headers, device, answers in ((first, "deep-a", None),
                                     (first, "deep-a", household_answers(floor_area=70)),
                                     (second, "deep-b", household_answers(floor_area=20))):
        body = {"device_id": device, "submissions": [
            item if answers is None else submission(VILLAGE_A, household_id=hid, household_rev=1, answers=answers)]}
        response = client.post("/api/v1/sync/push", json=body, headers=headers)
        assert response.status_code == 200, response.get_json()
    [result] = response.get_json()["results"]
    assert result["conflict_id"], result
    return result["conflict_id"]


@pytest.mark.parametrize("depth", [33, 600])
def test_a_conflict_value_nested_deep_is_a_422_naming_the_choice(app, client, accounts, depth):
    conflict_id = _conflict(client, accounts)
    supervisor = accounts.headers("supervisor", [COMMUNE_X])
    # Written by hand: orjson refuses to write more than 254 levels (it reads up to 1,024).
    deep = '{"choices": {"floor_area": {"value": ' + "[" * depth + "45" + "]" * depth + "}}}"
    before = counts(app, Conflict, HouseholdRevision, AuditEntry)
    body = problem(client.post(f"/api/v1/conflicts/{conflict_id}/resolve", headers=supervisor, data=deep,
                               content_type="application/json"), 422, "request.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("choices/floor_area/value", "too_deep")]
    assert counts(app, Conflict, HouseholdRevision, AuditEntry) == before
    # 32 levels is within the limit: the form says what is wrong with the value instead.
    shallow: object = 45
    for _ in range(32):
        shallow = [shallow]
    body = problem(client.post(f"/api/v1/conflicts/{conflict_id}/resolve", headers=supervisor,
                               json={"choices": {"floor_area": {"value": shallow}}}), 422, "request.invalid")
    assert all(e["code"] != "too_deep" for e in body["errors"]), body
    resolved = client.post(f"/api/v1/conflicts/{conflict_id}/resolve", headers=supervisor,
                           json={"choices": {"floor_area": {"value": 45}}})
    assert resolved.status_code == 200, resolved.get_json()
