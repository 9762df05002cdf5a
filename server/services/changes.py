"""The change feed that pull reads (the ``changes`` table): the one place that writes its rows.

Write one row in the same transaction as every change a phone must hear about:

- a household's new state (every new ``households.rev``: a push that creates or merges into it,
  a supervisor resolving a conflict): ``household_row``;
- a submission's review outcome (a supervisor's review): ``review_row``, addressed to the
  submission's enumerator;
- a change in who may pull a household (``server.services.assignments``: the household assigned,
  unassigned or reassigned, or its area starting or ceasing to use assignments):
  ``assignment_row``, read by every phone of the household's area, which then receives the
  household or is told to drop it.

Rows are plain dicts of column values (no ``seq``, no ``xid``: the database assigns both), so
a writer may insert them with ``record`` or copy them in bulk (PostgreSQL ``COPY changes
(kind, entity_id, rev, area_code, user_id, created_at)``). A row only says "this entity
reached this state"; pull delivers the entity's current state from the row that describes it
(households: same ``rev``) and skips rows a later change has superseded (see
``server.services.pull``). So write exactly one row per household revision.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from server.db import db, utcnow
from server.models import Change

HOUSEHOLD = "household"
REVIEW = "review"
ASSIGNMENT = "assignment"

# Columns a writer supplies, in this order (a COPY's column list).
COLUMNS = ("kind", "entity_id", "rev", "area_code", "user_id", "created_at")

# Rows per INSERT statement: well under the bound-parameter limits (SQLite 32766, PostgreSQL 65535).
_CHUNK = 1000


def household_row(household_id: uuid.UUID, rev: int, area_code: str, *, at: dt.datetime | None = None) -> dict:
    """The household reached revision ``rev`` (in ``area_code``, its area after the change)."""
    return {"kind": HOUSEHOLD, "entity_id": household_id, "rev": rev, "area_code": area_code, "user_id": None,
            "created_at": at or utcnow()}


def review_row(submission_id: uuid.UUID, rev: int, enumerator_id: uuid.UUID, area_code: str, *,
               at: dt.datetime | None = None) -> dict:
    """A review outcome for revision ``rev`` of the submission, for its enumerator's phone.

    ``at`` must be the ``reviewed_at`` stored with the outcome: pull delivers the row only while
    the submission still holds that decision (a later review or a new revision supersedes it)."""
    return {"kind": REVIEW, "entity_id": submission_id, "rev": rev, "area_code": area_code, "user_id": enumerator_id,
            "created_at": at or utcnow()}


def assignment_row(household_id: uuid.UUID, rev: int, area_code: str, enumerator_id: uuid.UUID | None, *,
                   at: dt.datetime | None = None) -> dict:
    """Who may pull the household (at revision ``rev``, in ``area_code``) changed; it is now assigned
    to ``enumerator_id`` (None: to nobody). Pull re-decides from the current assignments, for
    every phone of the area, at the household's latest assignment row only."""
    return {"kind": ASSIGNMENT, "entity_id": household_id, "rev": rev, "area_code": area_code,
            "user_id": enumerator_id, "created_at": at or utcnow()}


def record(rows: list[dict]) -> None:
    """Insert feed rows in the session's transaction (multi-row INSERTs). Never commits."""
    for start in range(0, len(rows), _CHUNK):
        db.session.execute(sa.insert(Change.__table__).values(rows[start:start + _CHUNK]))
