"""Households, submissions with their revisions, attachments, and the conflict queue."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.db import HistoryJSON, JSONType, UTCDateTime, db, new_id, utcnow

REVIEW_STATES = ("received", "approved", "rejected", "changes_requested")


class Household(db.Model):
    """One record per household across years: the latest merged answers at revision ``rev``."""

    __tablename__ = "households"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)  # chosen by the phone
    area_code: Mapped[str] = mapped_column(sa.ForeignKey("areas.code"), index=True)
    rev: Mapped[int] = mapped_column(sa.Integer)
    answers: Mapped[dict] = mapped_column(JSONType)
    form_id: Mapped[str] = mapped_column(sa.String(64))
    form_version: Mapped[str] = mapped_column(sa.String(64))
    household_code: Mapped[str | None] = mapped_column(sa.Text, index=True)
    head_name: Mapped[str | None] = mapped_column(sa.Text)
    head_name_folded: Mapped[str | None] = mapped_column(sa.Text, index=True)
    classification: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HouseholdRevision(db.Model):
    """Every state the household record went through, and which submission made it."""

    __tablename__ = "household_revisions"

    household_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("households.id"), primary_key=True)
    rev: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    answers: Mapped[dict] = mapped_column(HistoryJSON)
    submission_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    submission_rev: Mapped[int | None] = mapped_column(sa.Integer)
    base_rev: Mapped[int | None] = mapped_column(sa.Integer)
    merged: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HouseholdYear(db.Model):
    """The household's classification in one review year (the year's latest visit)."""

    __tablename__ = "household_years"

    household_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("households.id"), primary_key=True)
    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    # The visit that holds the row: the year's latest visit by this time, not by arrival.
    visit_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    area_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    classification: Mapped[str | None] = mapped_column(sa.Text)
    deprivation_count: Mapped[int | None] = mapped_column(sa.BigInteger)
    income_per_person: Mapped[float | None] = mapped_column(sa.Float)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the quality flags of the village's other submissions compare with this counted visit
    # (sync.quality, docs/quality.md): a usable location, the folded head name with birth year,
    # a digest of the head's ID number (indexed: duplicates are looked up across areas).
    gps_lat: Mapped[float | None] = mapped_column(sa.Float)
    gps_lon: Mapped[float | None] = mapped_column(sa.Float)
    head_key: Mapped[str | None] = mapped_column(sa.Text)
    head_id_key: Mapped[str | None] = mapped_column(sa.String(32), index=True)


class Submission(db.Model):
    """A filled form as last revised; its history is in ``submission_revisions``."""

    __tablename__ = "submissions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)  # chosen by the phone
    household_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("households.id"), index=True)
    form_id: Mapped[str] = mapped_column(sa.String(64))
    form_version: Mapped[str] = mapped_column(sa.String(64))
    area_code: Mapped[str] = mapped_column(sa.ForeignKey("areas.code"), index=True)
    rev: Mapped[int] = mapped_column(sa.Integer)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    answers: Mapped[dict] = mapped_column(JSONType)
    computed: Mapped[dict] = mapped_column(JSONType)
    year: Mapped[int] = mapped_column(sa.Integer)
    classification: Mapped[str | None] = mapped_column(sa.Text)
    deprivation_count: Mapped[int | None] = mapped_column(sa.BigInteger)
    income_per_person: Mapped[float | None] = mapped_column(sa.Float)
    household_code: Mapped[str | None] = mapped_column(sa.Text)
    head_name_folded: Mapped[str | None] = mapped_column(sa.Text)
    enumerator_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(sa.String(64))
    review_state: Mapped[str] = mapped_column(sa.String(20), default="received")
    review_comment: Mapped[str | None] = mapped_column(sa.Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Quality flags, own and relative, in sync.quality.FLAGS order (docs/quality.md).
    flags: Mapped[list] = mapped_column(JSONType, default=list, server_default=sa.text("'[]'"))

    __table_args__ = (
        sa.CheckConstraint("review_state in ('received', 'approved', 'rejected', 'changes_requested')",
                           name="review_state"),
        sa.Index("ix_submissions_received_at_id", "received_at", "id"),  # the queue's default order
        # The queue's flag filter (PostgreSQL: flags @> '["gps_far"]' through GIN). Most
        # submissions carry no flag, so the index holds only those that do; on SQLite (a plain
        # index there) it narrows the filter's json_each scan to the flagged rows.
        sa.Index("ix_submissions_flags", "flags", postgresql_using="gin", postgresql_ops={"flags": "jsonb_path_ops"},
                 postgresql_where=sa.text("flags <> '[]'::jsonb"), sqlite_where=sa.text("flags <> '[]'")),
    )


class SubmissionRevision(db.Model):
    """Exactly what arrived for one (submission, rev), with the server's computed values."""

    __tablename__ = "submission_revisions"

    submission_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("submissions.id"), primary_key=True)
    rev: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    form_version: Mapped[str] = mapped_column(sa.String(64))
    answers: Mapped[dict] = mapped_column(HistoryJSON)
    computed: Mapped[dict] = mapped_column(HistoryJSON)
    household_rev_base: Mapped[int | None] = mapped_column(sa.Integer)
    source: Mapped[str] = mapped_column(sa.String(16), default="phone")  # phone | supervisor
    user_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    device_id: Mapped[str | None] = mapped_column(sa.String(64))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    # What the computed values came from: form version and sha256, the province's parameter-set
    # revision, the visit date and the review year (``sync.core.provenance``). None before 0009.
    provenance: Mapped[dict | None] = mapped_column(HistoryJSON)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(db.Model):
    """A file's bytes, content-addressed (stored by ``server.storage``)."""

    __tablename__ = "attachments"

    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    content_type: Mapped[str] = mapped_column(sa.String(100))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)  # the first uploader
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AttachmentUpload(db.Model):
    """One user has sent a file's bytes (from one device, or none): proof that they hold the file.

    A submission's reference to a file counts only when the submission's enumerator uploaded it
    (``server/services/attachments.py``): declaring a hash is not holding the file. An upload no
    submission of its user refers to counts against the device's quota and expires.
    """

    __tablename__ = "attachment_uploads"

    sha256: Mapped[str] = mapped_column(sa.ForeignKey("attachments.sha256"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), primary_key=True, index=True)
    device_id: Mapped[str | None] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubmissionAttachment(db.Model):
    """An attachment a submission names; complete when every one has arrived."""

    __tablename__ = "submission_attachments"

    submission_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("submissions.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True, index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)


class Conflict(db.Model):
    """Fields two visits changed differently: kept for a supervisor, never silently resolved."""

    __tablename__ = "conflicts"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    household_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("households.id"), index=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("submissions.id"))
    submission_rev: Mapped[int] = mapped_column(sa.Integer)
    area_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    base_rev: Mapped[int | None] = mapped_column(sa.Integer)
    household_rev: Mapped[int] = mapped_column(sa.Integer)
    fields: Mapped[list] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    resolution: Mapped[dict | None] = mapped_column(JSONType)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubmissionReview(db.Model):
    """Every review decision on a submission (the submission row keeps the latest)."""

    __tablename__ = "submission_reviews"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    submission_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("submissions.id"), index=True)
    rev: Mapped[int] = mapped_column(sa.Integer)
    action: Mapped[str] = mapped_column(sa.String(20))
    state: Mapped[str] = mapped_column(sa.String(20))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    reviewer_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Change(db.Model):
    """The change feed that pull reads: one row per household revision or review outcome.

    Rows are read in commit order: on PostgreSQL by ``(xid, seq)`` below the oldest running
    transaction (``xid`` is the writing transaction's id, set by the column default), on SQLite
    by ``seq`` alone (``xid`` 0; writers are serialised, so ``seq`` is commit order).
    """

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    xid: Mapped[int] = mapped_column(sa.BigInteger, server_default=sa.FetchedValue())  # see 0006
    kind: Mapped[str] = mapped_column(sa.String(16))  # household | review | assignment
    entity_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    rev: Mapped[int] = mapped_column(sa.Integer)
    area_code: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)  # reviews: the enumerator told
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.Index("ix_changes_xid_seq", "xid", "seq"),
        # Pull asks whether a household has a later assignment row; household rows (one per
        # revision, the bulk of the feed) stay out of this index.
        sa.Index("ix_changes_assignment", "entity_id", "xid", "seq",
                 postgresql_where=sa.text("kind = 'assignment'"), sqlite_where=sa.text("kind = 'assignment'")),
    )


class SubmissionComment(db.Model):
    """A note on a submission between the commune and its reviewers (a review's comment is on the
    review itself; these are the conversation around it)."""

    __tablename__ = "submission_comments"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    submission_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("submissions.id"), index=True)
    rev: Mapped[int] = mapped_column(sa.Integer)  # the revision it was written about
    author_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
