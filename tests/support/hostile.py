"""Hostile uploads for the fuzz tests: valid files, broken in the ways uploads break.

``hostile_xlsx()`` starts from a small valid XLSForm and edits the XML inside the zip (flipped
and deleted bytes, DTDs with internal and external entities, NUL and control characters, cells
of absurd size or type, other encodings, missing parts) and then, sometimes, the zip itself
(truncated, bytes flipped). ``hostile_csv()`` does the same to a villages CSV (fields over the
csv module's 128 KiB limit, formulas, invisible characters, other encodings, broken quoting).
"""

from __future__ import annotations

import functools
import io
import zipfile

from hypothesis import strategies as st

FORM_ID, FORM_VERSION = "fuzz-form", "1"

# Prepended to a part (after removing its XML declaration): DTDs of every kind.
DTDS = [
    b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
    b'<!DOCTYPE worksheet [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE worksheet SYSTEM "http://127.0.0.1:9/evil.dtd">',
    b'<!DOCTYPE worksheet [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
    b"<!doctype worksheet>",
    b"<!DOCTYPE worksheet>",
]
# Spliced into a part's XML, or into the text of a cell.
SNIPPETS = [
    b"\x00", b"&#0;", b"&#x1;", b"_x0000_", b"_x001B_", b"&a;", b"&x;", b"<", b">", b"&", b"]]>", b"<![CDATA[",
    b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"1e999", b"nan", b"-inf", b"-0", b"99999999999999999999999",
    b'"', b"'", b"\r", b"\t", b"\xe2\x80\xae", b"\xe2\x80\x8b", b"=cmd|' /C calc'!A0", b"${x}", b"${",
    "Thôn Đông".encode(), b"x" * 40_000, b"</t>", b"</row>", b"<row>", b'<c r="XFD1"><v>1</v></c>',
    b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>z</t></is></c></row>',
]
# Attribute values that break what openpyxl reads from them.
ATTRIBUTES = [b'A1:XFD1048576', b'ZZZZ1', b'0', b'-1', b'1048577', b'99999999999999999999', b'', b'A',
              b's', b'e', b'b', b'd', b'str', b'n', b'inlineStr', b'nonsense']
ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1258", "utf-8-sig"]


