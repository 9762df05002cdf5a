"""The phone's batch push: every item decided by ``sync/``, validated by ``forms/``, stored in
its own savepoint, so one bad item never blocks the rest and a retry changes nothing.

How a batch goes, and why it is as good as one item after the other:

1. every item's schema is checked, and what the server holds for all its ids and households is
   read in a few queries (not per item);
2. items whose answer needs no write (duplicate, conflict, stale or mismatched revision, outside
   scope, unknown form) are answered from that, with no savepoint;
3. the common case, a new submission of a new household that no other item of the batch names,
   is validated, and all such items are written together, one COPY per table (PostgreSQL; an
   executemany INSERT elsewhere), inside one savepoint. Such an item touches only its own
   submission and household rows, so when it is written relative to the rest of the batch
   cannot change anything;
4. everything else (edits, merges into an existing household, an id or household named twice
   in the batch) goes one by one, in order, each in its own savepoint, deciding again against
   what is stored then. If the write of step 3 fails (another request stored one of those
   submissions or households meanwhile), its savepoint is rolled back and its items go this
   way too, so an IntegrityError still only ever costs the item that caused it.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate

from forms.answers import evaluate_submission
from forms.inputs import without_calculations
from server.db import db, utcnow
from server.errors import Problem, flatten_messages
from server.models import (
    Area,
    Attachment,
    Conflict,
    Device,
    FormVersion,
    Household,
    HouseholdRevision,
    HouseholdYear,
    Submission,
    SubmissionAttachment,
    SubmissionRevision,
    User,
)
from server.jsonio import nfc_deep
from server.scoping import Scope, province_of, scope_of
from server.services import forms as form_service
from server.services.areas import area_type_on, commune_of
from server.text import fold
from sync.decisions import Outcome, StoredSubmission, decide
from sync.identity import content_hash
from sync.merge import merge_household

VIETNAM = dt.timezone(dt.timedelta(hours=7))
SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="64 lower-case hex digits")


class AttachmentIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    sha256 = fields.String(required=True, validate=SHA256)
    size = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=0))


class SubmissionIn(Schema):
    id = fields.UUID(required=True)
    form_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    form_version = fields.String(required=True, validate=validate.Length(min=1, max=64))
    area = fields.String(required=True, validate=validate.Length(min=1, max=64))
    household_id = fields.UUID(required=True)
    household_rev = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))
    rev = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1_000_000))
    started_at = fields.AwareDateTime(load_default=None, allow_none=True)
    finished_at = fields.AwareDateTime(load_default=None, allow_none=True)
    answers = fields.Dict(keys=fields.String(), required=True)
    attachments = fields.List(fields.Nested(AttachmentIn), load_default=list, validate=validate.Length(max=50))


_item_schema = SubmissionIn()
_ITEM_FIELDS = frozenset(_item_schema.fields)
_ATTACHMENT_FIELDS = frozenset(AttachmentIn._declared_fields)
_SHA256_MATCH = SHA256.regex.match


def _load_item(raw: Any) -> dict:
    """``SubmissionIn().load(raw)``, the same dict, without marshmallow's machinery for the
    common item that is plainly valid (a third of the per-item cost of the schema).

    Every check below is one the schema makes; whatever does not pass them all (an error, or an
    unusual but valid spelling such as a UUID in braces) goes through the schema itself, so the
    errors, their messages and their paths are the schema's.
    """
    fast = _load_item_fast(raw)
    return fast if fast is not None else _item_schema.load(raw)


def _uuid(value: Any) -> uuid.UUID | None:
    if type(value) is str and len(value) == 36:
        try:
            return uuid.UUID(value)
        except ValueError:
            return None
    return None


def _text(value: Any, longest: int) -> bool:
    return type(value) is str and 1 <= len(value) <= longest


def _aware(value: Any) -> dt.datetime | None | bool:
    """The AwareDateTime field's value (None for null), or False when the schema must decide."""
    if value is None:
        return None
    if type(value) is not str:
        return False
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed if parsed.tzinfo is not None and parsed.utcoffset() is not None else False


