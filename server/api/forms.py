from __future__ import annotations

import functools

import orjson
from flask import Response, current_app, request
from marshmallow import Schema, fields, validate

from server.errors import Problem, invalid
from server.http import accepts
from server.jsonio import ApiBlueprint, nfc_deep
from server.scoping import scope_of
from server.security.current import current_user, requires
from server.services import forms as service

blp = ApiBlueprint("forms", __name__, url_prefix="/api/v1",
                   description="Versioned form definitions and per-province parameter sets")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM_BODY = {"content": {
    "application/json": {"schema": {"type": "object", "description": "A form document (docs/forms.md)."}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "An .xlsx XLSForm"}}}},
}}


class VersionOut(Schema):
    form_id = fields.String(required=True)
    version = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["draft", "published", "closed"]))
    title = fields.Dict()
    sha256 = fields.String(required=True)
    created_at = fields.AwareDateTime()
    published_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)


class FormOut(Schema):
    form_id = fields.String(required=True)
    title = fields.Dict()
    versions = fields.List(fields.Nested(VersionOut), required=True)


FormList = Schema.from_dict({"items": fields.List(fields.Nested(FormOut), required=True)}, name="FormList")


class CloseIn(Schema):
    confirm = fields.String(required=True, validate=validate.Length(max=200), metadata={
        "description": "The version being closed, as `<form_id>/<version>` (e.g. `household-review/2022.1`): "
                       "closing stops every phone of the form's area from starting visits on it.",
        "example": "household-review/2022.1"})
    reason = fields.String(load_default=None, validate=validate.Length(min=1, max=500),
                           metadata={"description": "Why (kept in the audit log)."})


class ReopenIn(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(min=1, max=500),
                           metadata={"description": "Why (kept in the audit log)."})


class ParametersIn(Schema):
    parameters = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), required=True,
                             validate=validate.Length(min=1, max=200))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ParameterSetOut(Schema):
    province = fields.String(attribute="province_code")
    revision = fields.Integer()
    parameters = fields.Dict()
    reason = fields.String()
    created_by = fields.UUID(allow_none=True)
    created_at = fields.AwareDateTime()


class ParametersQuery(Schema):
    province = fields.String(load_default=None, validate=validate.Length(max=8))


class ParametersOut(Schema):
    form_id = fields.String()
    version = fields.String()
    province = fields.String(allow_none=True)
    effective = fields.Dict(required=True)
    overrides = fields.List(fields.Nested(ParameterSetOut))


def may_change_form(view):
    """403 for an admin who may not change this form (a national one, or another province's),
    decided from the URL before the body is read; the service checks it again for every caller."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        service.authorise(current_user(), kwargs["form_id"])
        return view(*args, **kwargs)

    return wrapper


WHO_CHANGES = ("National forms are changed by national admins (no areas); a form whose id starts with "
               "`p<province code>-` (e.g. `p79-...`) by the admins of that whole province too. Anyone else "
               "gets 403, whether or not the version exists.")


def _read_definition() -> object:
    """The body as a form document: JSON, or an XLSForm upload converted to one."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise invalid("file", "required", "Send the XLSForm as multipart field 'file'.")
        return service.definition_from_xlsform(upload.read(), form_id=request.form.get("form_id") or None,
                                               version=request.form.get("version") or None)
    try:
        return nfc_deep(orjson.loads(request.get_data(cache=False)))
    except orjson.JSONDecodeError as exc:
        raise Problem("request.malformed_json", f"The body is not valid JSON: {exc}") from exc


@blp.route("/forms", methods=["GET"])
@requires()
@blp.response(200, FormList)
def list_forms():
    """Forms with their versions and states (drafts are shown to admins only)."""
    forms: dict[str, dict] = {}
    for row in service.list_versions(current_user()):
        entry = forms.setdefault(row.form_id, {"form_id": row.form_id, "title": row.title, "versions": []})
        entry["versions"].append(row)
        entry["title"] = row.title
    return {"items": list(forms.values())}


@blp.route("/forms", methods=["POST"])
@accepts("application/json", "multipart/form-data")
@requires("admin")
@blp.response(201, VersionOut)
@blp.doc(requestBody=FORM_BODY)
def create_form_version():
    """Create a draft version from a JSON form or an .xlsx XLSForm; 422 lists every problem.

    A provincial admin creates only forms of their province (`form_id` `p<province code>-...`);
    a national form id is a 403 for them. A `p..-` id naming no province is a 422 on `form_id`."""
    return service.create_version(_read_definition(), current_user())


