"""Writing the sync core's effects (``sync.core``) to the database.

``rows`` turns effects into table rows, once; ``write`` stores them with plain INSERT and UPDATE
statements, ``copy`` stores insert-only effects (new households with their first submission)
with one ``COPY`` per table on PostgreSQL. Two ways of writing the same rows: neither decides
anything.

A correction changes a submission's answers, not when or on which phone the visit happened, so
its ``SubmissionWrite`` leaves those columns as they are. A phone's new revision returns the
submission to review (``review_state`` received); a correction keeps the review state.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from server.db import db
from server.models import (
    Change,
    Conflict,
    Household,
    HouseholdRevision,
    HouseholdYear,
    Submission,
    SubmissionAttachment,
    SubmissionRevision,
)
from server.services import changes
from server.text import fold
from sync.core import ConflictQueued, ConflictResolved, Effect, HouseholdWrite, SubmissionWrite, YearWrite

# Insert order: the later tables reference the earlier ones.
TABLES = (Household.__table__, HouseholdRevision.__table__, Submission.__table__, SubmissionRevision.__table__,
          SubmissionAttachment.__table__, HouseholdYear.__table__, Conflict.__table__, Change.__table__)


@dataclass
class Rows:
    inserts: dict[str, list[dict]] = field(default_factory=lambda: {t.name: [] for t in TABLES})
    updates: dict[str, list[tuple[dict, dict]]] = field(default_factory=dict)  # table -> [(key, values)]
    replaced_attachments: list[uuid.UUID] = field(default_factory=list)  # submissions whose list is rewritten

    @property
    def insert_only(self) -> bool:
        return not self.updates and not self.replaced_attachments

    def update(self, table: str, key: dict, values: dict) -> None:
        self.updates.setdefault(table, []).append((key, values))


def _uid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def rows(effects: Iterable[Effect], now: dt.datetime, out: Rows | None = None) -> Rows:
    out = out if out is not None else Rows()
    for effect in effects:
        if isinstance(effect, HouseholdWrite):
            _household(out, effect, now)
        elif isinstance(effect, SubmissionWrite):
            _submission(out, effect, now)
        elif isinstance(effect, YearWrite):
            _year(out, effect, now)
        elif isinstance(effect, ConflictQueued):
            out.inserts["conflicts"].append(dict(
                id=effect.id, household_id=effect.household_id, submission_id=effect.submission_id,
                submission_rev=effect.submission_rev, area_code=effect.area_code, base_rev=effect.base_rev,
                household_rev=effect.household_rev, fields=list(effect.fields), status="open", resolution=None,
                resolved_by=None, resolved_at=None, created_at=now))
        elif isinstance(effect, ConflictResolved):
            out.update("conflicts", {"id": effect.id}, dict(status="resolved", resolution=effect.resolution,
                                                            resolved_by=_uid(effect.resolved_by), resolved_at=now))
        else:  # pragma: no cover - a new effect type must be written somewhere
            raise TypeError(f"no writer for {type(effect).__name__}")
    return out


def _household(out: Rows, h: HouseholdWrite, now: dt.datetime) -> None:
    values = dict(area_code=h.area_code, rev=h.rev, answers=h.answers, form_id=h.form_id, form_version=h.form_version,
                  household_code=h.household_code, head_name=h.head_name,
                  head_name_folded=fold(h.head_name) if h.head_name else None, classification=h.classification,
                  updated_at=now)
    if h.new:
        out.inserts["households"].append(dict(id=h.id, created_at=now, **values))
    else:
        out.update("households", {"id": h.id}, values)
    out.inserts["household_revisions"].append(dict(
        household_id=h.id, rev=h.rev, answers=h.answers, submission_id=h.submission_id,
        submission_rev=h.submission_rev, base_rev=h.base_rev, merged=h.merged, created_at=now))
    out.inserts["changes"].append(changes.household_row(h.id, h.rev, h.area_code, at=now))


def _submission(out: Rows, s: SubmissionWrite, now: dt.datetime) -> None:
    record = s.record
    values = dict(household_id=s.household_id, form_id=s.form_id, form_version=s.form_version,
                  area_code=s.area_code, rev=s.rev, content_hash=s.content_hash, answers=s.answers,
                  computed=s.computed, year=s.year, classification=record.classification,
                  deprivation_count=record.deprivation_count, income_per_person=record.income_per_person,
                  household_code=record.household_code,
                  head_name_folded=fold(record.head_name) if record.head_name else None, updated_at=now,
                  # its own quality flags; the relative ones follow (server.services.quality)
                  flags=list(s.quality.own))
    visit = dict(device_id=s.device_id, started_at=s.started_at, finished_at=s.finished_at)
    if s.new:
        out.inserts["submissions"].append(dict(
            id=s.id, enumerator_id=_uid(s.enumerator_id), review_state="received", review_comment=None,
            reviewed_at=None, received_at=now, **values, **visit))
    else:
        if s.source == "phone":
            values.update(visit)
        if s.review_reset:
            values["review_state"] = "received"
        out.update("submissions", {"id": s.id}, values)
        out.replaced_attachments.append(s.id)
    out.inserts["submission_revisions"].append(dict(
        submission_id=s.id, rev=s.rev, content_hash=s.content_hash, form_version=s.form_version, answers=s.answers,
        computed=s.computed, household_rev_base=s.household_rev_base, source=s.source, user_id=_uid(s.author_id),
        device_id=s.device_id, reason=s.reason, started_at=s.started_at, finished_at=s.finished_at,
        received_at=now, provenance=dict(s.provenance)))
    out.inserts["submission_attachments"].extend(
        dict(submission_id=s.id, sha256=a.sha256, name=a.name, size=a.size) for a in s.attachments)


def _year(out: Rows, y: YearWrite, now: dt.datetime) -> None:
    record = y.record
    values = dict(submission_id=y.submission_id, visit_at=y.visit_at, area_code=y.area_code,
                  classification=record.classification, deprivation_count=record.deprivation_count,
                  income_per_person=record.income_per_person, updated_at=now, gps_lat=y.quality.lat,
                  gps_lon=y.quality.lon, head_key=y.quality.head_key, head_id_key=y.quality.head_id_key)
    if y.new:
        out.inserts["household_years"].append(dict(household_id=y.household_id, year=y.year, **values))
    else:
        out.update("household_years", {"household_id": y.household_id, "year": y.year}, values)


def _sorted(table: sa.Table, table_rows: list[dict]) -> list[dict]:
    # Key order: two requests writing overlapping rows wait on each other in the same order
    # instead of deadlocking.
    keys = table.primary_key.columns.keys()
    return sorted(table_rows, key=lambda row: tuple(str(row.get(k)) for k in keys))


def write(out: Rows) -> None:
    """Store the rows with INSERT and UPDATE statements in the session's transaction."""
    connection = db.session.connection()
    for table in TABLES:
        for key, values in out.updates.get(table.name, ()):
            connection.execute(table.update().where(*(table.c[k] == v for k, v in key.items())).values(values))
        if table.name == "submission_attachments" and out.replaced_attachments:
            connection.execute(table.delete().where(table.c.submission_id.in_(out.replaced_attachments)))
        table_rows = out.inserts.get(table.name)
        if table_rows:
            connection.execute(sa.insert(table), _sorted(table, table_rows) if table.name != "changes" else table_rows)


