from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.api.common import PageQuery, page_limit, page_schema
from server.jsonio import ApiBlueprint
from server.scoping import scope_of
from server.security.current import current_user, requires
from server.services import assignments as service

blp = ApiBlueprint("assignments", __name__, url_prefix="/api/v1",
                   description="Which enumerator visits a household: what their phone pulls (supervisors, admins)")

MAX_HOUSEHOLDS = 1000


class AssignmentIn(Schema):
    enumerator_id = fields.UUID(required=True, metadata={
        "description": "An active enumerator whose areas cover the household's area."})


class BulkAssignmentIn(Schema):
    household_ids = fields.List(fields.UUID(), required=True,
                                validate=validate.Length(min=1, max=MAX_HOUSEHOLDS))
    enumerator_id = fields.UUID(required=True, allow_none=True, metadata={
        "description": "An active enumerator whose areas cover every household's area; null unassigns them."})


class AssignmentOut(Schema):
    household_id = fields.UUID(required=True)
    area = fields.String(attribute="area_code", required=True,
                         metadata={"description": "The household's area when it was assigned."})
    enumerator_id = fields.UUID(allow_none=True, required=True)
    assigned_by = fields.UUID(allow_none=True)
    assigned_at = fields.AwareDateTime(allow_none=True)


class AssignmentResult(AssignmentOut):
    changed = fields.Boolean(required=True, metadata={"description": "False when it was so already."})


class BulkAssignmentOut(Schema):
    items = fields.List(fields.Nested(AssignmentResult), required=True)


class AssignmentsQuery(PageQuery):
    area = fields.String(load_default=None, validate=validate.Length(max=64),
                         metadata={"description": "Households in this area (or below it)."})
    enumerator_id = fields.UUID(load_default=None)


AssignmentPage = page_schema(AssignmentOut, "AssignmentPage")


@blp.route("/assignments", methods=["GET"])
@requires("supervisor", "admin")
@blp.arguments(AssignmentsQuery, location="query")
@blp.response(200, AssignmentPage)
def list_assignments(args):
    """Assigned households in your areas (unassigned ones are not listed), by household id."""
    page = service.list_assignments(scope_of(current_user()), area=args["area"], enumerator_id=args["enumerator_id"],
                                    cursor=args["cursor"], limit=page_limit(args))
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/households/<uuid:household_id>/assignment", methods=["PUT"])
@requires("supervisor", "admin")
@blp.arguments(AssignmentIn)
@blp.response(200, AssignmentResult)
@blp.alt_response(422, description="Not an active enumerator (`not_enumerator`), or one who does not work in the "
                                   "household's area (`not_covered`)")
def put_assignment(args, household_id):
    """Assign a household in your areas to an enumerator, or move it to another.

    Where any household of an area (a village) is assigned, the phones of that area's enumerators
    receive only the households assigned to them and those they created, and are told to drop the
    others (`changes.households_removed` in the pull). An area with no assignment behaves as
    before: each of its enumerators receives all its households. Audited."""
    return service.assign_one(scope_of(current_user()), current_user(), household_id, args["enumerator_id"])


@blp.route("/households/<uuid:household_id>/assignment", methods=["DELETE"])
@requires("supervisor", "admin")
@blp.response(204)
def delete_assignment(household_id):
    """Unassign a household in your areas (nothing happens if it was not assigned). Audited."""
    service.assign_one(scope_of(current_user()), current_user(), household_id, None)


@blp.route("/assignments", methods=["POST"])
@requires("supervisor", "admin")
@blp.arguments(BulkAssignmentIn)
@blp.response(200, BulkAssignmentOut)
@blp.alt_response(422, description="A household unknown or outside your areas (`unknown_household`), or outside "
                                   "the enumerator's areas (`not_covered`): nothing changes, and each is listed by "
                                   "its index (`household_ids/3`)")
def bulk_assign(args):
    """Assign up to 1000 households in your areas to one enumerator, or unassign them
    (`enumerator_id` null); all or none. Audited, one entry per household that changed."""
    return {"items": service.assign(scope_of(current_user()), current_user(), args["household_ids"],
                                    args["enumerator_id"])}
