"""Who may change the form catalogue (issue 12, finding 1).

National forms (``household-review``) are created, replaced, published, closed and reopened by
national admins only; a province's forms (``p79-...``) by the admins of that whole province too.
A province's forms reach only that province: listing, reading, pulling and pushing. Closing asks
for confirmation; a closed version can be reopened; both are audited.
"""

from __future__ import annotations

import pytest
from support import PROVINCE_HCM, PROVINCE_HN, VILLAGE_A, VILLAGE_D, problem
from support.households import submission

NATIONAL = "/api/v1/forms/household-review/versions/2022.1"
CONFIRM = {"confirm": "household-review/2022.1"}


def small_form(form_id: str, version: str = "1", **extra) -> dict:
    return {
        "form_id": form_id,
        "version": version,
        "title": {"vi": "Phiếu bổ sung", "en": "Extra sheet"},
        "parameters": {"income_line": 1500000},
        "fields": [
            {"name": "income", "type": "integer", "label": {"vi": "Thu nhập"}, "required": True},
            {"name": "poor", "type": "calculate", "calculation": "${income} <= ${param:income_line}"},
        ],
        **extra,
    }


def url(form_id: str, version: str = "1", action: str = "") -> str:
    return f"/api/v1/forms/{form_id}/versions/{version}" + (f"/{action}" if action else "")


def state(client, headers, form_id: str, version: str) -> dict | None:
    """The version as the national listing shows it (None: not there)."""
    for form in client.get("/api/v1/forms", headers=headers).get_json()["items"]:
        if form["form_id"] == form_id:
            return next((v for v in form["versions"] if v["version"] == version), None)
    return None


def audit(client, headers, action: str, *form_ids: str) -> list[dict]:
    """The entries of ``action`` about these forms made by people (rasoat init, no actor, audits
    publishing the bundled forms)."""
    response = client.get(f"/api/v1/audit?action={action}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [e for e in response.get_json()["items"]
            if e["detail"]["form_id"] in form_ids and e["actor_id"] is not None]


def pulled_forms(client, headers) -> set[tuple[str, str]]:
    response = client.get("/api/v1/sync/pull", headers=headers)
    assert response.status_code == 200, response.get_json()
    return {(f["form_id"], f["version"]) for f in response.get_json()["changes"]["forms"]}


