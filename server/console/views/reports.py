"""Báo cáo: the year's official tables on the page, and every report as a file.

The report's files are built by ``server.services.reports`` exactly as the API builds them (the
same rows, the same CSV and XLSX writers, the same audit entry); the console serves them itself
because its cookie session is scoped to ``/console`` and the API takes bearer tokens only.
"""

from __future__ import annotations

from flask import abort, g, render_template, request, stream_with_context

from server.console import auth, blp, pages
from server.errors import Problem
from server.services import form_exports
from server.services import reports as service

FORMATS = {"xlsx": "XLSX", "csv": "CSV", "json": "JSON"}
CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _request(area: str | None, year: int, unreviewed: bool) -> service.Request:
    return service.Request(scope=g.scope, year=year, area=area, unreviewed=unreviewed, lang=auth.language())


@blp.route("/reports", methods=["GET"])
@auth.page("supervisor", "admin")
def reports():
    area = pages.text_arg("area")
    year = pages.year_arg()
    unreviewed = request.args.get("include") == "unreviewed"
    summary, problem = None, None
    try:
        summary = service.build("poverty", _request(area, year, unreviewed), "json")
        summary.rows = list(summary.rows)
    except Problem as exc:
        problem = pages.problem_messages(exc)[0]
    query = {"area": area, "year": year, "include": "unreviewed" if unreviewed else None}
    return render_template("console/reports.html", area=area, year=year, unreviewed=unreviewed, summary=summary,
                           problem=problem, reports=service.REPORTS, formats=FORMATS, query=query,
                           areas=pages.area_options(g.scope, ("province", "commune", "village")))


@blp.route("/reports/<name>.<fmt>", methods=["GET"])
@auth.page("supervisor", "admin")
def reports_file(name: str, fmt: str):
    if name not in service.REPORTS or fmt not in FORMATS:
        abort(404)
    request_ = _request(pages.text_arg("area"), pages.year_arg(), request.args.get("include") == "unreviewed")
    report = service.build(name, request_, fmt)
    if fmt == "csv":
        return pages.download(stream_with_context(service.csv_chunks(report)), CSV, service.file_name(report, "csv"))
    if fmt == "xlsx":
        return pages.download(form_exports.file_chunks(service.xlsx_file(report)), XLSX,
                              service.file_name(report, "xlsx"))
    return pages.download(stream_with_context(service.json_chunks(report)), "application/json",
                          service.file_name(report, "json"))
