"""Quản trị › Địa bàn: the area tree, villages imported from a CSV file (every problem shown by
its row and column, nothing imported unless every row is right), a single village, and a
commune's rural/urban periods; through ``server.services.areas``."""

from __future__ import annotations

import re

from flask import g, request

from server.console import auth, blp, pages
from server.console.views.admin_users import render
from server.db import db
from server.errors import Problem
from server.models import Area
from server.services import areas as service

_ROW = re.compile(r"^rows/(\d+)(?:/(\w+))?$")


def import_problems(problem: Problem) -> list[dict]:
    """The service's ``rows/<n>/<column>`` errors as (row, column, message) for a table."""
    out = []
    for error in problem.errors or ():
        found = _ROW.match(str(error.get("path", "")))
        out.append({"row": int(found.group(1)) if found else None, "column": found.group(2) if found else None,
                    "message": str(error.get("message", ""))})
    return out


@blp.route("/admin/areas", methods=["GET"])
@auth.page("admin")
def admin_areas(problem=None, fields=None, status=200, rows=None):
    parent = pages.text_arg("parent")
    q = pages.text_arg("q", 100)
    area = None
    periods = []
    try:
        if parent:
            area = db.session.get(Area, parent)
            if area is None or not (g.scope.covers(parent) or parent in g.scope.ancestors()):
                raise Problem("request.not_found")
            if area.level == "commune" and g.scope.covers(parent):
                periods = service.area_type_periods(g.scope, parent)
        page = service.list_areas(g.scope, parent=parent, level=None, q=q, cursor=pages.text_arg("cursor", 2000),
                                  limit=100)
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        page, area, status = None, None, exc.status
    return render("console/admin/areas.html", status, area=area, parent=parent, q=q, page=page, periods=periods,
                  problem=problem, fields=fields or {}, rows=rows, today=pages.today())


@blp.route("/admin/areas/import", methods=["POST"])
@auth.page("admin")
def admin_areas_import():
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise Problem("request.invalid", errors=[{"path": "file", "code": "required", "message": ""}])
        created = service.import_villages(g.scope, upload.read())
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return admin_areas.__wrapped__(problem=problem, fields=fields, status=exc.status, rows=import_problems(exc))
    parents = sorted({a.parent_code for a in created})
    return pages.redirect_done("console.admin_areas", "villages_imported",
                               parent=parents[0] if len(parents) == 1 else None)


@blp.route("/admin/areas/village", methods=["POST"])
@auth.page("admin")
def admin_areas_village():
    form = request.form
    try:
        area = service.create_village(g.scope, parent=form.get("parent", "")[:64], code=form.get("code", "")[:16],
                                      name=form.get("name", "")[:200])
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return admin_areas.__wrapped__(problem=problem, fields=fields, status=exc.status)
    return pages.redirect_done("console.admin_areas", "village_created", parent=area.parent_code)


@blp.route("/admin/areas/type", methods=["POST"])
@auth.page("admin")
def admin_areas_type():
    form = request.form
    code = form.get("parent", "")[:64]
    valid_from = pages.date_value("valid_from")
    area_type = form.get("area_type")
    try:
        if valid_from is None or area_type not in ("rural", "urban"):
            raise Problem("request.invalid", errors=[{"path": "valid_from" if valid_from is None else "area_type",
                                                      "code": "required", "message": ""}])
        service.set_area_type(g.scope, code, area_type, valid_from)
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return admin_areas.__wrapped__(problem=problem, fields=fields, status=exc.status)
    return pages.redirect_done("console.admin_areas", "area_type_set", parent=code)
