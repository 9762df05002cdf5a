"""The phone's pull: form versions to download, households of its areas for prefill, and the
review outcomes of its user's submissions, as a resumable delta stream."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import sqlalchemy as sa
from flask import current_app

from server.db import db, utcnow
from server.errors import Problem
from server.models import Area, AreaSetting, FormVersion, Household, Submission, User
from server.pagination import cursor_key
from server.scoping import scope_of
from server.services import forms as form_service
from server.services.areas import commune_of
from sync.cursors import CursorError, decode_cursor, encode_cursor

PURPOSE = "pull"


def _scope_fingerprint(user: User) -> str:
    roots = scope_of(user).roots
    return "*" if roots is None else hashlib.sha256(",".join(roots).encode()).hexdigest()[:16]


def _position(value) -> tuple[dt.datetime, uuid.UUID] | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value[0]), uuid.UUID(value[1])


def _encode(pos: tuple[dt.datetime, uuid.UUID] | None):
    return [pos[0].isoformat(), str(pos[1])] if pos else None


def _after(columns: tuple, pos) -> sa.ColumnElement[bool]:
    if pos is None:
        return sa.true()
    ts_col, id_col = columns
    return sa.or_(ts_col > pos[0], sa.and_(ts_col == pos[0], id_col > pos[1]))


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
            if state.get("u") != str(user.id):
                raise CursorError("The cursor belongs to another user.")
            if state.get("s") != _scope_fingerprint(user):
                # New areas would never be delivered from an old position: start again.
                raise CursorError("Your areas changed since this cursor was made.")
            households_pos, reviews_pos = _position(state.get("h")), _position(state.get("r"))
        except (CursorError, KeyError, ValueError, TypeError) as exc:
            raise Problem("cursor.invalid", f"{exc} Pull again without a cursor.") from exc
    else:
        households_pos = reviews_pos = None
    # Read only what committed a little while ago, so a transaction that commits late (with an
    # earlier timestamp) is never skipped by a cursor that has moved past it.
    upper = utcnow() - dt.timedelta(seconds=cfg["PULL_SAFETY_SECONDS"])
    scope = scope_of(user)

    households = db.session.execute(
        sa.select(Household)
        .where(scope.clause(Household.area_code), Household.updated_at <= upper,
               _after((Household.updated_at, Household.id), households_pos))
        .order_by(Household.updated_at, Household.id).limit(limit + 1)
    ).scalars().all()
    reviews = db.session.execute(
        sa.select(Submission)
        .where(Submission.enumerator_id == user.id, Submission.reviewed_at.is_not(None),
               Submission.reviewed_at <= upper, scope.clause(Submission.area_code),
               _after((Submission.reviewed_at, Submission.id), reviews_pos))
        .order_by(Submission.reviewed_at, Submission.id).limit(limit + 1)
    ).scalars().all()

    has_more = len(households) > limit or len(reviews) > limit
    households, reviews = households[:limit], reviews[:limit]
    if households:
        households_pos = (households[-1].updated_at, households[-1].id)
    if reviews:
        reviews_pos = (reviews[-1].reviewed_at, reviews[-1].id)
    next_cursor = encode_cursor({"u": str(user.id), "s": _scope_fingerprint(user), "h": _encode(households_pos),
                                 "r": _encode(reviews_pos)},
                                cursor_key(), purpose=PURPOSE)
    return {"changes": {"forms": _forms(user), "areas": _areas(user), "households": [_household(h) for h in households],
                        "reviews": [_review(s) for s in reviews]},
            "next_cursor": next_cursor, "has_more": has_more, "server_time": utcnow()}
