"""One submission, laid out like the form: its answers with the form's labels, the classification
with its reasons, the quality flags, the revisions with their diff, the comments; and the
supervisor's decisions on it (approve, reject, request changes), comments and corrections.

Every read and write is the services' (households, reviews, corrections, comments), against the
ETag the supervisor read the page with: when the submission changed meanwhile (a phone sent a new
revision, a colleague decided), the decision is refused and the page shows the new state.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, redirect, render_template, request, url_for

from server.console import auth, blp
from server.console.answers import correctable_fields, diff_rows, layout, output_value, parse_correction
from server.errors import Problem
from server.services import comments as comment_service
from server.services import corrections
from server.services import forms as form_service
from server.services import households as household_service
from server.services import reviews
from server.services import users as user_service
from server.services.reviews import submission_etag

ACTIONS = ("approve", "request_changes", "reject")


def _definition(submission):
    # The submission was read through the caller's scope; its form version is the system's lookup.
    return form_service.definition_of(form_service.get_version(None, submission.form_id, submission.form_version))


def _as_in_a_text_box(text: str) -> str:
    """What an <input type=text> holding ``text`` posts back (browsers drop CR and LF), stripped."""
    return text.replace("\r", "").replace("\n", "").strip()


def _page(submission_id: uuid.UUID, *, status: int = 200, notice: tuple[str, str] | None = None,
          review_errors: dict | None = None, correction: dict | None = None, comment_error: str | None = None,
          comment_text: str = ""):
    scope, lang = g.scope, auth.language()
    found = household_service.get_submission(scope, submission_id)
    submission = found["submission"]
    revisions = found["revisions"]
    definition = _definition(submission)
    thread = comment_service.list_comments(scope, submission_id)
    history = reviews.review_history(submission_id)
    try:
        to_rev = int(request.args.get("to", submission.rev))
        from_rev = int(request.args.get("from", to_rev - 1))
    except ValueError:
        to_rev, from_rev = submission.rev, submission.rev - 1
    diff = None
    if from_rev >= 1 and to_rev > from_rev:
        try:
            diff = diff_rows(definition, household_service.revision_diff(scope, submission_id, from_rev, to_rev),
                              submission.answers, lang)
        except Problem:
            diff = None
    people = user_service.display_names({submission.enumerator_id} | {r.user_id for r in revisions} | {c.author_id for c in thread}
                     | {h.reviewer_id for h in history})
    g.page_url = url_for("console.submission", submission_id=submission_id)
    if notice is None and correction and (correction["errors"] or correction["general"]):
        notice = ("error", auth.t("console.submission.correction.refused"))
    context = {
        "s": submission, "etag": submission_etag(submission), "definition": definition,
        "form_title": definition.label_text(definition.title, lang) if definition.title else submission.form_id,
        "sections": layout(definition, submission.answers, submission.computed, lang),
        "reasons": found["reasons"], "attachments": found["attachments"], "revisions": revisions,
        "history": history, "thread": thread, "people": people, "diff": diff, "from_rev": from_rev,
        "to_rev": to_rev, "notice": notice, "review_errors": review_errors or {}, "actions": ACTIONS,
        "can_decide": g.user.role == "supervisor",
        "correction": correction or {"values": {}, "errors": {}, "reason": "", "general": []},
        "correctable": correctable_fields(definition, submission.answers, lang),
        "comment_error": comment_error, "comment_text": comment_text,
        "head": output_value(definition, "head_name", submission.answers, submission.computed),
    }
    return render_template("console/submission.html", **context), status


@blp.route("/submissions/<uuid:submission_id>", methods=["GET"])
@auth.page("supervisor", "admin")
def submission(submission_id):
    done = request.args.get("done")
    notice = ("ok", auth.t(f"console.submission.done.{done}")) if done in (*ACTIONS, "comment", "correct") else None
    return _page(submission_id, notice=notice)


def _stale() -> tuple[str, str]:
    return ("error", auth.t("console.submission.stale"))


@blp.route("/submissions/<uuid:submission_id>/review", methods=["POST"])
@auth.page("supervisor")
def submission_review(submission_id):
    action = request.form.get("action")
    comment = (request.form.get("comment") or "").strip()[:2000]
    if action not in ACTIONS:
        return _page(submission_id, status=422, review_errors={"action": auth.t("console.submission.pick_action")})
    try:
        reviews.review(g.scope, g.user, submission_id, action=action, comment=comment or None,
                       if_match=[request.form.get("etag", "")])
    except Problem as problem:
        if problem.status == 412:
            return _page(submission_id, status=412, notice=_stale())
        if problem.status == 422:
            return _page(submission_id, status=422,
                         review_errors={"comment": auth.t("console.submission.comment_required")})
        raise
    return redirect(url_for("console.submission", submission_id=submission_id, done=action), code=303)


@blp.route("/submissions/<uuid:submission_id>/comments", methods=["POST"])
@auth.page("supervisor")
def submission_comment(submission_id):
    body = request.form.get("body") or ""
    try:
        comment_service.add_comment(g.scope, g.user, submission_id, body)
    except Problem as problem:
        if problem.status == 422:
            return _page(submission_id, status=422, comment_error=problem.errors[0]["message"] if problem.errors
                         else problem.detail, comment_text=body[:2000])
        raise
    return redirect(url_for("console.submission", submission_id=submission_id, done="comment") + "#comments",
                    code=303)


@blp.route("/submissions/<uuid:submission_id>/correct", methods=["POST"])
@auth.page("supervisor")
def submission_correct(submission_id):
    """The changed answers only (a field left as it was is not sent), with the reason; the
    corrections service validates and recomputes them as it would a phone's revision."""
    found = household_service.get_submission(g.scope, submission_id)
    submission = found["submission"]
    definition = _definition(submission)
    reason = (request.form.get("reason") or "").strip()[:2000]
    values, changed = {}, {}
    for f in correctable_fields(definition, submission.answers, auth.language()):
        key = f"a.{f['name']}"
        if key not in request.form and f["type"] != "select_multiple":
            continue
        if f["type"] == "select_multiple" and f"{key}.present" not in request.form:
            continue
        raw = request.form.getlist(key)
        if (f["type"] == "text" and isinstance(f["current"], str) and raw
                and _as_in_a_text_box(f["current"]) == raw[0].strip()):
            continue  # untouched: a text box drops newlines and we strip, which is no correction
        value = parse_correction(definition, f["name"], raw)
        # Shown again as typed (not as parsed) when the correction is refused.
        values[f["name"]] = [v for v in raw if v] if f["type"] == "select_multiple" else (raw[0] if raw else "")
        if value != f["current"] and not (value is None and f["current"] in (None, "", [])):
            changed[f["name"]] = value
    correction = {"values": values, "errors": {}, "reason": reason, "general": []}
    if not changed:
        correction["general"].append(auth.t("console.submission.correction.nothing"))
        return _page(submission_id, status=422, correction=correction)
    if not reason:
        correction["errors"]["reason"] = auth.t("console.submission.correction.reason_required")
        return _page(submission_id, status=422, correction=correction)
    try:
        corrections.correct(g.scope, g.user, submission_id, answers=changed, reason=reason,
                            if_match=[request.form.get("etag", "")])
    except Problem as problem:
        if problem.status == 412:
            return _page(submission_id, status=412, notice=_stale(), correction=correction)
        if problem.status == 422:
            for error in problem.errors or [{"path": "", "message": problem.detail}]:
                name = str(error.get("path") or "").removeprefix("answers/").split("/")[0]
                if name in values:
                    correction["errors"].setdefault(name, []).append(error.get("message", ""))
                elif name == "reason":
                    correction["errors"]["reason"] = error.get("message", "")
                else:
                    correction["general"].append(f"{error.get('path') or ''}: {error.get('message', '')}".lstrip(": "))
            return _page(submission_id, status=422, correction=correction)
        if problem.code == "season.closed":
            return _page(submission_id, status=409, notice=("error", auth.t("console.submission.closed")),
                         correction=correction)
        raise
    return redirect(url_for("console.submission", submission_id=submission_id, done="correct"), code=303)
