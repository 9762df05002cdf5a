"""Comments on a submission: the commune's notes to its reviewers and back, audited."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from server.db import db, utcnow
from server.errors import invalid
from server.models import SubmissionComment, User
from server.scoping import Scope
from server.services import audit
from server.services.reviews import scoped_submission

MAX_COMMENT = 2000


def list_comments(scope: Scope, submission_id: uuid.UUID) -> list[SubmissionComment]:
    scoped_submission(scope, submission_id)
    return list(db.session.execute(sa.select(SubmissionComment).where(SubmissionComment.submission_id == submission_id)
                                   .order_by(SubmissionComment.created_at, SubmissionComment.id)).scalars())


def add_comment(scope: Scope, author: User, submission_id: uuid.UUID, body: str) -> SubmissionComment:
    submission = scoped_submission(scope, submission_id)
    text = body.strip()
    if not text:
        raise invalid("body", "required", "Write the comment.")
    if len(text) > MAX_COMMENT:
        raise invalid("body", "too_long", f"At most {MAX_COMMENT} characters.")
    comment = SubmissionComment(submission_id=submission.id, rev=submission.rev, author_id=author.id, body=text,
                                created_at=utcnow())
    db.session.add(comment)
    db.session.flush()
    audit.record("submission.comment", actor=author, target_type="submission", target_id=submission.id,
                 area_code=submission.area_code, rev=submission.rev, comment_id=str(comment.id))
    db.session.commit()
    return comment
