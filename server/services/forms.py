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
from forms.problems import FormDefinitionError
from server.db import db, utcnow
from server.errors import Problem, invalid
from server.models import Area, FormVersion, ParameterSet, User
from server.scoping import Scope
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


# --- queries --------------------------------------------------------------------------------

def list_versions(user: User, form_id: str | None = None) -> list[FormVersion]:
    query = sa.select(FormVersion).order_by(FormVersion.form_id, FormVersion.created_at)
    if user.role != "admin":
        query = query.where(FormVersion.state != "draft")
    if form_id:
        query = query.where(FormVersion.form_id == form_id)
    return list(db.session.execute(query).scalars())


def get_version(user: User | None, form_id: str, version: str, *, lock: bool = False) -> FormVersion:
    query = sa.select(FormVersion).where(FormVersion.form_id == form_id, FormVersion.version == version)
    if lock:
        query = query.with_for_update()
    row = db.session.execute(query).scalar_one_or_none()
    # user None is the system itself (rasoat init); drafts are for admins' eyes only.
    if row is None or (row.state == "draft" and user is not None and user.role != "admin"):
        raise Problem("request.not_found", f"No version {version!r} of form {form_id!r}.")
    return row


# --- lifecycle ------------------------------------------------------------------------------

def _new_version(doc: Any, actor: User | None, state: str) -> FormVersion:
    form = _load(doc)
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
    audit.record("form.create", actor=actor, target_type="form_version", target_id=row.id,
                 form_id=row.form_id, version=row.version, sha256=row.sha256, state=state)
    return row


def create_version(doc: Any, actor: User | None) -> FormVersion:
    row = _new_version(doc, actor, "draft")
    db.session.commit()
    return row


def replace_draft(form_id: str, version: str, doc: Any, actor: User) -> FormVersion:
    row = get_version(actor, form_id, version, lock=True)
    if row.state != "draft":
        raise Problem("form.version_immutable", f"Version {version!r} is {row.state}; publish a new version instead.")
    form = _load(doc)
    if (form.form_id, form.version) != (form_id, version):
        raise invalid("form_id" if form.form_id != form_id else "version", "mismatch",
                      "The document's form_id and version must match the URL.")
    row.canonical, row.sha256, row.title, row.updated_at = (
        form.canonical_json().decode(), form.sha256, _title(form), utcnow())
    audit.record("form.replace_draft", actor=actor, target_type="form_version", target_id=row.id,
                 form_id=form_id, version=version, sha256=row.sha256)
    db.session.commit()
    return row


def _transition(form_id: str, version: str, actor: User | None, *, expected: str, new: str) -> FormVersion:
    row = get_version(actor, form_id, version, lock=True)
    if row.state == new:
        return row  # idempotent
    if row.state != expected:
        raise Problem("form.state", f"Version {version!r} is {row.state}; only a {expected} version can become {new}.")
    row.state = new
    if new == "published":
        row.published_at = utcnow()
    else:
        row.closed_at = utcnow()
    audit.record(f"form.{'publish' if new == 'published' else 'close'}", actor=actor, target_type="form_version",
                 target_id=row.id, form_id=form_id, version=version, sha256=row.sha256)
    db.session.commit()
    return row


def publish(form_id: str, version: str, actor: User | None) -> FormVersion:
    return _transition(form_id, version, actor, expected="draft", new="published")


def close(form_id: str, version: str, actor: User) -> FormVersion:
    return _transition(form_id, version, actor, expected="published", new="closed")


def _title(form: FormDefinition) -> dict:
    title = form.title
    return dict(title) if isinstance(title, dict) or hasattr(title, "items") else {"und": title}


# --- parameter sets -------------------------------------------------------------------------

def effective_parameters(row: FormVersion, province_code: str | None) -> dict[str, Any]:
    """The form's parameters overlaid with the province's latest override."""
    params = dict(definition_of(row).parameters)
    if province_code:
        override = db.session.execute(
            sa.select(ParameterSet.parameters).where(
                ParameterSet.form_version_id == row.id, ParameterSet.province_code == province_code)
            .order_by(ParameterSet.revision.desc()).limit(1)
        ).scalar_one_or_none()
        params.update(override or {})
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
