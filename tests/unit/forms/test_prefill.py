"""Which stored answers travel to phones: the ``prefill`` key and the ID-number convention."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest

import forms
from forms.definition import load_form
from forms.prefill import for_prefill, travels, withheld_paths
from forms.problems import FormDefinitionError
from forms.xlsform import xlsform_to_form

BUNDLED_DIR = Path(forms.__file__).resolve().parent / "bundled"


def form(*fields: dict) -> dict:
    return {"form_id": "prefill-test", "version": "1", "title": "Prefill", "fields": list(fields)}


def text(name: str, **extra) -> dict:
    return {"name": name, "type": "text", **extra}


@pytest.mark.parametrize("name", sorted(p.name for p in BUNDLED_DIR.glob("*.json")))
def test_the_bundled_forms_keep_their_id_numbers_on_the_server(name):
    definition = load_form(json.loads((BUNDLED_DIR / name).read_text(encoding="utf-8")))
    assert withheld_paths(definition) == {"head_cccd", "members/cccd"}


@pytest.mark.parametrize(("name", "withheld"), [
    ("cccd", True), ("head_cccd", True), ("CCCD_chu_ho", True), ("so_cmnd", True), ("so_dinh_danh", True),
    ("id_number", True), ("member_id_number_old", True), ("national_id", True), ("citizen_id", True),
    ("head_name", False), ("member_id", False), ("household_code", False), ("cccdx", False), ("id", False),
])
def test_id_numbers_are_recognised_by_their_name(name, withheld):
    definition = load_form(form(text(name)))
    assert (name in withheld_paths(definition)) is withheld
    assert travels(definition.field_at(name)) is not withheld


def test_prefill_says_otherwise_either_way():
    definition = load_form(form(text("cccd", prefill=True), text("phone_number", prefill=False),
                                text("head_cccd", prefill=False), text("address", prefill=True),
                                {"name": "cccd_copy", "type": "calculate", "calculation": "${cccd}"}))
    assert withheld_paths(definition) == {"phone_number", "head_cccd", "cccd_copy"}


@pytest.mark.parametrize(("field", "code"), [
    (text("cccd", prefill="no"), "invalid_value"),
    (text("cccd", prefill=0), "invalid_value"),
    ({"name": "intro", "type": "note", "prefill": False}, "key_not_allowed"),
    ({"name": "g", "type": "group", "prefill": False, "fields": [text("x")]}, "key_not_allowed"),
])
def test_prefill_is_a_boolean_on_fields_with_a_value(field, code):
    with pytest.raises(FormDefinitionError) as info:
        load_form(form(field))
    assert [(p.path, p.code) for p in info.value.problems] == [("fields/0/prefill", code)]


def test_prefill_leaves_out_withheld_answers_at_every_depth():
    definition = load_form(form(
        text("head_name"), text("head_cccd"),
        {"name": "g", "type": "group", "fields": [text("phone", prefill=False)]},
        {"name": "members", "type": "repeat", "instance_key": "member_id", "fields": [
            text("member_id"), text("member_name"), text("cccd"),
            {"name": "documents", "type": "repeat", "fields": [text("kind"), text("id_number")]}]}))
    answers = {"head_name": "Lò Văn Páo", "head_cccd": "011086000001", "phone": "0912345678",
               "members": [{"member_id": "m-0000001", "member_name": "Lò Thị Mai", "cccd": "011188000002",
                            "documents": [{"kind": "cmnd", "id_number": "123456789"}]},
                           {"member_id": "m-0000002", "member_name": "Lò Văn Sáu"}]}
    assert for_prefill(definition, answers) == {
        "head_name": "Lò Văn Páo",
        "members": [{"member_id": "m-0000001", "member_name": "Lò Thị Mai", "documents": [{"kind": "cmnd"}]},
                    {"member_id": "m-0000002", "member_name": "Lò Văn Sáu"}]}
    assert answers["head_cccd"] == "011086000001"  # the stored answers are not touched


def workbook(survey: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    wb.active.title = "survey"
    for row in survey:
        wb.active.append(row)
    settings = wb.create_sheet("settings")
    settings.append(["form_id", "version", "form_title"])
    settings.append(["prefill-test", "1", "Prefill"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_xlsform_prefill_column():
    survey = [["type", "name", "label", "prefill"],
              ["text", "cccd", "Số CCCD", "yes"],
              ["text", "phone", "Điện thoại", "no"],
              ["text", "head_cccd", "CCCD chủ hộ", None],
              ["text", "bad", "Sai", "maybe"]]
    with pytest.raises(FormDefinitionError) as info:
        xlsform_to_form(workbook(survey))
    assert [(p.path, p.code) for p in info.value.problems] == [("survey/row 5/prefill", "invalid_value")]
    doc = xlsform_to_form(workbook(survey[:4]))
    fields = {f["name"]: f for f in doc["fields"]}
    assert (fields["cccd"]["prefill"], fields["phone"]["prefill"]) == (True, False)
    assert "prefill" not in fields["head_cccd"]
    assert withheld_paths(load_form(doc)) == {"phone", "head_cccd"}
