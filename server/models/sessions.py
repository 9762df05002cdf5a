from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.db import UTCDateTime, db, new_id, utcnow


class AuthSession(db.Model):
    """One login: a family of rotating refresh tokens; access tokens carry its id (``sid``).

    Revoking the session (logout, refresh-token reuse, device revoked, user deactivated)
    ends every token of the family at once, access tokens included.
    """

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str | None] = mapped_column(sa.ForeignKey("devices.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))


class RefreshToken(db.Model):
    """A refresh token, stored as its SHA-256; usable once (and again within the grace window,
    for the same answer: ``successor_sealed``)."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The pair its use issued, sealed under this token (server.security.tokens.seal_successor):
    # a retry within the grace window gets it back. Cleared at the family's next rotation.
    successor_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)


class LoginThrottle(db.Model):
    """Failed logins per key (``user:NAME`` or ``addr:IP``) in the current window.

    Kept in the database so the limit holds across gunicorn workers and hosts.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
