"""The phone's batch push: every item decided by ``sync/``, validated by ``forms/``, stored in
its own savepoint, so one bad item never blocks the rest and a retry changes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate

from forms.answers import evaluate_submission
from server.db import db, utcnow
from server.errors import Problem, _flatten_messages
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
from server.scoping import Scope, scope_of
from server.services import forms as form_service
from server.text import fold
from sync.decisions import Outcome, StoredSubmission, decide
from sync.identity import content_hash
from sync.merge import merge_household

VIETNAM = dt.timezone(dt.timedelta(hours=7))
SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="64 lower-case hex digits")


class AttachmentIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    sha256 = fields.String(required=True, validate=SHA256)
    size = fields.Integer(load_default=None, validate=validate.Range(min=0))


class SubmissionIn(Schema):
    id = fields.UUID(required=True)
    form_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    form_version = fields.String(required=True, validate=validate.Length(min=1, max=64))
    area = fields.String(required=True, validate=validate.Length(min=1, max=64))
    household_id = fields.UUID(required=True)
    household_rev = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    rev = fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000))
    started_at = fields.AwareDateTime(load_default=None, allow_none=True)
    finished_at = fields.AwareDateTime(load_default=None, allow_none=True)
    answers = fields.Dict(keys=fields.String(), required=True)
    attachments = fields.List(fields.Nested(AttachmentIn), load_default=list, validate=validate.Length(max=50))


_item_schema = SubmissionIn()


@dataclass
class PushContext:
    user: User
    scope: Scope
    device_id: str | None
    now: dt.datetime
    versions: dict[tuple[str, str], FormVersion | None] = field(default_factory=dict)
    areas: dict[str, Area | None] = field(default_factory=dict)


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


def _stored(submission_id: uuid.UUID) -> tuple[Submission | None, StoredSubmission | None]:
    row = db.session.get(Submission, submission_id, populate_existing=True)
    if row is None:
        return None, None
    hashes = dict(db.session.execute(sa.select(SubmissionRevision.rev, SubmissionRevision.content_hash)
                                     .where(SubmissionRevision.submission_id == submission_id)).all())
    return row, StoredSubmission(current_rev=row.rev, revisions=hashes, household_id=str(row.household_id),
                                 form_id=row.form_id)


def missing_attachments(submission_id: uuid.UUID) -> list[str]:
    rows = db.session.execute(
        sa.select(SubmissionAttachment.sha256)
        .outerjoin(Attachment, Attachment.sha256 == SubmissionAttachment.sha256)
        .where(SubmissionAttachment.submission_id == submission_id, Attachment.sha256.is_(None))
        .order_by(SubmissionAttachment.sha256)
    ).scalars()
    return list(rows)


def push(user: User, device_id: str | None, submissions: list[Any], pending: dict | None,
         app_version: str | None) -> dict:
    now = utcnow()
    session_device = getattr(_current_session(), "device_id", None)
    if session_device is not None and device_id != session_device:
        raise Problem("request.invalid", "device_id is not the device this session was opened on.",
                      errors=_error("device_id", "device_mismatch", "Not this session's device."))
    ctx = PushContext(user=user, scope=scope_of(user), device_id=device_id, now=now)
    results = [_push_item(ctx, raw) for raw in submissions]
    _touch_device(ctx, pending, app_version)
    db.session.commit()
    return {"results": results, "server_time": now}


def _current_session():
    from flask import g

    return g.get("auth_session")


def _touch_device(ctx: PushContext, pending: dict | None, app_version: str | None) -> None:
    if ctx.device_id is None:
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


def _push_item(ctx: PushContext, raw: Any) -> dict:
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    try:
        item = _item_schema.load(raw)
    except ValidationError as exc:
        return _rejected(raw_id, _flatten_messages(exc.messages))
    for attempt in (1, 2):
        try:
            with db.session.begin_nested():
                return _store_item(ctx, item, raw)
        except sa.exc.IntegrityError:
            # Another process stored the same submission or household at the same instant:
            # decide again against what it committed.
            db.session.expire_all()
            if attempt == 2:
                return _rejected(item["id"], _error("", "retry", "Stored concurrently by another request; "
                                                            "send it again."))
    raise AssertionError("unreachable")


def _store_item(ctx: PushContext, item: dict, raw: dict) -> dict:
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
    if version.state == "closed":
        return _rejected(sid, _error("form_version", "form_version_closed",
                                     f"Version {item['form_version']!r} is closed and takes no new submissions."))

    chash = content_hash(raw)
    row, stored = _stored(sid)
    if row is not None and not ctx.scope.covers(row.area_code):
        return _rejected(sid, _error("id", "outside_scope", "This submission belongs to another area."))
    decision = decide(stored, rev=item["rev"], content_hash=chash, household_id=str(item["household_id"]),
                      form_id=item["form_id"])
    if decision.outcome is Outcome.DUPLICATE:
        return {"id": str(sid), "status": "duplicate", "rev": item["rev"], "missing_attachments": missing_attachments(sid)}
    if decision.outcome is Outcome.CONFLICT:
        return {"id": str(sid), "status": "conflict", "rev": stored.current_rev,
                "detail": decision.detail or "Same id and rev with different content."}
    if decision.outcome is Outcome.REJECTED:
        return _rejected(sid, _error({"stale_revision": "rev", "form_mismatch": "form_id"}.get(decision.code or "", "household_id"),
                                     decision.code or "rejected", decision.detail or "Rejected."))

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

    definition = form_service.definition_of(version)
    finished = item["finished_at"] or ctx.now
    result = evaluate_submission(definition, item["answers"],
                                 parameters=form_service.effective_parameters(version, area.code.split("-")[0]),
                                 today=finished.astimezone(VIETNAM).date())
    if result.errors:
        return _rejected(sid, [e.to_dict() | {"path": f"answers/{e.path}" if e.path else "answers"}
                               for e in result.errors])
    declared = {a["sha256"] for a in item["attachments"]}
    undeclared = sorted(set(result.attachments) - declared)
    if undeclared:
        return _rejected(sid, _error("attachments", "undeclared_attachment",
                                     f"Answers refer to attachments not listed: {', '.join(undeclared)}."))

    outputs = dict(result.outputs)
    year = finished.astimezone(VIETNAM).year
    # Household first: the submission references it.
    # An edit of a submission starts from that submission's previous answers (what the phone
    # had); a new visit starts from the household revision the phone pulled.
    edit_base = row.answers if row is not None else None
    household, conflicts = _merge_into_household(ctx, household, item, result.answers, outputs, year, area,
                                                 edit_base=edit_base, keys=definition.instance_keys)
    _write_submission(ctx, row, item, chash, result, outputs, year, area)
    conflict_id = _queue_conflict(ctx, household, item, area, conflicts)
    household_rev = household.rev
    out = {"id": str(sid), "status": "accepted", "rev": item["rev"],
           "missing_attachments": missing_attachments(sid), "household_rev": household_rev,
           "outputs": _public_outputs(outputs)}
    if conflict_id is not None:
        out["conflict_id"] = str(conflict_id)
    return out


def _public_outputs(outputs: dict) -> dict:
    return {k: v for k, v in outputs.items() if k in {"classification", "deprivation_count", "income_per_person",
                                                      "deprivations"}}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value == value else None


def _write_submission(ctx, row, item, chash, result, outputs, year, area) -> None:
    sid = item["id"]
    values = dict(
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
    if row is None:
        db.session.add(Submission(id=sid, received_at=ctx.now, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    db.session.add(SubmissionRevision(
        submission_id=sid, rev=item["rev"], content_hash=chash, form_version=item["form_version"],
        answers=result.answers, computed=dict(result.computed), household_rev_base=item["household_rev"],
        source="phone", user_id=ctx.user.id, device_id=ctx.device_id, started_at=item["started_at"],
        finished_at=item["finished_at"], received_at=ctx.now))
    db.session.execute(sa.delete(SubmissionAttachment).where(SubmissionAttachment.submission_id == sid))
    for att in {a["sha256"]: a for a in item["attachments"]}.values():
        db.session.add(SubmissionAttachment(submission_id=sid, sha256=att["sha256"], name=att["name"],
                                            size=att["size"]))


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


def _merge_into_household(ctx, household, item, answers, outputs, year, area, *, edit_base, keys):
    """Create or merge the household record; returns it and the merge's conflicts."""
    sid, base_rev = item["id"], item["household_rev"]
    conflicts = ()
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
        # base None: two phones created the same household; no common ancestor.
        merge = merge_household(base, household.answers, answers, keyed_repeats=keys)
        merged_answers, merged = merge.answers, not merge.fast_forward
        household.rev += 1
        household.answers = merged_answers
        household.form_id, household.form_version = item["form_id"], item["form_version"]
        household.area_code = area.code
        conflicts = merge.conflicts
    household.household_code = str(outputs.get("household_code") or "") or household.household_code
    head = outputs.get("head_name")
    if head:
        household.head_name, household.head_name_folded = str(head), fold(str(head))
    household.classification = outputs.get("classification") or household.classification
    household.updated_at = ctx.now
    db.session.flush()
    db.session.add(HouseholdRevision(household_id=household.id, rev=household.rev, answers=merged_answers,
                                     submission_id=sid, submission_rev=item["rev"], base_rev=base_rev,
                                     merged=merged, created_at=ctx.now))
    year_row = db.session.get(HouseholdYear, (household.id, year))
    if year_row is None:
        year_row = HouseholdYear(household_id=household.id, year=year, submission_id=sid, area_code=area.code)
        db.session.add(year_row)
    year_row.submission_id, year_row.area_code, year_row.updated_at = sid, area.code, ctx.now
    year_row.classification = outputs.get("classification") or None
    count = _number(outputs.get("deprivation_count"))
    year_row.deprivation_count = int(count) if count is not None else None
    year_row.income_per_person = _number(outputs.get("income_per_person"))
    return household, conflicts
