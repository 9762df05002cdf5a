"""Schemas and helpers shared by the resources."""

from __future__ import annotations

from flask import current_app
from marshmallow import Schema, fields, validate



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
