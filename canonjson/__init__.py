"""Canonical JSON: the one spelling of JSON data behind every hash the server computes over it.

Two hashes are stored and compared with those of later requests, so their bytes must never
change: the sha256 of a published form version (``forms.definition``, also its ETag) and the
content hash of a submission (``sync.identity``). The merge's answer fingerprints
(``sync.merge``) use the same bytes. This module is the only place those bytes are made.

It is a leaf: pure Python and orjson, importing nothing from ``forms``, ``sync`` or ``server``,
so that both ``forms`` and ``sync`` can use it and ``sync`` still needs nothing from ``forms``.

Spelling (``dumps``): keys sorted by code point, separators ``,`` and ``:`` with no whitespace,
UTF-8 with no ASCII escaping, NaN and infinities refused. ``dumps`` writes the data as given: a
form definition is hashed exactly as it was uploaded (``1.0`` stays ``1.0``).

Canonical form (``canonical``), for data whose equal *meaning* must give equal bytes:

* mappings: keys must be strings; keys and string values are NFC-normalised; keys sorted by
  code point; two keys that become equal under NFC are an error (``ValueError``), since
  silently keeping one of them would hash away an answer;
* numbers: an integral float is written as the int it equals (``1.0`` -> ``1``, ``-0.0`` ->
  ``0``); other floats in Python's shortest round-trip form; ``bool`` stays ``true``/``false``
  (never ``1``); NaN and infinities are an error; a ``Decimal`` counts as the number it is;
* tuples are lists; ``date``/``datetime``/``time`` are their ISO 8601 text and a ``UUID`` its
  text, so an answer parsed into Python values hashes like the JSON it came from;
* ``None`` is ``null``.

``canonical_json(value)`` is ``dumps(canonical(value))``, byte for byte. It encodes with orjson
when the data is already in canonical form and of the kinds for which orjson writes exactly what
``json.dumps`` writes (checked by ``_orjson_exact``); anything else takes the reference path.
``tests/unit/sync/test_identity.py`` holds a frozen copy of the original implementation and
compares the two over random data; ``tests/unit/canonjson`` pins the spelling itself.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["canonical", "canonical_json", "dumps", "sha256_hex"]


def dumps(value: Any) -> bytes:
    """``value``'s JSON in the canonical spelling, written as given (no normalisation)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """The lower-case hex sha256 of canonical JSON bytes (``dumps`` or ``canonical_json``)."""
    return hashlib.sha256(data).hexdigest()


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


_is_normalized = unicodedata.is_normalized


def _orjson_exact(value: Any) -> bool:
    """True when ``value`` is already canonical (``canonical(value) == value``, same types) and
    orjson, keys sorted, writes it byte for byte as ``dumps`` writes it.

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
    """The canonical JSON encoding of ``value``: equal data, equal bytes (``dumps(canonical(value))``)."""
    if _orjson_exact(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate
            pass
    return dumps(canonical(value))
