"""Schemas and helpers shared by the resources."""

from __future__ import annotations

from flask import current_app, request
from marshmallow import Schema, fields, validate

from server.errors import Problem


class PageQuery(Schema):
    cursor = fields.String(load_default=None, metadata={"description": "Opaque cursor from `next_cursor`."})
    limit = fields.Integer(load_default=None, validate=validate.Range(min=1, max=500))


def page_limit(args: dict) -> int:
    cfg = current_app.config
    return min(args.get("limit") or cfg["PAGE_SIZE_DEFAULT"], cfg["PAGE_SIZE_MAX"])


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item), required=True),
         "next_cursor": fields.String(allow_none=True, required=True)},
        name=name,
    )


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    code = fields.String()
    request_id = fields.String()
    errors = fields.List(fields.Dict())


def require_json_body() -> None:
    if request.mimetype != "application/json":
        raise Problem("request.unsupported_media_type", "Send the body as application/json.")
