from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.db import UTCDateTime, db, utcnow


class Device(db.Model):
    """A phone, identified by an id it chose itself.

    The id belongs to the user who registered it (the first login with it); other users are
    refused until an admin or supervisor *releases* it (a shared phone handed to a new village
    head). A released device keeps its last owner until the next login with it registers it
    again. Revoking it (a lost phone) ends all its sessions for good.
    """

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
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
