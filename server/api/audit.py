from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.api.common import PageQuery, page_limit, page_schema
from server.jsonio import ApiBlueprint
from server.scoping import scope_of
from server.security.current import current_user, requires
from server.services import audit

blp = ApiBlueprint("audit", __name__, url_prefix="/api/v1", description="The audit log (admins)")


class AuditOut(Schema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    actor_id = fields.UUID(allow_none=True)
    actor_username = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    area_code = fields.String(allow_none=True)
    detail = fields.Dict()
    request_id = fields.String(allow_none=True)


class AuditQuery(PageQuery):
    action = fields.String(load_default=None, validate=validate.Length(max=64))


AuditPage = page_schema(AuditOut, "AuditPage")


@blp.route("/audit", methods=["GET"])
@requires("admin")
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditPage)
def list_audit(args):
    """Who did what, oldest first. A provincial admin sees the entries about areas within theirs and
    those made by users of their areas."""
    page = audit.list_entries(scope_of(current_user()), action=args["action"], cursor=args["cursor"],
                              limit=page_limit(args))
    return {"items": page.items, "next_cursor": page.next_cursor}
