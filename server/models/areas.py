from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.db import UTCDateTime, db, utcnow

AREA_LEVELS = ("province", "commune", "village")


class Area(db.Model):
    """Province -> commune -> village.

    Codes are hierarchical so that scoping is a prefix test: province ``01``, commune
    ``01-00004`` (official statistics-office codes), village ``01-00004-v03`` (chosen by
    admins). ``name_folded`` is the accent- and case-folded name for search (SQLite's
    lower()/LIKE are ASCII-only).
    """

    __tablename__ = "areas"

    code: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(sa.ForeignKey("areas.code"), index=True)
    level: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(200))
    name_folded: Mapped[str] = mapped_column(sa.String(200), index=True)
    official_code: Mapped[str | None] = mapped_column(sa.String(16))
    division_type: Mapped[str | None] = mapped_column(sa.String(40))
    valid_from: Mapped[dt.date | None] = mapped_column(sa.Date)
    valid_to: Mapped[dt.date | None] = mapped_column(sa.Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("level in ('province', 'commune', 'village')", name="level"),)


class AreaSetting(db.Model):
    """Whether a commune counts as rural or urban, for a period (it changes with reorganisations)."""

    __tablename__ = "area_settings"

    area_code: Mapped[str] = mapped_column(sa.ForeignKey("areas.code", ondelete="CASCADE"), primary_key=True)
    valid_from: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    valid_to: Mapped[dt.date | None] = mapped_column(sa.Date)
    area_type: Mapped[str] = mapped_column(sa.String(8))

    __table_args__ = (sa.CheckConstraint("area_type in ('rural', 'urban')", name="area_type"),)
