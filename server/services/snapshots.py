"""Reading the sync core's snapshot (``sync.core``) from the database: one way for push,
corrections and conflict resolutions."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from server.db import db
from server.models import Household, HouseholdYear, Submission
from server.scoping import Scope
from sync import core


def submission_state(scope: Scope, row: Submission, revisions: dict[int, str], *, answers: bool) -> core.SubmissionState:
    return core.SubmissionState(
        current_rev=row.rev, revisions=revisions, household_id=str(row.household_id), form_id=row.form_id,
        form_version=row.form_version, area_code=row.area_code, enumerator_id=str(row.enumerator_id),
        in_scope=scope.covers(row.area_code), answers=row.answers if answers else None,
        finished_at=row.finished_at, received_at=row.received_at, started_at=row.started_at)


def household_state(scope: Scope, row: Household, base_answers: dict | None = None) -> core.HouseholdState:
    return core.HouseholdState(rev=row.rev, answers=row.answers, area_code=row.area_code,
                               in_scope=scope.covers(row.area_code), household_code=row.household_code,
                               head_name=row.head_name, classification=row.classification, base_answers=base_answers)


def year_state(household_id: uuid.UUID, year: int) -> core.YearState | None:
    row = db.session.execute(sa.select(HouseholdYear.submission_id, HouseholdYear.visit_at).where(
        HouseholdYear.household_id == household_id, HouseholdYear.year == year)).first()
    return core.YearState(str(row.submission_id), row.visit_at) if row else None
