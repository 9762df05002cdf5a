"""What the console's dashboard (*Tổng quan*) and map show beyond the reports: the review's
progress per enumerator and per day, and where the households are.

Progress counts *submissions* (visits sent), whatever their review state, by the day they
reached the server in Vietnam time: it answers "who has done how much, and is the review moving",
not "who is poor" (that is ``server.services.reports``, which the dashboard also reads). The map
reads the counted visit of each household and year (``household_years``), which holds the
visit's usable location (the one the quality flags compare).

Every query goes through ``Scope.clause`` on the area, like every other read.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from server.db import db
from server.errors import Problem
from server.models import Household, HouseholdYear, Submission, User
from server.scoping import Scope

# A map of more points than this is unreadable and slow to draw; the page says how many it left out.
MAP_LIMIT = 5_000


def _within(scope: Scope, area: str | None, column) -> list[sa.ColumnElement[bool]]:
    """The scope's clause, and the area's; an area outside the scope is the same 404 as one that
    does not exist (as in the reports)."""
    clauses = [scope.clause(column)]
    if area and not scope.covers(area):
        raise Problem("request.not_found", "No such area in your areas.")
    if area:
        clauses.append(Scope((area,)).clause(column))
    return clauses


@dataclass(frozen=True)
class EnumeratorProgress:
    user_id: uuid.UUID
    username: str
    display_name: str
    total: int
    by_state: dict[str, int]


def progress_by_enumerator(scope: Scope, *, year: int, area: str | None = None) -> list[EnumeratorProgress]:
    """Submissions of ``year`` in the areas per enumerator and review state, most first."""
    s = Submission
    rows = db.session.execute(
        sa.select(s.enumerator_id, s.review_state, sa.func.count())
        .where(s.year == year, *_within(scope, area, s.area_code))
        .group_by(s.enumerator_id, s.review_state)).all()
    tally: dict[uuid.UUID, dict[str, int]] = {}
    for user_id, state, n in rows:
        tally.setdefault(user_id, {})[state] = int(n)
    users = {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(list(tally)))).scalars()} \
        if tally else {}
    out = [EnumeratorProgress(user_id, users[user_id].username if user_id in users else str(user_id),
                              (users[user_id].display_name or "") if user_id in users else "",
                              sum(states.values()), states)
           for user_id, states in tally.items()]
    return sorted(out, key=lambda p: (-p.total, p.username))


def _vietnam_day(column) -> sa.ColumnElement:
    """The calendar day in Vietnam (UTC+7 all year) of a UTC timestamp, as ISO text."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(column + sa.text("interval '7 hours'"), "YYYY-MM-DD")
    return sa.func.strftime("%Y-%m-%d", column, "+7 hours")


def progress_by_day(scope: Scope, *, year: int, area: str | None = None) -> list[tuple[dt.date, int]]:
    """Submissions of ``year`` received per day (Vietnam time), every day from the first to the
    last that has any (days without are 0: a gap in the review shows as a gap)."""
    s = Submission
    day = _vietnam_day(s.received_at).label("day")
    rows = db.session.execute(
        sa.select(day, sa.func.count()).where(s.year == year, *_within(scope, area, s.area_code))
        .group_by(day).order_by(day)).all()
    counts = {dt.date.fromisoformat(d): int(n) for d, n in rows if d}
    if not counts:
        return []
    first, last = min(counts), max(counts)
    return [(first + dt.timedelta(days=i), counts.get(first + dt.timedelta(days=i), 0))
            for i in range((last - first).days + 1)]


@dataclass(frozen=True)
class Location:
    household_id: uuid.UUID
    household_code: str | None
    head_name: str | None
    area_code: str
    classification: str | None
    lat: float
    lon: float


def household_locations(scope: Scope, *, year: int, area: str | None = None,
                        limit: int = MAP_LIMIT) -> tuple[list[Location], int, int]:
    """The located households of ``year`` in the areas (at most ``limit``, by household code),
    how many households the year counts there in all, and how many of them have no location."""
    hy = HouseholdYear
    where = [hy.year == year, *_within(scope, area, hy.area_code)]
    located = sa.and_(hy.gps_lat.is_not(None), hy.gps_lon.is_not(None))
    total, missing = db.session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(sa.not_(located))).where(*where)).one()
    rows = db.session.execute(
        sa.select(hy.household_id, Household.household_code, Household.head_name, hy.area_code, hy.classification,
                  hy.gps_lat, hy.gps_lon)
        .join(Household, Household.id == hy.household_id)
        .where(*where, located)
        .order_by(hy.area_code, Household.household_code, hy.household_id).limit(limit)).all()
    return [Location(*row) for row in rows], int(total or 0), int(missing or 0)
