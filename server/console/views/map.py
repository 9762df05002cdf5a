"""Bản đồ: where the households of a review year are, drawn from their GPS points in an SVG with
no map tiles (communes work offline and on LANs; no tile server is assumed), with every point
in a coordinate table beside it, which is the map for whoever cannot use the picture."""

from __future__ import annotations

from flask import g, render_template

from server.console import auth, blp, charts, pages
from server.console.views.dashboard import class_series
from server.errors import Problem
from server.services import overview


@blp.route("/map", methods=["GET"])
@auth.page("supervisor", "admin")
def dashboard_map():
    area = pages.text_arg("area")
    year = pages.year_arg()
    t = auth.t
    chart, total, missing, problem, shown = None, 0, 0, None, 0
    try:
        located, total, missing = overview.household_locations(g.scope, year=year, area=area)
        shown = len(located)
        points = [charts.Point(p.lat, p.lon, f"{p.head_name or ''} ({p.household_code or '—'})".strip(),
                               p.classification if p.classification in charts.CLASS_COLOURS else "unclassified")
                  for p in located]
        chart = charts.point_map("households-map", t("console.map.title_year", year=year), points, class_series(),
                                 columns=[t("console.pages.household"), t("console.map.lat"), t("console.map.lon"),
                                          t("console.pages.classification")],
                                 empty_message=t("console.map.no_points"), lang=auth.language())
    except Problem as exc:
        problem = pages.problem_messages(exc)[0]
    return render_template("console/map.html", area=area, year=year, chart=chart, total=total, missing=missing,
                           shown=shown, limit=overview.MAP_LIMIT, problem=problem, series=class_series(),
                           areas=pages.area_options(g.scope, ("province", "commune", "village")))
