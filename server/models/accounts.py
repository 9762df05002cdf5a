from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import UTCDateTime, db, new_id, utcnow

ROLES = ("admin", "supervisor", "enumerator")


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    # Stored NFC + casefolded: logins are case-insensitive and accent-exact.
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    area_links: Mapped[list[UserArea]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin", order_by="UserArea.area_code"
    )

    __table_args__ = (sa.CheckConstraint("role in ('admin', 'supervisor', 'enumerator')", name="role"),)

    @property
    def area_codes(self) -> list[str]:
        return [link.area_code for link in self.area_links]


class UserArea(db.Model):
    """An assignment of a user to an area; the user sees that area and everything below it."""

    __tablename__ = "user_areas"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    area_code: Mapped[str] = mapped_column(sa.ForeignKey("areas.code"), primary_key=True, index=True)

    user: Mapped[User] = relationship(back_populates="area_links")
