"""A supervisor's correction of a submission's answers: a new revision (source ``correction``)
decided by ``sync.core.correct``, validated and recomputed at the visit's date as a pushed one
is, merged into the household, audited. The review state stays as it was."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from server.db import db, utcnow
from server.errors import Problem
from server.models import FormVersion, Household, Submission, SubmissionAttachment, SubmissionRevision, User
from server.scoping import Scope
from server.services import audit, effects, quality, season
from server.services.areas import commune_of
from server.services.evaluation import Evaluators
from server.services.reviews import require_etag, scoped_submission
from server.services.snapshots import household_state, submission_state, year_state
from sync import core
from sync.items import Attachment


def correct(scope: Scope, supervisor: User, submission_id: uuid.UUID, *, answers: dict[str, Any], reason: str,
            if_match: list[str] | None) -> Submission:
    submission = scoped_submission(scope, submission_id, lock=True)
    require_etag(submission, if_match)
    revisions = dict(db.session.execute(sa.select(SubmissionRevision.rev, SubmissionRevision.content_hash)
                                        .where(SubmissionRevision.submission_id == submission.id)).all())
    base_rev = db.session.execute(sa.select(SubmissionRevision.household_rev_base).where(
        SubmissionRevision.submission_id == submission.id, SubmissionRevision.rev == submission.rev)).scalar_one()
    attachments = tuple(Attachment(a.name, a.sha256, a.size) for a in db.session.execute(
        sa.select(SubmissionAttachment).where(SubmissionAttachment.submission_id == submission.id)).scalars())
    household = db.session.get(Household, submission.household_id, with_for_update=True, populate_existing=True)
    version = db.session.execute(sa.select(FormVersion).where(
        FormVersion.form_id == submission.form_id, FormVersion.version == submission.form_version)).scalar_one()
    visit_at = submission.finished_at or submission.received_at
    evaluator = Evaluators().of(version, submission.area_code)
    year = core.review_year(evaluator, core.visit_date(visit_at))
    snapshot = core.Snapshot(
        area="ok", form=core.FormState(version.state, evaluator),
        year_closed=season.year_closed(commune_of(submission.area_code), year),
        submission=replace(submission_state(scope, submission, revisions, answers=True),
                           household_rev_base=base_rev, attachments=attachments),
        household=household_state(scope, household),
        year=year_state(household.id, year))
    now = utcnow()
    try:
        limits = quality.thresholds()
        decided = core.correct(submission.id, answers, reason, snapshot,
                               core.Actor(str(supervisor.id), None, now, thresholds=limits))
    except core.YearClosed as exc:
        raise Problem("season.closed", str(exc)) from exc
    except core.Refused as exc:
        raise Problem("request.invalid", str(exc), errors=exc.errors) from exc
    effects.write(effects.rows(decided.effects, now))
    quality.flag_relative([quality.target_of(e) for e in decided.effects if isinstance(e, core.SubmissionWrite)],
                          limits)
    audit.record("submission.correct", actor=supervisor, target_type="submission", target_id=submission.id,
                 area_code=submission.area_code, rev=decided.reply["rev"], reason=reason.strip(),
                 fields=sorted(answers))
    db.session.commit()
    return db.session.get(Submission, submission.id, populate_existing=True)
