"""Attachment bytes: content-addressed, verified, and belonging to submissions.

Who may read a file
    Anyone whose areas hold a submission that lists the file, provided that submission's
    enumerator uploaded the bytes (an ``attachment_uploads`` row). Declaring a hash in a
    submission is not holding the file: an enumerator of another commune who lists someone
    else's hash gains nothing, and a reader who may not read a file gets the same 404 as for a
    hash nobody ever uploaded. Every read is audited (``attachment.read``).

What a push counts as arrived (``missing_attachments``)
    A file the pushing user uploaded, or one they may read as above; never "someone somewhere
    uploaded these bytes", so a push does not reveal that a file exists: a phone that never
    sent the photo is told to upload it, and uploading proves it holds the bytes.

An upload (``PUT``)
    The bytes are hashed as they arrive (into a temporary file) and checked before anything
    else: 422 whether or not the file is stored. Their type is read from the bytes (JPEG, PNG,
    WebP, PDF: ``sync.media``) and must be the declared ``Content-Type`` (415 otherwise). 201
    when this user had not uploaded the file before, 200 when they had: the answer never depends
    on other users' uploads. Uploads that no submission of their user lists count against a
    quota per user and device (413 ``attachment.quota_exceeded``) and expire
    (``rasoat attachments prune``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app

from server.db import db, utcnow
from server.errors import Problem, field_error, invalid
from server.models import Attachment, AttachmentUpload, Submission, SubmissionAttachment, User
from server.scoping import Scope
from server.services import audit
from server.storage import CHUNK, storage
from sync.limits import ATTACHMENT_TYPES, MAX_ATTACHMENT_BYTES
from sync.media import IMAGE_TYPES, SNIFF_BYTES, sniff

# Uploads are spooled in memory up to this size, then to a temporary file.
SPOOL_BYTES = 1024 * 1024


def max_bytes() -> int:
    return current_app.config.get("MAX_ATTACHMENT_BYTES") or MAX_ATTACHMENT_BYTES


# --------------------------------------------------------------------------- who holds, who reads


def _listed_by_uploader():
    """Submissions listing the file whose enumerator uploaded it (correlated to an upload)."""
    return (sa.select(SubmissionAttachment.sha256)
            .join(Submission, Submission.id == SubmissionAttachment.submission_id)
            .where(SubmissionAttachment.sha256 == AttachmentUpload.sha256,
                   Submission.enumerator_id == AttachmentUpload.user_id))


def _readable(scope: Scope, hashes: Iterable[str]):
    """(sha256, submission id, area) of submissions in scope through which a file may be read."""
    return (sa.select(SubmissionAttachment.sha256, Submission.id, Submission.area_code)
            .join(Submission, Submission.id == SubmissionAttachment.submission_id)
            .join(AttachmentUpload, sa.and_(AttachmentUpload.sha256 == SubmissionAttachment.sha256,
                                             AttachmentUpload.user_id == Submission.enumerator_id))
            .where(SubmissionAttachment.sha256.in_(list(hashes)), scope.clause(Submission.area_code)))


def readable(scope: Scope, hashes: Iterable[str]) -> set[str]:
    """The files among ``hashes`` that a reader with this scope may read."""
    hashes = set(hashes)
    if not hashes:
        return set()
    return set(db.session.execute(_readable(scope, hashes).with_only_columns(SubmissionAttachment.sha256)
                                  .distinct()).scalars())


def present_for(user: User, scope: Scope, hashes: Iterable[str]) -> frozenset[str]:
    """The files among ``hashes`` this user has shown to hold: uploaded them, or may read them.

    The user's own upload rows are read ``FOR SHARE`` (PostgreSQL), so that ``prune`` cannot
    delete one between this read and the push's commit: a file reported as arrived stays.
    """
    hashes = set(hashes)
    if not hashes:
        return frozenset()
    mine = set(db.session.execute(
        sa.select(AttachmentUpload.sha256)
        .where(AttachmentUpload.user_id == user.id, AttachmentUpload.sha256.in_(hashes))
        .with_for_update(read=True)).scalars())
    rest = hashes - mine
    return frozenset(mine | (readable(scope, rest) if rest else set()))


# --------------------------------------------------------------------------- upload


@dataclass(frozen=True)
class Received:
    file: BinaryIO
    sha256: str
    size: int
    head: bytes


@contextmanager
def _receive(stream: BinaryIO, limit: int) -> Iterator[Received]:
    """The whole body in a temporary file, hashed as it arrives; 413 beyond ``limit``."""
    digest, size, head = hashlib.sha256(), 0, b""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise Problem("request.too_large", f"Attachments are limited to {limit} bytes.", limit_bytes=limit)
            digest.update(chunk)
            if len(head) < SNIFF_BYTES:
                head += chunk[:SNIFF_BYTES - len(head)]
            spool.write(chunk)
        spool.seek(0)
        yield Received(spool, digest.hexdigest(), size, head)  # type: ignore[arg-type]


def put_attachment(user: User, device_id: str | None, sha256: str, stream: BinaryIO, content_type: str,
                   length: int | None) -> bool:
    """Store the bytes for this user; True when they had not uploaded them before (201)."""
    limit = max_bytes()
    if length is not None and length > limit:
        raise Problem("request.too_large", f"Attachments are limited to {limit} bytes.", limit_bytes=limit)
    # End the transaction that authentication opened: on SQLite it holds the write lock, which no
    # one else should wait for while a phone on a slow link sends ten megabytes.
    db.session.commit()
    with _receive(stream, limit) as body:
        if body.sha256 != sha256:
            raise invalid("sha256", "hash_mismatch",
                          f"The bytes do not match the hash in the URL (they hash to {body.sha256}).")
        kind = sniff(body.head)
        if kind is None:
            message = f"The bytes are not one of {', '.join(ATTACHMENT_TYPES)}."
            raise Problem("request.unsupported_media_type", message,
                          errors=[field_error("body", "unrecognised_type", message)])
        if kind != content_type:
            message = f"The bytes are {kind}, not {content_type}: send them with Content-Type {kind}."
            raise Problem("request.unsupported_media_type", message,
                          errors=[field_error("body", "type_mismatch", message)], detected=kind)
        # One user's uploads one after the other (PostgreSQL; SQLite serialises writers anyway),
        # so that two at once cannot both squeeze under the quota.
        db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
        if db.session.get(AttachmentUpload, (sha256, user.id)) is not None:
            if not storage().exists(sha256):  # lost on disk: the same bytes put it back
                storage().put(sha256, body.file, max_bytes=limit)
            db.session.commit()
            return False
        _check_quota(user, device_id, sha256, body.size)
        for attempt in (1, 2):
            try:
                with db.session.begin_nested():
                    created = _record_upload(user, device_id, sha256, body.size, kind)
                break
            except sa.exc.IntegrityError:
                # ``prune`` removed the file's row between our insert and the upload's foreign
                # key check: insert it again.
                if attempt == 2:
                    raise
        # The bytes go in after the rows: ``prune`` deletes a file only under the lock of its row,
        # so it cannot remove what this upload is about to commit.
        storage().put(sha256, body.file, max_bytes=limit)
        db.session.commit()
        return created


def _record_upload(user: User, device_id: str | None, sha256: str, size: int, kind: str) -> bool:
    now = utcnow()
    db.session.execute(_insert_ignore(Attachment, ["sha256"], dict(
        sha256=sha256, size=size, content_type=kind, uploaded_by=user.id, created_at=now)))
    stmt = _insert_ignore(AttachmentUpload, ["sha256", "user_id"], dict(
        sha256=sha256, user_id=user.id, device_id=device_id, size=size, created_at=now))
    # RETURNING, not rowcount: SQLAlchemy 2.1 reports rowcount -1 for a PostgreSQL INSERT (truthy).
    return db.session.execute(stmt.returning(AttachmentUpload.sha256)).first() is not None


def _insert_ignore(model, keys: list[str], values: dict):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model).values(**values).on_conflict_do_nothing(index_elements=keys)


def quota_bytes() -> int:
    return int(current_app.config["ATTACHMENT_QUOTA_BYTES"])


def unreferenced_bytes(user_id, device_id: str | None) -> int:
    """Bytes this user uploaded from this device (or with none) that none of their submissions lists."""
    device = AttachmentUpload.device_id.is_(None) if device_id is None else AttachmentUpload.device_id == device_id
    total = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(AttachmentUpload.size), 0))
        .where(AttachmentUpload.user_id == user_id, device, ~_listed_by_uploader().exists())).scalar_one()
    return int(total)  # PostgreSQL sums a bigint as numeric (Decimal)


def _check_quota(user: User, device_id: str | None, sha256: str, size: int) -> None:
    listed = db.session.execute(
        sa.select(SubmissionAttachment.sha256).join(Submission, Submission.id == SubmissionAttachment.submission_id)
        .where(SubmissionAttachment.sha256 == sha256, Submission.enumerator_id == user.id).limit(1)).first()
    if listed is not None:
        return  # a file the user's pushed submissions wait for is always welcome
    quota, used = quota_bytes(), unreferenced_bytes(user.id, device_id)
    if used + size > quota:
        raise Problem("attachment.quota_exceeded",
                      f"This device holds {used} bytes of uploads that no pushed submission lists; with these "
                      f"{size} it would pass its {quota}. Push the submissions first, then upload what they miss.",
                      quota_bytes=quota, unreferenced_bytes=used)


# --------------------------------------------------------------------------- download


@dataclass(frozen=True)
class Download:
    stream: BinaryIO
    content_type: str  # from the bytes; application/octet-stream for bytes stored before the check
    inline: bool  # an image a browser may show; anything else is a download


def open_attachment(scope: Scope, sha256: str) -> Download:
    """The bytes, if a submission within scope lists them and its enumerator uploaded them."""
    via = db.session.execute(_readable(scope, [sha256]).order_by(Submission.id).limit(1)).first()
    if via is None or not storage().exists(sha256):
        raise Problem("request.not_found", "No such attachment in your areas.")
    # The type is read from one stream and the bytes are sent from another: seeking a buffered
    # file back inside its buffer moves no descriptor offset, and gunicorn's sendfile() starts
    # from the descriptor's offset (every download through gunicorn lost its first 4 KiB).
    with storage().open(sha256) as probe:
        kind = sniff(probe.read(SNIFF_BYTES))
    audit.record_read("attachment.read", target_type="attachment", target_id=sha256, area_code=via.area_code,
                      submission_id=str(via.id))
    return Download(storage().open(sha256), kind or "application/octet-stream", kind in IMAGE_TYPES)


# --------------------------------------------------------------------------- expiry


def prune(older_than_days: int, now: dt.datetime | None = None) -> dict:
    """Delete uploads older than ``older_than_days`` that no submission of their uploader lists,
    and the files no upload is left for. Each in its own transaction, under the row's lock."""
    cutoff = (now or utcnow()) - dt.timedelta(days=older_than_days)
    candidates = db.session.execute(
        sa.select(AttachmentUpload.sha256, AttachmentUpload.user_id)
        .where(AttachmentUpload.created_at < cutoff, ~_listed_by_uploader().exists())).all()
    db.session.commit()
    uploads = files = freed = 0
    for sha256, user_id in candidates:
        upload = db.session.execute(
            sa.select(AttachmentUpload).where(AttachmentUpload.sha256 == sha256, AttachmentUpload.user_id == user_id,
                                              ~_listed_by_uploader().exists())
            .with_for_update()).scalar_one_or_none()
        if upload is None:  # listed or gone since
            db.session.commit()
            continue
        db.session.delete(upload)
        db.session.flush()
        uploads += 1
        if _delete_file_if_unheld(sha256):
            files += 1
            freed += upload.size
        db.session.commit()
    return {"uploads": uploads, "files": files, "bytes": freed}


def _delete_file_if_unheld(sha256: str) -> bool:
    row = db.session.execute(sa.select(Attachment).where(Attachment.sha256 == sha256).with_for_update()
                             ).scalar_one_or_none()
    if row is None:
        return False
    held = db.session.execute(sa.select(AttachmentUpload.user_id).where(AttachmentUpload.sha256 == sha256)
                              .limit(1)).first()
    if held is not None:
        return False
    db.session.delete(row)
    db.session.flush()
    storage().delete(sha256)
    return True
