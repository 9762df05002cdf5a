"""Quản trị › Biểu mẫu: an XLSForm uploaded as a draft (its problems listed by sheet, row and
column, as the form engine reports them), a preview of the draft laid out page by page, then
publish (confirmed), close (confirmed by naming the version, as the service requires) and
reopen; through ``server.services.forms``, whose rules decide who may change which form."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import abort, g, request

from server.console import auth, blp, pages
from server.console.views.admin_users import render
from server.errors import Problem
from server.services import forms as service

_WHERE = re.compile(r"^(?P<sheet>[^/]+?)(?:/row (?P<row>\d+))?(?:/(?P<column>.+))?$")
ACTIONS = ("publish", "close", "reopen", "replace")


@dataclass(frozen=True)
class SheetProblem:
    sheet: str
    row: int | None
    column: str | None
    message: str


def sheet_problems(problem: Problem) -> list[SheetProblem]:
    """The form's problems by sheet and row (``survey/row 12/constraint``), in sheet then row
    order, as a person fixing the workbook reads them."""
    out = []
    for error in problem.errors or ():
        path = str(error.get("path", "")) or "settings"
        found = _WHERE.match(path)
        sheet, row, column = (found.group("sheet"), found.group("row"), found.group("column")) if found else (path, None, None)
        out.append(SheetProblem(sheet, int(row) if row else None, column, str(error.get("message", ""))))
    order = {"survey": 0, "choices": 1, "settings": 2, "parameters": 3, "outputs": 4}
    return sorted(out, key=lambda p: (order.get(p.sheet, 9), p.sheet, p.row or 0))


def _forms() -> dict[str, list]:
    out: dict[str, list] = {}
    for row in service.list_versions(g.user):
        out.setdefault(row.form_id, []).append(row)
    return out


def _upload() -> dict:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Problem("request.invalid", errors=[{"path": "file", "code": "required", "message": ""}])
    return service.definition_from_xlsform(upload.read(), form_id=pages.text_arg("form_id"),
                                           version=pages.text_arg("version"))


@blp.route("/admin/forms", methods=["GET"])
@auth.page("admin")
def admin_forms(problem=None, fields=None, status=200, problems=None):
    return render("console/admin/forms.html", status, forms=_forms(), problem=problem, fields=fields or {},
                  problems=problems or [])


@blp.route("/admin/forms", methods=["POST"])
@auth.page("admin")
def admin_forms_upload():
    try:
        row = service.create_version(_upload(), g.user)
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        problems = sheet_problems(exc) if exc.code == "form.invalid" else []
        return admin_forms.__wrapped__(problem=problem, fields=fields, status=exc.status, problems=problems)
    return pages.redirect_done("console.admin_form", "form_uploaded", form_id=row.form_id, version=row.version)


# --- one version --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PreviewField:
    depth: int
    name: str
    label: str
    type: str
    required: bool
    calculated: bool
    choices: list[str]
    more_choices: int


@dataclass(frozen=True)
class PreviewPage:
    title: str
    repeat: bool
    fields: list[PreviewField]


def preview(row, lang: str) -> list[PreviewPage]:
    """The form as the field app pages it: one page per top-level group or repeat, the loose
    top-level questions together on pages of their own, each question with its label in
    ``lang`` (else the form's default), type, whether it is required or calculated, and its
    choices (the first ten)."""
    definition = service.definition_of(row)

    def label(f) -> str:
        return definition.label_text(f.label, lang) or f.name

    def flatten(fields, depth: int) -> list[PreviewField]:
        out = []
        for f in fields:
            choices = definition.choices.get(f.choices, ()) if f.choices else ()
            out.append(PreviewField(depth, f.name, label(f), f.type, bool(f.required), f.computed,
                                    [definition.label_text(c.label, lang) or c.value for c in choices[:10]],
                                    max(0, len(choices) - 10)))
            if f.fields:
                out.extend(flatten(f.fields, depth + 1))
        return out

    pages_, loose = [], []
    for f in definition.fields:
        if f.fields:
            if loose:
                pages_.append(PreviewPage("", False, flatten(loose, 0)))
                loose = []
            pages_.append(PreviewPage(label(f), f.type == "repeat", flatten(f.fields, 0)))
        else:
            loose.append(f)
    if loose:
        pages_.append(PreviewPage("", False, flatten(loose, 0)))
    return pages_


@blp.route("/admin/forms/<form_id>/<version>", methods=["GET"])
@auth.page("admin")
def admin_form(form_id: str, version: str, problem=None, fields=None, status=200, problems=None,
               confirming=None):
    row = service.get_version(g.user, form_id, version)
    layout = preview(row, auth.language())
    title = service.definition_of(row).label_text(row.title, auth.language()) if row.title else form_id
    return render("console/admin/form.html", status, row=row, title=title, layout=layout,
                  questions=sum(1 for p in layout for f in p.fields if not f.calculated and f.type not in
                                ("group", "repeat", "note")),
                  confirm_text=service.confirmation_of(form_id, version), problem=problem, fields=fields or {},
                  problems=problems or [], confirming=confirming)


@blp.route("/admin/forms/<form_id>/<version>/<action>", methods=["POST"])
@auth.page("admin")
def admin_form_action(form_id: str, version: str, action: str):
    if action not in ACTIONS:
        abort(404)
    reason = (request.form.get("reason") or "").strip()[:500] or None
    try:
        if action == "publish":
            if request.form.get("confirm") != "yes":
                return admin_form.__wrapped__(form_id, version, confirming="publish")
            service.publish(form_id, version, g.user)
        elif action == "close":
            service.close(form_id, version, g.user, confirm=(request.form.get("confirm") or "").strip(), reason=reason)
        elif action == "reopen":
            service.reopen(form_id, version, g.user, reason=reason)
        else:
            service.replace_draft(form_id, version, _upload(), g.user)
    except Problem as exc:
        problem, fields = pages.problem_messages(exc)
        problems = sheet_problems(exc) if exc.code == "form.invalid" else []
        return admin_form.__wrapped__(form_id, version, problem=problem, fields=fields, status=exc.status,
                                      problems=problems)
    done = {"publish": "form_published", "close": "form_closed", "reopen": "form_reopened",
            "replace": "form_replaced"}[action]
    return pages.redirect_done("console.admin_form", done, form_id=form_id, version=version)
