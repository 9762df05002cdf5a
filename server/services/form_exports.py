"""Exports of a form's submissions: CSV files in a zip, or an XLSX workbook; streamed.

One table for the submissions and one per repeat (``members``, and a repeat inside a repeat gets
its own), linked by keys as ODK Central links them: a submission's ``KEY`` is its id, a repeat
instance's ``KEY`` is ``<parent KEY>/<repeat>[<n>]`` (n from 1) and its ``PARENT_KEY`` is the
parent's ``KEY``; every repeat row also carries ``submission_id``. Every row, repeat rows
included, carries the form version, the enumerator, the review state and ``flags`` (a repeat row
its submission's): the quality flags' codes joined by spaces, read from ``submissions.flags``
when that column exists; before the server computes flags the column is there and empty, so the
layout does not change when they come.

Columns are the fields of the form's versions in the export (``version=`` keeps one), in
document order, the newest version's first, then any field only an older version has. Answers
are the submission's current revision (with the server's calculations). Times are Vietnam time.

The rows come from one server-side cursor over the submissions the queue's filters select
(``server.services.queue.submission_filters``). CSV: the zip is written as the rows arrive, onto
the response (``zipfile`` on a non-seekable stream); the submissions' table goes out as it is
written, each repeat's rows wait in a temporary file until the submissions' table is complete.
XLSX: xlsxwriter's constant_memory mode into a temporary file, which is then sent. Memory stays
one batch of rows whatever the size. Every cell goes through ``server.exports`` (formula
injection). Each export is audited before its first byte: who, which form, which filters.
"""

from __future__ import annotations

import datetime as dt
import queue
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from forms.definition import Field, FormDefinition
from server.db import db
from server.errors import Problem
from server.exports import CsvStream, XlsxStream, csv_row
from server.models import FormVersion, Submission, User
from server.scoping import Scope
from server.services import forms as form_service
from server.services.queue import submission_filters
from server.services.reports import record_export, time_text, uuid_text
from sync.core import VIETNAM

FORMATS = ("csv", "xlsx")
BATCH = 1_000  # rows per fetch from the server-side cursor
CHUNK = 256 * 1024  # bytes handed to the response at a time
COMPRESS_LEVEL = 1  # deflate: fast; CSV still shrinks to about a third or less
SPILL_IN_MEMORY = 4 * 1024 * 1024  # a repeat's rows stay in memory up to this, then go to disk
# Field types whose answers are one scalar; anything else (select_multiple, geopoint, ...) may be a
# list or an object and is spelled by ``_cell``.
_SCALAR_TYPES = frozenset({"text", "integer", "decimal", "select_one", "date", "datetime", "time", "calculate",
                           "image", "audio", "video", "file", "barcode", "acknowledge", "note", "range"})
MAIN_META = ["KEY", "household_id", "area", "version", "rev", "enumerator", "review_state", "flags", "year",
             "started_at", "finished_at", "received_at", "reviewed_at"]
REPEAT_META = ["KEY", "PARENT_KEY", "submission_id", "version", "enumerator", "review_state", "flags"]


@dataclass
class Table:
    """The submissions (``repeat`` None) or one repeat: its name, its path and its columns."""

    name: str
    path: str | None  # answer path of the repeat: members, members/visits
    columns: list[str] = field(default_factory=list)
    children: list[Table] = field(default_factory=list)
    structured: set[str] = field(default_factory=set)  # columns whose answers are lists or objects

    def spell(self, values: dict) -> dict:
        """``values`` (a parsed instance, ours to change) with each multiple choice or point as
        ``_cell`` spells it; the other answers are scalars (the form engine validated them)."""
        for name in self.structured:
            if name in values:
                values[name] = _cell(values[name])
        return values


def _plan(definitions: Sequence[FormDefinition], form_id: str) -> Table:
    main = Table(form_id, None)
    by_path: dict[str | None, Table] = {None: main}

    def walk(fields: Sequence[Field], table: Table) -> None:
        for f in fields:
            if f.type == "repeat":
                child = by_path.get(f.answer_path)
                if child is None:
                    child = by_path[f.answer_path] = Table(f.name, f.answer_path)
                    table.children.append(child)
                walk(f.fields, child)
            elif f.fields:  # a group: transparent in the answers
                walk(f.fields, table)
            elif f.has_value and f.name not in table.columns:
                table.columns.append(f.name)
                if f.type not in _SCALAR_TYPES:
                    table.structured.add(f.name)

    for definition in definitions:
        walk(definition.fields, main)
    return main


def _tables(table: Table) -> Iterator[Table]:
    yield table
    for child in table.children:
        yield from _tables(child)


def _cell(value: Any) -> Any:
    """An answer as a cell: a multiple choice as its values joined by spaces (ODK's spelling),
    anything else structured as its JSON."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
        return " ".join(str(v) for v in value)
    return orjson.dumps(value).decode()


def _flags(value: Any) -> str | None:
    """A submission's quality flags as their codes joined by spaces (None: none)."""
    if isinstance(value, str):  # JSON text (SQLite without the JSON type's processing)
        value = orjson.loads(value)
    return " ".join(str(v) for v in value) or None if isinstance(value, list) else None


