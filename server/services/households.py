"""Reading households and submissions, always within the caller's areas."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from server.db import db
from server.errors import Problem
from server.models import (
    Attachment,
    Conflict,
    Household,
    HouseholdRevision,
    HouseholdYear,
    Submission,
    SubmissionAttachment,
    SubmissionRevision,
)
from server.pagination import Page, paginate
from server.scoping import Scope
from server.text import fold


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
    return {"household": household, "revisions": revisions, "years": years, "submissions": submissions,
            "conflicts": conflicts}


def list_submissions(scope: Scope, *, form_id: str | None, status: str | None, area: str | None,
                     classification: str | None, year: int | None, q: str | None, cursor: str | None,
                     limit: int) -> Page:
    query = sa.select(Submission).where(scope.clause(Submission.area_code))
    if form_id:
        query = query.where(Submission.form_id == form_id)
    if status:
        query = query.where(Submission.review_state == status)
    if area:
        query = query.where(Scope((area,)).clause(Submission.area_code))
    if classification:
        query = query.where(Submission.classification == classification)
    if year:
        query = query.where(Submission.year == year)
    if q:
        folded = fold(q)
        query = query.where(sa.or_(Submission.head_name_folded.contains(folded, autoescape=True),
                                   Submission.household_code == q.strip()))
    return paginate(query, key=Submission.id, cursor=cursor, limit=limit, purpose="submissions")


def get_submission(scope: Scope, submission_id: uuid.UUID) -> dict:
    submission = db.session.execute(sa.select(Submission).where(
        Submission.id == submission_id, scope.clause(Submission.area_code))).scalar_one_or_none()
    if submission is None:
        raise Problem("request.not_found", "No such submission in your areas.")
    revisions = db.session.execute(sa.select(SubmissionRevision).where(
        SubmissionRevision.submission_id == submission_id).order_by(SubmissionRevision.rev)).scalars().all()
    attachments = db.session.execute(
        sa.select(SubmissionAttachment, Attachment.sha256.is_not(None).label("received"))
        .outerjoin(Attachment, Attachment.sha256 == SubmissionAttachment.sha256)
        .where(SubmissionAttachment.submission_id == submission_id)
        .order_by(SubmissionAttachment.name)).all()
    return {"submission": submission, "revisions": revisions,
            "attachments": [{"name": a.name, "sha256": a.sha256, "size": a.size, "received": bool(received)}
                            for a, received in attachments]}
