"""Mùa rà soát: the village meeting (Họp dân), the posting list (Niêm yết), complaints (Khiếu
nại) and the commune's decision (Quyết định công nhận), all through ``server.services.season``
(Decision 24/2021/QĐ-TTg). The roles are the API's: supervisors record meetings and complaints,
supervisors and admins read them and record the decision, only an admin reopens a closed year.

Every form posts, then redirects to the page it came from with a notice (POST, 303, GET), so a
reload never records a vote twice. A service's refusal (a closed year, a vote with more agreeing
than present) is shown on the page, beside the fields it names.
"""

from __future__ import annotations

import uuid

from flask import abort, g, render_template, request

from server.console import auth, blp, pages
from server.errors import Problem
from server.services import season as service
from server.services.areas import commune_of

SUBPAGES = (("meetings", "console.season_meetings"), ("posting", "console.season_posting"),
            ("complaints", "console.season_complaints"), ("decision", "console.season_decision"))


def _villages():
    return pages.area_options(g.scope, ("village",))


def _communes():
    return pages.area_options(g.scope, ("commune",))


def _first_code(options) -> str | None:
    return options[0].code if options else None


def _closed(area_code: str | None, year: int) -> bool:
    return bool(area_code) and service.year_closed(commune_of(area_code), year)


def _render(template: str, status: int = 200, **context):
    context.setdefault("problem", None)
    context.setdefault("fields", {})
    return render_template(template, subpages=SUBPAGES, done=pages.done_notice(), **context), status


# --- the season's front page ------------------------------------------------------------------

@blp.route("/season", methods=["GET"])
@auth.page("supervisor", "admin")
def season():
    year = pages.year_arg()
    communes = _communes()
    rows = []
    for commune in communes or ():
        decisions = service.decisions(g.scope, commune.code)
        current = next((d for d in reversed(decisions) if d.year == year and d.reopened_at is None), None)
        rows.append({"area": commune, "decision": current})
    return _render("console/season.html", year=year, communes=rows, many=communes is None)


# --- Họp dân: the village meeting ---------------------------------------------------------------

@blp.route("/season/meetings", methods=["GET"])
@auth.page("supervisor", "admin")
def season_meetings(problem=None, fields=None, status=200):
    villages = _villages()
    village = pages.text_arg("village") or _first_code(villages)
    year = pages.year_arg()
    roll, error = [], None
    if village:
        try:
            roll = service.meeting_roll(g.scope, village, year)
        except Problem as exc:
            error = pages.problem_messages(exc)[0]
    return _render("console/season_meetings.html", status, villages=villages, village=village, year=year, roll=roll,
                   error=error, closed=_closed(village, year), problem=problem, fields=fields or {},
                   failed=request.form.get("household") if problem else None, today=pages.today())


@blp.route("/season/meetings/<uuid:household_id>", methods=["POST"])
@auth.page("supervisor")
def season_meeting_record(household_id: uuid.UUID):
    year = pages.int_value("year", pages.YEAR_MIN, pages.YEAR_MAX)
    held_on = pages.date_value("held_on")
    present = pages.int_value("present", 0, 100_000)
    agreeing = pages.int_value("agreeing", 0, 100_000)
    missing = {name: auth.t("console.pages.error.required") for name, value in
               (("held_on", held_on), ("present", present), ("agreeing", agreeing), ("year", year)) if value is None}
    try:
        if missing:
            raise Problem("request.invalid", errors=[{"path": k, "code": "required", "message": v}
                                                     for k, v in missing.items()])
        meeting = service.record_meeting(g.scope, g.user, household_id, year=year, held_on=held_on,
                                         present=present, agreeing=agreeing)
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return season_meetings.__wrapped__(problem=problem, fields=fields, status=exc.status)
    return pages.redirect_done("console.season_meetings", "meeting_agreed" if meeting.agreed else "meeting_resurvey",
                               village=request.form.get("village"), year=year, _anchor=f"h-{household_id}")


# --- Niêm yết: the posting list -----------------------------------------------------------------

@blp.route("/season/posting", methods=["GET"])
@auth.page("supervisor", "admin")
def season_posting():
    villages = _villages()
    village = pages.text_arg("village") or _first_code(villages)
    year = pages.year_arg()
    listing, error = None, None
    if village:
        try:
            listing = service.posting_list(g.scope, village, year)
            service.audit_posting(village, year, "html", listing)
        except Problem as exc:
            error = pages.problem_messages(exc)[0]
    return _render("console/season_posting.html", villages=villages, village=village, year=year, listing=listing,
                   error=error)


@blp.route("/season/posting.<fmt>", methods=["GET"])
@auth.page("supervisor", "admin")
def season_posting_file(fmt: str):
    if fmt not in service.POSTING_FORMATS:
        abort(404)
    village = pages.text_arg("village") or ""
    body, mimetype, name = service.posting_file(g.scope, village, pages.year_arg(), fmt)
    return pages.download(body, mimetype, name)


# --- Khiếu nại: complaints ----------------------------------------------------------------------

