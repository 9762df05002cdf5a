"""Quản trị › Nhật ký: the audit log, newest first, filtered by action (or a family of actions,
``season.``), actor, area and dates (Vietnam days); through ``server.services.audit``, which
keeps a provincial admin to the entries of their province, as the API does."""

from __future__ import annotations

import datetime as dt

from flask import g

from server.console import auth, blp, pages
from server.console.views.admin_users import render
from server.errors import Problem
from sync.core import VIETNAM


def _day(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(pages.text_arg(name, 10) or "")
    except ValueError:
        return None


@blp.route("/admin/audit", methods=["GET"])
@auth.page("admin")
def admin_audit():
    since, until = _day("since"), _day("until")
    filters = {"action": pages.text_arg("action"), "actor": pages.text_arg("actor"), "area": pages.text_arg("area"),
               "since": dt.datetime.combine(since, dt.time(), VIETNAM) if since else None,
               # The end of the last day asked for (no upper bound for the calendar's last day).
               "until": dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), VIETNAM)
               if until and until < dt.date.max else None}
    page, problem = None, None
    try:
        from server.services import audit

        page = audit.list_entries(g.scope, cursor=pages.text_arg("cursor", 2000), limit=50, newest_first=True,
                                  **filters)
    except Problem as exc:
        problem = pages.problem_messages(exc)[0]
    return render("console/admin/audit.html", page=page, problem=problem, filters=filters, since=since,
                  until=until)
