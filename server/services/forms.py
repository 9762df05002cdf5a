"""Form versions (draft -> published -> closed) and per-province parameter sets.

All form logic (validation, canonical bytes, hashing) lives in ``forms/``; this module stores
versions, enforces the lifecycle and audits every change.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import forms
from forms.definition import FormDefinition, check_parameter_overrides, load_form
from forms.namespace import province_of_form, province_prefix
from forms.problems import FormDefinitionError
from server.db import db, utcnow
from server.errors import Problem, invalid
from server.models import Area, FormVersion, ParameterSet, User
from server.scoping import Scope, province_of, scope_of
from server.services import audit

BUNDLED_DIR = Path(forms.__file__).resolve().parent / "bundled"


# --- compiled definitions -------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _compiled(sha256: str, canonical: str) -> FormDefinition:
    return load_form(json.loads(canonical))


def definition_of(row: FormVersion) -> FormDefinition:
    """The compiled form of a stored version (compiled once per process and content)."""
    return _compiled(row.sha256, row.canonical)


def _load(doc: Any) -> FormDefinition:
    if not isinstance(doc, dict):
        raise invalid("", "invalid_type", "A form definition is a JSON object.")
    try:
        return load_form(doc)
    except FormDefinitionError as exc:
        problems = exc.to_list()
        raise Problem("form.invalid", f"The form has {len(problems)} problem(s); the first: "
                      f"{problems[0]['path'] or '(document)'}: {problems[0]['message']}",
                      errors=problems) from exc


# --- who sees and who changes a form -------------------------------------------------------
#
# A form is national (``household-review``) or belongs to one province (``p79-...``, see
# ``forms.namespace``). National forms are seen by everyone and changed only by national admins;
# a province's forms are seen by the users of that province and changed by its admins.

def _scope(actor: User | None) -> Scope:
    # None is the system itself (rasoat init, the bundled forms): national.
    return Scope(None) if actor is None else scope_of(actor)


def visible(scope: Scope, form_id: str) -> bool:
    """May a user with this scope see (list, read, pull) versions of ``form_id``?"""
    province = province_of_form(form_id)
    return province is None or scope.is_national or province in scope.provinces()


def offered_in(form_id: str, area_code: str) -> bool:
    """Does the form take visits in this area? A province's form only in that province."""
    province = province_of_form(form_id)
    return province is None or province == province_of(area_code)


def authorise(actor: User | None, form_id: str) -> None:
    """Refuse (403) unless the admin may create, replace, publish, close or reopen versions of
    ``form_id``: any form for a national admin; for another admin, the forms of a province their
    areas cover whole. Decided from the ``form_id`` alone, before any lookup, so a refusal says
    nothing about whether a version exists."""
    scope = _scope(actor)
    if scope.is_national:
        return
    province = province_of_form(form_id)
    if province is None:
        own = [p for p in scope.provinces() if scope.covers(p)]
        hint = f" A form of your province is named {province_prefix(own[0])}…" if own else ""
        raise Problem("auth.forbidden", f"{form_id!r} is a national form: only a national admin may change it."
                      + hint)
    if not scope.covers(province):
        raise Problem("auth.forbidden", f"Form {form_id!r} belongs to province {province}; only the admins of "
                      "that whole province, or national admins, may change it.")


# --- queries --------------------------------------------------------------------------------

def list_versions(user: User, form_id: str | None = None) -> list[FormVersion]:
    query = sa.select(FormVersion).order_by(FormVersion.form_id, FormVersion.created_at)
    if user.role != "admin":
        query = query.where(FormVersion.state != "draft")
    if form_id:
        query = query.where(FormVersion.form_id == form_id)
    scope = scope_of(user)
    return [row for row in db.session.execute(query).scalars() if visible(scope, row.form_id)]


def get_version(user: User | None, form_id: str, version: str, *, lock: bool = False) -> FormVersion:
    query = sa.select(FormVersion).where(FormVersion.form_id == form_id, FormVersion.version == version)
    if lock:
        query = query.with_for_update()
    row = db.session.execute(query).scalar_one_or_none()
    # user None is the system itself (rasoat init); drafts are for admins' eyes only, and another
    # province's forms for nobody's: both answer as if the version did not exist.
    if row is None or (user is not None and (
            (row.state == "draft" and user.role != "admin") or not visible(scope_of(user), form_id))):
        raise Problem("request.not_found", f"No version {version!r} of form {form_id!r}.")
    return row


# --- lifecycle ------------------------------------------------------------------------------