@blp.route("/season/complaints", methods=["GET"])
@auth.page("supervisor", "admin")
def season_complaints(problem=None, fields=None, status=200):
    villages = _villages()
    village = pages.text_arg("village") or _first_code(villages)
    year = pages.year_arg()
    state = request.args.get("status") if request.args.get("status") in ("open", "resolved") else None
    page, error, households = None, None, []
    try:
        page = service.list_complaints(g.scope, area=village, year=year, status=state,
                                       cursor=pages.text_arg("cursor", 2000), limit=50)
        if village and g.user.role == "supervisor":
            households = service.households_of(g.scope, village, year)
    except Problem as exc:
        error = pages.problem_messages(exc)[0]
    names = service.household_names([c.household_id for c in page.items]) if page else {}
    return _render("console/season_complaints.html", status, villages=villages, village=village, year=year,
                   state=state, page=page, names=names, households=households, error=error,
                   closed=_closed(village, year), problem=problem, fields=fields or {}, today=pages.today(),
                   outcomes=service.OUTCOMES, failed=request.form.get("complaint") if problem else None)


@blp.route("/season/complaints", methods=["POST"])
@auth.page("supervisor")
def season_complaint_add():
    year = pages.int_value("year", pages.YEAR_MIN, pages.YEAR_MAX)
    received_on = pages.date_value("received_on")
    text = (request.form.get("text") or "")[:4000]
    try:
        household_id = uuid.UUID(request.form.get("household", ""))
    except ValueError:
        household_id = None
    try:
        missing = [name for name, value in (("household", household_id), ("received_on", received_on),
                                            ("year", year), ("text", text.strip())) if not value]
        if missing:
            raise Problem("request.invalid", errors=[{"path": name, "code": "required", "message": ""}
                                                     for name in missing])
        service.add_complaint(g.scope, g.user, household_id, year=year, received_on=received_on, text=text)
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return season_complaints.__wrapped__(problem=problem, fields=fields, status=exc.status)
    return pages.redirect_done("console.season_complaints", "complaint_added", village=request.form.get("village"),
                               year=year)


@blp.route("/season/complaints/<uuid:complaint_id>/resolve", methods=["POST"])
@auth.page("supervisor")
def season_complaint_resolve(complaint_id: uuid.UUID):
    outcome = request.form.get("outcome")
    resolution = (request.form.get("resolution") or "")[:4000]
    try:
        if outcome not in service.OUTCOMES:
            raise Problem("request.invalid", errors=[{"path": "outcome", "code": "required", "message": ""}])
        service.resolve_complaint(g.scope, g.user, complaint_id, outcome=outcome, resolution=resolution)
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return season_complaints.__wrapped__(problem=problem, fields=fields, status=exc.status)
    return pages.redirect_done("console.season_complaints", "complaint_resolved", village=request.form.get("village"),
                               year=request.form.get("year"))


# --- Quyết định công nhận: the commune's decision -----------------------------------------------

@blp.route("/season/decision", methods=["GET"])
@auth.page("supervisor", "admin")
def season_decision(problem=None, fields=None, status=200, confirming=None):
    communes = _communes()
    commune = pages.text_arg("commune") or _first_code(communes)
    year = pages.year_arg() if not confirming else confirming["year"]
    decisions, error, counts = [], None, None
    if commune:
        try:
            decisions = service.decisions(g.scope, commune)
            counts = service.year_summary(g.scope, commune, year)
        except Problem as exc:
            error = pages.problem_messages(exc)[0]
    return _render("console/season_decision.html", status, communes=communes, commune=commune, year=year,
                   decisions=decisions, counts=counts, error=error, closed=_closed(commune, year),
                   problem=problem, fields=fields or {}, confirming=confirming, today=pages.today())


@blp.route("/season/decision", methods=["POST"])
@auth.page("supervisor", "admin")
def season_decision_record():
    commune = (request.form.get("commune") or "").strip()
    year = pages.int_value("year", pages.YEAR_MIN, pages.YEAR_MAX)
    number = (request.form.get("number") or "").strip()[:64]
    decided_on = pages.date_value("decided_on")
    missing = [name for name, value in (("number", number), ("decided_on", decided_on), ("year", year))
               if not value]
    if missing:
        problem, fields = pages.problem_messages(Problem("request.invalid", errors=[
            {"path": name, "code": "required", "message": ""} for name in missing]))
        return season_decision.__wrapped__(problem=problem, fields=fields, status=422)
    if request.form.get("confirm") != "yes":
        # First step: say what closing the year does, and ask again.
        return season_decision.__wrapped__(confirming={"year": year, "number": number, "decided_on": decided_on})
    try:
        service.record_decision(g.scope, g.user, commune, year=year, number=number, decided_on=decided_on)
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return season_decision.__wrapped__(problem=problem, fields=fields, status=exc.status)
    return pages.redirect_done("console.season_decision", "decision_recorded", commune=commune, year=year)


@blp.route("/season/decision/reopen", methods=["POST"])
@auth.page("admin")
def season_decision_reopen():
    commune = (request.form.get("commune") or "").strip()
    year = pages.int_value("year", pages.YEAR_MIN, pages.YEAR_MAX) or 0
    try:
        service.reopen_year(g.scope, g.user, commune, year, request.form.get("reason") or "")
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        return season_decision.__wrapped__(problem=problem, fields=fields, status=exc.status)
    return pages.redirect_done("console.season_decision", "year_reopened", commune=commune, year=year)
