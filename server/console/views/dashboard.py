"""Tổng quan: the review at a glance, as charts that need no internet (``server.console.charts``)
with their figures as tables: classification per village and deprivations per indicator (from
the reports service, the official tables' own counting), progress per enumerator and per day
(``server.services.overview``).

By default the dashboard counts every household's latest visit whatever its review state (the
reports' preview), because it follows a review in progress; "official figures only" switches to
the approved visits, as the published tables count.
"""

from __future__ import annotations

from flask import g, render_template, request

from server.console import auth, blp, charts, pages
from server.errors import Problem
from server.services import overview
from server.services import reports as report_service

CLASS_KEYS = ("poor", "near_poor", "average", "not_poor", "unclassified")
STATE_COLOURS = {"approved": "#2e7d4f", "received": "#2f6fba", "changes_requested": "#a15c00", "rejected": "#b42318"}


def class_series() -> list[charts.Series]:
    return [charts.Series(k, auth.t(f"console.pages.class.{k}"), charts.CLASS_COLOURS[k]) for k in CLASS_KEYS]


@blp.route("/dashboard", methods=["GET"])
@auth.page("supervisor", "admin")
def dashboard():
    area = pages.text_arg("area")
    year = pages.year_arg()
    official = request.args.get("counts") == "official"
    lang = auth.language()
    t = auth.t
    problem = None
    chart_list: list[charts.Chart] = []
    totals = None
    try:
        request_ = report_service.Request(scope=g.scope, year=year, area=area, unreviewed=not official, lang=lang)
        summary = report_service.poverty(request_)
        rows = list(summary.rows)
        chart_list.append(charts.stacked_bars(
            "classes", t("console.dashboard.by_village"), class_series(),
            [(r["name"], {k: r.get(k, 0) for k in CLASS_KEYS}) for r in rows],
            label_heading=t("console.pages.area"), total_heading=t("console.dashboard.households"),
            empty_message=t("console.dashboard.no_data"), lang=lang))
        totals = summary.total
        deprivations = report_service.deprivations(request_)
        indicators = list(deprivations.rows)
        for cls in ("poor", "near_poor"):
            chart_list.append(charts.bars(
                f"deprived-{cls}", t(f"console.dashboard.deprived_{cls}", n=deprivations.extra["households"][cls]),
                [(r["indicator"], r[f"{cls}_deprived"]) for r in indicators] if deprivations.extra["households"][cls] else [],
                label_heading=t("console.dashboard.indicator"), value_heading=t("console.dashboard.households"),
                empty_message=t("console.dashboard.no_data"), lang=lang, colour=charts.CLASS_COLOURS[cls]))
        people = overview.progress_by_enumerator(g.scope, year=year, area=area)
        states = [charts.Series(s, t(f"console.pages.state.{s}"), c) for s, c in STATE_COLOURS.items()]
        chart_list.append(charts.stacked_bars(
            "enumerators", t("console.dashboard.by_enumerator"), states,
            [(p.display_name or p.username, p.by_state) for p in people],
            label_heading=t("console.dashboard.enumerator"), total_heading=t("console.dashboard.submissions"),
            empty_message=t("console.dashboard.no_data"), lang=lang))
        days = overview.progress_by_day(g.scope, year=year, area=area)
        chart_list.append(charts.columns(
            "days", t("console.dashboard.by_day"), [(d.strftime("%d/%m"), n) for d, n in days],
            label_heading=t("console.dashboard.day"), value_heading=t("console.dashboard.submissions"),
            empty_message=t("console.dashboard.no_data"), lang=lang))
        submitted = sum(p.total for p in people)
        approved = sum(p.by_state.get("approved", 0) for p in people)
    except Problem as exc:
        problem = pages.problem_messages(exc)[0]
        submitted = approved = 0
    return render_template("console/dashboard.html", area=area, year=year, official=official, charts=chart_list,
                           totals=totals, submitted=submitted, approved=approved, problem=problem,
                           counting=t("console.dashboard.counting_official" if official else "console.dashboard.counting_all"),
                           areas=pages.area_options(g.scope, ("province", "commune", "village")))
