"""Which enumerator visits a household (what their phone pulls: ``server/services/pull.py``)."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.db import UTCDateTime, db, utcnow


class HouseholdAssignment(db.Model):
    """A household assigned to one enumerator by a supervisor or an admin.

    ``area_code`` is the household's area when it was assigned: an area holding any assignment
    is *assigning*, and its enumerators' phones receive only their assigned households and those
    they created (``server.services.assignments``).
    """

    __tablename__ = "household_assignments"

    household_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("households.id"), primary_key=True)
    enumerator_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    area_code: Mapped[str] = mapped_column(sa.ForeignKey("areas.code"), index=True)
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    assigned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