def _load_item_fast(raw: Any) -> dict | None:
    if type(raw) is not dict or not _ITEM_FIELDS.issuperset(raw):
        return None
    get = raw.get
    sid, hid = _uuid(get("id")), _uuid(get("household_id"))
    form_id, form_version, area = get("form_id"), get("form_version"), get("area")
    household_rev, rev, answers = get("household_rev"), get("rev"), get("answers")
    started_at, finished_at = _aware(get("started_at")), _aware(get("finished_at"))
    if (sid is None or hid is None or not _text(form_id, 64) or not _text(form_version, 64)
            or not _text(area, 64)
            or not (household_rev is None or (type(household_rev) is int and household_rev >= 1))
            or not (type(rev) is int and 1 <= rev <= 1_000_000)
            or started_at is False or finished_at is False
            or type(answers) is not dict or not all(type(key) is str for key in answers)):
        return None
    attachments = []
    if "attachments" in raw:
        given = raw["attachments"]
        if type(given) is not list or len(given) > 50:
            return None
        for att in given:
            if type(att) is not dict or not _ATTACHMENT_FIELDS.issuperset(att):
                return None
            name, sha, size = att.get("name"), att.get("sha256"), att.get("size")
            if (not _text(name, 200) or type(sha) is not str or not _SHA256_MATCH(sha)
                    or not (size is None or (type(size) is int and size >= 0))):
                return None
            attachments.append({"name": name, "sha256": sha, "size": size})
    # The schema's field order, and its load defaults for what is absent.
    return {"id": sid, "form_id": form_id, "form_version": form_version, "area": area, "household_id": hid,
            "household_rev": household_rev, "rev": rev, "started_at": started_at, "finished_at": finished_at,
            "answers": dict(answers), "attachments": attachments}


@dataclass
class PushContext:
    user: User
    scope: Scope
    device_id: str | None
    now: dt.datetime
    versions: dict[tuple[str, str], FormVersion | None] = field(default_factory=dict)
    areas: dict[str, Area | None] = field(default_factory=dict)
    area_types: dict[tuple, str | None] = field(default_factory=dict)
    parameters: dict[tuple[Any, str], dict] = field(default_factory=dict)
    # The attachments (by sha256) the batch declares that the server already has.
    present_attachments: set[str] = field(default_factory=set)


def _rejected(item_id: Any, errors: list[dict]) -> dict:
    return {"id": str(item_id) if item_id is not None else None, "status": "rejected", "errors": errors}


def _error(path: str, code: str, message: str) -> list[dict]:
    return [{"path": path, "code": code, "message": message}]


def _version(ctx: PushContext, form_id: str, version: str) -> FormVersion | None:
    key = (form_id, version)
    if key not in ctx.versions:
        ctx.versions[key] = db.session.execute(sa.select(FormVersion).where(
            FormVersion.form_id == form_id, FormVersion.version == version)).scalar_one_or_none()
    return ctx.versions[key]


def _area(ctx: PushContext, code: str) -> Area | None:
    if code not in ctx.areas:
        ctx.areas[code] = db.session.get(Area, code)
    return ctx.areas[code]


def _parameters(ctx: PushContext, version: FormVersion, area_code: str) -> dict:
    key = (version.id, province_of(area_code))
    if key not in ctx.parameters:
        ctx.parameters[key] = form_service.effective_parameters(version, key[1])
    return ctx.parameters[key]


def _missing(ctx: PushContext, item: dict) -> list[str]:
    """The declared attachments whose bytes have not arrived (the content hash covers the
    declared list, so for a duplicate it is the stored submission's list too)."""
    return sorted({a["sha256"] for a in item["attachments"]} - ctx.present_attachments)


