"""The value model and XPath 1.0 conversions (``boolean()``, ``number()``, ``string()``).

Values seen by the evaluator:

* number  -> ``float`` (integers included; ``string(3.0)`` is ``"3"``)
* string  -> ``str`` (an empty or missing answer is ``""``)
* boolean -> ``bool``
* date    -> ``datetime.date``; as a number it is the count of days since 1970-01-01
* nodeset -> :class:`Nodeset` (a ``list`` subclass) of the values above, one per repeat
  instance, in document order

Anything supplied by a caller (answers, ``current``, parameters, choice keys, choice-attr
results) goes through :func:`to_value` first: ``int`` becomes ``float``, ``None`` becomes
``""``, a plain ``list``/``tuple`` (a select_multiple answer) becomes its space-separated
string, a geopoint mapping becomes ``"lat lon altitude accuracy"``, any other mapping ``""``.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal

from .errors import ExpressionEvaluationError

NAN = float("nan")
INF = float("inf")
EPOCH = _dt.date(1970, 1, 1)
_EPOCH_ORDINAL = EPOCH.toordinal()


class Nodeset(list):
    """Values of one field across repeat instances (XPath nodeset)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Nodeset({list.__repr__(self)})"


# XPath whitespace: space, tab, CR, LF (not the wider Unicode set, so phone and server agree).
XPATH_WS = " \t\r\n"
_WS_SPLIT = re.compile(r"[ \t\r\n]+")
_NUMBER_RE = re.compile(r"[ \t\r\n]*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))[ \t\r\n]*\Z")
_DATE_RE = re.compile(r"[ \t\r\n]*([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T[^ \t\r\n]*)?[ \t\r\n]*\Z")


# --------------------------------------------------------------------------- input values

_PLAIN_TYPES = frozenset({float, str, bool, _dt.date})


def to_value(raw: object) -> object:
    """Normalise a caller-supplied value into the value model (see module docstring)."""
    t = type(raw)
    if t is float or t is str or t is bool:
        return raw
    if t is int:
        return float(raw)
    if raw is None:
        return ""
    if t is _dt.date:
        return raw
    if t is Nodeset:
        for m in raw:  # type: ignore[attr-defined]
            if type(m) not in _PLAIN_TYPES:
                return Nodeset([to_value(m) for m in raw])  # type: ignore[attr-defined]
        return raw
    if t is list or t is tuple:
        try:
            return " ".join(raw)  # type: ignore[arg-type]
        except TypeError:  # not all strings
            return " ".join(to_string(to_value(m)) for m in raw)  # type: ignore[attr-defined]
    if isinstance(raw, _dt.datetime):
        return raw.isoformat()
    if isinstance(raw, _dt.date):
        return _dt.date(raw.year, raw.month, raw.day)
    if isinstance(raw, Nodeset):
        return Nodeset([to_value(m) for m in raw])
    if isinstance(raw, (list, tuple)):
        return " ".join(to_string(to_value(m)) for m in raw)
    if isinstance(raw, bool):
        return bool(raw)
    if isinstance(raw, (int, float, Decimal)):
        return float(raw)
    if isinstance(raw, str):
        return str(raw)
    if isinstance(raw, Mapping):
        if "lat" in raw and "lon" in raw:
            parts = [raw.get("lat"), raw.get("lon"), raw.get("altitude", 0), raw.get("accuracy", 0)]
            return " ".join(to_string(to_value(p)) for p in parts)
        return ""
    raise ExpressionEvaluationError(f"unsupported value of type {t.__name__}")


# --------------------------------------------------------------------------- dates

def parse_date(text: str) -> _dt.date | None:
    """``YYYY-MM-DD`` (optionally followed by ``T…`` of a datetime) -> date, else None."""
    m = _DATE_RE.match(text)
    if m is None:
        return None
    try:
        return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def date_to_days(d: _dt.date) -> float:
    return float(d.toordinal() - _EPOCH_ORDINAL)


def days_to_date(days: float) -> _dt.date | None:
    if days != days or days in (INF, -INF):
        return None
    ordinal = math.floor(days) + _EPOCH_ORDINAL
    if not 1 <= ordinal <= _dt.date.max.toordinal():
        return None
    return _dt.date.fromordinal(ordinal)


def to_date(v: object) -> object:
    """``date()``: a date, or ``""`` when the value is empty or cannot be read as a date."""
    t = type(v)
    if t is _dt.date:
        return v
    if t is Nodeset:
        v = v[0] if v else ""  # type: ignore[index]
        return to_date(v)
    if t is float:
        d = days_to_date(v)  # type: ignore[arg-type]
        return "" if d is None else d
    if t is bool:
        return ""
    d = parse_date(v)  # type: ignore[arg-type]
    return "" if d is None else d


# --------------------------------------------------------------------------- conversions

def string_to_number(s: str) -> float:
    m = _NUMBER_RE.match(s)
    if m is None:
        return NAN
    return float(m.group(1))


def to_number(v: object) -> float:
    t = type(v)
    if t is float:
        return v  # type: ignore[return-value]
    if t is str:
        return string_to_number(v)  # type: ignore[arg-type]
    if t is bool:
        return 1.0 if v else 0.0
    if t is _dt.date:
        return date_to_days(v)  # type: ignore[arg-type]
    if t is Nodeset:
        return to_number(v[0]) if v else NAN  # type: ignore[index]
    return to_number(to_value(v))


