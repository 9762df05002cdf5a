"""Quản trị › Tham số: a province's overrides of a published form's parameters (its own poverty
line, say), each save a new audited revision with its reason, and the history of revisions;
through ``server.services.forms`` (which checks the values against the form's parameters)."""

from __future__ import annotations

import json

from flask import g, request

from server.console import auth, blp, pages
from server.console.views.admin_users import render
from server.errors import Problem
from server.services import forms as service


def _value(text: str):
    """A typed value: a number or true/false as JSON reads it, else the text itself."""
    text = text.strip()
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, int | float | bool) else text


def _versions() -> list:
    return [row for row in service.list_versions(g.user) if row.state == "published"]


def _choice(versions: list):
    picked = pages.text_arg("pick", 140)  # the page's select: "<form_id>|<version>"
    form_id, _, version = picked.partition("|") if picked else (pages.text_arg("form_id"), "", pages.text_arg("version"))
    for row in versions:
        if (row.form_id, row.version) == (form_id, version):
            return row
    return versions[-1] if versions else None


def _provinces() -> list:
    return pages.area_options(g.scope, ("province",)) or []


@blp.route("/admin/parameters", methods=["GET"])
@auth.page("admin")
def admin_parameters(problem=None, fields=None, status=200):
    versions = _versions()
    row = _choice(versions)
    provinces = _provinces()
    # Only a province the admin may see (another's parameters are not theirs to read here).
    asked = pages.text_arg("province")
    province = asked if asked in {p.code for p in provinces} else (provinces[0].code if provinces else None)
    effective, own, history, current = {}, {}, [], {}
    if row is not None:
        own = dict(service.definition_of(row).parameters)
        history = service.parameter_history(row, g.scope)
        if province:
            effective = service.effective_parameters(row, province)
            mine = [h for h in history if h.province_code == province]
            current = dict(mine[-1].parameters) if mine else {}
    return render("console/admin/parameters.html", status, versions=versions, row=row, provinces=provinces,
                  province=province, own=own, effective=effective, current=current, history=history,
                  problem=problem, fields=fields or {})


@blp.route("/admin/parameters", methods=["POST"])
@auth.page("admin")
def admin_parameters_save():
    versions = _versions()
    row = _choice(versions)
    province = pages.text_arg("province") or ""
    if row is None:
        return admin_parameters.__wrapped__(problem=auth.t("console.admin.parameters.no_versions"), status=409)
    names = service.definition_of(row).parameters
    overrides = {name: _value(request.form.get(f"p.{name}", "")) for name in names
                 if request.form.get(f"p.{name}", "").strip()}
    reason = (request.form.get("reason") or "").strip()[:500]
    try:
        if not overrides:
            raise Problem("request.invalid", auth.t("console.admin.parameters.need_one"),
                          errors=[{"path": "parameters", "code": "required",
                                   "message": auth.t("console.admin.parameters.need_one")}])
        if not reason:
            raise Problem("request.invalid", errors=[{"path": "reason", "code": "required", "message": ""}])
        service.set_parameters(g.scope, row.form_id, row.version, province, overrides, reason, g.user)
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return admin_parameters.__wrapped__(problem=problem, fields=fields, status=exc.status)
    return pages.redirect_done("console.admin_parameters", "parameters_saved", form_id=row.form_id,
                               version=row.version, province=province)
