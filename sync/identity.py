"""What makes two submissions "the same content": a canonical JSON form and its sha256.

The phone may resend a submission after a lost response, re-serialised by another JSON
library, with keys in another order, text in another Unicode normal form or ``3`` written as
``3.0``. None of that is a change, so none of it may change the hash; any change to what was
*answered* must. The hash covers::

    form_id, form_version, area, household_id, household_rev, answers,
    attachments -> sorted [name, sha256] pairs

and deliberately not ``id`` (the hash is stored under it), ``rev`` (a revision number is not
content), ``started_at``/``finished_at`` (a retry may re-stamp them), ``device_id`` or an
attachment's ``size`` (implied by its sha256).

Canonical form (``canonical``):

* mappings: keys must be strings; keys and string values are NFC-normalised; keys sorted by
  code point; two keys that become equal under NFC are an error (``ValueError``), since
  silently keeping one of them would hash away an answer;
* numbers: an integral float is written as the int it equals (``1.0`` -> ``1``, ``-0.0`` ->
  ``0``); other floats in Python's shortest round-trip form; ``bool`` stays ``true``/``false``
  (never ``1``); NaN and infinities are an error; a ``Decimal`` counts as the number it is;
* tuples are lists; ``date``/``datetime``/``time`` are their ISO 8601 text and a ``UUID`` its
  text, so an answer parsed into Python values hashes like the JSON it came from;
* ``None`` is ``null``; a missing ``answers`` or ``attachments`` counts as empty.

JSON output: ``sort_keys``, separators ``,`` and ``:``, UTF-8, no ASCII escaping.

These bytes are stored (``content_hash``) and compared with those of every retry, so they must
never change. The encoder is orjson when the data is already in canonical form and of the kinds
for which orjson writes exactly what ``json.dumps`` wrote (checked by ``_orjson_exact``); anything
else takes the original path, ``canonical`` then ``json.dumps`` (``_reference_json``).
``tests/unit/sync/test_identity.py`` holds a frozen copy of that original and compares the two
over random data.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
import uuid

import orjson
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

__all__ = ["HASHED_FIELDS", "canonical", "canonical_json", "content_hash"]

#: The submission fields the content hash covers (plus the attachments' names and hashes).
HASHED_FIELDS = ("form_id", "form_version", "area", "household_id", "household_rev", "answers")


def _number(value: float) -> int | float:
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a JSON number")
    return int(value) if value.is_integer() else value


def canonical(value: Any) -> Any:
    """``value`` as plain JSON data in canonical form (see the module docstring)."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _number(float(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value!r} is not a JSON number")
        return int(value) if value == value.to_integral_value() else _number(float(value))
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            nkey = unicodedata.normalize("NFC", key)
            if nkey in out:
                raise ValueError(f"two keys are the same text once NFC-normalised: {nkey!r}")
            out[nkey] = canonical(item)
        return out
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def _reference_json(value: Any) -> bytes:
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


_is_normalized = unicodedata.is_normalized


def _orjson_exact(value: Any) -> bool:
    """True when ``value`` is already canonical (``canonical(value) == value``, same types) and
    orjson, keys sorted, writes it byte for byte as ``json.dumps`` writes it.

    That is: exact ``dict``/``list``/``str``/``int``/``bool``/``None`` (no subclasses, no tuples),
    string keys, every text in NFC, and floats only where the two encoders agree and canonical
    keeps them: finite, not integral (``canonical`` makes those ints) and of magnitude at least
    1e-4 (below, Python writes ``1e-05`` where orjson writes ``0.00001``; a non-integral float is
    always below 2**53, where both write positional digits). orjson sorts keys by their UTF-8
    bytes, which is code point order, as ``sort_keys``; it escapes the same characters the same
    way (short escapes for backspace, tab, newline, form feed and carriage return, the other
    controls as 6-character escapes, a backslash before ``"`` and backslash). What it cannot
    encode (integers beyond 64 bits, lone surrogates) it refuses, and ``canonical_json`` falls
    back.
    """
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _is_normalized("NFC", key)):
                return False
            kind = type(item)
            if kind is str:
                if not (item.isascii() or _is_normalized("NFC", item)):
                    return False
            elif not (item is None or kind is int or kind is bool or _orjson_exact(item)):
                return False
        return True
    if kind is list:
        for item in value:
            kind = type(item)
            if kind is str:
                if not (item.isascii() or _is_normalized("NFC", item)):
                    return False
            elif not (item is None or kind is int or kind is bool or _orjson_exact(item)):
                return False
        return True
    if kind is str:
        return value.isascii() or _is_normalized("NFC", value)
    if kind is float:
        return math.isfinite(value) and not value.is_integer() and abs(value) >= 1e-4
    return value is None or kind is int or kind is bool


def canonical_json(value: Any) -> bytes:
    """The canonical JSON encoding of ``value``: equal data, equal bytes."""
    if _orjson_exact(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate
            pass
    return _reference_json(value)


def _attachment_pairs(attachments: Any) -> list[list[Any]]:
    pairs = []
    for att in attachments or ():
        sha = att.get("sha256")
        pairs.append(canonical([att.get("name"), sha.lower() if isinstance(sha, str) else sha]))
    return sorted(pairs, key=lambda pair: json.dumps(pair, sort_keys=True, ensure_ascii=False))


def content_hash(item: Mapping) -> str:
    """sha256 hex of the canonical JSON of what defines a submission's content.

    Covers form_id, form_version, area, household_id, household_rev, answers and the
    attachments' sorted ``[name, sha256]`` pairs; excludes id, rev, timestamps, device_id and
    attachment sizes. Key order, NFC vs NFD and ``1`` vs ``1.0`` do not change it.
    """
    attachments = _attachment_pairs(item.get("attachments"))
    # The fields beside the answers are small: canonical form first (a UUID to its text, ...),
    # so that only the answers decide whether the fast encoder applies (canonical is idempotent).
    doc = {key: canonical(item.get(key)) for key in HASHED_FIELDS[:-1]}
    answers = item.get("answers")
    doc["answers"] = {} if answers is None else answers
    doc["attachments"] = attachments
    return hashlib.sha256(canonical_json(doc)).hexdigest()