@dataclass(frozen=True)
class Export:
    form_id: str
    fmt: str
    plan: Table
    query: sa.Select
    versions: list[str]

    @property
    def file_name(self) -> str:
        stamp = dt.datetime.now(VIETNAM).strftime("%Y%m%d-%H%M")
        return f"{self.form_id}-{stamp}.{'zip' if self.fmt == 'csv' else 'xlsx'}"


def prepare(scope: Scope, form_id: str, fmt: str, filters: Mapping[str, Any]) -> Export:
    """Check the form and the filters, audit the export, and return what streams it."""
    rows = db.session.execute(sa.select(FormVersion).where(FormVersion.form_id == form_id,
                                                           FormVersion.state != "draft")
                              .order_by(FormVersion.created_at.desc())).scalars().all()
    if not rows or not form_service.visible(scope, form_id):
        raise Problem("request.not_found", f"No form {form_id!r}.")
    version = filters.get("form_version")
    if version and version not in {r.version for r in rows}:
        raise Problem("request.not_found", f"No version {version!r} of form {form_id!r}.")
    clauses = submission_filters(scope, form_id=form_id, **filters)
    s = Submission
    present = set(db.session.execute(sa.select(s.form_version).where(*clauses).distinct()).scalars())
    chosen = [r for r in rows if r.version in present or r.version == version] or rows[:1]
    plan = _plan([form_service.definition_of(r) for r in chosen], form_id)
    query = _query(clauses)
    record_export("form.export", area_code=filters.get("area"), form_id=form_id, format=fmt,
                  filters={k: v for k, v in filters.items() if v not in (None, [], "")})
    return Export(form_id, fmt, plan, query, [r.version for r in chosen])


def _query(clauses: Sequence[sa.ColumnElement[bool]]) -> sa.Select:
    """The rows to export, by arrival then id, every column as the text the files hold (ids and
    times formatted by the database: the export's Python time goes to the answers). The answers
    come as JSON text, parsed here by orjson (several times faster than the driver's JSON). On
    PostgreSQL the order is taken on the narrow columns first and each submission's answers are
    read after it, by id (a LATERAL lookup), so that PostgreSQL never sorts the answers (300 MB on
    disk for 100,000 households)."""
    s = Submission
    dialect = db.session.get_bind().dialect.name
    # Quality flags are a column of their own once the server computes them (sync.quality); until
    # then the export's column is there and empty.
    flags = getattr(s, "flags", None)
    columns = [uuid_text(s.id, dialect).label("id"), uuid_text(s.household_id, dialect).label("household_id"),
               s.area_code, s.form_version, s.rev, User.username, s.review_state,
               (sa.null() if flags is None else flags).label("flags"), s.year,
               *[time_text(c, dialect).label(c.key) for c in (s.started_at, s.finished_at, s.received_at,
                                                                s.reviewed_at)]]
    if dialect != "postgresql":
        return (sa.select(*columns, sa.type_coerce(s.answers, sa.Text).label("answers"))
                .outerjoin(User, User.id == s.enumerator_id).where(*clauses).order_by(s.received_at, s.id))
    keys = (sa.select(s.id.label("sid"), s.received_at.label("received"), *columns)
            .outerjoin(User, User.id == s.enumerator_id).where(*clauses).subquery("keys"))
    wide = aliased(Submission)
    answers = (sa.select(sa.cast(wide.answers, sa.Text).label("answers")).where(wide.id == keys.c.sid).limit(1)
               .lateral("wide"))
    return (sa.select(*[keys.c[c.key] for c in columns], answers.c.answers).select_from(keys)
            .join(answers, sa.true()).order_by(keys.c.received, keys.c.sid))


