"""A pushed item as the sync core reads it, and the quick pure parse of a plainly valid one.

The server's item schema (marshmallow, in ``server/services/push.py``) is the authority on what
a valid item is and on the messages for an invalid one; ``parse`` accepts exactly the common,
plainly valid spelling the schema accepts and returns None for anything else, so the schema
decides. The in-memory model (``sync.state``) takes only what ``parse`` takes.

The content hash is computed from the item as it arrived (after NFC), never from the parsed
values: stored hashes were made that way and a retry must match them.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync.identity import content_hash

__all__ = ["MAX_ANSWER_DEPTH", "Attachment", "Item", "from_loaded", "nesting_error", "parse", "too_deep"]

#: Lists and objects inside ``answers``: a roster of members with a nested list is 4 deep.
MAX_ANSWER_DEPTH = 32

_SHA256 = re.compile(r"^[0-9a-f]{64}$").match
ITEM_FIELDS = frozenset({"id", "form_id", "form_version", "area", "household_id", "household_rev", "rev",
                         "started_at", "finished_at", "answers", "attachments"})
_ATTACHMENT_FIELDS = frozenset({"name", "sha256", "size"})


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Item:
    id: uuid.UUID
    form_id: str
    form_version: str
    area: str
    household_id: uuid.UUID
    household_rev: int | None
    rev: int
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    answers: dict
    attachments: tuple[Attachment, ...]
    content_hash: str


def _deeper_than(value: Any, levels: int) -> bool:
    kind = type(value)
    if kind is dict:
        children = value.values()
    elif kind is list:
        children = value
    elif isinstance(value, Mapping):
        children = value.values()
    else:
        return False
    if levels == 0:
        return True
    for child in children:
        kind = type(child)
        if (kind is dict or kind is list or isinstance(child, Mapping)) and _deeper_than(child, levels - 1):
            return True
    return False


def too_deep(value: Any) -> bool:
    """``value`` nests lists and objects deeper than ``MAX_ANSWER_DEPTH`` (the walk stops there)."""
    return _deeper_than(value, MAX_ANSWER_DEPTH)


def nesting_error(raw: Any) -> list[dict] | None:
    """The rejection of an item whose answers nest deeper than ``MAX_ANSWER_DEPTH`` (no form
    does; deeper ones would exhaust the stack of every recursive walk after this one). The walk
    itself stops at that depth, so it cannot."""
    if not isinstance(raw, Mapping) or not _deeper_than(raw.get("answers"), MAX_ANSWER_DEPTH):
        return None
    return [{"path": "answers", "code": "too_deep",
             "message": f"Answers may nest at most {MAX_ANSWER_DEPTH} levels deep."}]


def _uuid(value: Any) -> uuid.UUID | None:
    if type(value) is str and len(value) == 36:
        try:
            return uuid.UUID(value)
        except ValueError:
            return None
    return None


def _text(value: Any, longest: int) -> bool:
    return type(value) is str and 1 <= len(value) <= longest


def _aware(value: Any) -> dt.datetime | None | bool:
    """The timestamp (None for null), or False when the schema must decide."""
    if value is None:
        return None
    if type(value) is not str:
        return False
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed if parsed.tzinfo is not None and parsed.utcoffset() is not None else False


def parse(raw: Any) -> Item | None:
    """The item, when ``raw`` is plainly valid; None when the schema must decide."""
    if type(raw) is not dict or not ITEM_FIELDS.issuperset(raw):
        return None
    get = raw.get
    sid, hid = _uuid(get("id")), _uuid(get("household_id"))
    form_id, form_version, area = get("form_id"), get("form_version"), get("area")
    household_rev, rev, answers = get("household_rev"), get("rev"), get("answers")
    started_at, finished_at = _aware(get("started_at")), _aware(get("finished_at"))
    if (sid is None or hid is None or not _text(form_id, 64) or not _text(form_version, 64)
            or not _text(area, 64)
            or not (household_rev is None or (type(household_rev) is int and household_rev >= 1))
            or not (type(rev) is int and 1 <= rev <= 1_000_000)
            or started_at is False or finished_at is False
            or type(answers) is not dict or not all(type(key) is str for key in answers)):
        return None
    attachments = []
    given = raw.get("attachments", [])
    if type(given) is not list or len(given) > 50:
        return None
    for att in given:
        if type(att) is not dict or not _ATTACHMENT_FIELDS.issuperset(att):
            return None
        name, sha, size = att.get("name"), att.get("sha256"), att.get("size")
        if (not _text(name, 200) or type(sha) is not str or not _SHA256(sha)
                or not (size is None or (type(size) is int and size >= 0))):
            return None
        attachments.append(Attachment(name, sha, size))
    return Item(sid, form_id, form_version, area, hid, household_rev, rev, started_at, finished_at,  # type: ignore[arg-type]
                dict(answers), tuple(attachments), content_hash(raw))


def from_loaded(loaded: Mapping, raw: Mapping) -> Item:
    """The item from the schema's loaded values (``raw``: as it arrived, for the hash)."""
    return Item(loaded["id"], loaded["form_id"], loaded["form_version"], loaded["area"], loaded["household_id"],
                loaded["household_rev"], loaded["rev"], loaded["started_at"], loaded["finished_at"],
                dict(loaded["answers"]),
                tuple(Attachment(a["name"], a["sha256"], a.get("size")) for a in loaded["attachments"]),
                content_hash(raw))
