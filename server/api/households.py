from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.api.common import PageQuery, page_limit, page_schema
from server.jsonio import ApiBlueprint
from server.models import REVIEW_STATES
from server.scoping import scope_of
from server.security.current import current_user, requires
from server.services import households as service
from server.services import queue
from server.services.reviews import submission_etag
from sync.quality import FLAGS

blp = ApiBlueprint("households", __name__, url_prefix="/api/v1",
                   description="Households across years and their submissions (supervisors, admins)")

CLASSIFICATIONS = ("poor", "near_poor", "average", "not_poor")


class HouseholdOut(Schema):
    id = fields.UUID(required=True)
    area = fields.String(attribute="area_code", required=True)
    rev = fields.Integer(required=True)
    household_code = fields.String(allow_none=True)
    head_name = fields.String(allow_none=True)
    classification = fields.String(allow_none=True)
    form_id = fields.String()
    form_version = fields.String()
    updated_at = fields.AwareDateTime()


class HouseholdRevisionOut(Schema):
    rev = fields.Integer()
    submission_id = fields.UUID(allow_none=True)
    submission_rev = fields.Integer(allow_none=True)
    base_rev = fields.Integer(allow_none=True)
    merged = fields.Boolean()
    created_at = fields.AwareDateTime()


class HouseholdYearOut(Schema):
    year = fields.Integer()
    area = fields.String(attribute="area_code")
    classification = fields.String(allow_none=True)
    deprivation_count = fields.Integer(allow_none=True)
    income_per_person = fields.Float(allow_none=True)
    submission_id = fields.UUID()


class SubmissionSummary(Schema):
    id = fields.UUID(required=True)
    household_id = fields.UUID(required=True)
    form_id = fields.String()
    form_version = fields.String()
    area = fields.String(attribute="area_code")
    rev = fields.Integer()
    year = fields.Integer()
    classification = fields.String(allow_none=True)
    deprivation_count = fields.Integer(allow_none=True)
    income_per_person = fields.Float(allow_none=True)
    household_code = fields.String(allow_none=True)
    review_state = fields.String()
    flags = fields.List(fields.String(), metadata={
        "description": "Quality flags (docs/quality.md): short_interview, gps_missing, gps_inaccurate, "
                       "roster_mismatch (the submission alone), gps_far, duplicate_id, duplicate_name, "
                       "income_outlier, class_changed (against the village's other households)."})
    enumerator_id = fields.UUID()
    received_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class ConflictOut(Schema):
    id = fields.UUID()
    submission_id = fields.UUID()
    submission_rev = fields.Integer()
    base_rev = fields.Integer(allow_none=True)
    household_rev = fields.Integer()
    fields_ = fields.List(fields.Dict(), attribute="fields", data_key="fields")
    status = fields.String()
    created_at = fields.AwareDateTime()


class HouseholdDetail(HouseholdOut):
    answers = fields.Dict()
    revisions = fields.List(fields.Nested(HouseholdRevisionOut))
    years = fields.List(fields.Nested(HouseholdYearOut))
    submissions = fields.List(fields.Nested(SubmissionSummary))
    conflicts = fields.List(fields.Nested(ConflictOut))


class RevisionOut(Schema):
    rev = fields.Integer()
    content_hash = fields.String()
    form_version = fields.String()
    source = fields.String()
    user_id = fields.UUID()
    device_id = fields.String(allow_none=True)
    household_rev_base = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    received_at = fields.AwareDateTime()
    computed = fields.Dict(metadata={"description": "The values the form calculated for this revision."})
    provenance = fields.Dict(allow_none=True, metadata={
        "description": "What those values were computed with: form_id, form_version, form_sha256, parameter_set "
                       "({province, revision} of the override, or null), visit_date, review_year."})


class AttachmentStatus(Schema):
    name = fields.String()
    sha256 = fields.String()
    size = fields.Integer(allow_none=True)
    received = fields.Boolean()


class SubmissionDetail(SubmissionSummary):
    answers = fields.Dict()
    computed = fields.Dict()
    review_comment = fields.String(allow_none=True)
    reviewed_at = fields.AwareDateTime(allow_none=True)
    started_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    device_id = fields.String(allow_none=True)
    revisions = fields.List(fields.Nested(RevisionOut))
    attachments = fields.List(fields.Nested(AttachmentStatus))
    missing_attachments = fields.List(fields.String())
    complete = fields.Boolean(metadata={"description": "All attachments have arrived."})
    reasons = fields.Dict(metadata={
        "description": "Why the current revision got its class: income against the line that applied, each "
                       "deprived indicator with the answers that caused it, and a sentence in vi and en "
                       "(forms.reasons.explain)."})


