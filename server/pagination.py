"""Keyset pagination with opaque, signed cursors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
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


# A cursor carries its position as JSON; these turn it back into the key column's Python type.
# A value that is not one (a cursor written by an older release, or forged with a leaked key)
# must be a 410, not a database error: SQLite's Uuid wants a UUID object, PostgreSQL refuses
# to compare text with a number, NUL in text, or integers beyond 64 bits.

def _uuid_after(value: Any) -> uuid.UUID:
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise CursorError("The cursor's position is not a UUID.")


def _int_after(value: Any) -> int:
    if type(value) is int and -(2**63) <= value < 2**63:
        return value
    raise CursorError("The cursor's position is not an integer.")


def _str_after(value: Any) -> str:
    if isinstance(value, str) and "\x00" not in value:
        return value
    raise CursorError("The cursor's position is not a string.")


_AFTER: dict[type, Callable[[Any], Any]] = {uuid.UUID: _uuid_after, int: _int_after, str: _str_after}


def _after_parser(key: sa.ColumnElement) -> Callable[[Any], Any]:
    try:
        return _AFTER[key.type.python_type]
    except (KeyError, NotImplementedError):
        # Checked on every page, not only when a cursor comes back, so a new list keyed on
        # another type fails on its first request, in its first test.
        raise TypeError(f"paginate() cannot key a cursor on {key.type!r}; add a parser to _AFTER") from None


def paginate(query: sa.Select, *, key: sa.ColumnElement, cursor: str | None, limit: int, purpose: str) -> Page:
    """Order ``query`` by the unique ``key`` column and return one page after ``cursor``."""
    parse_after = _after_parser(key)
    if cursor:
        try:
            payload = decode_cursor(cursor, cursor_key(), purpose=purpose)
            if not isinstance(payload, dict) or "after" not in payload:
                raise CursorError("The cursor has no position.")
            after = parse_after(payload["after"])
        except CursorError as exc:
            raise Problem("cursor.invalid", str(exc)) from exc
        except (KeyError, TypeError, ValueError) as exc:
            # Signed but not the shape decode_cursor expects (not JSON, no "p" or "t").
            raise Problem("cursor.invalid", "The cursor is malformed.") from exc
        query = query.where(key > after)
    rows = db.session.execute(query.order_by(key).limit(limit + 1)).scalars().all()
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = getattr(items[-1], key.key)
        next_cursor = encode_cursor({"after": str(last) if isinstance(last, uuid.UUID) else last},
                                    cursor_key(), purpose=purpose)
    return Page(items=items, next_cursor=next_cursor)


def paginate_sorted(query: sa.Select, *, sort: sa.ColumnElement, descending: bool, key: sa.ColumnElement,
                    parse_sort: Callable[[Any], Any], dump_sort: Callable[[Any], Any], cursor: str | None,
                    limit: int, purpose: str) -> Page:
    """One page of ``query`` ordered by ``sort`` (not unique, never NULL) then the unique ``key``,
    both ascending or both descending, after ``cursor``. ``parse_sort``/``dump_sort`` carry the
    sort value through the cursor's JSON (and raise ``CursorError`` on a value that is not one)."""
    parse_key = _after_parser(key)
    if cursor:
        try:
            payload = decode_cursor(cursor, cursor_key(), purpose=purpose)
            after = payload.get("after") if isinstance(payload, dict) else None
            if not (isinstance(after, list) and len(after) == 2):
                raise CursorError("The cursor has no position.")
            value, last = parse_sort(after[0]), parse_key(after[1])
        except CursorError as exc:
            raise Problem("cursor.invalid", str(exc)) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise Problem("cursor.invalid", "The cursor is malformed.") from exc
        if descending:
            query = query.where(sa.or_(sort < value, sa.and_(sort == value, key < last)))
        else:
            query = query.where(sa.or_(sort > value, sa.and_(sort == value, key > last)))
    order = (sort.desc(), key.desc()) if descending else (sort.asc(), key.asc())
    rows = db.session.execute(query.add_columns(sort.label("_sort")).order_by(*order).limit(limit + 1)).all()
    items = [row[0] for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last_row = rows[limit - 1]
        last_key = getattr(last_row[0], key.key)
        next_cursor = encode_cursor(
            {"after": [dump_sort(last_row[-1]), str(last_key) if isinstance(last_key, uuid.UUID) else last_key]},
            cursor_key(), purpose=purpose)
    return Page(items=items, next_cursor=next_cursor)
