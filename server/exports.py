"""Every spreadsheet the server hands out, CSV or XLSX, is written here.

Formula injection: Excel, LibreOffice Calc and Google Sheets read a cell whose text starts with
``=``, ``+``, ``-`` or ``@`` as a formula (``=cmd|' /C calc'!A0``, or a ``=HYPERLINK(...)``
that sends the row to someone's server when clicked), and a CSV field starting with a tab or a
carriage return can put one of those first once the program trims it. Text reaching an export
comes from phones, CSV imports and officers' typing, so any of it may start that way.

``neutralise`` is the one rule: such text gets an apostrophe in front (OWASP's advice), so the
cell is text, shown with its apostrophe; numbers, booleans, dates and None pass unchanged.
``csv_bytes`` and ``xlsx_bytes`` apply it to every cell, and the XLSX writer is also told never
to turn strings into formulas, URLs or numbers (conventions, trap 10), so a cell keeps the
type it was given. A test fails if any other module writes CSV or XLSX: add new exports here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["FORMULA_TRIGGERS", "XLSX_MAX_ROWS", "XLSX_MAX_TEXT", "CsvRow", "CsvStream", "XlsxStream", "csv_bytes",
           "csv_row", "neutralise", "sheet_name", "xlsx_bytes"]

# The ASCII triggers, and their full-width forms, which Excel with a CJK input method turns
# into the ASCII ones.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
XLSX_MAX_TEXT = 32_767  # characters in one cell; xlsxwriter warns and cuts beyond it
_EXACT_INTEGERS = 2**53  # larger integers (an ID number, say) would lose digits as a double: text


def neutralise(value: Any) -> Any:
    """The value to put in a spreadsheet cell: text that a spreadsheet would read as a formula
    gets a leading apostrophe; anything else is returned as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(neutralise(value)) if isinstance(value, str) else str(value)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A UTF-8 CSV with a byte-order mark (so Excel reads Vietnamese), CRLF line ends, every
    text cell, the header included, neutralised."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_csv_text(h) for h in header])
    writer.writerows([_csv_text(v) for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(sheets: Mapping[str, tuple[Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """An .xlsx workbook: sheet name -> (header, rows). Text is neutralised and written as
    text (cut at Excel's 32,767 characters), numbers as numbers (non-finite ones and integers
    beyond 2**53 as text), booleans as booleans, dates and times as ISO 8601 text (a
    timestamp's offset is kept, which Excel cannot store)."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
    for name, (header, rows) in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate([header, *rows]):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif (isinstance(value, float) and math.isfinite(value)
                      or isinstance(value, int) and abs(value) <= _EXACT_INTEGERS):
                    sheet.write_number(r, c, value)
                elif isinstance(value, dt.date | dt.datetime | dt.time):
                    sheet.write_string(r, c, value.isoformat())
                else:
                    sheet.write_string(r, c, neutralise(str(value))[:XLSX_MAX_TEXT])
    book.close()
    return buffer.getvalue()


# --- streamed exports (reports, form exports: server/services/reports.py, form_exports.py) ------
#
# The same cells as above, written as rows arrive so that an export of a province holds one
# batch of rows in memory, not the file: CSV as chunks of bytes the caller hands on (into a zip
# entry or a response), XLSX through xlsxwriter's constant_memory mode into a file.

XLSX_MAX_ROWS = 1_048_576  # rows in one worksheet
_SHEET_NAME_MAX = 31
_SHEET_NAME_REFUSED = str.maketrans({c: "_" for c in "[]:*?/\\"})
_NUMBERS = frozenset({int, float})


class CsvStream:
    """A CSV written row by row: ``take()`` returns the UTF-8 bytes written since the last call
    (the byte-order mark first), with every cell as ``csv_bytes`` writes it (neutralised).

    A row whose cells hold no comma, quote or line break needs no quoting: it is the cells joined
    by commas, which is what the csv module writes for it, at a fraction of the cost (an export
    writes millions of rows); any other row, and a row of fewer than two cells (the csv module
    quotes a lone empty cell), is written by the csv module."""

    def __init__(self, header: Sequence[Any] | None = None):
        self._lines: list[str] = ["\ufeff"]
        self._size = 1
        self._quoted = io.StringIO(newline="")
        self._writer = csv.writer(self._quoted, lineterminator="\r\n")
        if header is not None:
            self.writerow(header)

    def writerow(self, row: Sequence[Any]) -> None:
        self.writerows((row,))

    def writerows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Write rows; a ``CsvRow`` (made by ``csv_row``) is written as it is, anything else is made
        into one first."""
        lines = self._lines
        size = 0
        for row in rows:
            if row.__class__ is not CsvRow:
                row = csv_row(row)
            line = ",".join(row)
            if len(row) < 2 or '"' in line or "\n" in line or "\r" in line or line.count(",") != len(row) - 1:
                self._writer.writerow(row)
                line = self._quoted.getvalue()
                self._quoted.seek(0)
                self._quoted.truncate()
            else:
                line += "\r\n"
            lines.append(line)
            size += len(line)
        self._size += size

    def pending(self) -> int:
        """Characters written and not yet taken."""
        return self._size

    def take(self) -> bytes:
        text = "".join(self._lines)
        self._lines = []
        self._size = 0
        return text.encode("utf-8")


class CsvRow(list):
    """A row of cells as ``csv_bytes`` writes them, as text (neutralised): made by ``csv_row`` only."""

    __slots__ = ()


def csv_row(cells: Iterable[Any], values: Mapping[str, Any] | None = None, keys: Sequence[str] = ()) -> CsvRow:
    """``cells``, then ``values[key]`` (None when absent) for each of ``keys``, as one row for
    ``CsvStream``: every cell as the text ``csv_bytes`` writes for it. Exports build millions of
    these, so ``_csv_text`` is inlined for the common cells (text neutralised, None as "", numbers
    as ``str``); anything else (bool, dates) goes through ``_csv_text``."""
    row = CsvRow([("'" + v if v.startswith(FORMULA_TRIGGERS) else v) if v.__class__ is str else "" if v is None
                  else str(v) if v.__class__ in _NUMBERS else _csv_text(v) for v in cells])
    if keys:
        row.extend([("'" + v if v.startswith(FORMULA_TRIGGERS) else v) if v.__class__ is str else "" if v is None
                    else str(v) if v.__class__ in _NUMBERS else _csv_text(v) for v in map(values.get, keys)])
    return row


def sheet_name(name: str, taken: set[str]) -> str:
    """A worksheet name Excel accepts: no ``[]:*?/\\``, not starting or ending with an apostrophe,
    31 characters at most, unique among ``taken`` ignoring case (a suffix ``~2``, ``~3``... when
    not); the name is added to ``taken``."""
    base = (name.translate(_SHEET_NAME_REFUSED).strip("'") or "sheet")[:_SHEET_NAME_MAX]
    candidate, n = base, 1
    while candidate.casefold() in taken:
        n += 1
        suffix = f"~{n}"
        candidate = base[:_SHEET_NAME_MAX - len(suffix)] + suffix
    taken.add(candidate.casefold())
    return candidate


class XlsxStream:
    """An .xlsx workbook written row by row to ``path`` (a file name or a binary file) in
    xlsxwriter's constant_memory mode: each sheet's rows go to a temporary file as they come (rows
    of a sheet in order), and ``close()`` assembles the workbook. Cells as ``xlsx_bytes`` writes
    them; a sheet that reaches Excel's 1,048,576 rows goes on in a new sheet with the same header
    (``members~2``)."""

    def __init__(self, path: Any, tmpdir: str | None = None):
        import xlsxwriter

        self._book = xlsxwriter.Workbook(path, {
            "constant_memory": True, "tmpdir": tmpdir, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False})
        self._bold = self._book.add_format({"bold": True})
        self._names: set[str] = set()
        self._sheets: dict[str, list] = {}  # key -> [worksheet, next row, header, wanted name, parts]

    def add_sheet(self, key: str, name: str, header: Sequence[Any] | None = None) -> str:
        """A new sheet for rows written under ``key``; returns the name it got."""
        state = [None, 0, header, name, 0]
        self._sheets[key] = state
        return self._open(state)

    def _open(self, state: list) -> str:
        state[4] += 1
        wanted = state[3] if state[4] == 1 else f"{state[3][:_SHEET_NAME_MAX - 4]}~{state[4]}"
        name = sheet_name(wanted, self._names)
        state[0], state[1] = self._book.add_worksheet(name), 0
        if state[2] is not None:
            self._write(state, state[2], self._bold)
        return name

    def writerow(self, key: str, row: Sequence[Any], bold: bool = False) -> None:
        state = self._sheets[key]
        if state[1] >= XLSX_MAX_ROWS:
            self._open(state)
        self._write(state, row, self._bold if bold else None)

    def _write(self, state: list, row: Sequence[Any], cell_format=None) -> None:
        sheet, r = state[0], state[1]
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(r, c, value, cell_format)
            elif (isinstance(value, float) and math.isfinite(value)
                  or isinstance(value, int) and abs(value) <= _EXACT_INTEGERS):
                sheet.write_number(r, c, value, cell_format)
            elif isinstance(value, dt.date | dt.datetime | dt.time):
                sheet.write_string(r, c, value.isoformat(), cell_format)
            else:
                sheet.write_string(r, c, neutralise(str(value))[:XLSX_MAX_TEXT], cell_format)
        state[1] = r + 1

    def close(self) -> None:
        self._book.close()