class HouseholdsQuery(PageQuery):
    area = fields.String(load_default=None, validate=validate.Length(max=64))
    classification = fields.String(load_default=None, validate=validate.OneOf(CLASSIFICATIONS))
    q = fields.String(load_default=None, validate=validate.Length(max=100),
                      metadata={"description": "Head's name (accents and case ignored) or household code."})


class SubmissionsQuery(HouseholdsQuery):
    form_id = fields.String(load_default=None, validate=validate.Length(max=64))
    form_version = fields.String(load_default=None, validate=validate.Length(max=64))
    status = fields.String(load_default=None, validate=validate.OneOf(REVIEW_STATES),
                           metadata={"description": "Review state."})
    enumerator = fields.UUID(load_default=None, metadata={"description": "The enumerator's user id."})
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "Review year."})
    received_from = fields.Date(load_default=None, metadata={"description": "Received on or after (Vietnam date)."})
    received_to = fields.Date(load_default=None, metadata={"description": "Received on or before (Vietnam date)."})
    where = fields.List(fields.String(validate=validate.Length(max=500)), load_default=list, metadata={
        "description": "FIELD:OP:VALUE on a top-level answer of the form (needs form_id); OP is eq, ne, lt, le, "
                       "gt, ge, or in with values joined by |. Repeat the parameter: the conditions are ANDed."})
    flag = fields.List(fields.String(validate=validate.OneOf(FLAGS)), load_default=list,
                       validate=validate.Length(max=len(FLAGS)), metadata={
                           "description": "A quality flag (docs/quality.md); repeat the parameter for "
                                          "submissions carrying any of them."})
    sort = fields.String(load_default="-received_at", validate=validate.OneOf(queue.SORTS),
                         metadata={"description": "received_at, area or classification; a leading - sorts "
                                                  "descending (default: newest first)."})


HouseholdPage = page_schema(HouseholdOut, "HouseholdPage")
SubmissionPage = page_schema(SubmissionSummary, "SubmissionPage")


@blp.route("/households", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(HouseholdsQuery, location="query")
@blp.response(200, HouseholdPage)
def list_households(args):
    """Household records in your areas."""
    page = service.list_households(scope_of(current_user()), area=args["area"], classification=args["classification"],
                                   q=args["q"], cursor=args["cursor"], limit=page_limit(args))
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/households/<uuid:household_id>", methods=["GET"])
@requires("supervisor", "admin")
@blp.response(200, HouseholdDetail)
def get_household(household_id):
    """The merged record, its revisions, its classification per year, its submissions and open conflicts."""
    found = service.get_household(scope_of(current_user()), household_id)
    household = found.pop("household")
    return {**{k: getattr(household, k) for k in ("id", "area_code", "rev", "household_code", "head_name",
                                                    "classification", "form_id", "form_version", "updated_at",
                                                    "answers")}, **found}


@blp.route("/submissions", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(SubmissionsQuery, location="query")
@blp.response(200, SubmissionPage)
def list_submissions(args):
    """Submissions in your areas, filterable."""
    page = queue.list_submissions(
        scope_of(current_user()), form_id=args["form_id"], form_version=args["form_version"], status=args["status"],
        area=args["area"], enumerator=args["enumerator"], classification=args["classification"], year=args["year"],
        received_from=args["received_from"], received_to=args["received_to"], q=args["q"], where=args["where"],
        flag=args["flag"], sort=args["sort"], cursor=args["cursor"], limit=page_limit(args))
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/submissions/<uuid:submission_id>", methods=["GET"])
@requires("supervisor", "admin")
@blp.response(200, SubmissionDetail)
def get_submission(submission_id):
    """Answers, the server's computed values, review state, revisions, and which attachments are
    missing; the ETag is what POST .../review wants as If-Match."""
    found = service.get_submission(scope_of(current_user()), submission_id)
    submission = found.pop("submission")
    missing = [a["sha256"] for a in found["attachments"] if not a["received"]]
    body = {**{c.key: getattr(submission, c.key) for c in submission.__table__.columns}, **found,
            "missing_attachments": missing, "complete": not missing}
    # The ETag to send back as If-Match when reviewing.
    return body, 200, {"ETag": f'"{submission_etag(submission)}"'}