def _new_version(doc: Any, actor: User | None, state: str) -> FormVersion:
    form = _load(doc)
    authorise(actor, form.form_id)
    province = province_of_form(form.form_id)
    if province is not None:
        area = db.session.get(Area, province)
        if area is None or area.level != "province":
            raise invalid("form_id", "unknown_province",
                          f"{form.form_id!r} names province {province!r}, which does not exist "
                          "(a form id starting with p, two digits and '-' belongs to that province).")
    exists = db.session.execute(sa.select(FormVersion.id).where(
        FormVersion.form_id == form.form_id, FormVersion.version == form.version)).first()
    if exists:
        raise Problem("form.version_exists", f"Form {form.form_id!r} already has a version {form.version!r}; "
                      "publish a new version string, or PUT to replace a draft.",
                      errors=[{"path": "version", "code": "exists", "message": "Version already exists."}])
    now = utcnow()
    row = FormVersion(form_id=form.form_id, version=form.version, state=state, title=_title(form),
                      canonical=form.canonical_json().decode(), sha256=form.sha256,
                      created_by=actor.id if actor else None, created_at=now, updated_at=now,
                      published_at=now if state == "published" else None)
    db.session.add(row)
    db.session.flush()
    _audit("form.create", row, actor, state=state)
    return row


def _audit(action: str, row: FormVersion, actor: User | None, **detail: Any) -> None:
    # A province's form is audited under that province, so its admins see the entries.
    audit.record(action, actor=actor, target_type="form_version", target_id=row.id,
                 area_code=province_of_form(row.form_id), form_id=row.form_id, version=row.version,
                 sha256=row.sha256, **detail)


def definition_from_xlsform(data: bytes, *, form_id: str | None = None, version: str | None = None) -> dict:
    """An XLSForm workbook as a form document; its problems (each with its sheet and row, e.g.
    ``survey/row 12/constraint``) as a 422 ``form.invalid``."""
    from forms.xlsform import xlsform_to_form
    from server.jsonio import nfc_deep

    try:
        return nfc_deep(xlsform_to_form(data, form_id=form_id, version=version))
    except FormDefinitionError as exc:
        problems = exc.to_list()
        raise Problem("form.invalid", f"The XLSForm has {len(problems)} problem(s); the first: "
                      f"{problems[0]['path']}: {problems[0]['message']}", errors=problems) from exc


def create_version(doc: Any, actor: User | None) -> FormVersion:
    if isinstance(doc, dict) and isinstance(doc.get("form_id"), str):
        authorise(actor, doc["form_id"])  # before the definition's problems: 403, not 422
    row = _new_version(doc, actor, "draft")
    db.session.commit()
    return row


def replace_draft(form_id: str, version: str, doc: Any, actor: User) -> FormVersion:
    authorise(actor, form_id)
    row = get_version(actor, form_id, version, lock=True)
    if row.state != "draft":
        raise Problem("form.version_immutable", f"Version {version!r} is {row.state}; publish a new version instead.")
    form = _load(doc)
    if (form.form_id, form.version) != (form_id, version):
        raise invalid("form_id" if form.form_id != form_id else "version", "mismatch",
                      "The document's form_id and version must match the URL.")
    row.canonical, row.sha256, row.title, row.updated_at = (
        form.canonical_json().decode(), form.sha256, _title(form), utcnow())
    _audit("form.replace_draft", row, actor)
    db.session.commit()
    return row


# action -> (the state it starts from, the state it leads to, the action's past participle)
_TRANSITIONS = {"publish": ("draft", "published", "published"), "close": ("published", "closed", "closed"),
                "reopen": ("closed", "published", "reopened")}


def _transition(form_id: str, version: str, actor: User | None, action: str, **detail: Any) -> FormVersion:
    expected, new, done = _TRANSITIONS[action]
    authorise(actor, form_id)
    row = get_version(actor, form_id, version, lock=True)
    if row.state == new:
        return row  # idempotent
    if row.state != expected:
        raise Problem("form.state", f"Version {version!r} is {row.state}; only a {expected} version can be {done}.")
    now = utcnow()
    row.state, row.updated_at = new, now
    if action == "publish":
        row.published_at = now
    elif action == "close":
        row.closed_at = now
    else:
        detail["closed_at"] = row.closed_at.isoformat() if row.closed_at else None
        row.closed_at = None
    _audit(f"form.{action}", row, actor, **detail)
    db.session.commit()
    return row


def confirmation_of(form_id: str, version: str) -> str:
    """What a caller sends as ``confirm`` to close a version."""
    return f"{form_id}/{version}"


def publish(form_id: str, version: str, actor: User | None) -> FormVersion:
    return _transition(form_id, version, actor, "publish")


def close(form_id: str, version: str, actor: User, *, confirm: str | None, reason: str | None = None) -> FormVersion:
    """Stop offering the version and taking new visits on it. Every phone of the form's area stops
    at once, so the caller confirms by naming the version; a national admin can reopen it."""
    expected = confirmation_of(form_id, version)
    if confirm != expected:
        raise invalid("confirm", "required" if confirm is None else "mismatch",
                      f"Closing stops every phone from starting visits on this version. To confirm, send "
                      f'{{"confirm": "{expected}"}}.')
    return _transition(form_id, version, actor, "close", reason=reason)


