"""Quality flags in the database: the shell around ``sync.quality`` (docs/quality.md).

A submission's own flags come with every revision the sync core stores
(``core.SubmissionWrite.quality``), and what the village comparisons read of a counted visit with
its year row (``core.YearWrite.quality``: location, head, ID-number digest), both written by
``effects``. Its relative flags compare it with the village's other households, so the server
reads that context here, from ``household_years`` alone, and ``sync.quality`` decides:

* at the end of every push request, for each submission the request stored, against the village
  as the request leaves it (its own items included): one query per village (area, review year)
  the batch touched, one for other households with the same head ID number, one for last year's
  classes; an UPDATE only for the submissions that get a relative flag (``flag_relative``);
* after a correction, for the corrected submission;
* ``rasoat flags refresh`` (``refresh``): everything, own flags included, for whole villages,
  from the stored answers: after the migration that brought the flags, after changing a
  threshold, and to update the flags of the submissions that were there before a newer one
  changed the village's medians or duplicated their head (a push does not rewrite other
  submissions' flags: see docs/quality.md for why).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from server.db import db
from server.models import FormVersion, HouseholdYear, Submission
from server.scoping import Scope
from server.services.evaluation import Evaluators
from sync import quality
from sync.core import SubmissionWrite
from sync.quality import Facts, Thresholds, Village


def thresholds() -> Thresholds:
    config = current_app.config
    return Thresholds(min_interview_minutes=float(config["QUALITY_MIN_INTERVIEW_MINUTES"]),
                      max_gps_accuracy_m=float(config["QUALITY_MAX_GPS_ACCURACY_M"]),
                      max_gps_distance_km=float(config["QUALITY_MAX_GPS_DISTANCE_KM"]),
                      income_z=float(config["QUALITY_INCOME_Z"]),
                      min_neighbours=int(config["QUALITY_MIN_NEIGHBOURS"]))


@dataclass(frozen=True)
class Target:
    """A submission whose relative flags are to be computed, as it is stored now."""

    id: uuid.UUID
    household_id: uuid.UUID
    area_code: str
    year: int
    facts: Facts
    income_per_person: float | None
    classification: str | None
    flags: tuple[str, ...]  # what its row holds now


def target_of(write: SubmissionWrite) -> Target:
    """A submission just written: its row holds its own flags."""
    return Target(write.id, write.household_id, write.area_code, write.year, write.quality,
                  write.record.income_per_person, write.record.classification, write.quality.own)


_hy, _s = HouseholdYear.__table__, Submission.__table__
# The statements of a push's flags, built once (a push runs them every request). The village:
# every counted visit of an area and year, a household's id only when it is one of the targets'
# (the rules leave a target's own household out; the others need none).
# As text (the rows then need no conversion; the few ids are read with uuid.UUID).
_VILLAGE = sa.select(
    sa.cast(sa.case((_hy.c.household_id.in_(sa.bindparam("households", expanding=True)), _hy.c.household_id)),
            sa.String),
    _hy.c.gps_lat, _hy.c.gps_lon, _hy.c.head_key, _hy.c.income_per_person,
).where(_hy.c.area_code == sa.bindparam("area"), _hy.c.year == sa.bindparam("year"))
# Whether a household other than a target's holds its head's ID number: the smallest and the
# largest holder say it (one row per key, however many share it).
_HOLDER = sa.cast(_hy.c.household_id, sa.String)
_ID_HOLDERS = (sa.select(_hy.c.year, _hy.c.head_id_key, sa.func.min(_HOLDER), sa.func.max(_HOLDER))
               .where(_hy.c.head_id_key.in_(sa.bindparam("keys", expanding=True)),
                      _hy.c.year.in_(sa.bindparam("years", expanding=True)))
               .group_by(_hy.c.year, _hy.c.head_id_key))
_PREVIOUS = sa.select(_hy.c.household_id, _hy.c.year, _hy.c.classification).where(
    _hy.c.household_id.in_(sa.bindparam("households", expanding=True)),
    _hy.c.year.in_(sa.bindparam("years", expanding=True)))
_SET_FLAGS = _s.update().where(_s.c.id == sa.bindparam("target_id")).values(flags=sa.bindparam("new_flags"))


def flag_relative(targets: Iterable[Target], limits: Thresholds) -> list[uuid.UUID]:
    """Compute the targets' relative flags against what is stored now and write every row whose
    flags change; returns their ids. Reads ``household_years`` alone (the counted visits carry
    what the comparisons need)."""
    targets = list({t.id: t for t in targets}.values())
    if not targets:
        return []
    connection = db.session.connection()  # Core statements: no ORM layer around them
    households = sorted({t.household_id for t in targets})
    villages = {}
    for area, year in sorted({(t.area_code, t.year) for t in targets}):  # one, mostly
        rows = connection.execute(_VILLAGE, {"households": households, "area": area, "year": year}).all()
        villages[(area, year)] = Village((household_id and uuid.UUID(household_id), lat, lon, head_key, income)
                                         for household_id, lat, lon, head_key, income in rows)
    holders: dict[tuple[int, str], list[str]] = {}
    keys = {(t.year, t.facts.head_id_key) for t in targets if t.facts.head_id_key is not None}
    if keys:
        for year, key, low, high in connection.execute(_ID_HOLDERS, {"keys": sorted({k for _, k in keys}),
                                                                     "years": sorted({y for y, _ in keys})}):
            holders[(year, key)] = [str(uuid.UUID(low)), str(uuid.UUID(high))]
    previous = {(household_id, year): classification for household_id, year, classification in connection.execute(
        _PREVIOUS, {"households": households, "years": sorted({t.year - 1 for t in targets})})}
    empty = Village(())
    changed = []
    for t in targets:
        flags = quality.combine(t.facts.own, quality.relative(
            str(t.household_id), t.facts, income_per_person=t.income_per_person, classification=t.classification,
            village=villages.get((t.area_code, t.year), empty),
            id_holders=holders.get((t.year, t.facts.head_id_key), ()) if t.facts.head_id_key else (),
            previous_class=previous.get((t.household_id, t.year - 1)), thresholds=limits))
        if flags != t.flags:
            changed.append({"target_id": t.id, "new_flags": list(flags)})
    if changed:
        connection.execute(_SET_FLAGS, changed)
    return [c["target_id"] for c in changed]


# --------------------------------------------------------------------------- rasoat flags refresh


def _selection(area: str | None, year: int | None) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    if area:
        clauses.append(Scope((area,)).clause(Submission.area_code))
    if year:
        clauses.append(Submission.year == year)
    return clauses


def _groups(clauses) -> list[tuple[str, int]]:
    return [tuple(r) for r in db.session.execute(  # type: ignore[misc]
        sa.select(Submission.area_code, Submission.year).where(*clauses).distinct()
        .order_by(Submission.area_code, Submission.year))]


def _facts(clauses, area_code: str, year: int, limits: Thresholds, evaluators: Evaluators,
           versions: dict) -> list[tuple[sa.Row, Facts]]:
    """Every selected submission of the village with its facts, from its stored answers."""
    found = []
    for row in db.session.execute(sa.select(
            Submission.id, Submission.household_id, Submission.form_id, Submission.form_version, Submission.answers,
            Submission.started_at, Submission.finished_at, Submission.flags, Submission.income_per_person,
            Submission.classification).where(*clauses, Submission.area_code == area_code, Submission.year == year)
            .order_by(Submission.id)):
        version = versions.get((row.form_id, row.form_version))
        sources = evaluators.of(version, area_code).quality_fields if version is not None else {}
        found.append((row, quality.assess(sources, row.answers, started_at=row.started_at,
                                          finished_at=row.finished_at, thresholds=limits)))
    return found


def refresh(area: str | None = None, year: int | None = None) -> dict[str, int]:
    """Recompute every quality flag of the submissions in ``area`` (and everything under it) and
    review ``year`` (all when None), from their stored answers and visit times, with the current
    thresholds: first each one's own flags, and the facts of the counted visits, everywhere; then
    the village flags against them. Commits after each village."""
    limits, evaluators = thresholds(), Evaluators()
    versions = {(v.form_id, v.version): v for v in db.session.execute(sa.select(FormVersion)).scalars()}
    clauses = _selection(area, year)
    groups = _groups(clauses)
    s, hy = Submission.__table__, HouseholdYear.__table__
    counts, changed = {"submissions": 0}, set()
    for area_code, group_year in groups:
        flag_updates, year_updates = [], []
        for row, facts in _facts(clauses, area_code, group_year, limits, evaluators, versions):
            counts["submissions"] += 1
            # Relative flags are kept for now: the second pass replaces them.
            flags = list(quality.combine(facts.own, [f for f in row.flags or () if f in quality.RELATIVE]))
            if flags != list(row.flags or ()):
                flag_updates.append({"target_id": row.id, "new_flags": flags})
                changed.add(row.id)
            year_updates.append({"target_household": row.household_id, "target_submission": row.id,
                                 "new_gps_lat": facts.lat, "new_gps_lon": facts.lon, "new_head_key": facts.head_key,
                                 "new_head_id_key": facts.head_id_key})
        if flag_updates:
            db.session.connection().execute(
                s.update().where(s.c.id == sa.bindparam("target_id")).values(flags=sa.bindparam("new_flags")),
                flag_updates)
        if year_updates:  # the rows these submissions hold (none for a visit that is not counted)
            db.session.connection().execute(
                hy.update().where(hy.c.household_id == sa.bindparam("target_household"),
                                  hy.c.submission_id == sa.bindparam("target_submission"))
                .values({k: sa.bindparam(f"new_{k}") for k in ("gps_lat", "gps_lon", "head_key", "head_id_key")}),
                year_updates)
        db.session.commit()
    for area_code, group_year in groups:
        targets = []
        for row, facts in _facts(clauses, area_code, group_year, limits, evaluators, versions):
            targets.append(Target(row.id, row.household_id, area_code, group_year, facts, row.income_per_person,
                                  row.classification, tuple(row.flags or ())))
        changed.update(flag_relative(targets, limits))
        db.session.commit()
    return {**counts, "changed": len(changed)}
