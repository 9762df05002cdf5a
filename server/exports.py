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

__all__ = ["FORMULA_TRIGGERS", "XLSX_MAX_TEXT", "csv_bytes", "neutralise", "xlsx_bytes"]

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