def push(client, headers, items, device_id):
    response = client.post("/api/v1/sync/push", json={"device_id": device_id, "submissions": items}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return response.get_json()["results"]


@pytest.fixture()
def national(accounts):
    return accounts.headers("admin")


@pytest.fixture()
def hcm_admin(accounts):
    """The admin of province 79 (Hồ Chí Minh City)."""
    return accounts.headers("admin", [PROVINCE_HCM])


def publish(client, headers, form_id: str, version: str = "1", **extra) -> dict:
    created = client.post("/api/v1/forms", json=small_form(form_id, version, **extra), headers=headers)
    assert created.status_code == 201, created.get_json()
    published = client.post(url(form_id, version, "publish"), headers=headers)
    assert published.status_code == 200, published.get_json()
    return published.get_json()


# --- a provincial admin and the national catalogue ------------------------------------------------

def test_a_provincial_admin_cannot_create_a_national_form(client, national, hcm_admin):
    for doc in (small_form("ho-kinh-doanh"), small_form("household-review", "2026.9")):
        body = problem(client.post("/api/v1/forms", json=doc, headers=hcm_admin), 403, "auth.forbidden")
        assert "national" in body["detail"] and "p79-" in body["detail"], body
        assert state(client, national, doc["form_id"], doc["version"]) is None
    # Even an invalid document: the refusal comes before the definition's problems.
    bad = small_form("ho-kinh-doanh", fields=[])
    problem(client.post("/api/v1/forms", json=bad, headers=hcm_admin), 403, "auth.forbidden")
    assert audit(client, national, "form.create", "ho-kinh-doanh", "household-review") == []


def test_a_provincial_admin_cannot_replace_publish_close_or_reopen_a_national_version(client, national, hcm_admin):
    draft = client.post("/api/v1/forms", json=small_form("ho-kinh-doanh"), headers=national).get_json()
    # They see the national catalogue, drafts included (read only)...
    assert state(client, hcm_admin, "ho-kinh-doanh", "1")["state"] == "draft"
    assert state(client, hcm_admin, "household-review", "2022.1")["state"] == "published"
    assert client.get(NATIONAL, headers=hcm_admin).status_code == 200

    # ...but change none of it.
    problem(client.put(url("ho-kinh-doanh"), json=small_form("ho-kinh-doanh", description="của tỉnh"),
                       headers=hcm_admin), 403, "auth.forbidden")
    problem(client.post(url("ho-kinh-doanh", action="publish"), headers=hcm_admin), 403, "auth.forbidden")
    problem(client.post(f"{NATIONAL}/close", json=CONFIRM, headers=hcm_admin), 403, "auth.forbidden")
    problem(client.post(f"{NATIONAL}/close", headers=hcm_admin), 403, "auth.forbidden")  # 403 before the body
    problem(client.post(f"{NATIONAL}/reopen", json={}, headers=hcm_admin), 403, "auth.forbidden")

    after = state(client, national, "ho-kinh-doanh", "1")
    assert after["state"] == "draft" and after["sha256"] == draft["sha256"]
    assert state(client, national, "household-review", "2022.1")["state"] == "published"
    for action in ("form.replace_draft", "form.publish", "form.close", "form.reopen"):
        assert audit(client, national, action, "ho-kinh-doanh", "household-review") == [], action


def test_the_refusal_does_not_depend_on_whether_the_version_exists(client, hcm_admin):
    """403 is decided from the form_id in the URL alone, so it tells nothing about what exists."""
    for action, body in (("publish", None), ("close", CONFIRM), ("reopen", {})):
        existing = problem(client.post(f"{NATIONAL}/{action}", json=body, headers=hcm_admin), 403)
        missing = problem(client.post(f"/api/v1/forms/household-review/versions/1999.9/{action}", json=body,
                                      headers=hcm_admin), 403)
        assert existing["detail"] == missing["detail"], action


# --- a provincial admin and its own namespace ------------------------------------------------------

def test_a_provincial_admin_runs_its_own_provinces_forms(client, national, hcm_admin):
    created = client.post("/api/v1/forms", json=small_form("p79-ho-kinh-doanh"), headers=hcm_admin)
    assert created.status_code == 201, created.get_json()
    replaced = client.put(url("p79-ho-kinh-doanh"), json=small_form("p79-ho-kinh-doanh", description="sửa"),
                          headers=hcm_admin)
    assert replaced.status_code == 200 and replaced.get_json()["sha256"] != created.get_json()["sha256"]
    assert client.post(url("p79-ho-kinh-doanh", action="publish"), headers=hcm_admin).get_json()["state"] == "published"
    closed = client.post(url("p79-ho-kinh-doanh", action="close"), json={"confirm": "p79-ho-kinh-doanh/1"},
                         headers=hcm_admin)
    assert closed.status_code == 200 and closed.get_json()["state"] == "closed"
    reopened = client.post(url("p79-ho-kinh-doanh", action="reopen"), json={}, headers=hcm_admin)
    assert reopened.status_code == 200 and reopened.get_json()["state"] == "published"

    # Every step is audited under province 79, so the province's admins see their own history.
    for action in ("form.create", "form.replace_draft", "form.publish", "form.close", "form.reopen"):
        entries = audit(client, hcm_admin, action, "p79-ho-kinh-doanh")
        assert [(e["detail"]["form_id"], e["area_code"]) for e in entries] == [("p79-ho-kinh-doanh", "79")], action


def test_a_provincial_admin_cannot_touch_another_provinces_forms(client, national, hcm_admin):
    publish(client, national, "p01-ho-kinh-doanh")
    problem(client.post("/api/v1/forms", json=small_form("p01-ho-kinh-doanh", "2"), headers=hcm_admin),
            403, "auth.forbidden")
    for version in ("1", "7"):  # existing or not: the same 403
        problem(client.put(url("p01-ho-kinh-doanh", version), json=small_form("p01-ho-kinh-doanh", version),
                           headers=hcm_admin), 403, "auth.forbidden")
        problem(client.post(url("p01-ho-kinh-doanh", version, "publish"), headers=hcm_admin), 403, "auth.forbidden")
        problem(client.post(url("p01-ho-kinh-doanh", version, "close"),
                            json={"confirm": f"p01-ho-kinh-doanh/{version}"}, headers=hcm_admin),
                403, "auth.forbidden")
    # Nor see them: another province's forms answer like versions that do not exist.
    problem(client.get(url("p01-ho-kinh-doanh"), headers=hcm_admin), 404, "request.not_found")
    problem(client.get(url("p01-ho-kinh-doanh", action="parameters"), headers=hcm_admin), 404)
    assert state(client, hcm_admin, "p01-ho-kinh-doanh", "1") is None
    assert state(client, national, "p01-ho-kinh-doanh", "1")["state"] == "published"
    assert state(client, national, "p01-ho-kinh-doanh", "2") is None


def test_an_admin_of_part_of_a_province_cannot_publish_for_all_of_it(client, accounts, national):
    commune_admin = accounts.headers("admin", ["79-25747"])
    problem(client.post("/api/v1/forms", json=small_form("p79-ho-kinh-doanh"), headers=commune_admin),
            403, "auth.forbidden")
    assert state(client, national, "p79-ho-kinh-doanh", "1") is None


def test_a_national_admin_runs_every_namespace_but_not_a_province_that_does_not_exist(client, national):
    assert publish(client, national, "p79-ho-kinh-doanh")["state"] == "published"
    body = problem(client.post("/api/v1/forms", json=small_form("p99-ho-kinh-doanh"), headers=national), 422)
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("form_id", "unknown_province")]
    assert state(client, national, "p99-ho-kinh-doanh", "1") is None