def reopen(form_id: str, version: str, actor: User, *, reason: str | None = None) -> FormVersion:
    """Closed -> published again (a version closed by mistake); phones take new visits on it."""
    return _transition(form_id, version, actor, "reopen", reason=reason)


def _title(form: FormDefinition) -> dict:
    title = form.title
    return dict(title) if isinstance(title, dict) or hasattr(title, "items") else {"und": title}


# --- parameter sets -------------------------------------------------------------------------

def effective_parameters(row: FormVersion, province_code: str | None) -> dict[str, Any]:
    """The form's parameters overlaid with the province's latest override."""
    return effective_parameter_set(row, province_code)[0]


def effective_parameter_set(row: FormVersion, province_code: str | None) -> tuple[dict[str, Any], int | None]:
    """The effective parameters and the revision of the province override they include (None: the
    form's own parameters alone), so a result can name exactly what it was computed with."""
    params = dict(definition_of(row).parameters)
    if not province_code:
        return params, None
    override = db.session.execute(
        sa.select(ParameterSet.parameters, ParameterSet.revision).where(
            ParameterSet.form_version_id == row.id, ParameterSet.province_code == province_code)
        .order_by(ParameterSet.revision.desc()).limit(1)
    ).first()
    if override is None:
        return params, None
    params.update(override.parameters or {})
    return params, override.revision


def parameters_at(row: FormVersion, province_code: str | None, revision: int | None) -> dict[str, Any]:
    """The effective parameters as they were with a given override revision (for replaying a result)."""
    params = dict(definition_of(row).parameters)
    if province_code and revision is not None:
        params.update(db.session.execute(sa.select(ParameterSet.parameters).where(
            ParameterSet.form_version_id == row.id, ParameterSet.province_code == province_code,
            ParameterSet.revision == revision)).scalar_one() or {})
    return params


def parameter_history(row: FormVersion, scope: Scope) -> list[ParameterSet]:
    query = (sa.select(ParameterSet).where(ParameterSet.form_version_id == row.id)
             .where(scope.clause(ParameterSet.province_code))
             .order_by(ParameterSet.province_code, ParameterSet.revision))
    return list(db.session.execute(query).scalars())


def set_parameters(scope: Scope, form_id: str, version: str, province_code: str, parameters: dict[str, Any],
                   reason: str, actor: User) -> ParameterSet:
    row = get_version(actor, form_id, version, lock=True)
    if row.state != "published":
        raise Problem("form.state", f"Parameters can be overridden on a published version; this one is {row.state}.")
    province = db.session.get(Area, province_code)
    if province is None or province.level != "province":
        raise invalid("province", "unknown_province", f"No province with code {province_code!r}.")
    if not scope.covers(province_code):
        raise Problem("auth.forbidden", f"Province {province_code!r} is outside your areas.")
    if province_of_form(form_id) not in (None, province_code):
        raise invalid("province", "not_the_forms_province",
                      f"Form {form_id!r} belongs to province {province_of_form(form_id)}; only that province "
                      "has overrides of it.")
    problems = check_parameter_overrides(definition_of(row), parameters)
    if problems:
        errors = [{**p.to_dict(), "path": f"parameters/{p.path}"} for p in problems]
        raise Problem("request.invalid", errors[0]["message"], errors=errors)
    previous = db.session.execute(
        sa.select(sa.func.max(ParameterSet.revision)).where(
            ParameterSet.form_version_id == row.id, ParameterSet.province_code == province_code)
    ).scalar_one_or_none() or 0
    ps = ParameterSet(form_version_id=row.id, province_code=province_code, revision=previous + 1,
                      parameters=dict(parameters), reason=reason, created_by=actor.id)
    db.session.add(ps)
    audit.record("form.parameters", actor=actor, target_type="form_version", target_id=row.id,
                 area_code=province_code, form_id=form_id, version=version, revision=ps.revision,
                 parameters=dict(parameters), reason=reason)
    db.session.commit()
    return ps


# --- bundled forms --------------------------------------------------------------------------

def load_bundled() -> int:
    """Publish the bundled official forms that are missing, all in one transaction. Idempotent."""
    loaded = 0
    for path in sorted(BUNDLED_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        exists = db.session.execute(sa.select(FormVersion.id).where(
            FormVersion.form_id == doc.get("form_id"), FormVersion.version == doc.get("version"))).first()
        if exists:
            continue
        _new_version(doc, None, "published")
        loaded += 1
    db.session.commit()
    return loaded
