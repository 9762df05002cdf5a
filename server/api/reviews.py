from __future__ import annotations

from flask import request
from marshmallow import Schema, ValidationError, fields, validate

from server.api.common import PageQuery, page_limit, page_schema
from server.api.households import ConflictOut
from server.jsonio import ApiBlueprint
from server.scoping import scope_of
from server.security.current import current_user, requires
from server.services import comments, corrections, households
from server.services import reviews as service

blp = ApiBlueprint("reviews", __name__, url_prefix="/api/v1",
                   description="Supervisors' decisions: reviews and the conflict queue")


class ReviewIn(Schema):
    action = fields.String(required=True, validate=validate.OneOf(sorted(service.ACTIONS)))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ReviewOut(Schema):
    action = fields.String()
    state = fields.String()
    comment = fields.String(allow_none=True)
    rev = fields.Integer()
    reviewer_id = fields.UUID()
    created_at = fields.AwareDateTime()


class ReviewedOut(Schema):
    id = fields.UUID(required=True)
    rev = fields.Integer()
    review_state = fields.String(required=True)
    review_comment = fields.String(allow_none=True)
    reviewed_at = fields.AwareDateTime()
    reviews = fields.List(fields.Nested(ReviewOut))


class ChoiceField(fields.Field):
    """'current', 'incoming', or {"value": ...}."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value in ("current", "incoming"):
            return value
        if isinstance(value, dict) and set(value) == {"value"}:
            return value
        raise ValidationError("Choose 'current', 'incoming' or {\"value\": ...}.")


class ResolveIn(Schema):
    choices = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=300)), values=ChoiceField(),
                          required=True, validate=validate.Length(min=1, max=500),
                          metadata={"description": "Conflict path -> 'current', 'incoming' or {\"value\": ...}."})
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ConflictDetail(ConflictOut):
    household_id = fields.UUID()
    area = fields.String(attribute="area_code")
    resolution = fields.Dict(allow_none=True)
    resolved_by = fields.UUID(allow_none=True)
    resolved_at = fields.AwareDateTime(allow_none=True)


class ConflictsQuery(PageQuery):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved"]))
    area = fields.String(load_default=None, validate=validate.Length(max=64))


ConflictPage = page_schema(ConflictDetail, "ConflictPage")


def _if_match() -> list[str] | None:
    """The strong entity tags of If-Match, ``["*"]`` for ``*`` (RFC 9110 13.1.1: it matches any
    current representation), None without the header. werkzeug parses ``*`` as a star tag with
    no tags in it, and a weak tag never matches (If-Match compares strongly): both are an empty
    iteration, which must not read as a missing header."""
    if not request.headers.get("If-Match", "").strip():
        return None
    tags = request.if_match
    return ["*"] if tags.star_tag else list(tags)


@blp.route("/submissions/<uuid:submission_id>/review", methods=["POST"])
@requires("supervisor")
@blp.arguments(ReviewIn)
@blp.response(200, ReviewedOut)
@blp.alt_response(412, description="The submission changed since it was read (If-Match did not match)")
@blp.alt_response(428, description="If-Match is required")
@blp.doc(parameters=[{"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string"},
                      "description": "The ETag of GET /submissions/{id}"}])
def review_submission(body, submission_id):
    """Approve, reject or ask for changes; the phone gets the outcome with its next pull."""
    if_match = _if_match()
    submission = service.review(scope_of(current_user()), current_user(), submission_id, action=body["action"],
                                comment=body["comment"], if_match=if_match)
    return ({"id": submission.id, "rev": submission.rev, "review_state": submission.review_state,
             "review_comment": submission.review_comment, "reviewed_at": submission.reviewed_at,
             "reviews": service.review_history(submission.id)},
            200, {"ETag": f'"{service.submission_etag(submission)}"'})


class CorrectionIn(Schema):
    answers = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=64)), required=True,
                          validate=validate.Length(min=1, max=500),
                          metadata={"description": "The corrected top-level answers (null removes one); the rest "
                                                   "stay as they are."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CorrectedOut(Schema):
    id = fields.UUID(required=True)
    rev = fields.Integer(required=True)
    household_id = fields.UUID(required=True)
    review_state = fields.String(required=True)
    answers = fields.Dict(required=True)
    classification = fields.String(allow_none=True)
    flags = fields.List(fields.String(), metadata={"description": "Quality flags after the correction "
                                                                  "(docs/quality.md)."})


class BulkItem(Schema):
    id = fields.UUID(required=True)
    etag = fields.String(required=True, validate=validate.Length(min=1, max=100),
                         metadata={"description": "The ETag the submission was read with (quotes optional)."})


class BulkReviewIn(ReviewIn):
    items = fields.List(fields.Nested(BulkItem), required=True, validate=validate.Length(min=1, max=200))


class BulkResult(Schema):
    id = fields.UUID(required=True)
    status = fields.Integer(required=True, metadata={"description": "200 decided; 412 changed since it was read "
                                                                    "(etag: the current one); 404 not in your areas"})
    review_state = fields.String()
    etag = fields.String()
    code = fields.String()
    detail = fields.String()


class BulkReviewOut(Schema):
    results = fields.List(fields.Nested(BulkResult), required=True)


@blp.route("/submissions/review", methods=["POST"])
@requires("supervisor")
@blp.arguments(BulkReviewIn)
@blp.response(200, BulkReviewOut)
def review_submissions(body):
    """One decision on many submissions (the queue's bulk approve): each item is checked against the ETag
    it was read with, and a stale one is refused alone (412 in its result) without blocking the others."""
    items = [(item["id"], item["etag"].strip().strip('"')) for item in body["items"]]
    return {"results": service.review_many(scope_of(current_user()), current_user(), action=body["action"],
                                           comment=body["comment"], items=items)}


class CommentIn(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CommentOut(Schema):
    id = fields.UUID(required=True)
    rev = fields.Integer(required=True)
    author_id = fields.UUID(required=True)
    body = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)


class CommentsOut(Schema):
    items = fields.List(fields.Nested(CommentOut), required=True)


@blp.route("/submissions/<uuid:submission_id>/comments", methods=["GET"])
@requires("supervisor", "admin")
@blp.response(200, CommentsOut)
def list_comments(submission_id):
    """The comments on a submission, oldest first."""
    return {"items": comments.list_comments(scope_of(current_user()), submission_id)}


@blp.route("/submissions/<uuid:submission_id>/comments", methods=["POST"])
@requires("supervisor")
@blp.arguments(CommentIn)
@blp.response(201, CommentOut)
def add_comment(body, submission_id):
    """Comment on a submission (about its current revision)."""
    return comments.add_comment(scope_of(current_user()), current_user(), submission_id, body["body"])


class DiffQuery(Schema):
    from_ = fields.Integer(required=True, data_key="from", validate=validate.Range(min=1, max=1_000_000))
    to = fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000))


class FieldChangeOut(Schema):
    path = fields.String(required=True, metadata={"description": "floor_area, members[member_id=…]/age, "
                                                                 "members[member_id=…] (a whole member), "
                                                                 "members/@order"})
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


@blp.route("/submissions/<uuid:submission_id>/diff", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(DiffQuery, location="query")
@blp.response(200, FieldChangeOut(many=True))
def diff_revisions(args, submission_id):
    """What changed between two revisions, field by field, with roster members matched by their key."""
    return households.revision_diff(scope_of(current_user()), submission_id, args["from_"], args["to"])


@blp.route("/submissions/<uuid:submission_id>", methods=["PATCH"])
@requires("supervisor")
@blp.arguments(CorrectionIn)
@blp.response(200, CorrectedOut)
@blp.alt_response(412, description="The submission changed since it was read (If-Match did not match)")
@blp.alt_response(428, description="If-Match is required")
@blp.doc(parameters=[{"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string"},
                      "description": "The ETag of GET /submissions/{id}"}])
def correct_submission(body, submission_id):
    """Correct answers with a reason: a new revision (source `correction`), validated and recomputed like a
    pushed one (422 with the answers' paths), merged into the household, audited; the review state stays."""
    if_match = _if_match()
    submission = corrections.correct(scope_of(current_user()), current_user(), submission_id,
                                     answers=body["answers"], reason=body["reason"], if_match=if_match)
    return ({"id": submission.id, "rev": submission.rev, "household_id": submission.household_id,
             "review_state": submission.review_state, "answers": submission.answers,
             "classification": submission.classification, "flags": submission.flags},
            200, {"ETag": f'"{service.submission_etag(submission)}"'})


@blp.route("/conflicts", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(ConflictsQuery, location="query")
@blp.response(200, ConflictPage)
def list_conflicts(args):
    """The conflict queue of your areas (open ones by default)."""
    page = service.list_conflicts(scope_of(current_user()), status=args["status"], area=args["area"],
                                  cursor=args["cursor"], limit=page_limit(args))
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/conflicts/<uuid:conflict_id>", methods=["GET"])
@requires("supervisor", "admin")
@blp.response(200, ConflictDetail)
def get_conflict(conflict_id):
    """One conflict: for every field, the base, current and incoming values."""
    return service.get_conflict(scope_of(current_user()), conflict_id)


@blp.route("/conflicts/<uuid:conflict_id>/resolve", methods=["POST"])
@requires("supervisor")
@blp.arguments(ResolveIn)
@blp.response(200, ConflictDetail)
def resolve_conflict(body, conflict_id):
    """Choose, for every conflicting field, the current value, the phone's, or another; the
    household gets a new revision, validated against its form."""
    conflict, _household = service.resolve(scope_of(current_user()), current_user(), conflict_id,
                                           choices=body["choices"], comment=body["comment"])
    return conflict
