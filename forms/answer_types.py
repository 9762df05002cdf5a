"""Answer value types: the JSON shape each field type accepts, and its normal form.

Each checker takes the raw JSON value the phone sent and returns the normalised value (NFC
text, ``int`` for integers, ``float`` for decimals, lower-case hex for attachments), or raises
``AnswerTypeError(code, message)``. Used for submissions and for field ``default`` values.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime

__all__ = [
    "AnswerTypeError",
    "CHECKERS",
    "MAX_SAFE_INTEGER",
    "MAX_TEXT_LENGTH",
    "check_text",
    "is_empty",
]

# JavaScript's Number.MAX_SAFE_INTEGER: the phone must read back what the server stores.
MAX_SAFE_INTEGER = 2**53 - 1
MAX_TEXT_LENGTH = 10_000
MAX_SELECTED = 1_000

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})\Z", re.ASCII
)
_IMAGE_RE = re.compile(r"sha256:([0-9a-fA-F]{64})\Z", re.ASCII)
_GEOPOINT_KEYS = frozenset({"lat", "lon", "accuracy", "altitude"})

_nfc = unicodedata.normalize
_is_nfc = unicodedata.is_normalized


class AnswerTypeError(Exception):
    """An answer of the wrong type (``invalid_type``) or format/range (``invalid_value``)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def is_empty(value) -> bool:
    """No answer: absent, null, empty text or an empty selection."""
    return value is None or value == "" or value == []


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def check_text(value):
    if type(value) is not str:
        raise AnswerTypeError("invalid_type", f"expected text, got {_kind(value)}")
    if len(value) > MAX_TEXT_LENGTH:
        raise AnswerTypeError("too_many", f"text longer than {MAX_TEXT_LENGTH} characters")
    if value.isascii() or _is_nfc("NFC", value):
        return value
    return _nfc("NFC", value)


def check_integer(value):
    t = type(value)
    if t is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise AnswerTypeError("invalid_value", "integer out of range (|n| must be < 2**53)")
    if t is float:
        # JSON has one number type; 3.0 is the integer 3. 1.5 is not an integer.
        if math.isfinite(value) and value.is_integer():
            return check_integer(int(value))
        raise AnswerTypeError("invalid_type", f"expected an integer, got {value!r}")
    raise AnswerTypeError("invalid_type", f"expected an integer, got {_kind(value)}")


def check_decimal(value):
    t = type(value)
    if t is float:
        if math.isfinite(value):
            return value
        raise AnswerTypeError("invalid_value", "number must be finite")
    if t is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return float(value)
        raise AnswerTypeError("invalid_value", "number out of range (|n| must be < 2**53)")
    raise AnswerTypeError("invalid_type", f"expected a number, got {_kind(value)}")


def check_date(value):
    if type(value) is not str:
        raise AnswerTypeError("invalid_type", f"expected a date 'YYYY-MM-DD', got {_kind(value)}")
    if not _DATE_RE.match(value):
        raise AnswerTypeError("invalid_value", f"expected a date 'YYYY-MM-DD', got {value[:40]!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise AnswerTypeError("invalid_value", f"no such date: {value!r}") from None
    return value


def check_datetime(value):
    if type(value) is not str:
        raise AnswerTypeError("invalid_type", f"expected an ISO 8601 date-time, got {_kind(value)}")
    if not _DATETIME_RE.match(value):
        raise AnswerTypeError(
            "invalid_value",
            f"expected an ISO 8601 date-time with offset (2026-09-01T08:30:00+07:00), got {value[:40]!r}",
        )
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise AnswerTypeError("invalid_value", f"no such date-time: {value!r}") from None
    return value


def check_select_one(value):
    if type(value) is not str:
        raise AnswerTypeError("invalid_type", f"expected a choice value (text), got {_kind(value)}")
    return value if value.isascii() else _nfc("NFC", value)


def check_select_multiple(value):
    if type(value) is not list:
        raise AnswerTypeError("invalid_type", f"expected a list of choice values, got {_kind(value)}")
    if len(value) > MAX_SELECTED:
        raise AnswerTypeError("too_many", f"more than {MAX_SELECTED} values selected")
    out = []
    for item in value:
        if type(item) is not str:
            raise AnswerTypeError("invalid_type", f"expected choice values (text), got {_kind(item)}")
        out.append(item if item.isascii() else _nfc("NFC", item))
    if len(set(out)) != len(out):
        raise AnswerTypeError("duplicate_value", "a value is selected more than once")
    return out


def _coordinate(point, key, low, high, required):
    v = point.get(key)
    if v is None:
        if required:
            raise AnswerTypeError("invalid_value", f"geopoint lacks {key!r}")
        return None
    if type(v) is bool or type(v) not in (int, float):
        raise AnswerTypeError("invalid_type", f"geopoint {key!r} must be a number, got {_kind(v)}")
    if not math.isfinite(v) or not (low <= v <= high):
        raise AnswerTypeError("invalid_value", f"geopoint {key!r} must be within [{low}, {high}], got {v!r}")
    return float(v)


def check_geopoint(value):
    if type(value) is not dict:
        raise AnswerTypeError("invalid_type", f"expected a geopoint {{lat, lon, accuracy?, altitude?}}, got {_kind(value)}")
    extra = value.keys() - _GEOPOINT_KEYS
    if extra:
        raise AnswerTypeError("invalid_value", f"geopoint has unknown keys: {', '.join(sorted(map(str, extra)))}")
    out = {
        "lat": _coordinate(value, "lat", -90.0, 90.0, True),
        "lon": _coordinate(value, "lon", -180.0, 180.0, True),
    }
    accuracy = _coordinate(value, "accuracy", 0.0, 1e7, False)
    if accuracy is not None:
        out["accuracy"] = accuracy
    # Dead Sea shore to above Everest, with margin for GPS error.
    altitude = _coordinate(value, "altitude", -1000.0, 10000.0, False)
    if altitude is not None:
        out["altitude"] = altitude
    return out


def check_image(value):
    if type(value) is not str:
        raise AnswerTypeError("invalid_type", f"expected an attachment reference 'sha256:<hex>', got {_kind(value)}")
    m = _IMAGE_RE.match(value)
    if not m:
        raise AnswerTypeError("invalid_value", "expected an attachment reference 'sha256:' + 64 hex digits")
    return "sha256:" + m.group(1).lower()


CHECKERS: dict[str, Callable] = {
    "text": check_text,
    "integer": check_integer,
    "decimal": check_decimal,
    "date": check_date,
    "datetime": check_datetime,
    "select_one": check_select_one,
    "select_multiple": check_select_multiple,
    "geopoint": check_geopoint,
    "image": check_image,
}
