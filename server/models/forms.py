from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.db import JSONType, UTCDateTime, db, new_id, utcnow

VERSION_STATES = ("draft", "published", "closed")


class FormVersion(db.Model):
    """One version of a form: draft (editable) -> published (immutable bytes) -> closed.

    ``canonical`` holds the exact bytes served to phones; ``sha256`` of them is the strong ETag.
    """

    __tablename__ = "form_versions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    form_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    version: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16), default="draft")
    title: Mapped[dict] = mapped_column(JSONType, default=dict)
    canonical: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("form_id", "version", name="uq_form_versions_form_id_version"),
        sa.CheckConstraint("state in ('draft', 'published', 'closed')", name="state"),
    )


class ParameterSet(db.Model):
    """A province's override of a published version's parameters; every change is a new revision."""

    __tablename__ = "parameter_sets"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    form_version_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("form_versions.id"), index=True)
    province_code: Mapped[str] = mapped_column(sa.ForeignKey("areas.code"))
    revision: Mapped[int] = mapped_column(sa.Integer)
    parameters: Mapped[dict] = mapped_column(JSONType)
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("form_version_id", "province_code", "revision",
                            name="uq_parameter_sets_version_province_revision"),
    )