def number_to_string(x: float) -> str:
    """XPath ``string()`` of a number: ``NaN``, ``Infinity``, ``-Infinity``, integers
    without a decimal point, otherwise the shortest decimal that reads back as the same
    double, never in exponent notation."""
    if x != x:
        return "NaN"
    if x == INF:
        return "Infinity"
    if x == -INF:
        return "-Infinity"
    if x == 0:
        return "0"
    if -1e15 < x < 1e15 and x == int(x):
        return str(int(x))
    r = repr(x)
    if "e" in r:
        r = format(Decimal(r), "f")
    if r.endswith(".0"):
        r = r[:-2]
    return r


def to_string(v: object) -> str:
    t = type(v)
    if t is str:
        return v  # type: ignore[return-value]
    if t is float:
        return number_to_string(v)  # type: ignore[arg-type]
    if t is bool:
        return "true" if v else "false"
    if t is _dt.date:
        return v.isoformat()  # type: ignore[attr-defined]
    if t is Nodeset:
        return to_string(v[0]) if v else ""  # type: ignore[index]
    return to_string(to_value(v))


def to_bool(v: object) -> bool:
    t = type(v)
    if t is bool:
        return v  # type: ignore[return-value]
    if t is str:
        return v != ""
    if t is float:
        return v == v and v != 0  # type: ignore[operator]
    if t is Nodeset:
        return len(v) > 0  # type: ignore[arg-type]
    if t is _dt.date:
        return True
    return to_bool(to_value(v))


def split_selected(v: object) -> list[str]:
    """The space-separated items of a select_multiple value."""
    s = v if type(v) is str else to_string(v)
    if "\t" in s or "\n" in s or "\r" in s:
        s = s.strip(XPATH_WS)
        return _WS_SPLIT.split(s) if s else []
    return [item for item in s.split(" ") if item]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- comparisons

def scalar_equal(a: object, b: object) -> bool:
    ta, tb = type(a), type(b)
    if ta is bool or tb is bool:
        return to_bool(a) == to_bool(b)
    if ta is float or tb is float:
        return to_number(a) == to_number(b)
    if ta is _dt.date and tb is _dt.date:
        return a == b
    return to_string(a) == to_string(b)


def relational_number(v: object, other: object) -> float:
    """Number used by ``< <= > >=``: a string compared with a date is read as a date."""
    if type(v) is str and type(other) is _dt.date:
        d = parse_date(v)  # type: ignore[arg-type]
        return NAN if d is None else date_to_days(d)
    return to_number(v)


def compare(op: str, a: object, b: object) -> bool:
    """XPath comparison, including the existential rule for nodesets."""
    ta, tb = type(a), type(b)
    if ta is Nodeset or tb is Nodeset:
        if ta is bool or tb is bool:
            return _scalar_compare(op, to_bool(a), to_bool(b))
        left = a if ta is Nodeset else (a,)
        right = b if tb is Nodeset else (b,)
        for x in left:  # type: ignore[union-attr]
            for y in right:  # type: ignore[union-attr]
                if _scalar_compare(op, x, y):
                    return True
        return False
    return _scalar_compare(op, a, b)


def _scalar_compare(op: str, a: object, b: object) -> bool:
    if op == "=":
        return scalar_equal(a, b)
    if op == "!=":
        return not scalar_equal(a, b)
    x = relational_number(a, b)
    y = relational_number(b, a)
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


# --------------------------------------------------------------------------- arithmetic

def divide(a: float, b: float) -> float:
    if b == 0:
        if a != a or a == 0:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)
    return a / b


def modulo(a: float, b: float) -> float:
    try:
        return math.fmod(a, b)
    except ValueError:
        return NAN


def power(a: float, b: float) -> float:
    """IEEE/ECMAScript ``Math.pow`` (which Java's ``Math.pow`` also follows)."""
    if b != b:
        return NAN
    if b == 0:
        return 1.0
    if a != a:
        return NAN
    if (a == 1 or a == -1) and b in (INF, -INF):
        return NAN
    try:
        return math.pow(a, b)
    except OverflowError:
        odd = b == math.floor(b) and math.fmod(b, 2) != 0
        return -INF if (a < 0 and odd) else INF
    except ValueError:
        if a == 0:  # 0 ** negative
            odd = b == math.floor(b) and math.fmod(b, 2) != 0
            return -INF if (odd and math.copysign(1.0, a) < 0) else INF
        return NAN


def truncate(x: float) -> float:
    if x != x or x in (INF, -INF):
        return x
    return float(math.trunc(x))


def floor(x: float) -> float:
    if x != x or x in (INF, -INF):
        return x
    return float(math.floor(x))


def ceiling(x: float) -> float:
    if x != x or x in (INF, -INF):
        return x
    return float(math.ceil(x))


_ROUND_CONTEXT = Context(prec=1000)
_QUANTUM = {n: Decimal(1).scaleb(-n, _ROUND_CONTEXT) for n in range(-400, 401)}


def round_half_away(x: float, digits: float = 0.0) -> float:
    """``round(x, n)``: the shortest decimal form of ``x`` rounded half away from zero."""
    if x != x or x in (INF, -INF) or x == 0:
        return x
    if digits != digits:
        return NAN
    n = int(max(-400.0, min(400.0, truncate(digits))))
    if n >= 0 and x == int(x):
        return x
    r = repr(x)
    if n >= 0 and "e" not in r:
        # Same result as the Decimal path below, on the digits of repr() directly.
        negative = r[0] == "-"
        whole, _, fraction = r.lstrip("-").partition(".")
        if len(fraction) <= n:
            return x
        kept = int(whole + fraction[:n]) + (1 if fraction[n] >= "5" else 0)
        result = kept / 10**n  # int / int is correctly rounded
        return -result if negative else result
    q = Decimal(repr(x)).quantize(_QUANTUM[n], rounding=ROUND_HALF_UP, context=_ROUND_CONTEXT)
    return float(q)
