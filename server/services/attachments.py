"""Attachment bytes: content-addressed, verified, idempotent."""

from __future__ import annotations

from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app

from server.db import db, utcnow
from server.errors import Problem, invalid
from server.models import Attachment, Submission, SubmissionAttachment, User
from server.scoping import Scope
from server.storage import HashMismatch, TooLarge, storage
from sync.limits import ATTACHMENT_TYPES, MAX_ATTACHMENT_BYTES


def max_bytes() -> int:
    return current_app.config.get("MAX_ATTACHMENT_BYTES") or MAX_ATTACHMENT_BYTES


def put_attachment(user: User, sha256: str, stream: BinaryIO, content_type: str, length: int | None) -> bool:
    """Store the bytes; True when new (201), False when already had (200)."""
    if content_type not in ATTACHMENT_TYPES:
        raise Problem("request.unsupported_media_type",
                      f"Attachments must be one of {', '.join(sorted(ATTACHMENT_TYPES))}.")
    limit = max_bytes()
    if length is not None and length > limit:
        raise Problem("request.too_large", f"Attachments are limited to {limit} bytes.", limit_bytes=limit)
    if db.session.get(Attachment, sha256) is not None and storage().exists(sha256):
        stream.read()  # drain what the client sent; we already have it
        return False
    try:
        size = storage().put(sha256, stream, max_bytes=limit)
    except HashMismatch as exc:
        raise invalid("sha256", "hash_mismatch", f"The bytes do not match the hash in the URL ({exc}).") from exc
    except TooLarge as exc:
        raise Problem("request.too_large", f"Attachments are limited to {limit} bytes.", limit_bytes=limit) from exc
    stmt = _insert_ignore(dict(sha256=sha256, size=size, content_type=content_type, uploaded_by=user.id,
                               created_at=utcnow()))
    # RETURNING, not rowcount: SQLAlchemy 2.1 reports rowcount -1 for a PostgreSQL INSERT (truthy),
    # which made every uploader racing on the same file answer 201.
    inserted = db.session.execute(stmt.returning(Attachment.sha256)).first() is not None
    db.session.commit()
    return bool(inserted)


def _insert_ignore(values: dict):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(Attachment).values(**values).on_conflict_do_nothing(index_elements=["sha256"])


def open_attachment(scope: Scope, sha256: str) -> tuple[Attachment, BinaryIO]:
    """The bytes, if a submission within scope refers to them."""
    visible = db.session.execute(
        sa.select(SubmissionAttachment.sha256)
        .join(Submission, Submission.id == SubmissionAttachment.submission_id)
        .where(SubmissionAttachment.sha256 == sha256, scope.clause(Submission.area_code)).limit(1)
    ).first()
    row = db.session.get(Attachment, sha256)
    if visible is None or row is None or not storage().exists(sha256):
        raise Problem("request.not_found", "No such attachment in your areas.")
    return row, storage().open(sha256)
