"""Hồ sơ: the supervisors' queue, every filter of the API's (``GET /api/v1/submissions``) as a
form, sorts, cursor pages, and bulk approval with per-item results.

The query parameters are the API's own names (``form_id``, ``form_version``, ``status``, ``area``,
``enumerator``, ``classification``, ``year``, ``flag``, ``received_from``, ``received_to``, ``q``,
``where``, ``sort``, ``cursor``), so a filtered queue is a link one can share, and the answer-value
filter rows (``wf``/``wo``/``wv``: field, operator, value) are turned into ``where=FIELD:OP:VALUE``.
All the filtering is ``server.services.queue``'s.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import g, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from forms.filters import OPERATORS
from server.console import auth, blp
from server.console.answers import filter_fields, output_value
from server.errors import Problem
from server.models import REVIEW_STATES, FormVersion
from server.services import areas as area_service
from server.services import forms as form_service
from server.services import queue as queue_service
from server.services import reviews
from server.services import users as user_service
from server.services.reviews import submission_etag
from sync.quality import FLAGS

CLASSIFICATIONS = ("poor", "near_poor", "average", "not_poor")
PAGE_SIZE = 50
WHERE_ROWS = 3
MAX_AREA_OPTIONS = 600
MAX_PEOPLE = 500


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    try:
        value = int(text) if text else None
    except ValueError:
        return None
    return value if value is None or 2000 <= value <= 2100 else None


def read_filters(args: MultiDict) -> dict[str, Any]:
    """The queue's filters from a query string; what cannot be read is left out (and shown empty)."""
    where = [w for w in args.getlist("where") if w]
    fields, ops, values = args.getlist("wf"), args.getlist("wo"), args.getlist("wv")
    for i, name in enumerate(fields):
        if name:
            op = ops[i] if i < len(ops) and ops[i] in OPERATORS else "eq"
            where.append(f"{name}:{op}:{values[i] if i < len(values) else ''}")
    return {
        "form_id": args.get("form_id") or None, "form_version": args.get("form_version") or None,
        "status": args.get("status") if args.get("status") in REVIEW_STATES else None,
        "area": (args.get("area") or "").strip() or None, "enumerator": _uuid(args.get("enumerator")),
        "classification": args.get("classification") if args.get("classification") in CLASSIFICATIONS else None,
        "year": _int(args.get("year")), "received_from": _date(args.get("received_from")),
        "received_to": _date(args.get("received_to")), "q": (args.get("q") or "").strip()[:100] or None,
        "where": where, "flag": [f for f in args.getlist("flag") if f in FLAGS],
    }


def _form_version(versions: list[FormVersion], form_id: str | None, version: str | None) -> FormVersion | None:
    """The version whose fields the answer filter offers: the one chosen, else the form's newest."""
    mine = [v for v in versions if v.form_id == form_id and v.state != "draft"]
    if version:
        mine = [v for v in mine if v.version == version]
    return mine[-1] if mine else None


def _where_rows(where: list[str]) -> list[dict[str, str]]:
    rows = []
    for spec in where[:WHERE_ROWS]:
        name, _, rest = spec.partition(":")
        op, _, value = rest.partition(":")
        rows.append({"field": name, "op": op, "value": value})
    while len(rows) < WHERE_ROWS:
        rows.append({"field": "", "op": "eq", "value": ""})
    return rows


def _page_url(args: MultiDict, cursor: str | None) -> str:
    kept = [(k, v) for k, v in args.items(multi=True) if k not in ("cursor", "lang")]
    if cursor:
        kept.append(("cursor", cursor))
    return url_for("console.queue") + ("?" + urlencode(kept) if kept else "")


