"""The phone's pull: form versions to download, households of its areas for prefill, and the
review outcomes of its user's submissions, as a resumable delta stream."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from server.db import db, utcnow
from server.errors import Problem
from server.models import Area, AreaSetting, Change, FormVersion, Household, Submission, User
from server.pagination import cursor_key
from server.scoping import scope_of
from server.services import changes
from server.services import forms as form_service
from server.services.areas import commune_of
from sync.cursors import CursorError, decode_cursor, encode_cursor

PURPOSE = "pull"
# Cursor layout: bumped when positions change meaning (v2: feed positions, not timestamps).
CURSOR_VERSION = 2


def _scope_fingerprint(user: User) -> str:
    roots = scope_of(user).roots
    return "*" if roots is None else hashlib.sha256(",".join(roots).encode()).hexdigest()[:16]


# --- the change feed ------------------------------------------------------------------------
#
# A position is (xid, seq) in the feed: everything at or before it was delivered (or was not the
# user's). Rows are read in commit order, below a horizon that no later commit can land under:
#
# - PostgreSQL: ``xid`` is the writing transaction's id. Every transaction with an id below the
#   snapshot's xmin has finished, and any transaction still running or yet to start has an id at
#   or above it, so rows with ``xid < xmin`` are complete and final: read them in (xid, seq)
#   order. A transaction that commits late holds xmin back until it ends, so its rows are read
#   after it commits, never skipped. Own rows: the snapshot's xmin counts the reading
#   transaction itself, so its own uncommitted rows would never be read; they are added
#   explicitly (tests run in one outer transaction; a real pull writes no feed rows). xids are
#   cluster-wide: a long transaction in any database of the cluster holds the horizon back.
# - SQLite: one writer at a time (the write lock is held from BEGIN IMMEDIATE to COMMIT), so
#   ``seq`` is commit order and every row up to the largest ``seq`` seen is complete (``xid`` 0).
#
# The horizon is read before the rows. Under READ COMMITTED the rows come from a later snapshot,
# which still holds every row below the horizon (those transactions had ended) and, by the
# filter, nothing above it: the page is a function of the horizon alone.


@dataclass(frozen=True)
class _Horizon:
    readable: sa.ColumnElement[bool]  # the feed rows this pull may deliver
    position: tuple[int, int]  # a cursor here has seen every readable row


def _horizon() -> _Horizon:
    if db.session.get_bind().dialect.name == "postgresql":
        xmin, own = db.session.execute(sa.text(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,"
            " pg_current_xact_id_if_assigned()::text::bigint")).one()
        readable = Change.xid < xmin if own is None else sa.or_(Change.xid < xmin, Change.xid == own)
        return _Horizon(readable, (xmin, 0))  # seq starts at 1: (xmin, 0) precedes xmin's rows
    last = db.session.execute(sa.select(sa.func.coalesce(sa.func.max(Change.seq), 0))).scalar_one()
    return _Horizon(Change.seq <= last, (0, last))


def _position(value) -> tuple[int, int] | None:
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(type(v) is int and 0 <= v < 2**63 for v in value)):
        raise CursorError("The cursor's position is not a feed position.")
    return value[0], value[1]


def _after(pos: tuple[int, int] | None) -> sa.ColumnElement[bool]:
    if pos is None:
        return sa.true()
    return sa.or_(Change.xid > pos[0], sa.and_(Change.xid == pos[0], Change.seq > pos[1]))


def _page(query: sa.Select, kind: str, pos, horizon: _Horizon, limit: int) -> tuple[list, tuple[int, int], bool]:
    """One page of ``query`` (selecting xid, seq, entity) over the feed rows of ``kind`` after
    ``pos``; returns the entities, the new position and whether more follow."""
    rows = db.session.execute(query.where(Change.kind == kind, horizon.readable, _after(pos))
                              .order_by(Change.xid, Change.seq).limit(limit + 1)).all()
    if len(rows) > limit:
        rows = rows[:limit]
        return [r[2] for r in rows], (rows[-1][0], rows[-1][1]), True
    # Not full: every readable row was scanned, the user's or not; move to the horizon so the next
    # pull starts there. (max: own rows of the pulling transaction lie beyond the horizon.)
    delivered = (rows[-1][0], rows[-1][1]) if rows else None
    return [r[2] for r in rows], max(p for p in (pos, delivered, horizon.position) if p is not None), False


def _forms(user: User) -> list[dict]:
    scope = scope_of(user)
    provinces = scope.provinces()
    rows = db.session.execute(sa.select(FormVersion).where(FormVersion.state != "draft")
                              .order_by(FormVersion.form_id, FormVersion.created_at)).scalars()
    out = []
    for row in rows:
        entry = {"form_id": row.form_id, "version": row.version, "state": row.state, "sha256": row.sha256,
                 "title": row.title, "url": f"/api/v1/forms/{row.form_id}/versions/{row.version}"}
        if row.state == "published":
            entry["parameters"] = form_service.effective_parameters(row, provinces[0] if len(provinces) == 1 else None)
            if len(provinces) > 1:
                entry["parameters_by_province"] = {p: form_service.effective_parameters(row, p) for p in provinces}
        out.append(entry)
    return out


def _areas(user: User) -> list[dict]:
    """The user's areas with whether each counts as rural or urban today (the phone prefills
    the form's area type from it; the server checks it on push)."""
    scope = scope_of(user)
    rows = db.session.execute(sa.select(Area).where(scope.clause(Area.code), Area.level != "province")
                              .order_by(Area.code)).scalars()
    today = utcnow().date()
    types = {code: area_type for code, area_type in db.session.execute(
        sa.select(AreaSetting.area_code, AreaSetting.area_type).where(
            scope.clause(AreaSetting.area_code) | AreaSetting.area_code.in_(scope.ancestors()),
            AreaSetting.valid_from <= today,
            sa.or_(AreaSetting.valid_to.is_(None), AreaSetting.valid_to > today)))}
    return [{"code": a.code, "name": a.name, "level": a.level, "parent": a.parent_code,
             "area_type": types.get(commune_of(a.code))} for a in rows]