def _read_ahead(result, depth: int = 2) -> Iterator[Any]:
    """The rows of ``result``, the next batches fetched by a thread meanwhile: the database
    computes them (the answers' JSON text, on its own core) while this thread writes the current
    one, instead of waiting for each FETCH in turn. At most ``depth`` batches wait; the thread is
    the result's only user until it has stopped, which this generator waits for however it ends."""
    batches: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        try:
            while not stop.is_set():
                batch = result.fetchmany(BATCH)
                batches.put(batch)
                if not batch:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            batches.put(exc)

    reader = threading.Thread(target=fetch, name="export-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            batch = batches.get()
            if isinstance(batch, BaseException):
                raise batch
            if not batch:
                return
            yield from batch
    finally:
        stop.set()
        while reader.is_alive():  # unblock a put on a full queue, then let the fetch finish
            try:
                batches.get(timeout=0.05)
            except queue.Empty:
                pass
        reader.join()


def _plain_row(cells: Sequence[Any], values: Mapping, keys: Sequence[str]) -> list[Any]:
    return [*cells, *map(values.get, keys)]


def _rows(export: Export, row=_plain_row) -> Iterator[tuple[Table, list]]:
    """(table, rows) for every submission: its row, then the rows of each of its repeats; each row
    made by ``row(meta cells, answers, columns)`` (``csv_row`` for CSV)."""
    result = db.session.execute(export.query.execution_options(yield_per=BATCH))
    main = export.plan
    children = main.children
    columns = main.columns
    loads = orjson.loads
    for r in _read_ahead(result):
        answers = main.spell(loads(r.answers)) if r.answers else {}
        key = r.id
        flags = _flags(r.flags)
        yield main, [row((key, r.household_id, r.area_code, r.form_version, r.rev, r.username, r.review_state, flags,
                          r.year, r.started_at, r.finished_at, r.received_at, r.reviewed_at), answers, columns)]
        if children:
            yield from _repeat_rows(children, answers, key, (key, r.form_version, r.username, r.review_state, flags),
                                    row)


def _repeat_rows(tables: Sequence[Table], values: Mapping, parent_key: str, meta: tuple,
                 row) -> Iterator[tuple[Table, list]]:
    for table in tables:
        instances = values.get(table.name)
        if not isinstance(instances, list):
            continue
        rows, nested = [], []
        columns, name = table.columns, table.name
        for n, instance in enumerate(instances, 1):
            if not isinstance(instance, dict):
                continue
            key = f"{parent_key}/{name}[{n}]"
            rows.append(row((key, parent_key, *meta), table.spell(instance), columns))
            if table.children:
                nested.append((instance, key))
        yield table, rows
        for instance, key in nested:
            yield from _repeat_rows(table.children, instance, key, meta, row)


def _header(table: Table) -> list[str]:
    return (MAIN_META if table.path is None else REPEAT_META) + table.columns


# --- CSV in a zip ---------------------------------------------------------------------------------

class _Sink:
    """The non-seekable stream zipfile writes to: what it wrote, taken by the response."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        self.size = 0
        return out


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=dt.datetime.now(VIETNAM).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    # A ZipInfo handed to ZipFile.open does not take the archive's compresslevel: without this it
    # is zlib's default, 6, which took about four times level 1's CPU for a tenth less size.
    setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", COMPRESS_LEVEL)
    info.external_attr = 0o600 << 16
    return info


def csv_zip(export: Export) -> Iterator[bytes]:
    """The zip, chunk by chunk: ``<form>.csv``, then ``<form>-<repeat>.csv`` for each repeat."""
    sink = _Sink()
    tables = list(_tables(export.plan))
    names = {id(t): (f"{export.form_id}.csv" if t.path is None else f"{export.form_id}-{t.path.replace('/', '-')}.csv")
             for t in tables}
    spills = {id(t): tempfile.SpooledTemporaryFile(max_size=SPILL_IN_MEMORY) for t in tables[1:]}
    writers = {id(t): CsvStream(_header(t)) for t in tables}
    archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
    try:
        main = archive.open(_entry(names[id(export.plan)]), "w", force_zip64=True)
        yield sink.take()  # the entry's header: the download starts before the first row is read
        main_writer = writers[id(export.plan)]
        for table, rows in _rows(export, csv_row):
            writer = writers[id(table)]
            writer.writerows(rows)
            if writer.pending() >= CHUNK:
                if table is export.plan:
                    main.write(writer.take())
                    if sink.size >= CHUNK:
                        yield sink.take()
                else:
                    spills[id(table)].write(writer.take())
        main.write(main_writer.take())
        main.close()
        yield sink.take()
        for table in tables[1:]:
            spill = spills[id(table)]
            spill.write(writers[id(table)].take())
            spill.seek(0)
            with archive.open(_entry(names[id(table)]), "w", force_zip64=True) as entry:
                while chunk := spill.read(CHUNK):
                    entry.write(chunk)
                    if sink.size >= CHUNK:
                        yield sink.take()
        archive.close()  # the central directory
        yield sink.take()
    finally:
        # Closed early (the client went away, or the database failed): nothing more is written,
        # in particular no central directory, so the client cannot take the part for the whole.
        # The archive forgets its stream, so that neither it nor an entry left open writes there
        # (or complains) when they are collected.
        archive.fp = None
        for spill in spills.values():
            spill.close()


# --- XLSX -----------------------------------------------------------------------------------------

def xlsx_file(export: Export) -> BinaryIO:
    """The workbook in an unnamed temporary file, rewound: one sheet for the submissions (named
    after the form), one per repeat (named after it), each name 31 characters at most."""
    handle = tempfile.TemporaryFile()
    workdir = tempfile.mkdtemp(prefix="rasoat-xlsx-")
    try:
        book = XlsxStream(handle, tmpdir=workdir)
        tables = list(_tables(export.plan))
        for table in tables:
            book.add_sheet(str(id(table)), table.name if table.path is not None else export.form_id, _header(table))
        for table, rows in _rows(export):
            key = str(id(table))
            for row in rows:
                book.writerow(key, row)
        book.close()
        handle.seek(0)
        return handle
    except BaseException:
        handle.close()
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def file_chunks(handle: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()


__all__ = ["FORMATS", "Export", "csv_zip", "file_chunks", "prepare", "xlsx_file"]
