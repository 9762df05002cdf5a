"""The phone's batch push: the shell around ``sync.core.push_item``.

It reads what the core needs (the snapshot), calls it for every item and writes the effects
it returns (``server.services.effects``); every decision is the core's. One bad item never
blocks the rest and a retry changes nothing.

How a batch goes, and why it is as good as one item after the other:

1. every item is parsed alone (``sync.items.parse``, or the schema for anything unusual), and
   what the server holds for all their ids and households is read in a few queries;
2. items the core answers without a write (duplicate, conflict, stale or mismatched revision,
   outside scope, unknown form, bad visit time) are answered from that read (``core.judge``),
   unless another item of the batch has the same id (it may store what this one is judged
   against, so the two go in order);
3. the common case, a new submission of a new household that no other item of the batch names,
   is decided from that read too, and all such items' effects are written together, one COPY
   per table (PostgreSQL; multi-row INSERTs elsewhere), inside one savepoint. Such an item
   touches only its own rows, so when it is written relative to the rest cannot change anything;
4. everything else (edits, visits to an existing household, an id or household named twice in
   the batch) goes one by one, in order, each in its own savepoint, with the household row
   locked and the snapshot read again. If the write of step 3 fails (another request stored
   one of those submissions or households meanwhile), its savepoint is rolled back and its items
   go this way too, so an IntegrityError still only ever costs the item that caused it.

Once every item is written, the submissions the request stored get their village quality flags
against the village as the request leaves it (``server.services.quality.flag_relative``; their
own flags came with their rows).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate

from server.db import db, utcnow
from server.errors import Problem, flatten_messages
from server.jsonio import nfc_deep
from server.models import (
    Area,
    Device,
    FormVersion,
    Household,
    HouseholdRevision,
    Submission,
    SubmissionRevision,
    User,
)
from server.scoping import Scope, province_of, scope_of
from server.services import attachments as attachment_service
from server.services import audit, effects, quality, season
from server.services import forms as form_service
from server.services.snapshots import household_state, submission_state, year_state
from server.services.areas import area_type_on, commune_of
from server.services.evaluation import Evaluators
from sync import core, items
from sync.items import Item

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


@dataclass
class PushContext:
    """One request's actor, scope and what it has read that does not change within it."""

    user: User
    scope: Scope
    actor: core.Actor
    evaluators: Evaluators = field(default_factory=Evaluators)
    versions: dict[tuple[str, str], FormVersion | None] = field(default_factory=dict)
    forms: dict[tuple[str, str, str], core.FormState | None] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)
    closed_years: dict[tuple[str, int], bool] = field(default_factory=dict)
    area_types: dict[tuple, str | None] = field(default_factory=dict)
    present_attachments: frozenset[str] = frozenset()
    # What the request stored, by submission: its relative quality flags are computed once the
    # whole batch is written (server.services.quality).
    written: dict[uuid.UUID, core.SubmissionWrite] = field(default_factory=dict)

    def stored(self, effects: tuple[core.Effect, ...]) -> None:
        self.written.update((e.id, e) for e in effects if isinstance(e, core.SubmissionWrite))

    def version(self, form_id: str, version: str) -> FormVersion | None:
        key = (form_id, version)
        if key not in self.versions:
            self.versions[key] = db.session.execute(sa.select(FormVersion).where(
                FormVersion.form_id == form_id, FormVersion.version == version)).scalar_one_or_none()
        return self.versions[key]

    def area_verdict(self, code: str) -> str:
        verdict = self.verdicts.get(code)
        if verdict is None:
            area = db.session.get(Area, code)
            verdict = self.verdicts[code] = (
                "unknown" if area is None or area.level == "province" else
                "ok" if self.scope.covers(area.code) else "outside")
        return verdict

    def form(self, item: Item) -> core.FormState | None:
        key = (item.form_id, item.form_version, province_of(item.area))
        if key not in self.forms:
            # Another province's form is, to this area, no form at all (unknown_form_version).
            version = (self.version(item.form_id, item.form_version)
                       if form_service.offered_in(item.form_id, item.area) else None)
            self.forms[key] = None if version is None else core.FormState(
                version.state, self.evaluators.of(version, item.area))
        return self.forms[key]

    def area_type(self, item: Item, day: dt.date | None) -> str | None:
        if day is None or self.area_verdict(item.area) != "ok":
            return None
        key = (commune_of(item.area), day)
        if key not in self.area_types:
            self.area_types[key] = area_type_on(item.area, day)
        return self.area_types[key]

    def year_closed(self, item: Item, form: core.FormState | None) -> bool:
        year = core.year_of(item, form, self.actor)
        if year is None or self.area_verdict(item.area) != "ok":
            return False
        key = (commune_of(item.area), year)
        if key not in self.closed_years:
            self.closed_years[key] = season.year_closed(*key)
        return self.closed_years[key]

    def snapshot(self, item: Item, submission: core.SubmissionState | None) -> core.Snapshot:
        """What the batch read knows: enough for ``judge`` and for a new household."""
        form = self.form(item)
        return core.Snapshot(area=self.area_verdict(item.area), form=form, submission=submission,
                             area_type=self.area_type(item, core.visit_day(item, self.actor)),
                             present_attachments=self.present_attachments,
                             year_closed=self.year_closed(item, form))


