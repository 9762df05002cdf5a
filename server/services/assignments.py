"""Assigning households to enumerators: what each enumerator's phone pulls.

An area (a village, or a commune for households recorded at commune level) in which any
household is assigned is *assigning*: its enumerators' phones receive only the households
assigned to them and those they created. An area with no assignment behaves as before: every
enumerator of it receives all its households (``server/services/pull.py``).

Every change writes, in its transaction, an ``assignment`` row to the change feed for each
household whose pulling phones may have changed: the households assigned, unassigned or
reassigned, and every household of an area that starts or stops being assigning. Pull reads the
row in commit order like any other and decides from the assignments as they stand: the household
for the phones that may now hold it, ``households_removed`` for the others.

Changes to the assignments of one area are serialised by locking the area's row (PostgreSQL; SQLite
runs one writer at a time), so that two requests cannot both miss that the area starts or stops
being assigning.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from server.db import db, utcnow
from server.errors import Problem, field_error
from server.models import Area, Household, HouseholdAssignment, User
from server.pagination import Page, paginate
from server.scoping import Scope, scope_of
from server.services import audit, changes


@dataclass(frozen=True)
class Assigned:
    household_id: uuid.UUID
    area_code: str
    enumerator_id: uuid.UUID | None
    assigned_by: uuid.UUID | None
    assigned_at: object  # datetime or None
    changed: bool


def _enumerator(enumerator_id: uuid.UUID) -> User:
    user = db.session.get(User, enumerator_id)
    if user is None or user.role != "enumerator" or not user.active:
        raise Problem("request.invalid", "enumerator_id is not an active enumerator.",
                      errors=[field_error("enumerator_id", "not_enumerator",
                                          "Not an active enumerator's id.")])
    return user


def _assigning(areas: set[str]) -> set[str]:
    if not areas:
        return set()
    return set(db.session.execute(sa.select(HouseholdAssignment.area_code).distinct()
                                  .where(HouseholdAssignment.area_code.in_(sorted(areas)))).scalars())


def assign_one(scope: Scope, actor: User, household_id: uuid.UUID, enumerator_id: uuid.UUID | None) -> Assigned:
    """``assign`` for one household; 404 when it is not in ``scope``."""
    assignment_of(scope, household_id)
    return assign(scope, actor, [household_id], enumerator_id, error_path=lambda i: "enumerator_id")[0]


def assign(scope: Scope, actor: User, household_ids: list[uuid.UUID], enumerator_id: uuid.UUID | None, *,
           error_path: Callable[[int], str] = lambda i: f"household_ids/{i}") -> list[Assigned]:
    """Assign the households to the enumerator (None: to nobody), all or none. The enumerator's
    areas must cover every household's area; the households must lie in ``scope``."""
    ids = list(dict.fromkeys(household_ids))
    enumerator = _enumerator(enumerator_id) if enumerator_id is not None else None
    found = {h.id: h for h in db.session.execute(
        sa.select(Household).where(Household.id.in_(ids), scope.clause(Household.area_code))).scalars()}
    errors = [field_error(error_path(i), "unknown_household", "No such household in your areas.")
              for i, hid in enumerate(household_ids) if hid not in found]
    if enumerator is not None:
        covered = scope_of(enumerator)
        errors += [field_error(error_path(i), "not_covered",
                               f"The enumerator does not work in {found[hid].area_code}, this household's area.")
                   for i, hid in enumerate(household_ids) if hid in found and not covered.covers(found[hid].area_code)]
    if errors:
        raise Problem("request.invalid", "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5]),
                      errors=errors)

    current = {a.household_id: a for a in db.session.execute(
        sa.select(HouseholdAssignment).where(HouseholdAssignment.household_id.in_(ids))).scalars()}
    areas = {h.area_code for h in found.values()} | {a.area_code for a in current.values()}
    # Lock the areas (sorted: two requests never wait for each other in a circle), then read
    # again what another request may have changed before we got the locks. FOR NO KEY UPDATE:
    # it excludes other assignment requests but not the FOR KEY SHARE that a push's foreign keys
    # take on the area, so visits are not held up.
    db.session.execute(sa.select(Area.code).where(Area.code.in_(sorted(areas))).order_by(Area.code)
                       .with_for_update(key_share=True))
    current = {a.household_id: a for a in db.session.execute(
        sa.select(HouseholdAssignment).where(HouseholdAssignment.household_id.in_(ids))
        .execution_options(populate_existing=True)).scalars()}
    areas |= {a.area_code for a in current.values()}
    assigning_before = _assigning(areas)

    now = utcnow()
    out: list[Assigned] = []
    touched: dict[uuid.UUID, tuple[int, str]] = {}  # household -> (rev, area) for its feed row
    for hid in ids:
        household, row = found[hid], current.get(hid)
        before = row.enumerator_id if row is not None else None
        if before == enumerator_id:
            out.append(Assigned(hid, household.area_code, before, row.assigned_by if row else None,
                                row.assigned_at if row else None, False))
            continue
        if enumerator_id is None:
            db.session.delete(row)
        elif row is None:
            db.session.add(HouseholdAssignment(household_id=hid, enumerator_id=enumerator_id,
                                               area_code=household.area_code, assigned_by=actor.id, assigned_at=now))
        else:
            row.enumerator_id, row.area_code, row.assigned_by, row.assigned_at = (
                enumerator_id, household.area_code, actor.id, now)
        touched[hid] = (household.rev, household.area_code)
        audit.record("household.unassign" if enumerator_id is None else "household.assign", actor=actor,
                     target_type="household", target_id=hid, area_code=household.area_code,
                     enumerator_id=str(enumerator_id) if enumerator_id else None,
                     previous_enumerator_id=str(before) if before else None)
        out.append(Assigned(hid, household.area_code, enumerator_id, actor.id if enumerator_id else None,
                            now if enumerator_id else None, True))
    db.session.flush()

    # An area that starts or stops being assigning changes what every phone of it may hold.
    flipped = assigning_before ^ _assigning(areas)
    if flipped:
        for hid, rev, area in db.session.execute(sa.select(Household.id, Household.rev, Household.area_code)
                                                 .where(Household.area_code.in_(sorted(flipped)))):
            touched.setdefault(hid, (rev, area))
    if touched:
        now_assigned = assigned_to(list(touched))
        changes.record([changes.assignment_row(hid, rev, area, now_assigned.get(hid), at=now)
                        for hid, (rev, area) in sorted(touched.items(), key=lambda item: str(item[0]))])
    db.session.commit()
    return out


