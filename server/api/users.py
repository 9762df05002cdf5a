from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.api.common import PageQuery, page_limit, page_schema
from server.jsonio import ApiBlueprint
from server.models import ROLES
from server.scoping import scope_of
from server.security.current import current_user, requires
from server.services import users as service
from server.text import USERNAME_PATTERN, USERNAME_RULE

blp = ApiBlueprint("users", __name__, url_prefix="/api/v1", description="User administration (admins)")

AREA_CODE = fields.String(validate=validate.Length(min=1, max=64))


class UserOut(Schema):
    id = fields.UUID(required=True)
    username = fields.String(required=True)
    display_name = fields.String()
    role = fields.String(required=True)
    areas = fields.List(fields.String(), attribute="area_codes", required=True)
    active = fields.Boolean()
    created_at = fields.AwareDateTime()


class UserCreate(Schema):
    # The service decides (server.text.new_username: trimmed, lowered, then this pattern); the
    # schema bounds the length and publishes the pattern in the OpenAPI document.
    username = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"pattern": USERNAME_PATTERN, "description": f"{USERNAME_RULE}; upper case "
                                       "is accepted and stored in lower case."})
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    areas = fields.List(AREA_CODE, load_default=list, validate=validate.Length(max=200))
    display_name = fields.String(load_default="", validate=validate.Length(max=200))
    active = fields.Boolean(load_default=True)


class UserPatch(Schema):
    password = fields.String(load_only=True, validate=validate.Length(max=1024))
    role = fields.String(validate=validate.OneOf(ROLES))
    areas = fields.List(AREA_CODE, validate=validate.Length(max=200))
    display_name = fields.String(validate=validate.Length(max=200))
    active = fields.Boolean()


class UsersQuery(PageQuery):
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))


UserPage = page_schema(UserOut, "UserPage")


@blp.route("/users", methods=["GET"])
@requires("admin")
@blp.arguments(UsersQuery, location="query")
@blp.response(200, UserPage)
def list_users(args):
    """Users whose areas lie within yours."""
    page = service.list_users(scope_of(current_user()), role=args["role"], cursor=args["cursor"],
                              limit=page_limit(args))
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/users", methods=["POST"])
@requires("admin")
@blp.arguments(UserCreate)
@blp.response(201, UserOut)
def create_user(body):
    """Create a user with a role and areas (within yours)."""
    return service.create_user(scope_of(current_user()), **body)


@blp.route("/users/<uuid:user_id>", methods=["GET"])
@requires("admin")
@blp.response(200, UserOut)
def get_user(user_id):
    return service.get_user(scope_of(current_user()), user_id)


@blp.route("/users/<uuid:user_id>", methods=["PATCH"])
@requires("admin")
@blp.arguments(UserPatch)
@blp.response(200, UserOut)
def update_user(body, user_id):
    """Change role, areas, password or active; changing any of them ends the user's sessions."""
    return service.update_user(scope_of(current_user()), user_id, body)
