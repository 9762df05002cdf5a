"""XLSForm import: an ``.xlsx`` XLSForm becomes a rasoat JSON form document.

``xlsform_to_form(data)`` reads the ``survey``, ``choices`` and ``settings`` sheets (and
rasoat's ``parameters`` and ``outputs`` sheets), converts them, then validates the result with
``load_form``. Every problem, of the workbook or of the form it describes, is reported with
the sheet and row it comes from (``survey/row 12/constraint``) in one ``FormDefinitionError``.

Hostile uploads: bytes that are not a zip are refused before openpyxl sees them, the zip's
members may unpack to at most ``MAX_UNCOMPRESSED_BYTES`` in total (zipfile never inflates a
member past its declared size, so the declared sizes bound the work), and sheets may have at
most ``MAX_ROWS`` rows and ``MAX_COLUMNS`` columns. No part of the workbook may carry a DTD
(``<!DOCTYPE``): Excel never writes one, and a DTD is how XML declares entities, which the
parser openpyxl uses (expat through ElementTree) would expand; every member is searched before
openpyxl opens the file; each part without one is then parsed by expat alone, so a sheet whose
XML does not parse is reported with the sheet's name and the row open at the damage.
"""

from __future__ import annotations

import io
import posixpath
import re
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

from forms.problems import FormDefinitionError, Problem

__all__ = [
    "MAX_COLUMNS",
    "MAX_MEMBERS",
    "MAX_ROWS",
    "MAX_UNCOMPRESSED_BYTES",
    "xlsform_to_form",
]

MAX_UNCOMPRESSED_BYTES = 20 * 1024 * 1024
MAX_MEMBERS = 1_000  # files inside the zip
MAX_ROWS = {"survey": 5_000, "choices": 50_000, "settings": 10, "parameters": 1_000, "outputs": 100}
MAX_COLUMNS = 200

# ``<!DOCTYPE`` (and ``<!ENTITY``, which is only legal inside one) in every encoding expat
# reads: ASCII-compatible ones (expat requires other single-byte encodings to map ASCII to
# itself) and UTF-16 either way round. Case-insensitive, to stay on the safe side of any parser.
_DTD = re.compile(b"|".join(
    re.escape(marker.encode(encoding))
    for marker in ("<!DOCTYPE", "<!ENTITY") for encoding in ("ascii", "utf-16-le", "utf-16-be")
), re.IGNORECASE)

# Kinds of survey rows.
_SIMPLE_TYPES = {
    "text": "text", "string": "text",
    "integer": "integer", "int": "integer",
    "decimal": "decimal",
    "date": "date",
    "datetime": "datetime", "dateTime": "datetime",
    "geopoint": "geopoint",
    "image": "image", "photo": "image",
    "note": "note",
    "calculate": "calculate",
}
_SELECT_PREFIXES = {
    "select_one": "select_one", "select one": "select_one",
    "select_multiple": "select_multiple", "select multiple": "select_multiple",
    "select all that apply": "select_multiple",
}
_BEGIN = {"begin group": "group", "begin_group": "group", "begin repeat": "repeat", "begin_repeat": "repeat"}
_END = {"end group": "group", "end_group": "group", "end repeat": "repeat", "end_repeat": "repeat"}
# Device metadata ODK records by itself; rasoat's sync protocol carries its own, so they are
# skipped (documented in docs/forms.md).
_METADATA_TYPES = frozenset({
    "start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber",
    "username", "email", "audit", "start-geopoint",
})

_TRANSLATABLE = {"label", "hint", "constraint_message", "required_message"}
_EXPRESSION_COLUMNS = {"relevant", "constraint", "calculation", "choice_filter", "repeat_count"}
_SURVEY_COLUMNS = _TRANSLATABLE | _EXPRESSION_COLUMNS | {
    "type", "name", "required", "appearance", "default", "read_only", "prefill",
}
# Common spellings of the same columns.
_ALIASES = {
    "constraint message": "constraint_message", "jr:constraintmsg": "constraint_message",
    "required message": "required_message", "jr:requiredmsg": "required_message",
    "choice filter": "choice_filter", "repeat count": "repeat_count", "jr:count": "repeat_count",
    "read only": "read_only", "readonly": "read_only",
    "bind::relevant": "relevant", "bind::constraint": "constraint", "bind::calculate": "calculation",
    "bind::required": "required", "bind::jr:constraintmsg": "constraint_message",
    "list name": "list_name",
}
_KNOWN_LANGUAGES = {
    "english": "en", "vietnamese": "vi", "tiếng việt": "vi", "tieng viet": "vi",
    "french": "fr", "français": "fr", "chinese": "zh", "khmer": "km", "lao": "lo", "thai": "th",
}
_LANG_IN_PARENS = re.compile(r"\(([A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*)\)\s*\Z")
_TRUE = {"yes", "true", "true()", "yes()", "1"}
_FALSE = {"no", "false", "false()", "no()", "0", ""}

