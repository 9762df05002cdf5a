"""Xung đột: households two visits changed in the same places. Side by side, per field: the value
before both visits, the household's current value, and the phone's; the supervisor keeps one,
takes the other, or types the right one. ``server.services.reviews.resolve`` decides and writes.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for

from server.console import auth, blp
from server.console.answers import choice_options, diff_rows, parse_correction
from server.errors import Problem
from server.services import forms as form_service
from server.services import households as household_service
from server.services import reviews
from server.services import season as season_service

PAGE_SIZE = 50


@blp.route("/conflicts", methods=["GET"])
@auth.page("supervisor", "admin")
def conflicts():
    status = "resolved" if request.args.get("status") == "resolved" else "open"
    cursor = request.args.get("cursor") or None
    try:
        page = reviews.list_conflicts(g.scope, status=status, area=None, cursor=cursor, limit=PAGE_SIZE)
    except Problem:
        page, cursor = reviews.list_conflicts(g.scope, status=status, area=None, cursor=None, limit=PAGE_SIZE), None
    names = season_service.household_names([c.household_id for c in page.items])
    return render_template("console/conflicts.html", page=page, status=status, names=names, cursor=cursor)


def _detail(conflict_id, *, status: int = 200, errors: dict | None = None, general: list[str] | None = None,
            posted: dict | None = None, notice: tuple[str, str] | None = None):
    conflict = reviews.get_conflict(g.scope, conflict_id)
    found = household_service.get_household(g.scope, conflict.household_id)
    household = found["household"]
    definition = form_service.definition_of(form_service.get_version(None, household.form_id, household.form_version))
    rows = diff_rows(definition, conflict.fields, household.answers, auth.language())
    g.page_url = url_for("console.conflict", conflict_id=conflict_id)
    return render_template("console/conflict.html", conflict=conflict, household=household, rows=rows,
                           errors=errors or {}, general=general or [], posted=posted or {}, notice=notice,
                           can_resolve=g.user.role == "supervisor" and conflict.status == "open",
                           choice_options=lambda f: choice_options(definition, f, auth.language())), status


@blp.route("/conflicts/<uuid:conflict_id>", methods=["GET"])
@auth.page("supervisor", "admin")
def conflict(conflict_id):
    notice = ("ok", auth.t("console.conflicts.resolved_now")) if request.args.get("done") else None
    return _detail(conflict_id, notice=notice)


@blp.route("/conflicts/<uuid:conflict_id>/resolve", methods=["POST"])
@auth.page("supervisor")
def conflict_resolve(conflict_id):
    found = reviews.get_conflict(g.scope, conflict_id)
    household = household_service.get_household(g.scope, found.household_id)["household"]
    definition = form_service.definition_of(form_service.get_version(None, household.form_id, household.form_version))
    choices: dict[str, Any] = {}
    posted: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for i, item in enumerate(found.fields):
        path = item["path"]
        choice = request.form.get(f"c{i}")
        typed = request.form.getlist(f"v{i}")
        posted[path] = {"choice": choice, "value": typed[0] if typed else ""}
        if choice in ("current", "incoming"):
            choices[path] = choice
        elif choice == "value":
            schema = "/".join(p for p in path.split("/") if not p.isdigit())
            choices[path] = {"value": parse_correction(definition, schema, typed)}
        else:
            errors[path] = auth.t("console.conflicts.choose")
    comment = (request.form.get("comment") or "").strip()[:2000] or None
    if errors:
        return _detail(conflict_id, status=422, errors=errors, posted=posted)
    try:
        reviews.resolve(g.scope, g.user, conflict_id, choices=choices, comment=comment)
    except Problem as problem:
        if problem.code == "conflict.resolved":
            return _detail(conflict_id, status=409, notice=("error", auth.t("console.conflicts.already")))
        if problem.status == 422:
            general = []
            for error in problem.errors or [{"path": "", "message": problem.detail}]:
                where = str(error.get("path") or "")
                target = where.removeprefix("choices/").removeprefix("answers/")
                if target in posted:
                    errors[target] = error.get("message", "")
                else:
                    general.append(f"{where}: {error.get('message', '')}".lstrip(": "))
            return _detail(conflict_id, status=422, errors=errors, general=general, posted=posted)
        raise
    return redirect(url_for("console.conflict", conflict_id=conflict_id, done=1), code=303)