@blp.route("/forms/<string:form_id>/versions/<string:version>", methods=["GET"])
@requires()
@blp.response(200, {"type": "object", "description": "The form document, canonical bytes"})
@blp.alt_response(304, description="Not modified (If-None-Match matched the ETag)")
def get_form_version(form_id, version):
    """The definition's canonical bytes with a strong ETag (sha256); If-None-Match gives 304.

    Another province's form (`p<code>-...`) is a 404 for users outside that province."""
    row = service.get_version(current_user(), form_id, version)
    etag = row.sha256
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = current_app.response_class(row.canonical.encode(), mimetype="application/json")
    response.set_etag(etag)
    response.headers["X-Form-State"] = row.state
    response.headers["Cache-Control"] = "private, no-cache" if row.state == "draft" else "private, max-age=0"
    return response


@blp.route("/forms/<string:form_id>/versions/<string:version>", methods=["PUT"])
@accepts("application/json", "multipart/form-data")
@requires("admin")
@may_change_form
@blp.response(200, VersionOut)
@blp.alt_response(403, description=WHO_CHANGES)
@blp.doc(requestBody=FORM_BODY)
def replace_form_version(form_id, version):
    """Replace a draft; 409 once published."""
    return service.replace_draft(form_id, version, _read_definition(), current_user())


@blp.route("/forms/<string:form_id>/versions/<string:version>/publish", methods=["POST"])
@requires("admin")
@may_change_form
@blp.response(200, VersionOut)
@blp.alt_response(403, description=WHO_CHANGES)
def publish_form_version(form_id, version):
    """Draft -> published: the bytes are frozen from now on, and phones of the form's area get it."""
    return service.publish(form_id, version, current_user())


@blp.route("/forms/<string:form_id>/versions/<string:version>/close", methods=["POST"])
@requires("admin")
@may_change_form
@blp.arguments(CloseIn)
@blp.response(200, VersionOut)
@blp.alt_response(403, description=WHO_CHANGES)
def close_form_version(body, form_id, version):
    """Published -> closed: no longer offered to phones; new visits on it are rejected.

    The body confirms which version: `{"confirm": "<form_id>/<version>"}`; without it, or naming
    another version, the answer is a 422 on `confirm` and nothing changes. Closing a closed version
    again changes nothing. Audited (`form.close`, with the reason); undone by `.../reopen`."""
    return service.close(form_id, version, current_user(), confirm=body["confirm"], reason=body["reason"])


@blp.route("/forms/<string:form_id>/versions/<string:version>/reopen", methods=["POST"])
@requires("admin")
@may_change_form
@blp.arguments(ReopenIn)
@blp.response(200, VersionOut)
@blp.alt_response(403, description=WHO_CHANGES)
def reopen_form_version(body, form_id, version):
    """Closed -> published: a version closed by mistake takes new visits again and is offered to
    phones at their next pull. Reopening a published version changes nothing; a draft is a 409.
    Audited (`form.reopen`, with when it had been closed and the reason)."""
    return service.reopen(form_id, version, current_user(), reason=body["reason"])


@blp.route("/forms/<string:form_id>/versions/<string:version>/parameters", methods=["GET"])
@requires()
@blp.arguments(ParametersQuery, location="query")
@blp.response(200, ParametersOut)
def get_parameters(args, form_id, version):
    """Effective parameters for a province (the form's, overlaid by the province's override) and the override history."""
    user = current_user()
    row = service.get_version(user, form_id, version)
    province = args["province"]
    scope = scope_of(user)
    if province is None and len(scope.provinces()) == 1:
        province = scope.provinces()[0]
    if province is not None and not (scope.covers(province) or province in scope.ancestors()):
        raise Problem("auth.forbidden", f"Province {province!r} is outside your areas.")
    return {"form_id": form_id, "version": version, "province": province,
            "effective": service.effective_parameters(row, province),
            "overrides": service.parameter_history(row, scope) if user.role == "admin" else []}


@blp.route("/forms/<string:form_id>/versions/<string:version>/parameters/<string:province>", methods=["PUT"])
@requires("admin")
@blp.arguments(ParametersIn)
@blp.response(200, ParameterSetOut)
def set_parameters(body, form_id, version, province):
    """Override parameters for one province (a new, audited revision each time)."""
    return service.set_parameters(scope_of(current_user()), form_id, version, province, body["parameters"],
                                  body["reason"], current_user())
