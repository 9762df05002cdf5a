"""The phone's pull: form versions to download, the households its enumerator visits (for
prefill, without the answers forms keep off phones), and the review outcomes of the enumerator's
submissions, as a resumable delta stream. Enumerators only: supervisors do not pull."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from forms.prefill import for_prefill
from server.db import db, utcnow
from server.errors import Problem
from server.models import (
    Area,
    AreaSetting,
    Change,
    FormVersion,
    Household,
    HouseholdAssignment,
    HouseholdRevision,
    Submission,
    User,
)
from server.pagination import cursor_key
from server.scoping import scope_of
from server.services import changes
from server.services import forms as form_service
from server.services.areas import commune_of
from sync.cursors import CursorError, decode_cursor, encode_cursor

PURPOSE = "pull"
# Cursor layout: bumped when positions change meaning (v2: feed positions, not timestamps) or
# when phones must start again (v3: assignments, and answers kept off phones: a phone pulling from
# the start replaces the households it holds, and with them the ID numbers earlier pulls sent).
CURSOR_VERSION = 3


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


def _page(query: sa.Select, kinds: tuple[str, ...], pos, horizon: _Horizon,
          limit: int) -> tuple[list, tuple[int, int], bool]:
    """One page of ``query`` (selecting xid, seq, then what to deliver) over the feed rows of
    ``kinds`` after ``pos``; returns the rows, the new position and whether more follow."""
    rows = db.session.execute(query.where(Change.kind.in_(kinds), horizon.readable, _after(pos))
                              .order_by(Change.xid, Change.seq).limit(limit + 1)).all()
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, (rows[-1][0], rows[-1][1]), True
    # Not full: every readable row was scanned, the user's or not; move to the horizon so the next
    # pull starts there. (max: own rows of the pulling transaction lie beyond the horizon.)
    delivered = (rows[-1][0], rows[-1][1]) if rows else None
    return rows, max(p for p in (pos, delivered, horizon.position) if p is not None), False


# --- which households a phone holds ---------------------------------------------------------
#
# An area in which any household is assigned (``household_assignments.area_code``) is
# *assigning*: an enumerator's phone holds a household of it only when the household is assigned
# to the enumerator or the enumerator created it (their visit made its first revision). Other
# areas: every household of the enumerator's areas. Always within the user's areas.
#
# Who may hold a household changes with the assignments (``server.services.assignments`` writes
# an ``assignment`` feed row for every household concerned), so pull decides it from the
# assignments as they stand when the row is read, in the same statement as the rows:
#
# - a household row (revision r) delivers the household when r is still its revision, the phone
#   may hold it, and no assignment row of the household names revision r (that row delivers it);
# - an assignment row acts only if it is the household's latest one (a later one decides): if
#   the phone may hold the household it delivers it (when the row's revision is still current;
#   otherwise the household row of the newer revision does), else it lists the household in
#   ``households_removed``.
#
# So a household comes once per state, and whoever lost it is told so, whatever the order in
# which assignments and visits commit.


def _may_hold(user: User) -> sa.ColumnElement[bool]:
    """Whether ``user``'s phone may hold the household of the enclosing query."""
    assigning = sa.exists().where(HouseholdAssignment.area_code == Household.area_code)
    assigned = sa.exists().where(HouseholdAssignment.household_id == Household.id,
                                 HouseholdAssignment.enumerator_id == user.id)
    created = sa.exists().where(HouseholdRevision.household_id == Household.id, HouseholdRevision.rev == 1,
                                Submission.id == HouseholdRevision.submission_id, Submission.enumerator_id == user.id)
    return sa.or_(~assigning, assigned, created)


def _assignment_row(*, same_rev: bool = False, later: bool = False) -> sa.Exists:
    """An assignment row of the feed row's household (with the same revision, or after it)."""
    other = sa.orm.aliased(Change)
    # A literal, so that PostgreSQL can match the partial index ix_changes_assignment.
    condition = [other.kind == sa.literal_column(f"'{changes.ASSIGNMENT}'"), other.entity_id == Change.entity_id]
    if same_rev:
        condition.append(other.rev == Change.rev)
    if later:
        condition.append(sa.or_(other.xid > Change.xid, sa.and_(other.xid == Change.xid, other.seq > Change.seq)))
    return sa.exists().where(*condition)