def _xlsform_workbook() -> bytes:
    """Written by xlsxwriter, as Excel writes: shared strings, XML declarations, spans."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False})
    sheets = {
        "survey": [["type", "name", "label::Tiếng Việt (vi)", "constraint", "default"],
                   ["integer", "age", "Tuổi", ". >= 0", 3],
                   ["select_one yn", "insured", "Có BHYT?", None, None],
                   ["text", "note_text", "=cmd|' /C calc'!A0", None, None]],
        "choices": [["list_name", "name", "label", "points"], ["yn", "yes", "Có", 1], ["yn", "no", "Không", 0]],
        "parameters": [["name", "value"], ["income_line", 1_500_000]],
        "settings": [["form_id", "version", "form_title"], [FORM_ID, FORM_VERSION, "Thử"]],
    }
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.write(r, c, value)
    book.close()
    return out.getvalue()


@functools.cache
def xlsform_members() -> dict[str, bytes]:
    """The parts of the valid XLSForm, name -> bytes (cached: openpyxl is slow to write)."""
    with zipfile.ZipFile(io.BytesIO(_xlsform_workbook())) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def zip_members(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def valid_xlsform() -> bytes:
    return zip_members(xlsform_members())


def _without_declaration(xml: bytes) -> bytes:
    if xml.startswith(b"<?xml"):
        end = xml.find(b"?>")
        return xml[end + 2:] if end >= 0 else xml
    return xml


@st.composite
def _xml_edit(draw, xml: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "insert", "delete", "cell", "attribute", "dtd", "encoding", "truncate"]))
    at = draw(st.integers(0, len(xml)))
    if kind == "flip" and xml:
        at = min(at, len(xml) - 1)
        return xml[:at] + bytes([xml[at] ^ draw(st.integers(1, 255))]) + xml[at + 1:]
    if kind == "insert":
        return xml[:at] + draw(st.sampled_from(SNIPPETS)) + xml[at:]
    if kind == "delete":
        return xml[:at] + xml[at + draw(st.integers(1, 64)):]
    if kind == "cell":  # into the text or value of a cell
        tag = draw(st.sampled_from([b"<t>", b"<v>", b"<t xml:space=\"preserve\">"]))
        found = xml.find(tag, at)
        found = found if found >= 0 else xml.find(tag)
        if found < 0:
            return xml
        start = found + len(tag)
        end = xml.find(b"<", start)
        replace = draw(st.booleans())
        return xml[:start] + draw(st.sampled_from(SNIPPETS)) + (xml[end:] if replace and end >= 0 else xml[start:])
    if kind == "attribute":  # the value of a cell's type, a reference, a dimension
        name = draw(st.sampled_from([b' t="', b' r="', b' ref="', b' s="']))
        found = xml.find(name, at)
        found = found if found >= 0 else xml.find(name)
        if found < 0:
            return xml
        start = found + len(name)
        end = xml.find(b'"', start)
        return xml[:start] + draw(st.sampled_from(ATTRIBUTES)) + xml[end:] if end >= 0 else xml
    if kind == "dtd":
        declaration = draw(st.sampled_from([b"", b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n']))
        body = _without_declaration(xml)
        if draw(st.booleans()):  # and use the entity in the first cell's text
            body = body.replace(b"<t>", b"<t>&c;&x;", 1)
        return declaration + draw(st.sampled_from(DTDS)) + body
    if kind == "encoding":
        encoding = draw(st.sampled_from(ENCODINGS))
        declared = draw(st.sampled_from([encoding, "UTF-8", "utf-16", None]))
        text = _without_declaration(xml).decode("utf-8", errors="replace")
        prefix = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
        return (prefix + text).encode(encoding, errors="replace")
    return xml[:at]  # truncate


@st.composite
def hostile_xlsx(draw) -> bytes:
    members = dict(xlsform_members())
    names = sorted(members)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(names))
        if draw(st.integers(0, 19)) == 0:
            members.pop(name, None)  # a part missing
            continue
        if name in members:
            members[name] = draw(_xml_edit(members[name]))
    data = zip_members(members)
    damage = draw(st.sampled_from(["none"] * 6 + ["truncate", "flip"]))  # mostly: the XML is what is tested
    if damage == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif damage == "flip":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    return data


# --- villages CSV --------------------------------------------------------------------------------

CSV_HEADER = "parent,code,name"
CSV_ROWS = ["01-00004,fz1,Thôn Một", "01-00004,fz2,\"Tổ 2, khu \"\"Đông\"\"\"", "01-00008,fz3,Ấp Ba"]
CSV_SNIPPETS = [
    "\x00", "\"", "\"\"", ",", "\r", "\n", "\r\n", "\t", "=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)",
    "\u202e", "\u200b", "\ufeff", "\x1b", "\u2028", "ß" * 201, "đ" * 201, "x" * 131_073, "\udcff",
    "01-99999", "zz-zz", "THÔN", "a" * 17, "",
]
# UTF-8 most of the time, so that most examples reach the rows.
CSV_ENCODINGS = ["utf-8"] * 6 + ["utf-8-sig", "utf-16", "latin-1", "cp1258", "utf-32"]


@st.composite
def hostile_csv(draw) -> bytes:
    lines = [CSV_HEADER, *CSV_ROWS]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["splice", "splice", "field", "drop", "duplicate"]))
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "splice":  # anywhere in a line, the header included
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(CSV_SNIPPETS)) + lines[i][at:]
        elif kind == "field":  # a whole value replaced
            values = lines[i].split(",")
            values[draw(st.integers(0, len(values) - 1))] = draw(st.sampled_from(CSV_SNIPPETS))
            lines[i] = ",".join(values)
        elif kind == "drop":
            del lines[i]
            if not lines:
                lines = [""]
        else:
            lines.insert(i, lines[i])
    text = draw(st.sampled_from(["\r\n", "\n", "\r"])).join(lines) + draw(st.sampled_from(["", "\n"]))
    encoding = draw(st.sampled_from(CSV_ENCODINGS))
    # surrogatepass: UTF-8 that is not (a lone surrogate's three bytes); only the UTF codecs have it.
    errors = draw(st.sampled_from(["replace"] * 4 + ["surrogatepass"])) if encoding.startswith("utf") else "replace"
    data = text.encode(encoding, errors=errors)
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip"]))
    if damage == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif damage == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    return data