def _stored(submission_id: uuid.UUID) -> tuple[Submission | None, StoredSubmission | None]:
    row = db.session.get(Submission, submission_id, populate_existing=True)
    if row is None:
        return None, None
    hashes = dict(db.session.execute(sa.select(SubmissionRevision.rev, SubmissionRevision.content_hash)
                                     .where(SubmissionRevision.submission_id == submission_id)).all())
    return row, StoredSubmission(current_rev=row.rev, revisions=hashes, household_id=str(row.household_id),
                                 form_id=row.form_id)


def push(user: User, device_id: str | None, submissions: list[Any], pending: dict | None,
         app_version: str | None) -> dict:
    now = utcnow()
    session_device = getattr(_current_session(), "device_id", None)
    if session_device is not None and device_id != session_device:
        raise Problem("request.invalid", "device_id is not the device this session was opened on.",
                      errors=_error("device_id", "device_mismatch", "Not this session's device."))
    ctx = PushContext(user=user, scope=scope_of(user), device_id=device_id, now=now)
    results = _push_batch(ctx, submissions)
    _touch_device(ctx, pending, app_version)
    db.session.commit()
    return {"results": results, "server_time": now}


def _current_session():
    from flask import g

    return g.get("auth_session")


def _touch_device(ctx: PushContext, pending: dict | None, app_version: str | None) -> None:
    if ctx.device_id is None:
        return
    # The common case, this user's known phone, in one UPDATE (no read, no unit of work); the
    # row is untouched when it is another user's phone id.
    values = {"last_seen_at": ctx.now, "last_sync_at": ctx.now}
    if app_version:
        values["app_version"] = app_version
    if pending is not None:
        values["pending_submissions"] = pending.get("submissions")
        values["pending_attachments"] = pending.get("attachments")
    table = Device.__table__
    updated = db.session.execute(table.update().where(table.c.id == ctx.device_id,
                                                      table.c.user_id == ctx.user.id).values(values))
    if updated.rowcount:
        return
    device = db.session.get(Device, ctx.device_id)
    if device is None:
        device = Device(id=ctx.device_id, user_id=ctx.user.id, first_seen_at=ctx.now)
        db.session.add(device)
    elif device.user_id != ctx.user.id:
        return  # another user's phone id: record nothing on it
    device.last_seen_at = device.last_sync_at = ctx.now
    if app_version:
        device.app_version = app_version
    if pending is not None:
        device.pending_submissions = pending.get("submissions")
        device.pending_attachments = pending.get("attachments")


@dataclass
class _NewItem:
    """A new submission of a new household, validated, with the rows that store it."""

    index: int
    item: dict
    raw: dict
    rows: dict[str, list[dict]]
    result: dict


# Insert order: the others reference households and submissions.
_NEW_ROW_TABLES = (Household.__table__, HouseholdRevision.__table__, HouseholdYear.__table__,
                   Submission.__table__, SubmissionRevision.__table__, SubmissionAttachment.__table__)