def _households_query(user: User) -> sa.Select:
    may_hold = _may_hold(user)
    return (sa.select(Change.xid, Change.seq, Household, may_hold.label("may_hold"))
            .join(Household, Household.id == Change.entity_id)
            .where(scope_of(user).clause(Household.area_code),
                   sa.or_(sa.and_(Change.kind == changes.HOUSEHOLD, Household.rev == Change.rev, may_hold,
                                  ~_assignment_row(same_rev=True)),
                          sa.and_(Change.kind == changes.ASSIGNMENT, ~_assignment_row(later=True),
                                  sa.or_(~may_hold, Household.rev == Change.rev)))))


def _forms(user: User) -> list[dict]:
    scope = scope_of(user)
    provinces = scope.provinces()
    rows = db.session.execute(sa.select(FormVersion).where(FormVersion.state != "draft")
                              .order_by(FormVersion.form_id, FormVersion.created_at)).scalars()
    out = []
    for row in rows:
        if not form_service.visible(scope, row.form_id):
            continue  # another province's form: never offered here
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


def _households(rows: list[Household]) -> list[dict]:
    """The households as phones receive them: answers their form keeps off phones (ID numbers,
    ``forms.prefill``) are left out."""
    wanted = {(h.form_id, h.form_version) for h in rows}
    versions = {(v.form_id, v.version): v for v in db.session.execute(sa.select(FormVersion).where(
        sa.tuple_(FormVersion.form_id, FormVersion.version).in_(sorted(wanted)))).scalars()} if wanted else {}
    out = []
    for h in rows:
        version = versions.get((h.form_id, h.form_version))
        # A household's form version is never deleted; were it missing, nothing would say which
        # answers may travel, so none do.
        answers = for_prefill(form_service.definition_of(version), h.answers) if version is not None else {}
        out.append({"id": h.id, "area": h.area_code, "rev": h.rev, "household_code": h.household_code,
                    "head_name": h.head_name, "classification": h.classification, "form_id": h.form_id,
                    "form_version": h.form_version, "answers": answers, "updated_at": h.updated_at})
    return out


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

    # Households and assignment rows, decided as described above ("which households a phone
    # holds"); one statement, so that every row of a household in a page is decided alike.
    household_rows, households_pos, more_households = _page(
        _households_query(user), (changes.HOUSEHOLD, changes.ASSIGNMENT), households_pos, horizon, limit)
    households = [row[2] for row in household_rows if row[3]]
    removed = [row[2].id for row in household_rows if not row[3]]  # at most one row per household
    # Likewise a review row, while the submission still holds that outcome (same rev, same
    # decision time); a new revision from the phone clears the outcome.
    review_rows, reviews_pos, more_reviews = _page(
        sa.select(Change.xid, Change.seq, Submission)
        .join(Submission, sa.and_(Submission.id == Change.entity_id, Submission.rev == Change.rev,
                                  Submission.reviewed_at == Change.created_at))
        .where(Change.user_id == user.id, Submission.enumerator_id == user.id, scope.clause(Submission.area_code)),
        (changes.REVIEW,), reviews_pos, horizon, limit)

    next_cursor = encode_cursor({"v": CURSOR_VERSION, "u": str(user.id), "s": _scope_fingerprint(user),
                                 "h": list(households_pos), "r": list(reviews_pos)},
                                cursor_key(), purpose=PURPOSE)
    return {"changes": {"forms": _forms(user), "areas": _areas(user), "households": _households(households),
                        "households_removed": removed, "reviews": [_review(row[2]) for row in review_rows]},
            "next_cursor": next_cursor, "has_more": more_households or more_reviews, "server_time": utcnow()}
