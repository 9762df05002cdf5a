"""Form versions over HTTP: drafts, problems, publishing, ETags, XLSForm upload, parameter sets."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import Workbook
from support import problem


def small_form(version: str = "1", **extra) -> dict:
    return {
        "form_id": "thu-nghiem",
        "version": version,
        "title": {"vi": "Thử nghiệm", "en": "Trial"},
        "default_language": "vi",
        "parameters": {"income_line": 1500000},
        "choices": {"yes_no": [{"value": "yes", "label": {"vi": "Có", "en": "Yes"}},
                               {"value": "no", "label": {"vi": "Không", "en": "No"}}]},
        "fields": [
            {"name": "income", "type": "integer", "label": {"vi": "Thu nhập"}, "required": True},
            {"name": "insured", "type": "select_one", "choices": "yes_no", "label": {"vi": "Có BHYT"}},
            {"name": "poor", "type": "calculate", "calculation": "${income} <= ${param:income_line}"},
        ],
        **extra,
    }


@pytest.fixture()
def admin(accounts):
    return accounts.headers("admin")


def test_bundled_forms_are_published_by_init(client, accounts):
    headers = accounts.headers("enumerator", ["01-00004-a"])
    body = client.get("/api/v1/forms", headers=headers).get_json()
    review = next(f for f in body["items"] if f["form_id"] == "household-review")
    versions = {v["version"]: v["state"] for v in review["versions"]}
    assert versions == {"2022.1": "published", "2027.1": "published", "2022.2": "published", "2027.2": "published"}


def test_draft_lifecycle_with_etags(client, admin, accounts):
    created = client.post("/api/v1/forms", json=small_form(), headers=admin)
    assert created.status_code == 201, created.get_json()
    version = created.get_json()
    assert version["state"] == "draft" and len(version["sha256"]) == 64

    # Drafts are invisible to everyone but admins.
    supervisor = accounts.headers("supervisor", ["01-00004"])
    problem(client.get("/api/v1/forms/thu-nghiem/versions/1", headers=supervisor), 404)
    assert all(f["form_id"] != "thu-nghiem" for f in client.get("/api/v1/forms", headers=supervisor).get_json()["items"])

    # Replace the draft, then publish; the bytes are then frozen.
    changed = small_form(description="sửa")
    replaced = client.put("/api/v1/forms/thu-nghiem/versions/1", json=changed, headers=admin)
    assert replaced.status_code == 200 and replaced.get_json()["sha256"] != version["sha256"]
    published = client.post("/api/v1/forms/thu-nghiem/versions/1/publish", headers=admin).get_json()
    assert published["state"] == "published"
    problem(client.put("/api/v1/forms/thu-nghiem/versions/1", json=small_form(), headers=admin),
            409, "form.version_immutable")
    problem(client.post("/api/v1/forms", json=small_form(), headers=admin), 409, "form.version_exists")

    got = client.get("/api/v1/forms/thu-nghiem/versions/1", headers=supervisor)
    assert got.status_code == 200
    assert got.headers["ETag"] == f'"{published["sha256"]}"'
    assert json.loads(got.data)["description"] == "sửa"
    cached = client.get("/api/v1/forms/thu-nghiem/versions/1",
                        headers={**supervisor, "If-None-Match": got.headers["ETag"]})
    assert cached.status_code == 304 and cached.data == b""
    stale = client.get("/api/v1/forms/thu-nghiem/versions/1", headers={**supervisor, "If-None-Match": '"abc"'})
    assert stale.status_code == 200

    closed = client.post("/api/v1/forms/thu-nghiem/versions/1/close", json={"confirm": "thu-nghiem/1"},
                         headers=admin).get_json()
    assert closed["state"] == "closed" and closed["closed_at"]
    problem(client.post("/api/v1/forms/thu-nghiem/versions/1/publish", headers=admin), 409, "form.state")


def test_invalid_definition_lists_every_problem_and_writes_nothing(client, admin):
    bad = small_form()
    bad["fields"].append({"name": "income", "type": "integer"})                       # duplicate
    bad["fields"].append({"name": "x", "type": "widget"})                             # unknown type
    bad["fields"].append({"name": "y", "type": "integer", "relevant": "${nowhere} > 1"})  # unknown ref
    bad["fields"].append({"name": "z", "type": "integer", "constraint": ". >>> 2"})   # syntax
    body = problem(client.post("/api/v1/forms", json=bad, headers=admin), 422, "form.invalid")
    found = {(e["path"], e["code"]) for e in body["errors"]}
    assert ("fields/3/name", "duplicate_name") in found
    assert ("fields/4/type", "unknown_type") in found
    assert ("fields/5/relevant", "unknown_reference") in found
    assert ("fields/6/constraint", "expression_syntax") in found
    listing = client.get("/api/v1/forms", headers=admin).get_json()["items"]
    assert all(f["form_id"] != "thu-nghiem" for f in listing)


@pytest.mark.parametrize("payload, status", [
    (b"{not json", 400),
    (b"[1, 2, 3]", 422),
    (b"[" * 100_000 + b"]" * 100_000, 400),  # absurd nesting: refused by the parser, not a crash
])
def test_malformed_bodies_are_4xx(client, admin, payload, status):
    response = client.post("/api/v1/forms", data=payload, content_type="application/json", headers=admin)
    problem(response, status)


def test_oversize_definition_is_413(client, admin, app):
    huge = small_form(description="x" * (app.config["MAX_JSON_BYTES"] + 10))
    problem(client.post("/api/v1/forms", json=huge, headers=admin), 413, "request.too_large")


def test_only_admins_write_forms(client, accounts):
    enumerator = accounts.headers("enumerator", ["01-00004-a"])
    problem(client.post("/api/v1/forms", json=small_form(), headers=enumerator), 403, "auth.forbidden")
    problem(client.post("/api/v1/forms/household-review/versions/2022.1/close", headers=enumerator), 403)


def xlsform(rows: list[list], choices: list[list], settings: list[list]) -> bytes:
    book = Workbook()
    sheets = {"survey": rows, "choices": choices, "settings": settings}
    book.active.title = "survey"
    for name, data in sheets.items():
        sheet = book["survey"] if name == "survey" else book.create_sheet(name)
        for row in data:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsform_upload_creates_a_draft(client, admin):
    data = xlsform(
        [["type", "name", "label::Tiếng Việt (vi)", "label::English (en)", "required", "constraint"],
         ["integer", "age", "Tuổi", "Age", "yes", ". >= 0 and . < 130"],
         ["select_one yn", "insured", "Có BHYT", "Insured", "", ""]],
        [["list_name", "name", "label::Tiếng Việt (vi)", "label::English (en)"],
         ["yn", "yes", "Có", "Yes"], ["yn", "no", "Không", "No"]],
        [["form_id", "version", "form_title", "default_language"],
         ["xls-thu", "2026.1", "Thử XLSForm", "vi"]],
    )
    response = client.post("/api/v1/forms", data={"file": (io.BytesIO(data), "form.xlsx")},
                           content_type="multipart/form-data", headers=admin)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["form_id"] == "xls-thu"
    doc = json.loads(client.get("/api/v1/forms/xls-thu/versions/2026.1", headers=admin).data)
    assert [f["name"] for f in doc["fields"]] == ["age", "insured"]


def test_xlsform_errors_name_sheet_and_row(client, admin):
    data = xlsform([["type", "name", "label"], ["integer", "age", "Tuổi"], ["nonsense", "bad", "x"]],
                   [["list_name", "name", "label"]], [["form_id", "version"], ["xls-bad", "1"]])
    body = problem(client.post("/api/v1/forms", data={"file": (io.BytesIO(data), "f.xlsx")},
                               content_type="multipart/form-data", headers=admin), 422, "form.invalid")
    assert any(e["path"].startswith("survey/row 3") for e in body["errors"]), body["errors"]


def test_not_an_xlsx_is_422(client, admin):
    body = problem(client.post("/api/v1/forms", data={"file": (io.BytesIO(b"PK\x03\x04garbage"), "f.xlsx")},
                               content_type="multipart/form-data", headers=admin), 422)
    assert body["errors"]


def test_province_parameter_override_is_versioned_and_scoped(client, accounts):
    national = accounts.headers("admin")
    hanoi_admin = accounts.headers("admin", ["01"])
    url = "/api/v1/forms/household-review/versions/2022.1/parameters"
    base = client.get(url, headers=national).get_json()["effective"]
    assert base["income_line_rural"] == 1500000

    first = client.put(f"{url}/01", json={"parameters": {"income_line_rural": 1800000}, "reason": "Nghị quyết HĐND"},
                       headers=hanoi_admin)
    assert first.status_code == 200, first.get_json()
    second = client.put(f"{url}/01", json={"parameters": {"income_line_rural": 1900000}, "reason": "sửa"},
                        headers=hanoi_admin).get_json()
    assert second["revision"] == 2

    effective = client.get(f"{url}?province=01", headers=national).get_json()
    assert effective["effective"]["income_line_rural"] == 1900000
    assert [o["revision"] for o in effective["overrides"]] == [1, 2]
    other = client.get(f"{url}?province=79", headers=national).get_json()["effective"]
    assert other["income_line_rural"] == 1500000

    # Hà Nội's admin cannot touch Hồ Chí Minh City, nor read its parameters.
    problem(client.put(f"{url}/79", json={"parameters": {"income_line_rural": 1}, "reason": "x"},
                       headers=hanoi_admin), 403)
    # An enumerator in Hà Nội gets Hà Nội's effective parameters by default.
    enumerator = accounts.headers("enumerator", ["01-00004-a"])
    mine = client.get(url, headers=enumerator).get_json()
    assert mine["province"] == "01" and mine["effective"]["income_line_rural"] == 1900000
    assert mine["overrides"] == []
    problem(client.get(f"{url}?province=79", headers=enumerator), 403)

    bad = problem(client.put(f"{url}/01", json={"parameters": {"nope": 1, "income_line_rural": "cao"}, "reason": "x"},
                             headers=hanoi_admin), 422)
    assert {e["path"] for e in bad["errors"]} == {"parameters/nope", "parameters/income_line_rural"}

    audit = client.get("/api/v1/audit?action=form.parameters", headers=national).get_json()["items"]
    assert [a["detail"]["revision"] for a in audit] == [1, 2]


@pytest.mark.parametrize("expression, code", [
    ("(" * 1000 + "1" + ")" * 1000, "expression_syntax"),          # absurd nesting
    (" + ".join(["${income}"] * 2000), "too_large"),               # over the length cap
    ("regex(${income}, '(a+)+$')", "expression_syntax"),            # catastrophic backtracking
])
def test_pathological_expressions_are_refused(client, admin, expression, code):
    doc = small_form()
    doc["fields"][2]["calculation"] = expression
    body = problem(client.post("/api/v1/forms", json=doc, headers=admin), 422, "form.invalid")
    assert ("fields/2/calculation", code) in {(e["path"], e["code"]) for e in body["errors"]}, body["errors"]
