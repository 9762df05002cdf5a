"""Append entries to the audit log (in the caller's transaction).

An entry says where the change came from (request id, client address, the authenticated
caller). Services do not read the HTTP request for that: the HTTP layer states it on the unit of
work (``set_origin``, once per request, and again when the caller is authenticated) and every
entry written in that session carries it. Outside a request (the CLI) there is no origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from server.db import READ_ONLY, db, set_read_only
from server.models import AuditEntry, User

_ORIGIN_KEY = "rasoat.audit_origin"


@dataclass(frozen=True)
class Origin:
    """Where a unit of work's changes come from."""

    request_id: str | None = None
    client_address: str | None = None
    # The authenticated caller: the actor of an entry whose service names none.
    user: User | None = None


NO_ORIGIN = Origin()


def set_origin(session: Session, origin: Origin | None) -> None:
    """State (None: forget) the origin of what ``session`` writes from now on."""
    if origin is None:
        session.info.pop(_ORIGIN_KEY, None)
    else:
        session.info[_ORIGIN_KEY] = origin


def origin_of(session: Session) -> Origin:
    return session.info.get(_ORIGIN_KEY, NO_ORIGIN)


def record_read(action: str, *, target_type: str, target_id: object, area_code: str | None,
                **detail: Any) -> None:
    """Audit that the caller has just read personal data, and commit the entry at once.

    A read is audited after it succeeded (what was shown), in a transaction of its own: the
    read's transaction ends first (it wrote nothing), so that on SQLite the reads never held the
    write lock that the entry's short transaction takes (``BEGIN IMMEDIATE``, even in a GET
    request; see ``server.db.set_read_only``). Nothing the read loaded is expired by these
    commits (it is all still current), so the view renders it without reading it again.
    """
    session = db.session()
    read_only = session.execution_options.get(READ_ONLY, False)
    keep, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
        set_read_only(session, False)
        record(action, target_type=target_type, target_id=target_id, area_code=area_code, **detail)
        session.commit()
    finally:
        session.expire_on_commit = keep
        set_read_only(session, read_only)


def record(action: str, *, actor: User | None = None, target_type: str | None = None,
           target_id: object = None, area_code: str | None = None, **detail: Any) -> None:
    origin = origin_of(db.session())
    if actor is None:
        actor = origin.user
    db.session.add(AuditEntry(
        actor_id=actor.id if actor else None,
        actor_username=actor.username if actor else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        area_code=area_code,
        detail=detail,
        request_id=origin.request_id,
        client_address=origin.client_address,
    ))
