"""xlsform_to_form: conversion of in-memory XLSForms, problem paths, hostile workbooks."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import openpyxl
import pytest

from forms.answers import evaluate_submission
from forms.definition import load_form
from forms.problems import DEFINITION_CODES, XLSFORM_CODES, FormDefinitionError
from forms.xlsform import MAX_ROWS, MAX_UNCOMPRESSED_BYTES, xlsform_to_form

SETTINGS = [["form_id", "version", "form_title", "default_language"],
            ["household-review", "2026.1", "Phiếu rà soát", "Tiếng Việt (vi)"]]


def workbook(survey, choices=None, settings=SETTINGS, **sheets) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    for row in survey:
        ws.append(row)
    for name, rows in (("choices", choices), ("settings", settings), *sheets.items()):
        if rows is None:
            continue
        sheet = wb.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def problems_of(data, **kw):
    with pytest.raises(FormDefinitionError) as info:
        xlsform_to_form(data, **kw)
    for p in info.value.problems:
        assert p.code in XLSFORM_CODES or p.code in DEFINITION_CODES, p
    return info.value.problems


def codes_at(data, **kw):
    return {(p.path, p.code) for p in problems_of(data, **kw)}


HEADER = ["type", "name", "label::Tiếng Việt (vi)", "label::English (en)", "hint::Tiếng Việt (vi)",
          "required", "relevant", "constraint", "constraint_message::Tiếng Việt (vi)",
          "constraint_message::English (en)", "calculation", "choice_filter", "repeat_count",
          "appearance", "default", "read_only"]


def row(type_, name=None, vi=None, en=None, **cols):
    values = dict.fromkeys(HEADER)
    values.update({"type": type_, "name": name, "label::Tiếng Việt (vi)": vi, "label::English (en)": en})
    for key, value in cols.items():
        values[{"hint": "hint::Tiếng Việt (vi)", "cm_vi": "constraint_message::Tiếng Việt (vi)",
                "cm_en": "constraint_message::English (en)"}.get(key, key)] = value
    return [values[h] for h in HEADER]


FULL_SURVEY = [
    HEADER,
    row("select_one area", "area_type", "Khu vực", "Area", required="yes", appearance="minimal"),
    row("select_one province", "province", "Tỉnh", "Province", choice_filter="region = 'north'"),
    row("integer", "members_count", "Số nhân khẩu", "Members", required=True,
        constraint=". >= 1 and . <= 30", cm_vi="Từ 1 đến 30 người", cm_en="1 to 30 people", default=1),
    row("note", "intro", "Thông tin thành viên", None),
    row("begin repeat", "members", "Thành viên", "Members", repeat_count="${members_count}"),
    row("text", "member_name", "Họ tên", "Name", required="TRUE", hint="Ghi đầy đủ"),
    row("integer", "age", "Tuổi", "Age", required="true"),
    row("begin group", "insurance", "Bảo hiểm", None, relevant="${age} >= 6"),
    row("select_one yes_no", "has_health_insurance", "Có BHYT?", "Insured?", required="yes"),
    row("end group"),
    row("calculate", "uninsured", calculation="if(${has_health_insurance} = 'no', 1, 0)"),
    row("end repeat"),
    row("select_multiple water", "water_sources", "Nguồn nước", "Water", default="tap rain"),
    row("geopoint", "location", "Vị trí", "Location"),
    row("image", "house_photo", "Ảnh nhà", "House photo"),
    row("start", "start"),
    row("text", "code", "Mã", None, read_only="yes", default="HH"),
    row("calculate", "uninsured_count", calculation="sum(${uninsured})"),
    row("calculate", "wall_points", calculation="${param:base_points} + 1"),
    row("calculate", "classification",
        calculation="if(${uninsured_count} > ${param:max_uninsured}, 'poor', 'not_poor')"),
]
FULL_CHOICES = [
    ["list_name", "name", "label::Tiếng Việt (vi)", "label::English (en)", "region", "points::urban", "points::red_river_delta"],
    ["area", "rural", "Nông thôn", "Rural"],
    ["area", "urban", "Thành thị", "Urban"],
    ["province", "hn", "Hà Nội", "Hanoi", "north"],
    ["province", "hcm", "TP. Hồ Chí Minh", "HCMC", "south"],
    ["yes_no", "yes", "Có", "Yes", None, 9, 12],
    ["yes_no", "no", "Không", "No", None, 0, 0],
    ["water", "tap", "Nước máy", "Tap"],
    ["water", "rain", "Nước mưa", "Rain"],
    [],
    ["water", 3, "Khác", "Other"],
]


def full_workbook(**kw):
    return workbook(FULL_SURVEY, FULL_CHOICES,
                    parameters=[["name", "value"], ["max_uninsured", 0], ["base_points", 1.5], ["note", "x"]],
                    outputs=[["output", "field"], ["classification", "classification"],
                             ["deprivations.health_insurance", "uninsured_count"]], **kw)


def test_full_conversion():
    doc = xlsform_to_form(full_workbook())
    assert doc["form_id"] == "household-review" and doc["version"] == "2026.1"
    assert doc["title"] == "Phiếu rà soát" and doc["default_language"] == "vi"
    assert doc["languages"] == ["vi", "en"]
    assert doc["parameters"] == {"max_uninsured": 0, "base_points": 1.5, "note": "x"}
    assert doc["outputs"] == {"classification": "classification",
                              "deprivations": {"health_insurance": "uninsured_count"}}
    fields = {f["name"]: f for f in doc["fields"]}
    assert "start" not in fields  # device metadata is skipped
    assert fields["area_type"] == {"name": "area_type", "type": "select_one", "choices": "area",
                                   "label": {"vi": "Khu vực", "en": "Area"}, "required": True,
                                   "appearance": "minimal"}
    assert fields["province"]["choice_filter"] == "region = 'north'"
    count = fields["members_count"]
    assert count["constraint"] == ". >= 1 and . <= 30" and count["default"] == 1 and count["required"] is True
    assert count["constraint_message"] == {"vi": "Từ 1 đến 30 người", "en": "1 to 30 people"}
    members = fields["members"]
    assert members["type"] == "repeat" and members["repeat_count"] == "${members_count}"
    inner = {f["name"]: f for f in members["fields"]}
    assert inner["member_name"]["hint"] == {"vi": "Ghi đầy đủ"}
    assert inner["insurance"]["type"] == "group" and inner["insurance"]["relevant"] == "${age} >= 6"
    assert inner["insurance"]["fields"][0]["name"] == "has_health_insurance"
    assert inner["uninsured"]["calculation"] == "if(${has_health_insurance} = 'no', 1, 0)"
    assert fields["water_sources"]["type"] == "select_multiple" and fields["water_sources"]["default"] == ["tap", "rain"]
    assert fields["code"]["read_only"] is True and fields["code"]["default"] == "HH"
    yes = doc["choices"]["yes_no"][0]
    assert yes == {"value": "yes", "label": {"vi": "Có", "en": "Yes"}, "points": {"urban": 9, "red_river_delta": 12}}
    assert doc["choices"]["province"][0]["region"] == "north"
    assert [c["value"] for c in doc["choices"]["water"]] == ["tap", "rain", "3"]  # numbers become text


def test_converted_form_loads_and_evaluates():
    form = load_form(xlsform_to_form(full_workbook()))
    answers = {"area_type": "rural", "members_count": 2, "members": [
        {"member_name": "A", "age": 30, "has_health_insurance": "no"},
        {"member_name": "B", "age": 3}]}
    result = evaluate_submission(form, answers, today=date(2026, 10, 1))
    assert result.errors == []
    assert result.outputs["classification"] == "poor"
    assert result.answers["wall_points"] == 2.5


def test_arguments_override_settings():
    doc = xlsform_to_form(full_workbook(), form_id="other-form", version="7")
    assert (doc["form_id"], doc["version"]) == ("other-form", "7")
    no_settings = workbook([["type", "name"], ["text", "a"]], settings=None)
    doc = xlsform_to_form(no_settings, form_id="x", version="1")
    assert doc["title"] == "x" and doc["fields"] == [{"name": "a", "type": "text"}]


def test_numeric_version_and_plain_labels():
    data = workbook([["type", "name", "label"], ["text", "a", "Tên"]],
                    settings=[["form_id", "version"], ["f", 2026010101]])
    doc = xlsform_to_form(data)
    assert doc["version"] == "2026010101" and doc["fields"][0]["label"] == "Tên"
    assert "languages" not in doc


def test_required_expression_and_aliases():
    data = workbook([["Type", "Name", "Required", "Constraint Message", "list name"],
                     ["integer", "n", "no", None], ["text", "t", "${n} > 2", "bad"]])
    doc = xlsform_to_form(data, form_id="f", version="1")
    assert "required" not in doc["fields"][0]
    assert doc["fields"][1]["required"] == "${n} > 2" and doc["fields"][1]["constraint_message"] == "bad"


# --------------------------------------------------------------------------- problems, with sheet and row


def test_structural_problems_name_sheet_and_row():
    data = workbook([
        ["type", "name", "constraint"],
        ["integer", "n", "(("],                 # row 2
        ["begin group", "g"],                   # row 3: never ended
        ["text", "n"],                          # row 4: duplicate (groups share the scope)
        ["select_one nolist", "s"],             # row 5
        ["barcode", "x"],                       # row 6
        ["text"],                               # row 7: no name
        ["end repeat"],                         # row 8: nothing to end
        ["select_one yes_no or_other", "o"],   # row 9
    ], settings=None)
    found = codes_at(data)
    assert found == {
        ("settings/form_id", "missing_key"),
        ("settings/version", "missing_key"),
        ("survey/row 2/constraint", "expression_syntax"),
        ("survey/row 3/type", "unmatched_group"),
        ("survey/row 4/name", "duplicate_name"),
        ("survey/row 5/type", "missing_choice_list"),
        ("survey/row 6/type", "unknown_type"),
        ("survey/row 7/name", "missing_key"),
        ("survey/row 8/type", "unmatched_group"),
        ("survey/row 9/type", "unknown_type"),
    }


def test_form_problems_are_located_in_rows():
    data = workbook(
        [["type", "name", "label::English (en)", "calculation", "relevant"],
         ["calculate", "a", None, "${b}"],
         ["calculate", "b", None, "${a}"],
         ["text", "t", None, None, "${ghost} = 1"],
         ["text", "Bad Name", "x"]],
        [["list_name", "name"], ["l", "a"], ["l", "a"]],
    )
    found = codes_at(data)
    assert found == {
        ("survey/row 2", "calculation_cycle"),
        ("survey/row 4/relevant", "unknown_reference"),
        ("survey/row 5/name", "invalid_name"),
        ("choices/row 3/name", "duplicate_choice"),
    }


def test_bad_language_column():
    data = workbook([["type", "name", "label::Klingon"], ["text", "a", "x"]])
    assert codes_at(data) == {("survey/row 2/label::Klingon", "invalid_value")}


def test_unknown_column_is_reported_only_when_used():
    ok = workbook([["type", "name", "media::image", "$kuid"], ["text", "a", None, "abc"]])
    assert xlsform_to_form(ok)["fields"] == [{"name": "a", "type": "text"}]
    used = workbook([["type", "name", "media::image"], ["text", "a", "photo.png"]])
    assert codes_at(used) == {("survey/row 2/media::image", "unknown_column")}


def test_missing_sheets_and_columns():
    wb = openpyxl.Workbook()
    wb.active.title = "questions"
    buf = io.BytesIO()
    wb.save(buf)
    assert codes_at(buf.getvalue()) == {("survey", "missing_sheet")}
    assert codes_at(workbook([["name"], ["a"]])) == {("survey/type", "missing_column")}
    assert ("choices/list_name", "missing_column") in codes_at(
        workbook([["type", "name"], ["text", "a"]], [["name"], ["x"]]))


# --------------------------------------------------------------------------- hostile workbooks


@pytest.mark.parametrize("data", [b"", b"hello", b"\xd0\xcf\x11\xe0" + b"\0" * 100, "text", b"PK\x03\x04garbage"])
def test_not_xlsx(data):
    assert [p.code for p in problems_of(data)] == ["not_xlsx"]


def test_zip_that_is_not_a_workbook():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    assert [p.code for p in problems_of(buf.getvalue())] == ["not_xlsx"]


def test_zip_bomb_is_refused_before_opening():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (MAX_UNCOMPRESSED_BYTES + 1))
    data = buf.getvalue()
    assert len(data) < 100_000  # small on the wire, huge unpacked
    problems = problems_of(data)
    assert [(p.path, p.code) for p in problems] == [("", "too_large")]


def test_absurd_row_count_is_a_problem():
    rows = [["type", "name"]] + [["text", f"f{i}"] for i in range(MAX_ROWS["survey"] + 2)]
    found = codes_at(workbook(rows))
    assert (f"survey/row {MAX_ROWS['survey'] + 2}", "too_large") in found