def earliest_visit() -> dt.date:
    return dt.date.fromisoformat(current_app.config["EARLIEST_VISIT"])


def push(user: User, session_device_id: str | None, device_id: str | None, submissions: list[Any],
         pending: dict | None, app_version: str | None) -> dict:
    now = utcnow()
    if session_device_id is not None and device_id != session_device_id:
        raise Problem("request.invalid", "device_id is not the device this session was opened on.",
                      errors=[{"path": "device_id", "code": "device_mismatch", "message": "Not this session's device."}])
    if session_device_id is None and device_id is not None:
        # A session opened without a device may name one, but never another user's phone: what it
        # pushes is recorded against that device.
        device = db.session.get(Device, device_id)
        if device is not None and device.user_id != user.id:
            raise Problem("auth.device_taken", "This device_id is registered to another user.",
                          errors=[{"path": "device_id", "code": "device_taken",
                                   "message": "This phone belongs to another user; ask your supervisor."}])
    ctx = PushContext(user=user, scope=scope_of(user),
                      actor=core.Actor(str(user.id), device_id, now, earliest_visit(), quality.thresholds()))
    results = _push_batch(ctx, submissions)
    quality.flag_relative([quality.target_of(w) for w in ctx.written.values()], ctx.actor.thresholds)
    _touch_device(ctx, pending, app_version)
    _audit(ctx, results)
    db.session.commit()
    return {"results": results, "server_time": now}


def _audit(ctx: PushContext, results: list[dict]) -> None:
    """One entry per push (not per item: the push path is the hot one): who pushed from which
    device, how many items got each answer, and the ids of the submissions it stored."""
    counts = dict.fromkeys(("accepted", "duplicate", "conflict", "rejected"), 0)
    stored = []
    for result in results:
        counts[result["status"]] += 1
        if result["status"] == "accepted":
            stored.append(result["id"])
    audit.record("sync.push", actor=ctx.user, target_type="device", target_id=ctx.actor.device_id,
                 counts=counts, stored=stored)


def _touch_device(ctx: PushContext, pending: dict | None, app_version: str | None) -> None:
    device_id, now = ctx.actor.device_id, ctx.actor.now
    if device_id is None:
        return
    # The common case, this user's known phone, in one UPDATE (no read, no unit of work); the
    # row is untouched when it is another user's phone id.
    values: dict[str, Any] = {"last_seen_at": now, "last_sync_at": now}
    if app_version:
        values["app_version"] = app_version
    if pending is not None:
        values["pending_submissions"] = pending.get("submissions")
        values["pending_attachments"] = pending.get("attachments")
    table = Device.__table__
    updated = db.session.execute(table.update().where(table.c.id == device_id,
                                                      table.c.user_id == ctx.user.id).values(values))
    if updated.rowcount or db.session.get(Device, device_id) is not None:
        return  # stored, or another user's phone id: record nothing on it
    db.session.add(Device(id=device_id, user_id=ctx.user.id, first_seen_at=now, **values))


def _rejected(item_id: Any, errors: list[dict]) -> dict:
    return {"id": str(item_id) if item_id is not None else None, "status": "rejected", "errors": errors}


def _parse(raw: Any) -> Item | dict:
    """The item, or its rejection: each item is judged alone, whatever it holds."""
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    deep = items.nesting_error(raw)
    if deep:
        return _rejected(raw_id, deep)
    try:
        raw = nfc_deep(raw)
        return items.parse(raw) or items.from_loaded(_item_schema.load(raw), raw)
    except Problem as exc:  # text that cannot be stored (NUL)
        return _rejected(raw_id, exc.errors or [])
    except ValidationError as exc:
        return _rejected(raw_id, flatten_messages(exc.messages))


def _push_batch(ctx: PushContext, submissions: list[Any]) -> list[dict]:
    results: list[dict | None] = [None] * len(submissions)
    parsed: list[tuple[int, Item]] = []
    for index, raw in enumerate(submissions):
        item = _parse(raw)
        if isinstance(item, dict):
            results[index] = item
        else:
            parsed.append((index, item))
    stored = _stored_many(ctx, [item.id for _, item in parsed])
    household_ids = [item.household_id for _, item in parsed]
    existing = set(db.session.execute(sa.select(Household.id).where(Household.id.in_(set(household_ids))))
                   .scalars()) if household_ids else set()
    declared = {a.sha256 for _, item in parsed for a in item.attachments}
    # Arrived for this user: uploaded by them or readable by them (server/services/attachments.py),
    # never "someone uploaded these bytes". Read once per batch: a user's batch changes only their
    # own submissions, and those make readable no file but the ones the user uploaded.
    ctx.present_attachments = attachment_service.present_for(ctx.user, ctx.scope, declared)
    id_count = Counter(item.id for _, item in parsed)
    household_count = Counter(household_ids)

    one_by_one: list[tuple[int, Item]] = []
    new: list[tuple[int, Item, core.Result]] = []
    for index, item in parsed:
        if id_count[item.id] > 1:  # an earlier item of the batch may store what this one is judged against
            one_by_one.append((index, item))
            continue
        snapshot = ctx.snapshot(item, stored.get(item.id))
        judged = core.judge(item, snapshot, ctx.actor)
        if judged is not None:
            results[index] = judged.reply
        elif (household_count[item.household_id] == 1 and item.id not in stored
              and item.household_id not in existing and item.household_rev is None):
            decided = core.push_item(item, snapshot, ctx.actor)
            if decided.effects:
                new.append((index, item, decided))
            else:
                results[index] = decided.reply
        else:
            one_by_one.append((index, item))

    if new and not _insert_new(ctx, new):
        one_by_one.extend((index, item) for index, item, _ in new)
        one_by_one.sort(key=lambda entry: entry[0])
    else:
        for index, _, decided in new:
            results[index] = decided.reply
            ctx.stored(decided.effects)
    for index, item in one_by_one:
        results[index] = _push_item(ctx, item)
    return results  # type: ignore[return-value]


