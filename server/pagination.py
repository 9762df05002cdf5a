"""Keyset pagination with opaque, signed cursors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from server.db import db
from server.errors import Problem
from sync.cursors import CursorError, decode_cursor, encode_cursor


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def cursor_key() -> bytes:
    return current_app.config["SECRET_KEY"].encode()


def paginate(query: sa.Select, *, key: sa.ColumnElement, cursor: str | None, limit: int, purpose: str) -> Page:
    """Order ``query`` by the unique ``key`` column and return one page after ``cursor``."""
    if cursor:
        try:
            after = decode_cursor(cursor, cursor_key(), purpose=purpose)["after"]
        except CursorError as exc:
            raise Problem("cursor.invalid", str(exc)) from exc
        query = query.where(key > after)
    rows = db.session.execute(query.order_by(key).limit(limit + 1)).scalars().all()
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = getattr(items[-1], key.key)
        next_cursor = encode_cursor({"after": last}, cursor_key(), purpose=purpose)
    return Page(items=items, next_cursor=next_cursor)
