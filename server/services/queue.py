"""The supervisors' queue: submissions in the caller's areas, filtered, sorted, in cursor pages.

Filters: form and version, review state, area (and everything under it), enumerator,
classification, review year, received-date range (dates in Vietnam time, both ends included),
``q`` (the head's name ignoring case, diacritics and tone placement, or the household code),
conditions on answers (``where``, parsed and checked by ``forms.filters``), and quality flags
(``flag``, any of those named: ``sync.quality``). Sorts: received date (newest first by default),
area, classification.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import sqlalchemy as sa

from forms.filters import Condition, FilterError, parse_where
from server.db import db
from server.errors import Problem, invalid
from server.models import FormVersion, Submission
from server.pagination import Page, paginate_sorted
from server.scoping import Scope
from server.services import forms as form_service
from server.text import fold
from sync.core import VIETNAM
from sync.cursors import CursorError

SORTS = ("received_at", "-received_at", "area", "-area", "classification", "-classification")


def _parse_time(value):
    try:
        return dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise CursorError("The cursor's position is not a time.") from None


def _parse_text(value):
    if isinstance(value, str) and "\x00" not in value:
        return value
    raise CursorError("The cursor's position is not text.")


_SORT_COLUMNS = {
    "received_at": (Submission.received_at, _parse_time, lambda v: v.isoformat()),
    "area": (Submission.area_code, _parse_text, str),
    "classification": (sa.func.coalesce(Submission.classification, ""), _parse_text, str),
}


def submission_filters(scope: Scope, *, form_id: str | None = None, form_version: str | None = None,
                       status: str | None = None, area: str | None = None, enumerator: uuid.UUID | None = None,
                       classification: str | None = None, year: int | None = None,
                       received_from: dt.date | None = None, received_to: dt.date | None = None,
                       q: str | None = None, where: list[str] | None = None,
                       flag: list[str] | None = None) -> list[sa.ColumnElement[bool]]:
    """The queue's filters as WHERE clauses on ``Submission``, the caller's scope first: the queue
    pages through them, exports (``server.services.form_exports``) stream them."""
    clauses = [scope.clause(Submission.area_code)]
    if form_id:
        clauses.append(Submission.form_id == form_id)
    if form_version:
        clauses.append(Submission.form_version == form_version)
    if status:
        clauses.append(Submission.review_state == status)
    if area:
        clauses.append(Scope((area,)).clause(Submission.area_code))
    if enumerator:
        clauses.append(Submission.enumerator_id == enumerator)
    if classification:
        clauses.append(Submission.classification == classification)
    if year:
        clauses.append(Submission.year == year)
    if received_from:
        clauses.append(Submission.received_at >= dt.datetime.combine(received_from, dt.time(), VIETNAM))
    if received_to:
        end = dt.datetime.combine(received_to + dt.timedelta(days=1), dt.time(), VIETNAM)
        clauses.append(Submission.received_at < end)
    if q:
        folded = fold(q)
        clauses.append(sa.or_(Submission.head_name_folded.contains(folded, autoescape=True),
                              Submission.household_code == q.strip()))
    if where:
        clauses.extend(_condition_sql(condition) for condition in _conditions(form_id, form_version, where))
    if flag:
        clauses.append(_flag_sql(flag))
    return clauses


def _flag_sql(codes: list[str]) -> sa.ColumnElement[bool]:
    """Submissions carrying any of the quality flags ``codes`` (docs/quality.md). The
    ``flags <> '[]'`` term lets PostgreSQL use the partial GIN index of flagged rows."""
    flags, codes = Submission.flags, sorted(set(codes))
    if db.session.get_bind().dialect.name == "postgresql":
        flagged = flags.op("<>", is_comparison=True)(sa.literal_column("'[]'::jsonb"))
        return sa.and_(flagged, sa.or_(*(flags.op("@>", is_comparison=True)(sa.cast(sa.literal(json.dumps([c])),
                                                                                    flags.type))
                                         for c in codes)))
    flagged = flags.op("<>", is_comparison=True)(sa.literal_column("'[]'"))
    return sa.and_(flagged, sa.exists(sa.select(sa.literal(1)).select_from(
        sa.func.json_each(flags).table_valued("value")).where(sa.column("value").in_(codes))))


def list_submissions(scope: Scope, *, sort: str = "-received_at", cursor: str | None = None, limit: int = 50,
                     **filters) -> Page:
    """A page of the queue; ``filters`` are ``submission_filters``'s."""
    query = sa.select(Submission).where(*submission_filters(scope, **filters))
    column, parse, dump = _SORT_COLUMNS[sort.lstrip("-")]
    return paginate_sorted(query, sort=column, descending=sort.startswith("-"), key=Submission.id,
                           parse_sort=parse, dump_sort=dump, cursor=cursor, limit=limit,
                           purpose=f"submissions:{sort}")


def _conditions(form_id: str | None, form_version: str | None, where: list[str]) -> list[Condition]:
    if not form_id:
        raise invalid("where", "form_required", "Filtering on answers needs form_id (and form_version).")
    query = sa.select(FormVersion).where(FormVersion.form_id == form_id, FormVersion.state != "draft")
    if form_version:
        query = query.where(FormVersion.version == form_version)
    version = db.session.execute(query.order_by(FormVersion.created_at.desc()).limit(1)).scalar_one_or_none()
    if version is None:
        raise invalid("form_version" if form_version else "form_id", "unknown_form",
                      f"No published version {form_version or ''} of form {form_id!r}.".replace("  ", " "))
    try:
        return parse_where(form_service.definition_of(version), where)
    except FilterError as exc:
        raise Problem("request.invalid", str(exc),
                      errors=[{"path": f"where/{exc.field}", "code": exc.code, "message": str(exc)}]) from exc


def _condition_sql(condition: Condition) -> sa.ColumnElement[bool]:
    dialect = db.session.get_bind().dialect.name
    answers = Submission.answers
    name = condition.field
    if condition.kind == "choices":
        if dialect == "postgresql":
            includes = [answers[name].op("@>", is_comparison=True)(sa.cast(sa.literal(json.dumps([v])), answers.type))
                        for v in condition.values]
        else:
            includes = [sa.exists(sa.select(sa.literal(1)).select_from(
                sa.func.json_each(answers, f'$."{name}"').table_valued("value"))
                .where(sa.column("value") == v)) for v in condition.values]
        either = sa.or_(*includes)
        return sa.not_(either) if condition.op == "ne" else either
    if condition.kind == "number":
        if dialect == "postgresql":
            value = sa.case((sa.func.jsonb_typeof(answers[name]) == "number", answers[name].as_float()))
        else:
            value = sa.case((sa.func.json_type(answers, f'$."{name}"').in_(("integer", "real")),
                             answers[name].as_float()))
    else:
        value = answers[name].as_string()
    first = condition.values[0]
    return {
        "eq": lambda: value == first, "ne": lambda: sa.or_(value != first, value.is_(None)),
        "lt": lambda: value < first, "le": lambda: value <= first, "gt": lambda: value > first,
        "ge": lambda: value >= first, "in": lambda: value.in_(condition.values),
    }[condition.op]()
