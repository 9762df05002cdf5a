"""Xuất dữ liệu: a form's submissions as CSV files in a zip, or an XLSX workbook, with the
queue's filters.

The filters are read by the API's own export schema (``server.api.reports.ExportQuery``: the
queue's filters, a filter the queue gains exports take too) and the file is written by
``server.services.form_exports``, the API's writer: same rows, same bytes, same audit entry.
"""

from __future__ import annotations

from flask import g, render_template, request, stream_with_context
from marshmallow import ValidationError

from server.api.households import CLASSIFICATIONS
from server.api.reports import ExportQuery
from server.console import auth, blp, pages
from server.errors import Problem
from server.models import REVIEW_STATES
from server.services import form_exports
from server.services import forms as form_service
from sync.quality import FLAGS

ZIP = "application/zip"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_LISTS = ("where", "flag")


def _filters_from(args) -> dict:
    """The query string as ExportQuery reads it (empty fields dropped: a blank select is "any";
    ``where`` also comes as one condition a line from the page's text area)."""
    raw: dict = {}
    for name in ExportQuery._declared_fields:
        if name in _LISTS:
            values = [v.strip() for value in args.getlist(name) for v in value.splitlines() if v.strip()]
            if values:
                raw[name] = values
        elif args.get(name, "").strip():
            raw[name] = args[name].strip()
    return ExportQuery().load(raw)


def _forms() -> dict[str, list]:
    """Published and closed versions per form (drafts have no submissions)."""
    out: dict[str, list] = {}
    for row in form_service.list_versions(g.user):
        if row.state != "draft":
            out.setdefault(row.form_id, []).append(row)
    return out


@blp.route("/exports", methods=["GET"])
@auth.page("supervisor", "admin")
def exports():
    forms = _forms()
    form_id = pages.text_arg("form_id") or next(iter(forms), None)
    return render_template("console/exports.html", forms=forms, form_id=form_id, args=request.args,
                           where="\n".join(request.args.getlist("where")), states=REVIEW_STATES,
                           classifications=CLASSIFICATIONS, flags=FLAGS, problem=None, fields={},
                           areas=pages.area_options(g.scope, ("province", "commune", "village")))


@blp.route("/exports/download", methods=["GET"])
@auth.page("supervisor", "admin")
def exports_download():
    forms = _forms()
    form_id = pages.text_arg("form_id") or ""
    problem, fields = None, {}
    try:
        args = _filters_from(request.args)
        fmt = args.pop("format")
        filters = {"form_version": args.pop("version"), **args}
        export = form_exports.prepare(g.scope, form_id, fmt, filters)
    except ValidationError as exc:
        problem = auth.t("console.pages.problem.request.invalid")
        fields = {name: "; ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
                  for name, messages in exc.messages.items()}
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
    if problem is not None:
        body = render_template("console/exports.html", forms=forms, form_id=form_id, args=request.args,
                               where="\n".join(request.args.getlist("where")), states=REVIEW_STATES,
                               classifications=CLASSIFICATIONS, flags=FLAGS, problem=problem, fields=fields,
                               areas=pages.area_options(g.scope, ("province", "commune", "village")))
        return body, 422
    if fmt == "csv":
        return pages.download(stream_with_context(form_exports.csv_zip(export)), ZIP, export.file_name)
    return pages.download(form_exports.file_chunks(form_exports.xlsx_file(export)), XLSX, export.file_name)
