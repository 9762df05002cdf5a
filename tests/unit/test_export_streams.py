"""server/exports.py's streamed writers (CsvStream, csv_row, XlsxStream, sheet_name): the same cells
as csv_bytes and xlsx_bytes, neutralised, whatever the path a row takes."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server import exports
from server.exports import CsvStream, XlsxStream, csv_bytes, csv_row, sheet_name

CELLS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(),
                  st.sampled_from(["=1+1", "+84", "-3", "@A1", "\t=x", "\r=x", "＝1", "Thôn Đông", "", "a,b",
                                   'say "hi"', "line\nbreak", "cr\r", " ", ","]),
                  st.dates())


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(CELLS, max_size=8), max_size=6))
def test_a_stream_writes_what_csv_bytes_writes(rows):
    """Whichever way a row goes (joined by commas when nothing in it needs quoting, else the csv
    module), the bytes are csv_bytes's."""
    header = ["a", "=b"]
    out = CsvStream(header)
    for i, row in enumerate(rows):
        if i % 2:
            out.writerow(row)
        else:
            out.writerows([csv_row(row[:3], dict(enumerate(row)), list(range(3, len(row))))])
    assert out.take() == csv_bytes(header, rows)


def test_take_returns_what_was_written_since_the_last_take():
    out = CsvStream(["h"])
    first = out.take()
    assert first == "\ufeffh\r\n".encode()
    out.writerow(["=x", 1])
    assert out.pending() > 0
    assert out.take() == b"'=x,1\r\n" and out.pending() == 0 and out.take() == b""


def test_a_row_reads_absent_keys_as_empty_cells():
    row = csv_row(["k"], {"a": "@x", "n": 2.5, "b": True}, ["a", "missing", "n", "b"])
    assert row == ["k", "'@x", "", "2.5", "true"] and isinstance(row, exports.CsvRow)


@pytest.mark.parametrize(("names", "expected"), [
    (["members", "Members", "members"], ["members", "Members~2", "members~3"]),
    (["a[b]:c*?/\\d"], ["a_b__c____d"]),
    (["x" * 40, "x" * 40], ["x" * 31, "x" * 29 + "~2"]),
    (["'quoted'", ""], ["quoted", "sheet"]),
])
def test_sheet_names_excel_accepts(names, expected):
    taken: set[str] = set()
    assert [sheet_name(n, taken) for n in names] == expected
    assert all(len(n) <= 31 for n in expected)


def test_xlsx_stream_neutralises_keeps_types_and_continues_a_full_sheet(monkeypatch, tmp_path):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    path = tmp_path / "book.xlsx"
    book = XlsxStream(str(path))
    book.add_sheet("m", "members", ["name", "n"])
    for row in (["=1+1", 1], ["-2", 2.5], ["Thôn", True], [dt.date(2026, 1, 2), None]):
        book.writerow("m", row)
    book.close()
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["members", "members~2"]
    first = list(workbook["members"].iter_rows(values_only=True))
    second = list(workbook["members~2"].iter_rows(values_only=True))
    assert first == [("name", "n"), ("'=1+1", 1), ("'-2", 2.5)]
    assert second == [("name", "n"), ("Thôn", True), ("2026-01-02", None)]
    assert all(c.data_type != "f" for s in workbook.worksheets for r in s.iter_rows() for c in r)


def test_xlsx_stream_writes_to_a_file_object():
    handle = io.BytesIO()
    book = XlsxStream(handle)
    book.add_sheet("s", "Sheet")
    book.writerow("s", ["@x"], bold=True)
    book.close()
    assert openpyxl.load_workbook(io.BytesIO(handle.getvalue()))["Sheet"]["A1"].value == "'@x"
