from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.db import UTCDateTime, db, utcnow


class Device(db.Model):
    """A phone, identified by an id it chose itself; revoking it ends all its sessions."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    app_version: Mapped[str | None] = mapped_column(sa.String(40))
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sync_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    pending_submissions: Mapped[int | None] = mapped_column(sa.Integer)
    pending_attachments: Mapped[int | None] = mapped_column(sa.Integer)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