def test_overrides_of_a_provinces_form_belong_to_that_province(client, national, hcm_admin):
    publish(client, hcm_admin, "p79-ho-kinh-doanh")
    parameters = url("p79-ho-kinh-doanh", action="parameters")
    own = client.put(f"{parameters}/79", json={"parameters": {"income_line": 1700000}, "reason": "Nghị quyết"},
                     headers=hcm_admin)
    assert own.status_code == 200, own.get_json()
    body = problem(client.put(f"{parameters}/{PROVINCE_HN}", json={"parameters": {"income_line": 1}, "reason": "x"},
                              headers=national), 422)
    assert body["errors"][0]["path"] == "province" and body["errors"][0]["code"] == "not_the_forms_province"
    # ...and a provincial admin still sets its own province's overrides of the national form.
    national_override = client.put(f"{NATIONAL}/parameters/79",
                                   json={"parameters": {"income_line_rural": 1600000}, "reason": "Nghị quyết"},
                                   headers=hcm_admin)
    assert national_override.status_code == 200, national_override.get_json()


# --- closing asks for confirmation, and can be undone ----------------------------------------------

@pytest.mark.parametrize(("body", "code"), [
    (None, "required"),
    ({}, "required"),
    ({"confirm": "household-review/2027.1"}, "mismatch"),   # another version
    ({"confirm": "household-review"}, "mismatch"),
    ({"confirm": "HOUSEHOLD-REVIEW/2022.1"}, "mismatch"),
])
def test_closing_without_the_right_confirmation_changes_nothing(client, national, body, code):
    response = client.post(f"{NATIONAL}/close", headers=national, **({} if body is None else {"json": body}))
    problem_body = problem(response, 422, "request.invalid")
    assert [(e["path"], e["code"]) for e in problem_body["errors"]] == [("confirm", code)]
    after = state(client, national, "household-review", "2022.1")
    assert after["state"] == "published" and after["closed_at"] is None
    assert audit(client, national, "form.close", "household-review") == []