def _push_batch(ctx: PushContext, submissions: list[Any]) -> list[dict]:
    results: list[dict | None] = [None] * len(submissions)
    parsed: list[tuple[int, dict, dict]] = []
    for index, raw in enumerate(submissions):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            raw = nfc_deep(raw)
            parsed.append((index, _load_item(raw), raw))
        except Problem as exc:  # text that cannot be stored (NUL)
            results[index] = _rejected(raw_id, exc.errors or [])
        except ValidationError as exc:
            results[index] = _rejected(raw_id, flatten_messages(exc.messages))
    stored = _stored_many([item["id"] for _, item, _ in parsed])
    household_ids = [item["household_id"] for _, item, _ in parsed]
    existing = set(db.session.execute(sa.select(Household.id).where(Household.id.in_(set(household_ids))))
                   .scalars()) if household_ids else set()
    declared = {a["sha256"] for _, item, _ in parsed for a in item["attachments"]}
    if declared:
        ctx.present_attachments = set(db.session.execute(
            sa.select(Attachment.sha256).where(Attachment.sha256.in_(declared))).scalars())
    id_count = Counter(item["id"] for _, item, _ in parsed)
    household_count = Counter(household_ids)

    one_by_one: list[tuple[int, dict, dict]] = []
    new: list[_NewItem] = []
    for index, item, raw in parsed:
        alone = id_count[item["id"]] == 1 and household_count[item["household_id"]] == 1
        answer = _answer_without_writing(ctx, item, raw, stored.get(item["id"]))
        if answer is not None:
            results[index] = answer
        elif (alone and item["id"] not in stored and item["household_id"] not in existing
              and item["household_rev"] is None):
            prepared = _prepare_new(ctx, index, item, raw)
            if isinstance(prepared, _NewItem):
                new.append(prepared)
            else:
                results[index] = prepared
        else:
            one_by_one.append((index, item, raw))

    if new and not _insert_new(new):
        one_by_one.extend((n.index, n.item, n.raw) for n in new)
        one_by_one.sort(key=lambda entry: entry[0])
    else:
        for n in new:
            results[n.index] = n.result
    for index, item, raw in one_by_one:
        results[index] = _push_item(ctx, item, raw)
    return results  # type: ignore[return-value]


def _stored_many(ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, StoredSubmission]]:
    """What is stored under each id: (area code, decision input), in two queries."""
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Submission.id, Submission.rev, Submission.household_id,
                                        Submission.form_id, Submission.area_code)
                              .where(Submission.id.in_(set(ids)))).all()
    if not rows:
        return {}
    hashes: dict[uuid.UUID, dict[int, str]] = {}
    for sid, rev, chash in db.session.execute(
            sa.select(SubmissionRevision.submission_id, SubmissionRevision.rev, SubmissionRevision.content_hash)
            .where(SubmissionRevision.submission_id.in_([r.id for r in rows]))):
        hashes.setdefault(sid, {})[rev] = chash
    return {r.id: (r.area_code, StoredSubmission(current_rev=r.rev, revisions=hashes.get(r.id, {}),
                                                 household_id=str(r.household_id), form_id=r.form_id))
            for r in rows}


def _answer_without_writing(ctx: PushContext, item: dict, raw: dict,
                            stored: tuple[str, StoredSubmission] | None) -> dict | None:
    """The answer for an item that needs no write, from what was read for the whole batch;
    None when the item is to be stored (the same checks, in the same order, as ``_store_item``)."""
    sid = item["id"]
    checked = _check_area_and_version(ctx, item, existing=stored is not None)
    if isinstance(checked, dict):
        return checked
    if stored is None:
        return None
    area_code, submission = stored
    if not ctx.scope.covers(area_code):
        return _rejected(sid, _error("id", "outside_scope", "This submission belongs to another area."))
    decision = decide(submission, rev=item["rev"], content_hash=content_hash(raw),
                      household_id=str(item["household_id"]), form_id=item["form_id"])
    if decision.outcome in (Outcome.ACCEPTED, Outcome.EDIT):
        return None
    return _decided(ctx, sid, item, submission, decision)


def _prepare_new(ctx: PushContext, index: int, item: dict, raw: dict) -> _NewItem | dict:
    """Validate a new submission of a new household and build its rows (nothing written)."""
    area, version = _check_area_and_version(ctx, item, existing=False)
    evaluated = _evaluate(ctx, item, version, area)
    if isinstance(evaluated, dict):
        return evaluated
    result, outputs, year = evaluated
    sid, hid = item["id"], item["household_id"]
    head = outputs.get("head_name")
    household = dict(id=hid, area_code=area.code, rev=1, answers=result.answers, form_id=item["form_id"],
                     form_version=item["form_version"],
                     household_code=str(outputs.get("household_code") or "") or None,
                     head_name=str(head) if head else None, head_name_folded=fold(str(head)) if head else None,
                     classification=outputs.get("classification") or None, created_at=ctx.now, updated_at=ctx.now)
    chash = content_hash(raw)
    rows = {
        "households": [household],
        "household_revisions": [dict(household_id=hid, rev=1, answers=result.answers, submission_id=sid,
                                     submission_rev=item["rev"], base_rev=None, merged=False, created_at=ctx.now)],
        "household_years": [_year_values(ctx, hid, year, sid, area, outputs)],
        "submissions": [dict(id=sid, received_at=ctx.now, review_comment=None, reviewed_at=None,
                             **_submission_values(ctx, item, chash, result, outputs, year, area))],
        "submission_revisions": [_revision_values(ctx, item, chash, result)],
        "submission_attachments": _attachment_values(item),
    }
    out = {"id": str(sid), "status": "accepted", "rev": item["rev"], "missing_attachments": _missing(ctx, item),
           "household_rev": 1, "outputs": _public_outputs(outputs)}
    return _NewItem(index, item, raw, rows, out)


