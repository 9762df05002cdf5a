from __future__ import annotations

from flask import request
from marshmallow import Schema, fields, validate

from server.api.common import PageQuery, page_limit, page_schema
from server.errors import invalid
from server.http import accepts
from server.jsonio import ApiBlueprint
from server.models import AREA_LEVELS
from server.scoping import scope_of
from server.security.current import current_user, requires
from server.services import areas as service

blp = ApiBlueprint("areas", __name__, url_prefix="/api/v1", description="The area tree: province, commune, village")


class AreaOut(Schema):
    code = fields.String(required=True)
    parent = fields.String(attribute="parent_code", allow_none=True, required=True)
    level = fields.String(required=True)
    name = fields.String(required=True)
    official_code = fields.String(allow_none=True)
    division_type = fields.String(allow_none=True)


class AreasQuery(PageQuery):
    parent = fields.String(load_default=None, validate=validate.Length(max=64),
                           metadata={"description": "Children of this area; top level when absent."})
    level = fields.String(load_default=None, validate=validate.OneOf(AREA_LEVELS))
    q = fields.String(load_default=None, validate=validate.Length(max=100),
                      metadata={"description": "Search by name, accents and case ignored."})


class VillageIn(Schema):
    parent = fields.String(required=True, validate=validate.Length(min=1, max=64))
    code = fields.String(required=True, validate=validate.Length(min=1, max=16),
                         metadata={"description": "Suffix under the commune, e.g. 'v03' -> 01-00004-v03."})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class AreaTypeIn(Schema):
    area_type = fields.String(required=True, validate=validate.OneOf(["rural", "urban"]))
    valid_from = fields.Date(required=True)


class AreaTypeOut(Schema):
    area_code = fields.String()
    area_type = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)


AreaPage = page_schema(AreaOut, "AreaPage")
AreaList = Schema.from_dict({"items": fields.List(fields.Nested(AreaOut))}, name="AreaList")


@blp.route("/areas", methods=["GET"])
@requires()
@blp.arguments(AreasQuery, location="query")
@blp.response(200, AreaPage)
def list_areas(args):
    """Areas you may see (and their ancestors), one level at a time."""
    page = service.list_areas(scope_of(current_user()), parent=args["parent"], level=args["level"],
                              q=args["q"], cursor=args["cursor"], limit=page_limit(args))
    return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/areas", methods=["POST"])
@requires("admin")
@blp.arguments(VillageIn)
@blp.response(201, AreaOut)
def create_village(body):
    """Create a village under a commune."""
    return service.create_village(scope_of(current_user()), **body)


@blp.route("/areas/import", methods=["POST"])
@accepts("multipart/form-data")
@requires("admin")
@blp.response(201, AreaList)
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
    "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}})
def import_villages():
    """Import villages from a UTF-8 CSV (columns parent, code, name); all rows or none."""
    upload = request.files.get("file")
    if upload is None:
        raise invalid("file", "required", "Send the CSV as multipart field 'file'.")
    return {"items": service.import_villages(scope_of(current_user()), upload.read())}


@blp.route("/areas/<string:code>/area-type", methods=["PUT"])
@requires("admin")
@blp.arguments(AreaTypeIn)
@blp.response(200, AreaTypeOut)
def set_area_type(body, code):
    """Set a commune rural or urban from a date on (earlier periods keep theirs)."""
    return service.set_area_type(scope_of(current_user()), code, body["area_type"], body["valid_from"])