def _context(args: MultiDict, results: list[dict] | None = None, bulk_error: str | None = None) -> dict[str, Any]:
    scope, lang = g.scope, auth.language()
    filters = read_filters(args)
    sort = args.get("sort") if args.get("sort") in queue_service.SORTS else "-received_at"
    cursor = args.get("cursor") or None
    g.page_url = _page_url(args, cursor)
    versions = form_service.list_versions(g.user)
    problem = None
    try:
        page = queue_service.list_submissions(scope, sort=sort, cursor=cursor, limit=PAGE_SIZE, **filters)
    except Problem as exc:
        page, problem = None, exc
    areas = area_service.area_options(scope, ("commune", "village"), MAX_AREA_OPTIONS)
    enumerators = user_service.list_users(scope, role="enumerator", cursor=None, limit=MAX_PEOPLE).items
    names = user_service.display_names({s.enumerator_id for s in page.items} if page else set())
    area_names = {a.code: a.name for a in areas or ()}
    chosen = _form_version(versions, filters["form_id"], filters["form_version"])
    fields = filter_fields(form_service.definition_of(chosen), lang) if chosen else {}
    definitions = {(v.form_id, v.version): v for v in versions}
    rows = []
    for s in page.items if page else ():
        version = definitions.get((s.form_id, s.form_version))
        head = output_value(form_service.definition_of(version), "head_name", s.answers, s.computed) \
            if version is not None else None
        rows.append({"s": s, "etag": submission_etag(s), "head": head,
                     "area": area_names.get(s.area_code, s.area_code), "enumerator": names.get(s.enumerator_id, "—")})
    forms: dict[str, Any] = {}
    for v in versions:
        if v.state != "draft":
            title = form_service.definition_of(v).title
            forms.setdefault(v.form_id, {"title": (title or {}).get(lang) if isinstance(title, dict) else title,
                                         "versions": []})["versions"].append(v.version)
    return {
        "filters": filters, "sort": sort, "sorts": queue_service.SORTS, "rows": rows, "page": page,
        "problem": problem, "forms": forms, "states": REVIEW_STATES, "classifications": CLASSIFICATIONS,
        "flags": FLAGS, "areas": areas, "enumerators": enumerators,
        "fields": fields, "fields_json": json.dumps(fields, ensure_ascii=False), "operators": OPERATORS,
        "where_rows": _where_rows(filters["where"]), "cursor": cursor, "results": results,
        "bulk_error": bulk_error, "can_review": g.user.role == "supervisor", "back": g.page_url,
        "first_url": _page_url(args, None) if cursor else None,
        "next_url": _page_url(args, page.next_cursor) if page and page.next_cursor else None,
    }


@blp.route("/submissions", methods=["GET"])
@auth.page("supervisor", "admin")
def queue():
    context = _context(request.args)
    status = 422 if context["problem"] is not None and context["problem"].status == 422 else 200
    return render_template("console/queue.html", **context), status


@blp.route("/submissions/review", methods=["POST"])
@auth.page("supervisor")
def queue_review():
    """Approve the ticked submissions, each against the version the supervisor saw (its ETag):
    one that changed meanwhile is reported, not approved, and does not stop the others."""
    back = request.form.get("back", "")
    query = back.partition("?")[2]
    args = MultiDict(parse_qsl(query, keep_blank_values=True))
    items = []
    for value in request.form.getlist("item")[:500]:
        raw_id, _, etag = value.partition(":")
        submission_id = _uuid(raw_id)
        if submission_id is not None:
            items.append((submission_id, etag))
    if not items:
        context = _context(args, bulk_error=auth.t("console.queue.none_ticked"))
        return render_template("console/queue.html", **context), 422
    results = reviews.review_many(g.scope, g.user, action="approve", comment=request.form.get("comment") or None,
                                  items=items)
    context = _context(args, results=_explain(results))
    return render_template("console/queue.html", **context)


def _explain(results: list[dict]) -> list[dict]:
    out = []
    for r in results:
        link = url_for("console.submission", submission_id=r["id"])
        if r["status"] == 200:
            out.append({"kind": "ok", "id": r["id"], "link": link, "text": auth.t("console.queue.result.ok")})
        elif r["status"] == 412:
            out.append({"kind": "stale", "id": r["id"], "link": link, "text": auth.t("console.queue.result.stale")})
        else:
            out.append({"kind": "failed", "id": r["id"], "link": link,
                        "text": auth.t("console.queue.result.failed", detail=r.get("detail", ""))})
    return out
