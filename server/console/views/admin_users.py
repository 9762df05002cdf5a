"""Quản trị: the admin's front page, and Người dùng (users with roles and areas) through
``server.services.users``: the same checks as the API (areas within the admin's, a provincial
admin changes only users wholly inside the province), and the same effect of a change of role,
areas, password or state: every session of the user ends at once."""

from __future__ import annotations

import re
import uuid

from flask import g, render_template, request

from server.console import auth, blp, pages
from server.errors import Problem
from server.models import ROLES
from server.security.passwords import MIN_PASSWORD_LENGTH
from server.services import users as service

SECTIONS = (("users", "console.admin_users"), ("areas", "console.admin_areas"), ("devices", "console.admin_devices"),
            ("forms", "console.admin_forms"), ("parameters", "console.admin_parameters"),
            ("audit", "console.admin_audit"))


def area_codes(text: str) -> list[str]:
    """Codes typed one a line or separated by commas or spaces."""
    return [code for code in re.split(r"[\s,;]+", text or "") if code][:200]


def render(template: str, status: int = 200, **context):
    context.setdefault("problem", None)
    context.setdefault("fields", {})
    return render_template(template, sections=SECTIONS, done=pages.done_notice(), **context), status


@blp.route("/admin", methods=["GET"])
@auth.page("admin")
def admin():
    return render("console/admin/index.html")


@blp.route("/admin/users", methods=["GET"])
@auth.page("admin")
def admin_users(problem=None, fields=None, status=200):
    role = request.args.get("role") if request.args.get("role") in ROLES else None
    page = service.list_users(g.scope, role=role, cursor=pages.text_arg("cursor", 2000), limit=50)
    return render("console/admin/users.html", status, page=page, role=role, roles=ROLES, problem=problem,
                  fields=fields or {}, min_password=MIN_PASSWORD_LENGTH)


@blp.route("/admin/users", methods=["POST"])
@auth.page("admin")
def admin_users_create():
    form = request.form
    try:
        user = service.create_user(g.scope, username=form.get("username", "")[:200], password=form.get("password", ""),
                                   role=form.get("role") if form.get("role") in ROLES else "",
                                   areas=area_codes(form.get("areas", "")),
                                   display_name=form.get("display_name", "")[:200])
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return admin_users.__wrapped__(problem=problem, fields=fields, status=exc.status)
    return pages.redirect_done("console.admin_user", "user_created", user_id=user.id)


@blp.route("/admin/users/<uuid:user_id>", methods=["GET"])
@auth.page("admin")
def admin_user(user_id: uuid.UUID, problem=None, fields=None, status=200):
    user = service.get_user(g.scope, user_id)
    return render("console/admin/user.html", status, user=user, roles=ROLES, problem=problem, fields=fields or {},
                  min_password=MIN_PASSWORD_LENGTH)


@blp.route("/admin/users/<uuid:user_id>", methods=["POST"])
@auth.page("admin")
def admin_user_update(user_id: uuid.UUID):
    form = request.form
    action = form.get("action")
    if action == "password":
        changes, done = {"password": form.get("password", "")}, "password_reset"
    elif action == "deactivate":
        changes, done = {"active": False}, "user_deactivated"
    elif action == "activate":
        changes, done = {"active": True}, "user_activated"
    else:
        changes = {"display_name": form.get("display_name", "")[:200], "areas": area_codes(form.get("areas", ""))}
        if form.get("role") in ROLES:
            changes["role"] = form["role"]
        done = "user_saved"
    try:
        service.update_user(g.scope, user_id, changes)
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return admin_user.__wrapped__(user_id, problem=problem, fields=fields, status=exc.status)
    return pages.redirect_done("console.admin_user", done, user_id=user_id)
