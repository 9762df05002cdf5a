"""Supervisors' decisions: reviewing submissions and resolving merge conflicts."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import sqlalchemy as sa

from forms.answers import evaluate_submission
from server.db import db, utcnow
from server.errors import Problem, invalid
from server.models import Conflict, FormVersion, Household, HouseholdRevision, Submission, SubmissionReview, User
from server.pagination import Page, paginate
from server.scoping import Scope, province_of
from server.services import audit
from server.services import forms as form_service
from sync.resolve import PathError, set_path

ACTIONS = {"approve": "approved", "reject": "rejected", "request_changes": "changes_requested"}


def submission_etag(submission: Submission) -> str:
    """Changes whenever the submission does (a new revision from the phone, a review)."""
    stamp = f"{submission.id}|{submission.rev}|{submission.review_state}|{submission.updated_at.isoformat()}"
    return hashlib.sha256(stamp.encode()).hexdigest()[:32]


def _scoped_submission(scope: Scope, submission_id: uuid.UUID, *, lock: bool = False) -> Submission:
    query = sa.select(Submission).where(Submission.id == submission_id, scope.clause(Submission.area_code))
    if lock:
        query = query.with_for_update()
    submission = db.session.execute(query).scalar_one_or_none()
    if submission is None:
        raise Problem("request.not_found", "No such submission in your areas.")
    return submission


def review(scope: Scope, reviewer: User, submission_id: uuid.UUID, *, action: str, comment: str | None,
           if_match: list[str] | None) -> Submission:
    submission = _scoped_submission(scope, submission_id, lock=True)
    if not if_match:
        raise Problem("request.precondition_required",
                      "Send If-Match with the submission's ETag (from GET /submissions/{id}).")
    current = submission_etag(submission)
    if current not in if_match and "*" not in if_match:
        raise Problem("request.precondition_failed",
                      "The submission changed since you read it; read it again before deciding.",
                      headers={"ETag": f'"{current}"'})
    if action != "approve" and not (comment or "").strip():
        raise invalid("comment", "required", "Say what is wrong or what to change.")
    now = utcnow()
    submission.review_state = ACTIONS[action]
    submission.review_comment = (comment or "").strip() or None
    submission.reviewed_at = submission.updated_at = now
    db.session.add(SubmissionReview(submission_id=submission.id, rev=submission.rev, action=action,
                                    state=submission.review_state, comment=submission.review_comment,
                                    reviewer_id=reviewer.id, created_at=now))
    audit.record(f"submission.{action}", actor=reviewer, target_type="submission", target_id=submission.id,
                 area_code=submission.area_code, rev=submission.rev, comment=submission.review_comment)
    db.session.commit()
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
    """Apply the supervisor's choice for every conflicting field; a new household revision."""
    conflict = get_conflict(scope, conflict_id, lock=True)
    if conflict.status != "open":
        raise Problem("conflict.resolved", "This conflict was already resolved.")
    by_path = {f["path"]: f for f in conflict.fields}
    errors = [{"path": f"choices/{p}", "code": "unknown_path", "message": "Not a field of this conflict."}
              for p in choices if p not in by_path]
    errors += [{"path": f"choices/{p}", "code": "required", "message": "Choose current, incoming or a value."}
               for p in by_path if p not in choices]
    if errors:
        raise Problem("request.invalid", errors[0]["message"], errors=errors)

    household = db.session.get(Household, conflict.household_id, with_for_update=True, populate_existing=True)
    answers = household.answers
    chosen: dict[str, Any] = {}
    try:
        for path, choice in choices.items():
            if choice == "current":
                continue  # the record already holds the current value
            value = by_path[path]["incoming"] if choice == "incoming" else choice["value"]
            chosen[path] = value
            answers = set_path(answers, path, value)
    except PathError as exc:
        raise invalid(f"choices/{path}", "unknown_path", f"Cannot apply: {exc}") from exc

    version = db.session.execute(sa.select(FormVersion).where(
        FormVersion.form_id == household.form_id, FormVersion.version == household.form_version)).scalar_one()
    result = evaluate_submission(form_service.definition_of(version), answers,
                                 parameters=form_service.effective_parameters(version, province_of(household.area_code)),
                                 today=utcnow().date())
    if result.errors:
        raise Problem("request.invalid", "The chosen values do not make a valid household.",
                      errors=[{**e.to_dict(), "path": f"answers/{e.path}"} for e in result.errors])
    now = utcnow()
    household.rev += 1
    household.answers = result.answers
    household.classification = result.outputs.get("classification") or household.classification
    household.updated_at = now
    db.session.add(HouseholdRevision(household_id=household.id, rev=household.rev, answers=result.answers,
                                     submission_id=None, submission_rev=None, base_rev=conflict.household_rev,
                                     merged=True, created_at=now))
    conflict.status, conflict.resolved_by, conflict.resolved_at = "resolved", supervisor.id, now
    conflict.resolution = {"choices": choices, "comment": (comment or "").strip() or None,
                           "household_rev": household.rev}
    audit.record("conflict.resolve", actor=supervisor, target_type="conflict", target_id=conflict.id,
                 area_code=conflict.area_code, household_id=str(household.id), chosen=chosen)
    db.session.commit()
    return conflict, household