def _insert_new(new: list[_NewItem]) -> bool:
    """Store the new items with one multi-row write per table, in one savepoint; False (and
    nothing stored) when the database refused it, e.g. another request stored one of them first."""
    try:
        with db.session.begin_nested():
            connection = db.session.connection()
            json_texts: dict[int, str] = {}  # id(object) -> its JSON, for this write only
            for table in _NEW_ROW_TABLES:
                rows = [row for n in new for row in n.rows[table.name]]
                if rows:
                    # Key order: two requests inserting overlapping rows wait on each other in the
                    # same order instead of deadlocking.
                    rows.sort(key=lambda row, keys=table.primary_key.columns.keys(): tuple(
                        str(row[k]) for k in keys))
                    if connection.dialect.name == "postgresql":
                        _copy_rows(connection, table, rows, json_texts)
                    else:
                        connection.execute(sa.insert(table), rows)
    except (sa.exc.DBAPIError, psycopg.Error):
        db.session.expire_all()
        return False
    return True


def _copy_rows(connection: sa.Connection, table: sa.Table, rows: list[dict], json_texts: dict[int, str]) -> None:
    """``COPY ... FROM STDIN``: one round trip per table and little work per row, with the
    values converted by the columns' own SQLAlchemy types (UTC timestamps, JSONB).

    A JSON column's value is serialised by the engine's own serialiser, as its bind processor
    would, but once per object: an item's answers go to four tables (``json_texts`` is shared
    by the tables of one write; the rows hold the objects, so their ids stay theirs). COPY's
    text format takes the JSON text as the column's input, the bytes psycopg's Jsonb dumper
    would send.
    """
    names = list(rows[0])
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
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row[name] for name in names]
            for i, processor in convert:
                values[i] = processor(values[i])
            copy.write_row(values)


def _json_text(texts: dict[int, str], serialize, processor, value: Any) -> Any:
    kind = type(value)
    if kind is not dict and kind is not list:
        return processor(value)  # None (JSON null), SQL NULL markers, scalars: the general way
    key = id(value)
    text = texts.get(key)
    if text is None:
        text = texts[key] = serialize(value)
    return text


def _push_item(ctx: PushContext, item: dict, raw: dict) -> dict:
    for attempt in (1, 2):
        try:
            with db.session.begin_nested():
                return _store_item(ctx, item, raw)
        except (sa.exc.IntegrityError, sa.exc.OperationalError):
            # Another process stored the same submission or household at the same instant (or
            # two batches locked households in crossed order): decide again against what it
            # committed.
            db.session.expire_all()
            if attempt == 2:
                return _rejected(item["id"], _error("", "retry", "Stored concurrently by another request; "
                                                            "send it again."))
    raise AssertionError("unreachable")


