"""The commune's review season: village meetings, complaints, the posting list, the commune's
decision that closes the year (and an admin's reopening of it)."""

from __future__ import annotations

from flask import Response
from marshmallow import Schema, fields, validate

from server.api.common import PageQuery, page_limit, page_schema
from server.jsonio import ApiBlueprint
from server.scoping import scope_of
from server.security.current import current_user, requires
from server.services import season as service

blp = ApiBlueprint("season", __name__, url_prefix="/api/v1",
                   description="The review season: village meetings, complaints, posting lists, the commune's decision")

YEAR = validate.Range(min=2020, max=2100)


class MeetingIn(Schema):
    year = fields.Integer(required=True, validate=YEAR, metadata={"description": "Review year"})
    held_on = fields.Date(required=True)
    present = fields.Integer(required=True, validate=validate.Range(min=1, max=100_000))
    agreeing = fields.Integer(required=True, validate=validate.Range(min=0, max=100_000))


class MeetingOut(Schema):
    id = fields.UUID(required=True)
    household_id = fields.UUID(required=True)
    year = fields.Integer(required=True)
    submission_id = fields.UUID(required=True)
    held_on = fields.Date(required=True)
    present = fields.Integer(required=True)
    agreeing = fields.Integer(required=True)
    agreed = fields.Boolean(required=True, metadata={"description": "At least half of those present agreed; "
                                                                    "otherwise the visit went back for a new survey."})
    created_at = fields.AwareDateTime(required=True)


class MeetingsOut(Schema):
    items = fields.List(fields.Nested(MeetingOut), required=True)


@blp.route("/households/<uuid:household_id>/meetings", methods=["POST"])
@requires("supervisor")
@blp.arguments(MeetingIn)
@blp.response(201, MeetingOut)
@blp.alt_response(409, description="The commune's decision has closed the year (season.closed)")
def record_meeting(body, household_id):
    """Record the village meeting's vote on a household; under 50 % agreeing sends its visit back for a new
    survey (review state changes_requested, which the phone gets at its next pull)."""
    return service.record_meeting(scope_of(current_user()), current_user(), household_id, **body)


@blp.route("/households/<uuid:household_id>/meetings", methods=["GET"])
@requires("supervisor", "admin")
@blp.response(200, MeetingsOut)
def list_meetings(household_id):
    """The village meetings held on a household."""
    return {"items": service.meetings(scope_of(current_user()), household_id)}


class ComplaintIn(Schema):
    year = fields.Integer(required=True, validate=YEAR)
    received_on = fields.Date(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class ComplaintOut(Schema):
    id = fields.UUID(required=True)
    household_id = fields.UUID(required=True)
    year = fields.Integer(required=True)
    area = fields.String(attribute="area_code", required=True)
    received_on = fields.Date(required=True)
    text = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "open or resolved"})
    outcome = fields.String(allow_none=True, metadata={"description": "upheld or rejected"})
    resolution = fields.String(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime(required=True)


class ResolveComplaintIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(service.OUTCOMES))
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class ComplaintsQuery(PageQuery):
    area = fields.String(load_default=None, validate=validate.Length(max=64))
    year = fields.Integer(load_default=None, validate=YEAR)
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "resolved"]))


ComplaintPage = page_schema(ComplaintOut, "ComplaintPage")


@blp.route("/households/<uuid:household_id>/complaints", methods=["POST"])
@requires("supervisor")
@blp.arguments(ComplaintIn)
@blp.response(201, ComplaintOut)
def add_complaint(body, household_id):
    """Record a household's complaint about its class."""
    return service.add_complaint(scope_of(current_user()), current_user(), household_id, **body)


@blp.route("/complaints", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(ComplaintsQuery, location="query")
@blp.response(200, ComplaintPage)
def list_complaints(args):
    """Complaints in your areas."""
    page = service.list_complaints(scope_of(current_user()), area=args["area"], year=args["year"],
                                   status=args["status"], cursor=args["cursor"], limit=page_limit(args))
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/complaints/<uuid:complaint_id>/resolve", methods=["POST"])
@requires("supervisor")
@blp.arguments(ResolveComplaintIn)
@blp.response(200, ComplaintOut)
def resolve_complaint(body, complaint_id):
    """Settle a complaint with its outcome."""
    return service.resolve_complaint(scope_of(current_user()), current_user(), complaint_id, **body)


class DecisionIn(Schema):
    year = fields.Integer(required=True, validate=YEAR)
    number = fields.String(required=True, validate=validate.Length(min=1, max=64),
                           metadata={"description": "The decision's number, e.g. 123/QĐ-UBND"})
    decided_on = fields.Date(required=True)


class DecisionOut(Schema):
    id = fields.UUID(required=True)
    commune = fields.String(attribute="commune_code", required=True)
    year = fields.Integer(required=True)
    number = fields.String(required=True)
    decided_on = fields.Date(required=True)
    created_at = fields.AwareDateTime(required=True)
    reopened_at = fields.AwareDateTime(allow_none=True)
    reopen_reason = fields.String(allow_none=True)


class DecisionsOut(Schema):
    items = fields.List(fields.Nested(DecisionOut), required=True)


class YearReopenIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@blp.route("/areas/<string:code>/decisions", methods=["POST"])
@requires("supervisor", "admin")
@blp.arguments(DecisionIn)
@blp.response(201, DecisionOut)
def record_decision(body, code):
    """Record the commune's recognition decision: it closes the commune's review year (pushes and corrections
    for it are refused from then on)."""
    return service.record_decision(scope_of(current_user()), current_user(), code, **body)


@blp.route("/areas/<string:code>/decisions", methods=["GET"])
@requires("supervisor", "admin")
@blp.response(200, DecisionsOut)
def list_decisions(code):
    """The commune's decisions, with reopenings."""
    return {"items": service.decisions(scope_of(current_user()), code)}


@blp.route("/areas/<string:code>/decisions/<int:year>/reopen", methods=["POST"])
@requires("admin")
@blp.arguments(YearReopenIn)
@blp.response(200, DecisionOut)
def reopen_year(body, code, year):
    """Reopen a closed review year (audited with the reason)."""
    return service.reopen_year(scope_of(current_user()), current_user(), code, year, body["reason"])


class PostingQuery(Schema):
    year = fields.Integer(required=True, validate=YEAR)
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "pdf", "xlsx"]))


class PostedHousehold(Schema):
    no = fields.Integer(required=True)
    head_name = fields.String(required=True)
    address = fields.String(required=True)
    village = fields.String(required=True)
    classification = fields.String(required=True)
    label = fields.String(required=True)


class PostingOut(Schema):
    title = fields.String(required=True)
    place = fields.String(required=True)
    year = fields.Integer(required=True)
    village = fields.String(required=True)
    households = fields.List(fields.Nested(PostedHousehold), required=True)
    counts = fields.Dict(required=True)


@blp.route("/areas/<string:code>/posting-list", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(PostingQuery, location="query")
@blp.response(200, PostingOut)
@blp.alt_response(200, description="The list as a printable PDF (format=pdf) or a spreadsheet (format=xlsx)",
                  content_type="application/pdf")
def posting_list(args, code):
    """The village's public list of households proposed as poor and near-poor: head's name, address, village
    and proposed class only (no ID numbers, incomes or scores), as JSON, PDF to print, or XLSX."""
    if args["format"] == "json":
        listing = service.posting_list(scope_of(current_user()), code, args["year"])
        service.audit_posting(code, args["year"], "json", listing)
        return listing
    body, mimetype, name = service.posting_file(scope_of(current_user()), code, args["year"], args["format"])
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})
