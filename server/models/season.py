"""The commune's review season (Decision 24/2021/QĐ-TTg): the village meeting on each proposed
household, complaints, and the commune's decision that closes the year."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.db import UTCDateTime, db, new_id, utcnow


class VillageMeeting(db.Model):
    """The village meeting's vote on one household's proposed class (≥ 50 % of those present must
    agree, or the household is surveyed again)."""

    __tablename__ = "village_meetings"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    household_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("households.id"), index=True)
    year: Mapped[int] = mapped_column(sa.Integer)
    submission_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)  # the visit the meeting voted on
    area_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    held_on: Mapped[dt.date] = mapped_column(sa.Date)
    present: Mapped[int] = mapped_column(sa.Integer)
    agreeing: Mapped[int] = mapped_column(sa.Integer)
    agreed: Mapped[bool] = mapped_column(sa.Boolean)
    recorded_by: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Complaint(db.Model):
    """A household's complaint about its class, received and then resolved with an outcome."""

    __tablename__ = "complaints"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    household_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("households.id"), index=True)
    year: Mapped[int] = mapped_column(sa.Integer)
    area_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    received_on: Mapped[dt.date] = mapped_column(sa.Date)
    text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")  # open | resolved
    outcome: Mapped[str | None] = mapped_column(sa.String(16))  # upheld | rejected
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CommuneDecision(db.Model):
    """The commune chair's recognition decision: it closes the commune's review year. An admin may
    reopen it (recorded here and audited); a reopened decision no longer closes the year."""

    __tablename__ = "commune_decisions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    commune_code: Mapped[str] = mapped_column(sa.ForeignKey("areas.code"), index=True)
    year: Mapped[int] = mapped_column(sa.Integer)
    number: Mapped[str] = mapped_column(sa.String(64))  # e.g. 123/QĐ-UBND
    decided_on: Mapped[dt.date] = mapped_column(sa.Date)
    recorded_by: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reopened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reopened_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    reopen_reason: Mapped[str | None] = mapped_column(sa.Text)