def _check_area_and_version(ctx: PushContext, item: dict, *, existing: bool) -> tuple[Area, FormVersion] | dict:
    """The area must be within scope and the version published; a closed version still takes
    retries and edits of submissions stored before it closed (``existing``), never new ones."""
    sid = item["id"]
    area = _area(ctx, item["area"])
    if area is None or area.level == "province":
        return _rejected(sid, _error("area", "unknown_area", f"No village or commune {item['area']!r}."))
    if not ctx.scope.covers(area.code):
        return _rejected(sid, _error("area", "outside_scope", "This area is outside your areas."))
    version = _version(ctx, item["form_id"], item["form_version"])
    if version is None or version.state == "draft":
        return _rejected(sid, _error("form_version", "unknown_form_version",
                                     f"Form {item['form_id']!r} has no published version {item['form_version']!r}."))
    if version.state == "closed" and not existing:
        return _rejected(sid, _error("form_version", "form_version_closed",
                                     f"Version {item['form_version']!r} is closed and takes no new submissions."))
    return area, version


def _decided(ctx: PushContext, sid: uuid.UUID, item: dict, stored: StoredSubmission, decision) -> dict:
    if decision.outcome is Outcome.DUPLICATE:
        return {"id": str(sid), "status": "duplicate", "rev": item["rev"], "missing_attachments": _missing(ctx, item)}
    if decision.outcome is Outcome.CONFLICT:
        return {"id": str(sid), "status": "conflict", "rev": stored.current_rev,
                "detail": decision.detail or "Same id and rev with different content."}
    return _rejected(sid, _error({"stale_revision": "rev", "form_mismatch": "form_id"}.get(decision.code or "",
                                                                                      "household_id"),
                                 decision.code or "rejected", decision.detail or "Rejected."))


def _evaluate(ctx: PushContext, item: dict, version: FormVersion, area: Area):
    """The form's verdict on the answers: (result, outputs, year), or the rejection."""
    sid = item["id"]
    definition = form_service.definition_of(version)
    finished = item["finished_at"] or ctx.now
    result = evaluate_submission(definition, item["answers"], parameters=_parameters(ctx, version, area.code),
                                 today=finished.astimezone(VIETNAM).date())
    if result.errors:
        return _rejected(sid, [e.to_dict() | {"path": f"answers/{e.path}" if e.path else "answers"}
                               for e in result.errors])
    declared = {a["sha256"] for a in item["attachments"]}
    undeclared = sorted(set(result.attachments) - declared)
    if undeclared:
        return _rejected(sid, _error("attachments", "undeclared_attachment",
                                     f"Answers refer to attachments not listed: {', '.join(undeclared)}."))
    mismatch = _area_type_mismatch(ctx, definition, result, area, finished.astimezone(VIETNAM).date())
    if mismatch:
        return _rejected(sid, mismatch)
    return result, dict(result.outputs), finished.astimezone(VIETNAM).year


def _area_type_mismatch(ctx: PushContext, definition, result, area: Area, on) -> list[dict] | None:
    """Rural or urban picks the poverty line, so it is the commune's, not the enumerator's choice:
    the form's ``area_type`` output must agree with the commune's setting on the visit's date."""
    field = definition.outputs.get("area_type")
    if not field:
        return None
    key = (commune_of(area.code), on)
    if key not in ctx.area_types:
        ctx.area_types[key] = area_type_on(area.code, on)
    expected, given = ctx.area_types[key], result.outputs.get("area_type")
    if expected is None or given == expected:
        return None
    return _error(f"answers/{field}", "area_type_mismatch",
                  f"Commune {key[0]} counts as {expected} on {on.isoformat()}, not {given}; correct the answer "
                  "(or ask an admin to correct the commune's setting).")