def list_assignments(scope: Scope, *, area: str | None, enumerator_id: uuid.UUID | None, cursor: str | None,
                     limit: int) -> Page:
    query = (sa.select(HouseholdAssignment).join(Household, Household.id == HouseholdAssignment.household_id)
             .where(scope.clause(Household.area_code)))
    if area:
        query = query.where(Scope((area,)).clause(Household.area_code))
    if enumerator_id:
        query = query.where(HouseholdAssignment.enumerator_id == enumerator_id)
    return paginate(query, key=HouseholdAssignment.household_id, cursor=cursor, limit=limit, purpose="assignments")


def assignment_of(scope: Scope, household_id: uuid.UUID) -> HouseholdAssignment | None:
    """The household's assignment (None: unassigned); 404 outside ``scope``."""
    found = db.session.execute(sa.select(Household.id).where(
        Household.id == household_id, scope.clause(Household.area_code))).scalar_one_or_none()
    if found is None:
        raise Problem("request.not_found", "No such household in your areas.")
    return db.session.get(HouseholdAssignment, household_id)


def assigned_to(household_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Household id -> the enumerator it is assigned to, for those assigned."""
    if not household_ids:
        return {}
    return dict(db.session.execute(sa.select(HouseholdAssignment.household_id, HouseholdAssignment.enumerator_id)
                                   .where(HouseholdAssignment.household_id.in_(household_ids))).all())
