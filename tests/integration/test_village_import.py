"""The villages CSV import checks every row as the single create checks its fields (name length,
invisible characters, formulas, code), lists the problems by row, and writes nothing then."""

from __future__ import annotations

import io
import unicodedata

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, COMMUNE_Y, problem

from server.db import db
from server.models import Area, AuditEntry

FORMULA = "=cmd|' /C calc'!A0"


@pytest.fixture()
def admin(accounts) -> dict:
    return accounts.headers("admin")


def post_csv(client, headers, text: str):
    return client.post("/api/v1/areas/import", data={"file": (io.BytesIO(text.encode()), "v.csv")},
                       content_type="multipart/form-data", headers=headers)


def village_rows(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(Area).where(Area.level == "village")
                                  ).scalar_one() + db.session.execute(
            sa.select(sa.func.count()).select_from(AuditEntry)).scalar_one()


# The same bad name, given to the single create and to the import: the same error code.
BAD_NAMES = [
    ("x" * 201, "too_long"),
    ("Thôn\u200bMột", "invalid_character"),     # zero-width space
    ("Thôn \u202eMột", "invalid_character"),    # right-to-left override
    ("Thôn\x1bMột", "invalid_character"),       # escape
    ("Thôn\u2028Một", "invalid_character"),     # line separator
    (FORMULA, "formula"),
    ("+84 Thôn", "formula"),
    ("-Thôn", "formula"),
    ("@SUM(A1)", "formula"),
    ("   ", "required"),
]


@pytest.mark.parametrize(("name", "code"), BAD_NAMES, ids=[c + str(i) for i, (_, c) in enumerate(BAD_NAMES)])
def test_the_import_and_the_single_create_refuse_the_same_names(app, client, admin, name, code):
    before = village_rows(app)
    single = client.post("/api/v1/areas", json={"parent": COMMUNE_X, "code": "s1", "name": name}, headers=admin)
    body = problem(single, 422, "request.invalid")
    # The schema may say it first (length); the service says it otherwise; either names the field.
    assert [e["path"] for e in body["errors"]] == ["name"], body
    if len(name) <= 200 and name.strip():
        assert [e["code"] for e in body["errors"]] == [code]
    quoted = '"' + name.replace('"', '""') + '"'
    body = problem(post_csv(client, admin, f"parent,code,name\n{COMMUNE_X},i1,Thôn Một\n{COMMUNE_X},i2,{quoted}\n"),
                   422, "request.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("rows/3/name", code)]
    assert village_rows(app) == before


def test_every_bad_row_is_listed_and_nothing_is_written(app, client, admin):
    before = village_rows(app)
    text = (f"parent,code,name\n{COMMUNE_X},ok1,Thôn Một\n{COMMUNE_X},bad code,Thôn Hai\n"
            f"{COMMUNE_X},ok3,{'đ' * 250}\n{COMMUNE_X},ok4,Thôn Bốn,extra\n\n,ok6,{FORMULA}\n")
    body = problem(post_csv(client, admin, text), 422, "request.invalid")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [
        ("rows/3/code", "invalid"), ("rows/4/name", "too_long"), ("rows/5", "columns"),
        ("rows/7/parent", "required"), ("rows/7/name", "formula")]  # row 6 is blank
    assert body["detail"].startswith("The CSV has problems; the first: rows/3/code")
    assert village_rows(app) == before


def test_the_problem_list_is_bounded(app, client, admin):
    text = "parent,code,name\n" + "".join(f"{COMMUNE_X},v{i},{FORMULA}\n" for i in range(300))
    body = problem(post_csv(client, admin, text), 422, "request.invalid")
    assert len(body["errors"]) == 101
    assert body["errors"][-1]["code"] == "too_many_errors"


def test_good_names_are_stored_in_nfc_in_any_column_order(app, client, admin):
    nfd_name = unicodedata.normalize("NFD", "Thôn Đông")
    long_name = "ß" * 200  # folds to 400 characters; the search column keeps 200
    text = f"\ufeffname,parent,code\n{nfd_name},{COMMUNE_X},g1\n{long_name},{COMMUNE_Y},G2\n\"Tổ 3, khu A\",{COMMUNE_X},g3\n"
    response = post_csv(client, admin, text)
    assert response.status_code == 201, response.get_json()
    assert [(i["code"], i["name"]) for i in response.get_json()["items"]] == [
        (f"{COMMUNE_X}-g1", "Thôn Đông"), (f"{COMMUNE_Y}-g2", long_name), (f"{COMMUNE_X}-g3", "Tổ 3, khu A")]
    with app.app_context():
        stored = db.session.get(Area, f"{COMMUNE_Y}-g2")
        assert stored.name == long_name and stored.name_folded == "s" * 200
    found = client.get("/api/v1/areas", query_string={"q": "thon dong"}, headers=admin).get_json()["items"]
    assert [a["code"] for a in found] == [f"{COMMUNE_X}-g1"]


def test_the_file_itself(app, client, admin):
    problem(post_csv(client, admin, "parent,code\n01-00004,x1\n"), 422)
    body = problem(client.post("/api/v1/areas/import", data={"file": (io.BytesIO("parent,code,name\n01-00004,x1,Thôn\n"
                                                                                  .encode("cp1258")), "v.csv")},
                               content_type="multipart/form-data", headers=admin), 422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("file", "encoding")]
    body = problem(post_csv(client, admin, f"parent,code,name\n{COMMUNE_X},n1,Thôn\n{COMMUNE_X},n2,A\x00B\n"), 422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("file", "nul")]
    assert "line 3" in body["errors"][0]["message"]