def _store_item(ctx: PushContext, item: dict, raw: dict) -> dict:
    sid = item["id"]
    chash = content_hash(raw)
    row, stored = _stored(sid)
    checked = _check_area_and_version(ctx, item, existing=row is not None)
    if isinstance(checked, dict):
        return checked
    area, version = checked
    if row is not None and not ctx.scope.covers(row.area_code):
        return _rejected(sid, _error("id", "outside_scope", "This submission belongs to another area."))
    decision = decide(stored, rev=item["rev"], content_hash=chash, household_id=str(item["household_id"]),
                      form_id=item["form_id"])
    if decision.outcome not in (Outcome.ACCEPTED, Outcome.EDIT):
        return _decided(ctx, sid, item, stored, decision)

    household = db.session.get(Household, item["household_id"], with_for_update=True, populate_existing=True)
    base_rev = item["household_rev"]
    if household is None and base_rev is not None:
        return _rejected(sid, _error("household_id", "unknown_household",
                                     "No such household; send household_rev null for a new one."))
    if household is not None:
        if not ctx.scope.covers(household.area_code):
            return _rejected(sid, _error("household_id", "outside_scope", "This household belongs to another area."))
        if base_rev is not None and base_rev > household.rev:
            return _rejected(sid, _error("household_rev", "invalid_household_rev",
                                         f"The household is at revision {household.rev}."))

    evaluated = _evaluate(ctx, item, version, area)
    if isinstance(evaluated, dict):
        return evaluated
    result, outputs, year = evaluated
    # Household first: the submission references it.
    # An edit of a submission starts from that submission's previous answers (what the phone
    # had); a new visit starts from the household revision the phone pulled.
    edit_base = row.answers if row is not None else None
    household, conflicts = _merge_into_household(ctx, household, item, result.answers, outputs, year, area,
                                                 edit_base=edit_base,
                                                 form=form_service.definition_of(version),
                                                 parameters=_parameters(ctx, version, area.code))
    _write_submission(ctx, row, item, chash, result, outputs, year, area)
    conflict_id = _queue_conflict(ctx, household, item, area, conflicts)
    household_rev = household.rev
    out = {"id": str(sid), "status": "accepted", "rev": item["rev"],
           "missing_attachments": _missing(ctx, item), "household_rev": household_rev,
           "outputs": _public_outputs(outputs)}
    if conflict_id is not None:
        out["conflict_id"] = str(conflict_id)
    return out


def _public_outputs(outputs: dict) -> dict:
    return {k: v for k, v in outputs.items() if k in {"classification", "deprivation_count", "income_per_person",
                                                      "deprivations"}}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value == value else None


def _submission_values(ctx, item, chash, result, outputs, year, area) -> dict:
    return dict(
        household_id=item["household_id"], form_id=item["form_id"], form_version=item["form_version"],
        area_code=area.code, rev=item["rev"], content_hash=chash, answers=result.answers,
        computed=dict(result.computed), year=year,
        classification=outputs.get("classification") or None,
        deprivation_count=int(d) if (d := _number(outputs.get("deprivation_count"))) is not None else None,
        income_per_person=_number(outputs.get("income_per_person")),
        household_code=str(outputs.get("household_code") or "") or None,
        head_name_folded=fold(str(outputs.get("head_name") or "")) or None,
        enumerator_id=ctx.user.id, device_id=ctx.device_id, started_at=item["started_at"],
        finished_at=item["finished_at"], updated_at=ctx.now,
        # A new revision from the phone (e.g. after changes were requested) goes back to review.
        review_state="received",
    )


def _revision_values(ctx, item, chash, result) -> dict:
    return dict(submission_id=item["id"], rev=item["rev"], content_hash=chash, form_version=item["form_version"],
                answers=result.answers, computed=dict(result.computed), household_rev_base=item["household_rev"],
                source="phone", user_id=ctx.user.id, device_id=ctx.device_id, reason=None,
                started_at=item["started_at"], finished_at=item["finished_at"], received_at=ctx.now)


def _attachment_values(item) -> list[dict]:
    return [dict(submission_id=item["id"], sha256=att["sha256"], name=att["name"], size=att["size"])
            for att in {a["sha256"]: a for a in item["attachments"]}.values()]


def _year_values(ctx, household_id, year, sid, area, outputs) -> dict:
    count = _number(outputs.get("deprivation_count"))
    return dict(household_id=household_id, year=year, submission_id=sid, area_code=area.code, updated_at=ctx.now,
                classification=outputs.get("classification") or None,
                deprivation_count=int(count) if count is not None else None,
                income_per_person=_number(outputs.get("income_per_person")))