# JSON keys of a field -> the survey column they came from (for problem paths).
_KEY_TO_COLUMN = {"calculation": "calculation", "choices": "type", "fields": "type"}


def _language_of(spec: str) -> str | None:
    """``English (en)`` -> ``en``; ``vi`` -> ``vi``; ``Tiếng Việt`` -> ``vi``."""
    spec = spec.strip()
    m = _LANG_IN_PARENS.search(spec)
    if m:
        return m.group(1).lower()
    if re.fullmatch(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*", spec):
        return spec
    return _KNOWN_LANGUAGES.get(spec.lower())


def _text(value) -> str | None:
    """A cell as text: numbers without a spurious '.0', empty cells as None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _number_or_text(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text) if re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text) else text
    except ValueError:
        return text


_WORKBOOK, _WORKBOOK_RELS = "xl/workbook.xml", "xl/_rels/workbook.xml.rels"
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _sheet_titles(archive: zipfile.ZipFile) -> dict[str, str]:
    """Zip member -> sheet title, to name the sheet in a problem; {} when it cannot be told.
    Only called once the workbook and its relationships are known to carry no DTD."""
    from xml.etree import ElementTree

    try:
        book = ElementTree.fromstring(archive.read(_WORKBOOK))
        rels = ElementTree.fromstring(archive.read(_WORKBOOK_RELS))
    except Exception:  # noqa: BLE001 - damaged or missing: the part's own name will do
        return {}
    targets = {r.get("Id"): r.get("Target") or "" for r in rels.iter(f"{_PACKAGE_REL_NS}Relationship")}
    out = {}
    for sheet in book.iter(f"{_MAIN_NS}sheet"):
        target = targets.get(sheet.get(f"{_REL_NS}id"))
        if target and sheet.get("name") is not None:
            member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
            out[member] = sheet.get("name")
    return out


def _looks_like_xml(name: str, content: bytes) -> bool:
    head = content[:8].lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    return name.endswith((".xml", ".rels", ".vml")) or head.startswith(b"<")


def _xml_damage(content: bytes) -> tuple[int | None, str] | None:
    """None if ``content`` is well-formed XML; else (the sheet row open at the damage, if any,
    and expat's message). Only for parts known to carry no DTD: without one, expat has nothing
    to expand beyond the five predefined entities. No tree is built: start and end handlers
    follow the open ``row`` element and nothing else."""
    from xml.parsers import expat

    parser = expat.ParserCreate(namespace_separator="}")
    open_row: list[int | None] = [None]

    def start(name: str, attributes: dict) -> None:
        if name.rpartition("}")[2] == "row":
            r = attributes.get("r", "")
            open_row[0] = int(r) if r.isdigit() and len(r) < 8 else None

    def end(name: str) -> None:
        if name.rpartition("}")[2] == "row":
            open_row[0] = None

    def refuse_doctype(*_args) -> None:
        raise ValueError("a DTD")  # the search before this should have found it

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = refuse_doctype
    try:
        parser.Parse(content, True)
    except Exception as exc:  # noqa: BLE001 - ExpatError; LookupError for an encoding Python does not know
        return open_row[0], str(exc) or type(exc).__name__
    return None


class _Sheet:
    """A sheet's rows as dicts keyed by normalised column names, with Excel row numbers."""

    def __init__(self, name: str, header: list[tuple[int, str]], rows: list[tuple[int, dict]]):
        self.name = name
        self.header = header  # (column index, normalised name)
        self.rows = rows


class _Converter:
    def __init__(self):
        self.problems: list[Problem] = []
        self.languages: list[str] = []
        self.field_rows: dict[str, int] = {}  # JSON path of a field -> survey row
        self.choice_rows: dict[str, int] = {}  # choices/<list>/<i> -> choices row
        self.parameter_rows: dict[str, int] = {}
        self.output_rows: dict[str, int] = {}
        self.settings_row: int | None = None

    def add(self, path: str, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    # ------------------------------------------------------------------ workbook
    def open(self, data: bytes):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            self.add("", "not_xlsx", "expected the bytes of an .xlsx file")
            return None
        data = bytes(data)
        if not data.startswith(b"PK\x03\x04"):
            self.add("", "not_xlsx", "this is not an .xlsx workbook (an .xls, .ods or .csv must be saved as .xlsx)")
            return None
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            self.add("", "not_xlsx", "the file is not a readable .xlsx workbook (damaged zip)")
            return None
        if len(infos) > MAX_MEMBERS:
            self.add("", "too_large", f"the workbook holds more than {MAX_MEMBERS} files")
            return None
        total = sum(i.file_size for i in infos)
        if total > MAX_UNCOMPRESSED_BYTES:
            self.add("", "too_large",
                     f"the workbook unpacks to {total:,} bytes; the limit is {MAX_UNCOMPRESSED_BYTES:,}")
            return None
        names = {i.filename for i in infos}
        if "xl/workbook.xml" not in names:
            self.add("", "not_xlsx", "the zip is not an .xlsx workbook (no xl/workbook.xml)")
            return None
        # Every member, not only the .xml ones: openpyxl parses whatever the relationships name.
        # A DTD is looked for before any parser sees the part; a part without one is then parsed
        # once on its own, so that damaged XML is reported with its sheet and row.
        with_dtd: list[str] = []
        damaged: list[tuple[str, int | None, str]] = []
        for info in infos:
            try:
                content = archive.read(info)
            except Exception as exc:  # noqa: BLE001 - zlib.error, BadZipFile (CRC), encrypted, unknown method
                self.add(info.filename, "not_xlsx",
                         f"the workbook part {info.filename!r} cannot be unpacked ({type(exc).__name__})")
                return None
            if _DTD.search(content):
                with_dtd.append(info.filename)
            elif _looks_like_xml(info.filename, content):
                damage = _xml_damage(content)
                if damage is not None:
                    damaged.append((info.filename, *damage))
        if with_dtd or damaged:
            broken = set(with_dtd) | {part for part, _, _ in damaged}
            sheets = _sheet_titles(archive) if not {_WORKBOOK, _WORKBOOK_RELS} & broken else {}

            def place(part: str) -> tuple[str, str]:
                title = sheets.get(part)
                if title is None:
                    return part, f"the workbook part {part!r}"
                known = title.strip().lower()
                return (known if known in MAX_ROWS else title), f"the {title!r} sheet ({part})"

            for part in with_dtd:
                path, what = place(part)
                self.add(path, "xml_dtd",
                         f"{what} declares a DTD (<!DOCTYPE>); spreadsheet programs never write one, and it "
                         "could declare entities: open the file in Excel or LibreOffice and save it again")
            for part, row, message in damaged:
                path, what = place(part)
                if part in sheets:
                    self.add(f"{path}/row {row}" if row is not None else path, "unreadable_sheet",
                             f"{what} is damaged{f' in row {row}' if row is not None else ''} ({message}); "
                             "open the file in Excel or LibreOffice and save it again")
                else:
                    self.add(path, "not_xlsx", f"{what} is damaged XML ({message})")
            return None
        import openpyxl

        try:
            with warnings.catch_warnings():
                # openpyxl warns about styles and extensions it ignores; they do not matter here.
                warnings.simplefilter("ignore")
                return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for damaged files
            self.add("", "not_xlsx", f"the workbook cannot be read: {type(exc).__name__}")
            return None

    def read_sheet(self, book, wanted: str) -> _Sheet | None:
        title = None
        reached = [0]  # the last row read, for the problem's message
        try:
            for name in book.sheetnames:
                if name.strip().lower() == wanted:
                    title = name
                    # Read-only worksheets parse their XML here (the dimensions) and while iterating.
                    return self._read_rows(book[name], wanted, reached)
            return None
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for damaged sheet XML
            # The parser reads ahead, so the damage is somewhere after the last row read, not
            # necessarily in the next one: the path names the sheet, the message the row.
            self.add(wanted, "unreadable_sheet",
                     f"the {wanted} sheet ({title!r}) cannot be read: its XML is damaged "
                     + (f"somewhere after row {reached[0]} " if reached[0] else "")
                     + f"({type(exc).__name__}); open the file in Excel or LibreOffice and save it again")
            return None

    def _read_rows(self, ws, wanted: str, reached: list[int]) -> _Sheet:
        limit = MAX_ROWS[wanted]
        # Columns past MAX_COLUMNS are never read: a sheet claiming to span A:XFD would
        # otherwise have every row padded to 16,384 cells.
        rows_iter: Iterator = ws.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        header: list[tuple[int, str]] = []
        rows: list[tuple[int, dict]] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for number, row in enumerate(rows_iter, start=1):
                reached[0] = number - 1
                if number == 1:
                    if len(row) > MAX_COLUMNS:
                        row = row[:MAX_COLUMNS]
                    for i, cell in enumerate(row):
                        name = _text(cell)
                        if name is not None:
                            header.append((i, self.column_name(name)))
                    continue
                if number > limit + 1:
                    self.add(f"{wanted}/row {number}", "too_large", f"the {wanted} sheet has more than {limit} rows")
                    break
                values = {}
                for i, col in header:
                    if i < len(row) and row[i] is not None and (not isinstance(row[i], str) or row[i].strip()):
                        values[col] = row[i]
                if values:
                    rows.append((number, values))
        return _Sheet(wanted, header, rows)

    @staticmethod
    def column_name(raw: str) -> str:
        name = raw.strip()
        base, sep, rest = name.partition("::")
        base_l = base.strip().lower()
        base_l = _ALIASES.get(base_l, base_l)
        if sep:
            full = f"{base_l}::{rest.strip()}"
            return _ALIASES.get(full.lower(), full)
        return base_l

    # ------------------------------------------------------------------ columns
    def translatable(self, values: dict, key: str, default_language: str | None, where: str):
        """Collect ``key`` and ``key::Language (xx)`` cells into text or a language map."""
        plain = _text(values.get(key))
        by_lang: dict[str, str] = {}
        for col, cell in values.items():
            if not col.startswith(key + "::"):
                continue
            spec = col[len(key) + 2:]
            lang = _language_of(spec)
            if lang is None:
                self.add(f"{where}/{col}", "invalid_value",
                         f"column {col!r}: write the language as 'Name (code)', e.g. 'label::English (en)'")
                continue
            text = _text(cell)
            if text is not None:
                by_lang[lang] = text
                if lang not in self.languages:
                    self.languages.append(lang)
        if not by_lang:
            return plain
        if plain is not None:
            by_lang.setdefault(default_language or "vi", plain)
        return by_lang

    # ------------------------------------------------------------------ sheets
    def settings(self, sheet: _Sheet | None) -> dict:
        if sheet is None or not sheet.rows:
            return {}
        number, values = sheet.rows[0]
        self.settings_row = number
        return values

    def parameters(self, sheet: _Sheet | None) -> dict | None:
        if sheet is None:
            return None
        cols = {c for _, c in sheet.header}
        for needed in ("name", "value"):
            if needed not in cols:
                self.add(f"parameters/{needed}", "missing_column", f"the parameters sheet needs a `{needed}` column")
                return None
        params = {}
        for number, values in sheet.rows:
            name = _text(values.get("name"))
            if name is None:
                self.add(f"parameters/row {number}/name", "missing_key", "a parameter needs a name")
                continue
            value = _number_or_text(values.get("value"))
            if value is None:
                self.add(f"parameters/row {number}/value", "missing_key", f"parameter {name!r} has no value")
                continue
            params[name] = value
            self.parameter_rows[name] = number
        return params

    def outputs(self, sheet: _Sheet | None) -> dict | None:
        if sheet is None:
            return None
        cols = {c for _, c in sheet.header}
        for needed in ("output", "field"):
            if needed not in cols:
                self.add(f"outputs/{needed}", "missing_column", f"the outputs sheet needs a `{needed}` column")
                return None
        out: dict[str, Any] = {}
        for number, values in sheet.rows:
            slot, fname = _text(values.get("output")), _text(values.get("field"))
            if slot is None or fname is None:
                self.add(f"outputs/row {number}", "missing_key", "an output row needs `output` and `field`")
                continue
            head, sep, tail = slot.replace("::", ".").partition(".")
            if sep:
                out.setdefault(head, {})
                if isinstance(out[head], dict):
                    out[head][tail] = fname
                self.output_rows[f"{head}/{tail}"] = number
            else:
                out[slot] = fname
                self.output_rows[slot] = number
        return out

    def choices(self, sheet: _Sheet | None, default_language) -> dict:
        lists: dict[str, list] = {}
        if sheet is None:
            return lists
        cols = {c for _, c in sheet.header}
        for needed in ("list_name", "name"):
            if needed not in cols:
                self.add(f"choices/{needed}", "missing_column", f"the choices sheet needs a `{needed}` column")
                return lists
        for number, values in sheet.rows:
            where = f"choices/row {number}"
            list_name = _text(values.get("list_name"))
            value = _text(values.get("name"))
            if list_name is None:
                self.add(f"{where}/list_name", "missing_key", "a choice needs a list_name")
                continue
            if value is None:
                self.add(f"{where}/name", "missing_key", "a choice needs a name (its value)")
                continue
            choice: dict[str, Any] = {"value": value}
            label = self.translatable(values, "label", default_language, where)
            if label is not None:
                choice["label"] = label
            for col, cell in values.items():
                if col in ("list_name", "name", "label") or col.startswith("label::") or col.startswith("media::"):
                    continue
                key, sep, sub = col.partition("::")
                cell_value = _number_or_text(cell)
                if sep:  # points::urban -> {"points": {"urban": 9}}
                    bucket = choice.setdefault(key, {})
                    if isinstance(bucket, dict):
                        bucket[sub] = cell_value
                    else:
                        self.add(f"{where}/{col}", "invalid_value", f"column {col!r} clashes with column {key!r}")
                else:
                    choice[key] = cell_value
            items = lists.setdefault(list_name, [])
            self.choice_rows[f"choices/{list_name}/{len(items)}"] = number
            items.append(choice)
        return lists

    def survey(self, sheet: _Sheet, default_language) -> list | None:
        cols = {c for _, c in sheet.header}
        if "type" not in cols:
            self.add("survey/type", "missing_column", "the survey sheet needs a `type` column")
            return None
        for _, col in sheet.header:
            base = col.partition("::")[0]
            if base not in _SURVEY_COLUMNS and not col.startswith(("$", "_")):
                used = next((n for n, v in sheet.rows if col in v), None)
                if used is not None:
                    self.add(f"survey/row {used}/{col}", "unknown_column",
                             f"column {col!r} is not part of the rasoat form language; remove it or leave it empty")
        root: list = []
        # (type, fields list, begin row, JSON path prefix of its children)
        stack: list[tuple[str, list, int, str]] = [("form", root, 0, "fields")]
        for number, values in sheet.rows:
            where = f"survey/row {number}"
            raw_type = _text(values.get("type"))
            if raw_type is None:
                if any(k != "type" for k in values):
                    self.add(f"{where}/type", "missing_key", "this row has no type")
                continue
            type_l = " ".join(raw_type.split())
            if type_l.lower() in _END:
                kind = _END[type_l.lower()]
                if stack[-1][0] != kind:
                    self.add(f"{where}/type", "unmatched_group",
                             f"'{type_l}' without a matching 'begin {kind}'"
                             + (f" (the open {stack[-1][0]} began at row {stack[-1][2]})" if len(stack) > 1 else ""))
                    continue
                stack.pop()
                continue
            if type_l.lower() in _METADATA_TYPES:
                continue
            container = stack[-1][1]
            path = f"{stack[-1][3]}/{len(container)}"
            field = self.survey_row(values, type_l, where, default_language)
            if field is None:
                continue
            self.field_rows[path] = number
            container.append(field)
            if field["type"] in ("group", "repeat"):
                field["fields"] = []
                stack.append((field["type"], field["fields"], number, f"{path}/fields"))
        for kind, _, begin, _ in stack[1:]:
            self.add(f"survey/row {begin}/type", "unmatched_group", f"'begin {kind}' at row {begin} is never ended")
        return root

    def survey_row(self, values: dict, type_text: str, where: str, default_language) -> dict | None:
        field: dict[str, Any] = {}
        lowered = type_text.lower()
        ftype = None
        list_name = None
        if lowered in _BEGIN:
            ftype = _BEGIN[lowered]
        elif type_text in _SIMPLE_TYPES or lowered in _SIMPLE_TYPES:
            ftype = _SIMPLE_TYPES.get(type_text) or _SIMPLE_TYPES[lowered]
        else:
            for prefix, select in _SELECT_PREFIXES.items():
                if lowered.startswith(prefix + " "):
                    rest = type_text[len(prefix) + 1:].split()
                    if len(rest) == 1:
                        ftype, list_name = select, rest[0]
                    elif len(rest) == 2 and rest[1].lower() == "or_other":
                        self.add(f"{where}/type", "unknown_type",
                                 "'or_other' is not supported: add an 'other' choice and a text field relevant when it is selected")
                        return None
                    break
        if ftype is None:
            self.add(f"{where}/type", "unknown_type", f"unknown type {type_text!r}")
            return None
        name = _text(values.get("name"))
        if name is None:
            self.add(f"{where}/name", "missing_key", f"a {ftype} row needs a name")
            return None
        field["name"] = name
        field["type"] = ftype
        if list_name is not None:
            field["choices"] = list_name
        for key in ("label", "hint", "constraint_message", "required_message"):
            text = self.translatable(values, key, default_language, where)
            if text is not None:
                field[key] = text
        for key in _EXPRESSION_COLUMNS:
            text = _text(values.get(key))
            if text is not None:
                field[key] = text
        appearance = _text(values.get("appearance"))
        if appearance is not None:
            field["appearance"] = appearance
        required = values.get("required")
        if required is not None:
            if isinstance(required, bool):
                if required:
                    field["required"] = True
            else:
                text = _text(required) or ""
                if text.lower() in _TRUE:
                    field["required"] = True
                elif text.lower() not in _FALSE:
                    field["required"] = text  # an expression
        read_only = values.get("read_only")
        if read_only is not None:
            if isinstance(read_only, bool):
                if read_only:
                    field["read_only"] = True
            else:
                text = (_text(read_only) or "").lower()
                if text in _TRUE:
                    field["read_only"] = True
                elif text not in _FALSE:
                    self.add(f"{where}/read_only", "invalid_value", "read_only is yes or no")
        prefill = values.get("prefill")  # empty: the form language's default (forms/prefill.py)
        if isinstance(prefill, bool):
            field["prefill"] = prefill
        elif prefill is not None and (text := (_text(prefill) or "").lower()):
            if text in _TRUE:
                field["prefill"] = True
            elif text in _FALSE:
                field["prefill"] = False
            else:
                self.add(f"{where}/prefill", "invalid_value", "prefill is yes or no")
        default = values.get("default")
        if default is not None:
            if ftype in ("integer", "decimal"):
                field["default"] = _number_or_text(default)
            elif ftype == "select_multiple":
                field["default"] = (_text(default) or "").split()
            else:
                field["default"] = _text(default)
        return field

    # ------------------------------------------------------------------ paths back to rows
    def locate(self, problem: Problem) -> Problem:
        """Turn a JSON-document path into the sheet/row/column it came from."""
        path = problem.path
        parts = path.split("/") if path else []
        if parts and parts[0] == "fields":
            # Longest field path that came from a row.
            for end in range(len(parts), 0, -1):
                prefix = "/".join(parts[:end])
                if prefix in self.field_rows:
                    rest = parts[end:]
                    column = _KEY_TO_COLUMN.get(rest[0], rest[0]) if rest else None
                    if column in _TRANSLATABLE and len(rest) > 1:
                        column = f"{column}::{rest[1]}"
                    where = f"survey/row {self.field_rows[prefix]}"
                    return Problem(f"{where}/{column}" if column else where, problem.code, problem.message, problem.messages)
            return Problem("survey", problem.code, problem.message, problem.messages)
        if parts and parts[0] == "choices" and len(parts) >= 3:
            row = self.choice_rows.get("/".join(parts[:3]))
            if row is not None:
                column = parts[3] if len(parts) > 3 else None
                column = {"value": "name"}.get(column, column)
                where = f"choices/row {row}"
                return Problem(f"{where}/{column}" if column else where, problem.code, problem.message, problem.messages)
        if parts and parts[0] == "choices":
            return Problem("choices", problem.code, problem.message, problem.messages)
        if parts and parts[0] == "parameters" and len(parts) >= 2 and parts[1] in self.parameter_rows:
            return Problem(f"parameters/row {self.parameter_rows[parts[1]]}", problem.code, problem.message, problem.messages)
        if parts and parts[0] == "outputs":
            key = "/".join(parts[1:3])
            row = self.output_rows.get(key) or self.output_rows.get(parts[1] if len(parts) > 1 else "")
            if row is not None:
                return Problem(f"outputs/row {row}", problem.code, problem.message, problem.messages)
            return problem
        if parts and parts[0] in ("form_id", "version", "title", "default_language", "languages"):
            column = {"title": "form_title"}.get(parts[0], parts[0])
            return Problem(f"settings/{column}", problem.code, problem.message, problem.messages)
        return problem


def xlsform_to_form(data: bytes, *, form_id: str | None = None, version: str | None = None) -> dict:
    """Convert the bytes of an ``.xlsx`` XLSForm into a JSON form document.

    ``form_id`` / ``version`` override the settings sheet. The returned document has been
    checked with ``load_form``; otherwise ``FormDefinitionError`` lists every problem with a
    path naming the sheet and row (``survey/row 12/type``).
    """
    conv = _Converter()
    book = conv.open(data)
    if book is None:
        raise FormDefinitionError(conv.problems)
    try:
        sheets = {name: conv.read_sheet(book, name) for name in ("survey", "choices", "settings", "parameters", "outputs")}
    finally:
        book.close()
    if conv.problems:
        raise FormDefinitionError(conv.problems)
    if sheets["survey"] is None:
        raise FormDefinitionError([Problem("survey", "missing_sheet", "an XLSForm needs a `survey` sheet")])

    settings = conv.settings(sheets["settings"])
    where = f"settings/row {conv.settings_row}" if conv.settings_row else "settings"
    default_language = None
    if _text(settings.get("default_language")) is not None:
        spec = _text(settings["default_language"])
        default_language = _language_of(spec)
        if default_language is None:
            conv.add(f"{where}/default_language", "invalid_value",
                     f"default_language {spec!r}: write a language code ('vi') or 'Name (code)'")

    doc: dict[str, Any] = {}
    doc["form_id"] = form_id if form_id is not None else _text(settings.get("form_id"))
    doc["version"] = version if version is not None else _text(settings.get("version"))
    for key in ("form_id", "version"):
        if doc[key] is None:
            conv.add(f"settings/{key}", "missing_key",
                     f"no {key}: put it in the settings sheet (or pass {key}= when importing)")
    title = conv.translatable(settings, "form_title", default_language, where)
    if title is None:
        title = conv.translatable(settings, "title", default_language, where)
    doc["title"] = title if title is not None else (doc["form_id"] or "")
    description = conv.translatable(settings, "description", default_language, where)
    if description is not None:
        doc["description"] = description
    if default_language is not None:
        doc["default_language"] = default_language

    params = conv.parameters(sheets["parameters"])
    if params:
        doc["parameters"] = params
    choices = conv.choices(sheets["choices"], default_language)
    if choices:
        doc["choices"] = choices
    fields = conv.survey(sheets["survey"], default_language)
    if fields is None:  # no `type` column: nothing else is worth reporting
        raise FormDefinitionError(conv.problems)
    doc["fields"] = fields
    outputs = conv.outputs(sheets["outputs"])
    if outputs:
        doc["outputs"] = outputs
    if default_language is not None and default_language not in conv.languages and conv.languages:
        conv.languages.insert(0, default_language)
    if len(conv.languages) > 1:
        doc["languages"] = list(conv.languages)
    from forms.definition import load_form

    problems = list(conv.problems)
    try:
        load_form(doc)
    except FormDefinitionError as exc:
        # Also report what the form itself gets wrong, once per place already reported.
        seen = {p.path for p in problems}
        problems.extend(q for q in (conv.locate(p) for p in exc.problems) if q.path not in seen)
    if problems:
        raise FormDefinitionError(problems)
    return doc