def copy(out: Rows) -> None:
    """Store insert-only rows with one ``COPY`` per table (PostgreSQL); ``write`` elsewhere."""
    assert out.insert_only, "COPY writes new rows only"
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        write(out)
        return
    json_texts: dict[int, str] = {}  # id(object) -> its JSON, for this write only
    for table in TABLES:
        table_rows = out.inserts.get(table.name)
        if table_rows:
            _copy_rows(connection, table, _sorted(table, table_rows) if table.name != "changes" else table_rows,
                       json_texts)


def _copy_rows(connection: sa.Connection, table: sa.Table, table_rows: list[dict], json_texts: dict[int, str]) -> None:
    """``COPY ... FROM STDIN``: one round trip per table and little work per row, with the
    values converted by the columns' own SQLAlchemy types (UTC timestamps, JSONB).

    A JSON column's value is serialised by the engine's own serialiser, as its bind processor
    would, but once per object: an item's answers go to several tables (``json_texts`` is shared
    by the tables of one write; the rows hold the objects, so their ids stay theirs). COPY's
    text format takes the JSON text as the column's input, the bytes psycopg's Jsonb dumper
    would send.
    """
    names = list(table_rows[0])
    dialect = connection.dialect
    serialize = dialect._json_serializer
    convert = []
    for i, name in enumerate(names):
        impl = table.c[name].type.dialect_impl(dialect)
        processor = impl.bind_processor(dialect)
        if serialize is not None and isinstance(impl, sa.JSON) and not impl.none_as_null:
            convert.append((i, functools.partial(_json_text, json_texts, serialize, processor)))
        elif processor is not None:
            convert.append((i, processor))
    quote = dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copier:
        for row in table_rows:
            values = [row[name] for name in names]
            for i, processor in convert:
                values[i] = processor(values[i])
            copier.write_row(values)


def _json_text(texts: dict[int, str], serialize, processor, value: Any) -> Any:
    kind = type(value)
    if kind is not dict and kind is not list:
        return processor(value)  # None (JSON null), SQL NULL markers, scalars: the general way
    key = id(value)
    text = texts.get(key)
    if text is None:
        text = texts[key] = serialize(value)
    return text
