"""Append entries to the audit log (in the caller's transaction).

An entry says where the change came from (request id, client address, the authenticated
caller). Services do not read the HTTP request for that: the HTTP layer states it on the unit of
work (``set_origin``, once per request, and again when the caller is authenticated) and every
entry written in that session carries it. Outside a request (the CLI) there is no origin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.db import READ_ONLY, db, set_read_only
from server.models import AuditEntry, User, UserArea
from server.pagination import Page, paginate, paginate_sorted
from server.scoping import Scope
from sync.cursors import CursorError

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


def visible_entries(scope: Scope, *, action: str | None = None, actor: str | None = None,
                    area: str | None = None, since: dt.datetime | None = None,
                    until: dt.datetime | None = None) -> sa.Select:
    """The entries an admin with ``scope`` may read, filtered: a provincial admin sees the entries
    about areas within theirs and those made by users of their areas. ``action`` is an exact
    action, or a prefix ending in a dot (``season.``); ``actor`` a username; ``area`` keeps the
    entries about that area and what lies below it; ``since``/``until`` bound the entry's time
    (``until`` excluded)."""
    query = sa.select(AuditEntry)
    if not scope.is_national:
        actors_inside = sa.select(UserArea.user_id).where(scope.clause(UserArea.area_code))
        query = query.where(sa.or_(scope.clause(AuditEntry.area_code), AuditEntry.actor_id.in_(actors_inside)))
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True) if action.endswith(".")
                            else AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor_username == actor.strip().lower())
    if area:
        query = query.where(Scope((area,)).clause(AuditEntry.area_code))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    return query


def list_entries(scope: Scope, *, cursor: str | None, limit: int, newest_first: bool = False,
                 **filters: Any) -> Page:
    """A page of ``visible_entries``, oldest first (the API's order) or newest first (the console's)."""
    query = visible_entries(scope, **filters)
    if not newest_first:
        return paginate(query, key=AuditEntry.id, cursor=cursor, limit=limit, purpose="audit")
    return paginate_sorted(query, sort=AuditEntry.id, descending=True, key=AuditEntry.id, parse_sort=_entry_id,
                           dump_sort=int, cursor=cursor, limit=limit, purpose="audit-newest")


def _entry_id(value: Any) -> int:
    if type(value) is int and 0 <= value < 2**63:
        return value
    raise CursorError("The cursor's position is not an entry.")