def _write_submission(ctx, row, item, chash, result, outputs, year, area) -> None:
    sid = item["id"]
    values = _submission_values(ctx, item, chash, result, outputs, year, area)
    if row is None:
        db.session.add(Submission(id=sid, received_at=ctx.now, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    db.session.add(SubmissionRevision(**_revision_values(ctx, item, chash, result)))
    db.session.execute(sa.delete(SubmissionAttachment).where(SubmissionAttachment.submission_id == sid))
    for values in _attachment_values(item):
        db.session.add(SubmissionAttachment(**values))


def _queue_conflict(ctx, household, item, area, conflicts) -> uuid.UUID | None:
    if not conflicts:
        return None
    conflict = Conflict(household_id=household.id, submission_id=item["id"], submission_rev=item["rev"],
                        area_code=area.code, base_rev=item["household_rev"], household_rev=household.rev,
                        fields=[{"path": c.path, "base": c.base, "current": c.current, "incoming": c.incoming}
                                for c in conflicts], created_at=ctx.now)
    db.session.add(conflict)
    db.session.flush()
    return conflict.id


def _merge_into_household(ctx, household, item, answers, outputs, year, area, *, edit_base, form, parameters):
    """Create or merge the household record; returns it and the merge's conflicts."""
    sid, base_rev = item["id"], item["household_rev"]
    conflicts, record_outputs = (), outputs
    if household is None:
        household = Household(id=item["household_id"], area_code=area.code, rev=1, answers=answers,
                              form_id=item["form_id"], form_version=item["form_version"], created_at=ctx.now)
        db.session.add(household)
        merged_answers, merged = answers, False
    else:
        base = edit_base
        if base is None and base_rev is not None:
            base = db.session.execute(sa.select(HouseholdRevision.answers).where(
                HouseholdRevision.household_id == household.id, HouseholdRevision.rev == base_rev)).scalar_one()
        # base None: two phones created the same household; with no common ancestor their member
        # ids cannot match, so a differing roster is one conflicting answer, not a union.
        # What people answered is merged; what the form calculates is recomputed afterwards.
        keys = form.instance_keys if base is not None else None
        merge = merge_household(None if base is None else without_calculations(form, base),
                                without_calculations(form, household.answers),
                                without_calculations(form, answers), keyed_repeats=keys)
        recomputed = evaluate_submission(form, merge.answers, parameters=parameters, today=ctx.now.date())
        merged_answers = merge.answers if recomputed.errors else recomputed.answers
        record_outputs = outputs if recomputed.errors else dict(recomputed.outputs)
        merged = not merge.fast_forward
        household.rev += 1
        household.answers = merged_answers
        household.form_id, household.form_version = item["form_id"], item["form_version"]
        household.area_code = area.code
        conflicts = merge.conflicts
    # The record shows what its own (merged) answers give, not only the latest visit's.
    household.household_code = str(record_outputs.get("household_code") or "") or household.household_code
    head = record_outputs.get("head_name")
    if head:
        household.head_name, household.head_name_folded = str(head), fold(str(head))
    household.classification = record_outputs.get("classification") or household.classification
    household.updated_at = ctx.now
    db.session.flush()
    db.session.add(HouseholdRevision(household_id=household.id, rev=household.rev, answers=merged_answers,
                                     submission_id=sid, submission_rev=item["rev"], base_rev=base_rev,
                                     merged=merged, created_at=ctx.now))
    year_row = db.session.get(HouseholdYear, (household.id, year))
    if year_row is None:
        year_row = HouseholdYear(household_id=household.id, year=year, submission_id=sid, area_code=area.code)
        db.session.add(year_row)
    for key, value in _year_values(ctx, household.id, year, sid, area, outputs).items():
        if key not in {"household_id", "year"}:
            setattr(year_row, key, value)
    return household, conflicts