def _household(h: Household) -> dict:
    return {"id": h.id, "area": h.area_code, "rev": h.rev, "household_code": h.household_code,
            "head_name": h.head_name, "classification": h.classification, "form_id": h.form_id,
            "form_version": h.form_version, "answers": h.answers, "updated_at": h.updated_at}


def _review(s: Submission) -> dict:
    return {"submission_id": s.id, "household_id": s.household_id, "rev": s.rev, "review_state": s.review_state,
            "comment": s.review_comment, "reviewed_at": s.reviewed_at}


def pull(user: User, cursor: str | None, limit: int) -> dict:
    cfg = current_app.config
    if cursor:
        try:
            state = decode_cursor(cursor, cursor_key(), purpose=PURPOSE, max_age=cfg["PULL_CURSOR_MAX_AGE_SECONDS"])
            if state.get("v") != CURSOR_VERSION:
                raise CursorError("The cursor was made by an older server.")
            if state.get("u") != str(user.id):
                raise CursorError("The cursor belongs to another user.")
            if state.get("s") != _scope_fingerprint(user):
                # New areas would never be delivered from an old position: start again.
                raise CursorError("Your areas changed since this cursor was made.")
            households_pos, reviews_pos = _position(state.get("h")), _position(state.get("r"))
        except (CursorError, KeyError, ValueError, TypeError, AttributeError) as exc:
            raise Problem("cursor.invalid", f"{exc} Pull again without a cursor.") from exc
    else:
        households_pos = reviews_pos = None
    horizon = _horizon()  # before the rows: see above
    scope = scope_of(user)

    # A household's feed row delivers its current state only while that state is the one the
    # row announced (same rev); an older row is skipped, the newer row delivers the newer state.
    households, households_pos, more_households = _page(
        sa.select(Change.xid, Change.seq, Household)
        .join(Household, sa.and_(Household.id == Change.entity_id, Household.rev == Change.rev))
        .where(scope.clause(Household.area_code)),
        changes.HOUSEHOLD, households_pos, horizon, limit)
    # Likewise a review row, while the submission still holds that outcome (same rev, same
    # decision time); a new revision from the phone clears the outcome.
    reviews, reviews_pos, more_reviews = _page(
        sa.select(Change.xid, Change.seq, Submission)
        .join(Submission, sa.and_(Submission.id == Change.entity_id, Submission.rev == Change.rev,
                                  Submission.reviewed_at == Change.created_at))
        .where(Change.user_id == user.id, Submission.enumerator_id == user.id, scope.clause(Submission.area_code)),
        changes.REVIEW, reviews_pos, horizon, limit)

    next_cursor = encode_cursor({"v": CURSOR_VERSION, "u": str(user.id), "s": _scope_fingerprint(user),
                                 "h": list(households_pos), "r": list(reviews_pos)},
                                cursor_key(), purpose=PURPOSE)
    return {"changes": {"forms": _forms(user), "areas": _areas(user), "households": [_household(h) for h in households],
                        "reviews": [_review(s) for s in reviews]},
            "next_cursor": next_cursor, "has_more": more_households or more_reviews, "server_time": utcnow()}
