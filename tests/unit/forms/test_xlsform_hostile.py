"""xlsform_to_form on damaged and hostile workbooks: a problem naming the sheet (or the part),
never another exception, never an entity expanded or an external one read."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from support.hostile import DTDS, hostile_xlsx, valid_xlsform, xlsform_members, zip_members

from forms.definition import load_form
from forms.problems import DEFINITION_CODES, XLSFORM_CODES, FormDefinitionError
from forms.xlsform import MAX_COLUMNS, xlsform_to_form

SURVEY_PART = "xl/worksheets/sheet1.xml"  # openpyxl writes the sheets in order: survey first


def _replaced(part: str, content: bytes) -> bytes:
    members = dict(xlsform_members())
    members[part] = content
    return zip_members(members)


def _survey_labelled(text: bytes) -> bytes:
    """The survey sheet with the label of row 2 ('Tuổi', a shared string) as inline ``text``."""
    survey = xlsform_members()[SURVEY_PART]
    cell = b'<c r="C2" t="s"><v>7</v></c>'
    assert cell in survey
    return survey.replace(cell, b'<c r="C2" t="inlineStr"><is><t>' + text + b"</t></is></c>")


def _without_declaration(xml: bytes) -> bytes:
    return xml[xml.index(b"?>") + 2:] if xml.startswith(b"<?xml") else xml


def _problems(data: bytes) -> list[tuple[str, str]]:
    with pytest.raises(FormDefinitionError) as info:
        xlsform_to_form(data)
    return [(p.path, p.code) for p in info.value.problems]


def test_the_base_workbook_is_valid():
    # The fuzz below starts from it: if it were broken, every mutation would be "refused" trivially.
    doc = xlsform_to_form(valid_xlsform())
    assert [f["name"] for f in doc["fields"]] == ["age", "insured", "note_text"]
    assert xlsform_members()[SURVEY_PART].count(b"<row") == 4
    # An inline label reads like a shared one (the tests below put entities there).
    doc = xlsform_to_form(_replaced(SURVEY_PART, _survey_labelled(b"Tu&#7893;i")))
    assert doc["fields"][0]["label"] == {"vi": "Tuổi"}


@pytest.mark.parametrize("dtd", DTDS, ids=range(len(DTDS)))
def test_a_dtd_in_a_sheet_is_refused_naming_the_sheet(dtd):
    hostile = b'<?xml version="1.0"?>' + dtd + _without_declaration(_survey_labelled(b"&c;&x;"))
    assert _problems(_replaced(SURVEY_PART, hostile)) == [("survey", "xml_dtd")]


def test_entities_are_never_expanded_nor_external_ones_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the-secret-value")
    for dtd in (b'<!DOCTYPE worksheet [<!ENTITY a "expanded-entity">]>',
                f'<!DOCTYPE worksheet [<!ENTITY a SYSTEM "{secret.as_uri()}">]>'.encode()):
        data = _replaced(SURVEY_PART, dtd + _without_declaration(_survey_labelled(b"&a;")))
        with pytest.raises(FormDefinitionError) as info:
            xlsform_to_form(data)
        text = repr(info.value.to_list())
        assert "expanded-entity" not in text and "the-secret-value" not in text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_dtd_in_utf16_is_found_too(encoding):
    survey = _without_declaration(_survey_labelled(b"&a;"))
    hostile = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE worksheet [<!ENTITY a "b">]>'
               + survey.decode()).encode(encoding)
    bom = "\ufeff".encode(encoding)
    assert _problems(_replaced(SURVEY_PART, bom + hostile)) == [("survey", "xml_dtd")]


def test_a_dtd_in_another_part_names_the_part():
    data = _replaced("xl/workbook.xml", b"<!DOCTYPE workbook>" + _without_declaration(xlsform_members()["xl/workbook.xml"]))
    assert _problems(data) == [("xl/workbook.xml", "xml_dtd")]
    data = _replaced("xl/sharedStrings.xml", b'<!DOCTYPE x [<!ENTITY a "b">]>'
                     + _without_declaration(xlsform_members()["xl/sharedStrings.xml"]))
    assert _problems(data) == [("xl/sharedStrings.xml", "xml_dtd")]


def test_malformed_sheet_xml_names_the_sheet_and_the_row():
    survey = xlsform_members()[SURVEY_PART]
    row3 = survey.index(b'<row r="3"')
    inside = survey.index(b"<c ", row3) + 2  # a cell of row 3, cut short
    assert _problems(_replaced(SURVEY_PART, survey[:inside])) == [("survey/row 3", "unreadable_sheet")]
    flipped = survey[:inside] + b"<" + survey[inside + 1:]  # '<c <' : not well-formed
    assert _problems(_replaced(SURVEY_PART, flipped)) == [("survey/row 3", "unreadable_sheet")]
    between = survey.index(b"</row>", row3) + len(b"</row>")  # damage between rows 3 and 4
    assert _problems(_replaced(SURVEY_PART, survey[:between] + b"</oops>" + survey[between:])) == [
        ("survey", "unreadable_sheet")]
    assert _problems(_replaced(SURVEY_PART, b"<worksheet")) == [("survey", "unreadable_sheet")]
    settings_part = "xl/worksheets/sheet4.xml"  # the fourth sheet written
    assert _problems(_replaced(settings_part, b"<worksheet><sheetData><row r='1'><c></sheetData>")) == [
        ("settings/row 1", "unreadable_sheet")]
    # Not a sheet: the part is named.
    assert _problems(_replaced("xl/styles.xml", b"<styleSheet>")) == [("xl/styles.xml", "not_xlsx")]


def test_well_formed_xml_that_openpyxl_cannot_read_still_names_the_sheet():
    survey = xlsform_members()[SURVEY_PART]
    # A shared-string index past the table: well-formed, but openpyxl fails while reading rows.
    bad = survey.replace(b'<c r="A2" t="s"><v>5</v></c>', b'<c r="A2" t="s"><v>99999</v></c>')
    assert bad != survey
    problems = _problems(_replaced(SURVEY_PART, bad))
    assert problems == [("survey", "unreadable_sheet")], problems


def test_a_sheet_claiming_every_column_is_read_only_as_wide_as_allowed():
    survey = xlsform_members()[SURVEY_PART]
    wide = survey.replace(b'<dimension ref="A1:E4"/>', b'<dimension ref="A1:XFD1048576"/>')
    assert wide != survey
    far = wide.replace(b"</row>", b'<c r="XFD1" t="inlineStr"><is><t>far</t></is></c></row>', 1)
    doc = xlsform_to_form(_replaced(SURVEY_PART, far))
    assert [f["name"] for f in doc["fields"]] == ["age", "insured", "note_text"]
    assert MAX_COLUMNS < 16_384


def test_a_damaged_member_is_not_xlsx():
    data = bytearray(valid_xlsform())
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.getinfo(SURVEY_PART)
    # The member's compressed bytes start after its local header (30 bytes + name + extra).
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 5
    data[start] ^= 0xFF
    problems = _problems(bytes(data))
    assert problems == [(SURVEY_PART, "not_xlsx")]


@settings(max_examples=300, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(data=hostile_xlsx())
@example(data=_replaced(SURVEY_PART, xlsform_members()[SURVEY_PART][:-40]))
@example(data=_replaced(SURVEY_PART, DTDS[0] + _without_declaration(xlsform_members()[SURVEY_PART])))
@example(data=_replaced(SURVEY_PART, b'<?xml version="1.0" encoding="UTFU8"?>'  # found by this test
                        + _without_declaration(xlsform_members()[SURVEY_PART])))
def test_fuzzed_workbooks_give_a_form_or_problems_never_a_crash(data):
    try:
        doc = xlsform_to_form(data)
    except FormDefinitionError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.code in XLSFORM_CODES or problem.code in DEFINITION_CODES, problem
            assert isinstance(problem.path, str) and isinstance(problem.message, str)
        return
    # Accepted: what the server stores next must load and hash.
    assert load_form(doc).sha256