def _insert_new(ctx: PushContext, new: list[tuple[int, Item, core.Result]]) -> bool:
    """Store the new items' effects in one savepoint; False (and nothing stored) when the
    database refused it, e.g. another request stored one of them first."""
    rows = effects.Rows()
    for _, _, decided in new:
        effects.rows(decided.effects, ctx.actor.now, rows)
    try:
        with db.session.begin_nested():
            effects.copy(rows)
    except (sa.exc.DBAPIError, psycopg.Error):
        db.session.expire_all()
        return False
    return True


def _push_item(ctx: PushContext, item: Item) -> dict:
    for attempt in (1, 2):
        try:
            with db.session.begin_nested():
                decided = core.push_item(item, _locked_snapshot(ctx, item), ctx.actor)
                if decided.effects:
                    effects.write(effects.rows(decided.effects, ctx.actor.now))
            ctx.stored(decided.effects)
            return decided.reply
        except (sa.exc.IntegrityError, sa.exc.OperationalError):
            # Another process stored the same submission or household at the same instant (or
            # two batches locked households in crossed order): decide again against what it
            # committed.
            db.session.expire_all()
            if attempt == 2:
                return _rejected(item.id, [{"path": "", "code": "retry",
                                            "message": "Stored concurrently by another request; send it again."}])
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- reading the snapshot


def _stored_many(ctx: PushContext, ids: list[uuid.UUID]) -> dict[uuid.UUID, core.SubmissionState]:
    """What is stored under each id (without answers), in two queries."""
    if not ids:
        return {}
    columns = (Submission.id, Submission.rev, Submission.household_id, Submission.form_id, Submission.form_version,
               Submission.area_code, Submission.enumerator_id, Submission.finished_at, Submission.received_at,
               Submission.started_at)
    rows = db.session.execute(sa.select(*columns).where(Submission.id.in_(set(ids)))).all()
    if not rows:
        return {}
    hashes: dict[uuid.UUID, dict[int, str]] = {}
    for sid, rev, chash in db.session.execute(
            sa.select(SubmissionRevision.submission_id, SubmissionRevision.rev, SubmissionRevision.content_hash)
            .where(SubmissionRevision.submission_id.in_([r.id for r in rows]))):
        hashes.setdefault(sid, {})[rev] = chash
    return {r.id: submission_state(ctx.scope, r, hashes.get(r.id, {}), answers=False) for r in rows}


def _locked_snapshot(ctx: PushContext, item: Item) -> core.Snapshot:
    """Everything the core may read for this item, read now, with the household row locked."""
    row = db.session.get(Submission, item.id, populate_existing=True)
    submission = None
    if row is not None:
        stored = db.session.execute(sa.select(SubmissionRevision.rev, SubmissionRevision.content_hash,
                                              SubmissionRevision.source)
                                    .where(SubmissionRevision.submission_id == item.id)).all()
        submission = submission_state(ctx.scope, row, {r.rev: r.content_hash for r in stored}, answers=True)
        by_phone = [r.rev for r in stored if r.source == "phone"]
        if by_phone and max(by_phone) != row.rev:  # corrected since the phone's last revision
            submission = replace(submission, phone_answers=db.session.execute(
                sa.select(SubmissionRevision.answers).where(SubmissionRevision.submission_id == item.id,
                                                            SubmissionRevision.rev == max(by_phone))).scalar_one())
    household_row = db.session.get(Household, item.household_id, with_for_update=True, populate_existing=True)
    household = year = None
    if household_row is not None:
        base = None
        if item.household_rev is not None and item.household_rev <= household_row.rev:
            base = db.session.execute(sa.select(HouseholdRevision.answers).where(
                HouseholdRevision.household_id == household_row.id,
                HouseholdRevision.rev == item.household_rev)).scalar_one_or_none()
        household = household_state(ctx.scope, household_row, base)
        review_year = core.year_of(item, ctx.form(item), ctx.actor)
        if review_year is not None:
            year = year_state(household_row.id, review_year)
    return replace(ctx.snapshot(item, submission), household=household, year=year)
