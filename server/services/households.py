"""Reading households and submissions, always within the caller's areas."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from forms.answers import evaluate_submission
from forms.reasons import explain
from server.db import db
from server.errors import Problem, invalid
from server.models import (
    Conflict,
    FormVersion,
    Household,
    HouseholdRevision,
    HouseholdYear,
    Submission,
    SubmissionAttachment,
    SubmissionRevision,
)
from server.pagination import Page, paginate
from server.scoping import Scope, province_of
from server.services import attachments as attachment_service
from server.services import audit
from server.services import forms as form_service
from server.text import fold
from sync import core
from sync.merge import diff


def list_households(scope: Scope, *, area: str | None, classification: str | None, q: str | None,
                    cursor: str | None, limit: int) -> Page:
    query = sa.select(Household).where(scope.clause(Household.area_code))
    if area:
        query = query.where(Scope((area,)).clause(Household.area_code))
    if classification:
        query = query.where(Household.classification == classification)
    if q:
        folded = fold(q)
        query = query.where(sa.or_(Household.head_name_folded.contains(folded, autoescape=True),
                                   Household.household_code == q.strip()))
    return paginate(query, key=Household.id, cursor=cursor, limit=limit, purpose="households")


def get_household(scope: Scope, household_id: uuid.UUID) -> dict:
    household = db.session.execute(sa.select(Household).where(
        Household.id == household_id, scope.clause(Household.area_code))).scalar_one_or_none()
    if household is None:
        raise Problem("request.not_found", "No such household in your areas.")
    revisions = db.session.execute(sa.select(HouseholdRevision).where(
        HouseholdRevision.household_id == household_id).order_by(HouseholdRevision.rev)).scalars().all()
    years = db.session.execute(sa.select(HouseholdYear).where(
        HouseholdYear.household_id == household_id).order_by(HouseholdYear.year)).scalars().all()
    submissions = db.session.execute(sa.select(Submission).where(
        Submission.household_id == household_id).order_by(Submission.received_at)).scalars().all()
    conflicts = db.session.execute(sa.select(Conflict).where(
        Conflict.household_id == household_id, Conflict.status == "open").order_by(Conflict.created_at)).scalars().all()
    audit.record_read("household.read", target_type="household", target_id=household.id,
                      area_code=household.area_code, rev=household.rev)
    return {"household": household, "revisions": revisions, "years": years, "submissions": submissions,
            "conflicts": conflicts}


def get_submission(scope: Scope, submission_id: uuid.UUID) -> dict:
    submission = db.session.execute(sa.select(Submission).where(
        Submission.id == submission_id, scope.clause(Submission.area_code))).scalar_one_or_none()
    if submission is None:
        raise Problem("request.not_found", "No such submission in your areas.")
    revisions = db.session.execute(sa.select(SubmissionRevision).where(
        SubmissionRevision.submission_id == submission_id).order_by(SubmissionRevision.rev)).scalars().all()
    attachments = db.session.execute(sa.select(SubmissionAttachment).where(
        SubmissionAttachment.submission_id == submission_id).order_by(SubmissionAttachment.name)).scalars().all()
    # Received: the caller can open it (its enumerator, or another in the caller's areas, uploaded
    # it); a hash that was only declared, or uploaded elsewhere, is not.
    received = attachment_service.readable(scope, {a.sha256 for a in attachments})
    audit.record_read("submission.read", target_type="submission", target_id=submission.id,
                      area_code=submission.area_code, rev=submission.rev)
    return {"submission": submission, "revisions": revisions, "reasons": explain_revision(submission, revisions[-1]),
            "attachments": [{"name": a.name, "sha256": a.sha256, "size": a.size, "received": a.sha256 in received}
                            for a in attachments]}


def explain_revision(submission: Submission, revision: SubmissionRevision) -> dict:
    """Why the revision got its class (``forms.reasons.explain``), from exactly what it was computed
    with: its form version, the parameter set and the visit date its provenance names."""
    version = db.session.execute(sa.select(FormVersion).where(
        FormVersion.form_id == submission.form_id, FormVersion.version == revision.form_version)).scalar_one()
    record = revision.provenance or {}
    override = record.get("parameter_set")
    if record:
        parameters = form_service.parameters_at(version, override and override["province"],
                                                override and override["revision"])
        on = dt.date.fromisoformat(record["visit_date"])
    else:  # stored before provenance was recorded: the parameters as they are now
        parameters = form_service.effective_parameters(version, province_of(submission.area_code))
        on = core.visit_date(revision.finished_at or revision.received_at)
    definition = form_service.definition_of(version)
    result = evaluate_submission(definition, revision.answers, parameters=parameters, today=on)
    return explain(definition, result, parameters)


def revision_diff(scope: Scope, submission_id: uuid.UUID, from_rev: int, to_rev: int) -> list[dict]:
    """What changed between two stored revisions of a submission, field by field, with roster
    members matched by the form's instance key."""
    submission = db.session.execute(sa.select(Submission).where(
        Submission.id == submission_id, scope.clause(Submission.area_code))).scalar_one_or_none()
    if submission is None:
        raise Problem("request.not_found", "No such submission in your areas.")
    found = dict(db.session.execute(sa.select(SubmissionRevision.rev, SubmissionRevision.answers).where(
        SubmissionRevision.submission_id == submission_id, SubmissionRevision.rev.in_((from_rev, to_rev)))).all())
    for name, rev in (("from", from_rev), ("to", to_rev)):
        if rev not in found:
            raise invalid(name, "unknown_revision", f"Revision {rev} of this submission is not stored.")
    version = db.session.execute(sa.select(FormVersion).where(
        FormVersion.form_id == submission.form_id, FormVersion.version == submission.form_version)).scalar_one()
    keys = form_service.definition_of(version).instance_keys
    changes = [{"path": c.path, "before": c.before, "after": c.after}
               for c in diff(found[from_rev], found[to_rev], keyed_repeats=keys)]
    audit.record_read("submission.diff_read", target_type="submission", target_id=submission.id,
                      area_code=submission.area_code, revs=[from_rev, to_rev])
    return changes
