"""Supervisors' decisions: reviewing submissions and resolving merge conflicts."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import sqlalchemy as sa

from server.db import db, utcnow
from server.errors import Problem, invalid
from server.models import Conflict, FormVersion, Household, Submission, SubmissionReview, User
from server.pagination import Page, paginate
from server.scoping import Scope
from server.services import audit, changes, effects
from server.services.evaluation import Evaluators
from server.services.snapshots import household_state
from sync import core

ACTIONS = {"approve": "approved", "reject": "rejected", "request_changes": "changes_requested"}


def submission_etag(submission: Submission) -> str:
    """Changes whenever the submission does (a new revision from the phone, a review)."""
    stamp = f"{submission.id}|{submission.rev}|{submission.review_state}|{submission.updated_at.isoformat()}"
    return hashlib.sha256(stamp.encode()).hexdigest()[:32]


def require_etag(submission: Submission, if_match: list[str] | None) -> None:
    """A supervisor's change applies to the submission as they read it (412 otherwise, 428 without If-Match)."""
    if if_match is None:
        raise Problem("request.precondition_required",
                      "Send If-Match with the submission's ETag (from GET /submissions/{id}).")
    current = submission_etag(submission)
    if current not in if_match and "*" not in if_match:
        raise Problem("request.precondition_failed",
                      "The submission changed since you read it; read it again before deciding.",
                      headers={"ETag": f'"{current}"'})


def scoped_submission(scope: Scope, submission_id: uuid.UUID, *, lock: bool = False) -> Submission:
    query = sa.select(Submission).where(Submission.id == submission_id, scope.clause(Submission.area_code))
    if lock:
        query = query.with_for_update()
    submission = db.session.execute(query).scalar_one_or_none()
    if submission is None:
        raise Problem("request.not_found", "No such submission in your areas.")
    return submission


def review(scope: Scope, reviewer: User, submission_id: uuid.UUID, *, action: str, comment: str | None,
           if_match: list[str] | None) -> Submission:
    if action != "approve" and not (comment or "").strip():
        raise invalid("comment", "required", "Say what is wrong or what to change.")
    submission = _decide(scope, reviewer, submission_id, action=action, comment=comment, if_match=if_match)
    db.session.commit()
    return submission


def review_many(scope: Scope, reviewer: User, *, action: str, comment: str | None,
                items: list[tuple[uuid.UUID, str]]) -> list[dict]:
    """One decision on many submissions, each against the ETag it was read with: an item that
    changed meanwhile (412) or is not in the reviewer's areas (404) is refused alone, the others
    are decided. One commit."""
    if action != "approve" and not (comment or "").strip():
        raise invalid("comment", "required", "Say what is wrong or what to change.")
    results = []
    for submission_id, etag in items:
        try:
            with db.session.begin_nested():
                submission = _decide(scope, reviewer, submission_id, action=action, comment=comment,
                                     if_match=[etag])
            results.append({"id": submission_id, "status": 200, "review_state": submission.review_state,
                            "etag": submission_etag(submission)})
        except Problem as exc:
            results.append({"id": submission_id, "status": exc.status, "code": exc.code, "detail": exc.detail,
                            **({"etag": exc.headers["ETag"].strip('"')} if "ETag" in (exc.headers or {}) else {})})
    db.session.commit()
    return results


def _decide(scope: Scope, reviewer: User, submission_id: uuid.UUID, *, action: str, comment: str | None,
            if_match: list[str] | None) -> Submission:
    submission = scoped_submission(scope, submission_id, lock=True)
    require_etag(submission, if_match)
    now = utcnow()
    submission.review_state = ACTIONS[action]
    submission.review_comment = (comment or "").strip() or None
    submission.reviewed_at = submission.updated_at = now
    db.session.add(SubmissionReview(submission_id=submission.id, rev=submission.rev, action=action,
                                    state=submission.review_state, comment=submission.review_comment,
                                    reviewer_id=reviewer.id, created_at=now))
    changes.record([changes.review_row(submission.id, submission.rev, submission.enumerator_id, submission.area_code,
                                       at=now)])
    audit.record(f"submission.{action}", actor=reviewer, target_type="submission", target_id=submission.id,
                 area_code=submission.area_code, rev=submission.rev, comment=submission.review_comment)
    return submission


def review_history(submission_id: uuid.UUID) -> list[SubmissionReview]:
    return list(db.session.execute(sa.select(SubmissionReview).where(SubmissionReview.submission_id == submission_id)
                                   .order_by(SubmissionReview.created_at)).scalars())


# --- the conflict queue ---------------------------------------------------------------------

def list_conflicts(scope: Scope, *, status: str | None, area: str | None, cursor: str | None, limit: int) -> Page:
    query = sa.select(Conflict).where(scope.clause(Conflict.area_code))
    if status:
        query = query.where(Conflict.status == status)
    if area:
        query = query.where(Scope((area,)).clause(Conflict.area_code))
    return paginate(query, key=Conflict.id, cursor=cursor, limit=limit, purpose="conflicts")


def get_conflict(scope: Scope, conflict_id: uuid.UUID, *, lock: bool = False) -> Conflict:
    query = sa.select(Conflict).where(Conflict.id == conflict_id, scope.clause(Conflict.area_code))
    if lock:
        query = query.with_for_update()
    conflict = db.session.execute(query).scalar_one_or_none()
    if conflict is None:
        raise Problem("request.not_found", "No such conflict in your areas.")
    return conflict


def resolve(scope: Scope, supervisor: User, conflict_id: uuid.UUID, *, choices: dict[str, Any],
            comment: str | None) -> tuple[Conflict, Household]:
    """Apply the supervisor's choice for every conflicting field (``sync.core.resolve_conflict``):
    a new household revision, recomputed at the conflicting visit's date."""
    conflict = get_conflict(scope, conflict_id, lock=True)
    if conflict.status != "open":
        raise Problem("conflict.resolved", "This conflict was already resolved.")
    household = db.session.get(Household, conflict.household_id, with_for_update=True, populate_existing=True)
    visit = db.session.execute(sa.select(Submission.finished_at, Submission.received_at)
                               .where(Submission.id == conflict.submission_id)).one()
    version = db.session.execute(sa.select(FormVersion).where(
        FormVersion.form_id == household.form_id, FormVersion.version == household.form_version)).scalar_one()
    try:
        decided = core.resolve_conflict(
            {"id": conflict.id, "fields": conflict.fields, "household_rev": conflict.household_rev}, choices, comment,
            household.id, household_state(scope, household), Evaluators().of(version, household.area_code),
            visit.finished_at or visit.received_at, area_code=household.area_code, form_id=household.form_id,
            form_version=household.form_version, resolved_by=str(supervisor.id))
    except core.Refused as exc:
        raise Problem("request.invalid", str(exc), errors=exc.errors) from exc
    effects.write(effects.rows(decided.effects, utcnow()))
    [resolved] = [e for e in decided.effects if isinstance(e, core.ConflictResolved)]
    audit.record("conflict.resolve", actor=supervisor, target_type="conflict", target_id=conflict.id,
                 area_code=conflict.area_code, household_id=str(household.id), chosen=resolved.chosen)
    db.session.commit()
    return (db.session.get(Conflict, conflict.id, populate_existing=True),
            db.session.get(Household, household.id, populate_existing=True))