def test_close_and_reopen_are_audited_and_phones_follow(client, accounts, national):
    phone = accounts.headers("enumerator", [VILLAGE_A], device_id="phone-hn")
    assert push(client, phone, [submission(VILLAGE_A)], "phone-hn")[0]["status"] == "accepted"

    closed = client.post(f"{NATIONAL}/close", json={**CONFIRM, "reason": "Hết kỳ rà soát"}, headers=national)
    assert closed.status_code == 200 and closed.get_json()["state"] == "closed" and closed.get_json()["closed_at"]
    again = client.post(f"{NATIONAL}/close", json=CONFIRM, headers=national)
    assert again.status_code == 200 and again.get_json()["closed_at"] == closed.get_json()["closed_at"]
    rejected = push(client, phone, [submission(VILLAGE_A)], "phone-hn")[0]
    assert rejected["errors"][0]["code"] == "form_version_closed"
    pulled = {f["version"]: f["state"] for f in client.get("/api/v1/sync/pull", headers=phone).get_json()
              ["changes"]["forms"] if f["form_id"] == "household-review"}
    assert pulled["2022.1"] == "closed"

    reopened = client.post(f"{NATIONAL}/reopen", json={"reason": "Đóng nhầm"}, headers=national)
    assert reopened.status_code == 200, reopened.get_json()
    assert reopened.get_json()["state"] == "published" and reopened.get_json()["closed_at"] is None
    assert client.post(f"{NATIONAL}/reopen", headers=national).get_json()["state"] == "published"  # no-op
    assert push(client, phone, [submission(VILLAGE_A)], "phone-hn")[0]["status"] == "accepted"
    pulled = {f["version"]: f["state"] for f in client.get("/api/v1/sync/pull", headers=phone).get_json()
              ["changes"]["forms"] if f["form_id"] == "household-review"}
    assert pulled["2022.1"] == "published"

    [close_entry] = audit(client, national, "form.close", "household-review")  # closing twice is audited once
    assert (close_entry["detail"]["form_id"], close_entry["detail"]["version"]) == ("household-review", "2022.1")
    assert close_entry["detail"]["reason"] == "Hết kỳ rà soát" and close_entry["area_code"] is None
    [reopen_entry] = audit(client, national, "form.reopen", "household-review")
    assert reopen_entry["detail"]["form_id"] == "household-review" and reopen_entry["detail"]["version"] == "2022.1"
    assert reopen_entry["detail"]["reason"] == "Đóng nhầm"
    assert reopen_entry["detail"]["closed_at"][:19] == closed.get_json()["closed_at"][:19]
    assert reopen_entry["actor_id"] == client.get("/api/v1/me", headers=national).get_json()["id"]


def test_only_a_closed_version_can_be_reopened(client, national):
    client.post("/api/v1/forms", json=small_form("ho-kinh-doanh"), headers=national)
    problem(client.post(url("ho-kinh-doanh", action="reopen"), json={}, headers=national), 409, "form.state")
    assert state(client, national, "ho-kinh-doanh", "1")["state"] == "draft"
    problem(client.post(url("no-such-form", action="reopen"), json={}, headers=national), 404)


# --- a province's forms reach only that province ---------------------------------------------------

def test_a_phone_never_receives_another_provinces_form(client, accounts, national, hcm_admin):
    publish(client, hcm_admin, "p79-ho-kinh-doanh")
    publish(client, national, "p01-ho-kinh-doanh")
    hanoi_phone = accounts.headers("enumerator", [VILLAGE_A], device_id="phone-hn")
    hcm_phone = accounts.headers("enumerator", [VILLAGE_D], device_id="phone-hcm")
    hanoi_supervisor = accounts.headers("supervisor", ["01-00004"])

    hanoi = pulled_forms(client, hanoi_phone)
    hcm = pulled_forms(client, hcm_phone)
    assert ("p79-ho-kinh-doanh", "1") not in hanoi and ("p01-ho-kinh-doanh", "1") in hanoi
    assert ("p79-ho-kinh-doanh", "1") in hcm and ("p01-ho-kinh-doanh", "1") not in hcm
    assert {("household-review", "2022.1"), ("household-review", "2027.1")} <= hanoi & hcm

    # Nor can it list, download or fill it.
    for headers in (hanoi_phone, hanoi_supervisor):
        listed = {f["form_id"] for f in client.get("/api/v1/forms", headers=headers).get_json()["items"]}
        assert "p79-ho-kinh-doanh" not in listed and {"household-review", "p01-ho-kinh-doanh"} <= listed
        problem(client.get(url("p79-ho-kinh-doanh"), headers=headers), 404, "request.not_found")
    assert client.get(url("p79-ho-kinh-doanh"), headers=hcm_phone).status_code == 200

    extra = {"form_id": "p79-ho-kinh-doanh", "form_version": "1", "answers": {"income": 1000000}}
    refused = push(client, hanoi_phone, [submission(VILLAGE_A, **extra)], "phone-hn")[0]
    assert refused["status"] == "rejected" and refused["errors"][0]["code"] == "unknown_form_version", refused
    accepted = push(client, hcm_phone, [submission(VILLAGE_D, **extra)], "phone-hcm")[0]
    assert accepted["status"] == "accepted", accepted


def test_the_openapi_document_describes_confirmation_and_reopening(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    close = spec["paths"]["/api/v1/forms/{form_id}/versions/{version}/close"]["post"]
    schema = close["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert "confirm" in schema["required"]
    assert "403" in close["responses"] and "p<province code>-" in close["responses"]["403"]["description"]
    assert "post" in spec["paths"]["/api/v1/forms/{form_id}/versions/{version}/reopen"]
