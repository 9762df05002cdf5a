"""Conditions on a submission's answers, as a supervisor's queue filters them.

``where=FIELD:OP:VALUE`` (the parameter repeats; the conditions are ANDed):

* FIELD is a top-level field of the form (groups are transparent; not inside a repeat) that
  holds a value: an input or a calculation. Anything else is a ``FilterError`` naming it.
* OP is ``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge``, or ``in`` with values joined by ``|``.
* VALUE is read by the field's type: a number for ``integer`` and ``decimal`` (and for a
  calculation, when it reads as one), text otherwise; a ``select_one`` value must be one of the
  field's choices. ``select_multiple`` answers are lists: only ``eq``/``ne``/``in`` on one of its
  choices, meaning "includes". ``date`` compares ISO dates as text, which orders them.

Pure: the server turns a ``Condition`` into SQL.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from forms.definition import FormDefinition

__all__ = ["OPERATORS", "Condition", "FilterError", "parse_where"]

OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in")
_NUMERIC = frozenset({"integer", "decimal"})
_ORDERED = frozenset({"lt", "le", "gt", "ge"})
MAX_CONDITIONS = 10
MAX_VALUES = 50


class FilterError(ValueError):
    def __init__(self, field: str, code: str, message: str):
        super().__init__(message)
        self.field, self.code = field, code


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple  # one value, or several for ``in``
    kind: str  # number | text | choices (a select_multiple: "includes")


def _number(field: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FilterError(field, "invalid_value", f"{text!r} is not a number ({field} is numeric).") from None
    if not math.isfinite(value):
        raise FilterError(field, "invalid_value", f"{text!r} is not a finite number.")
    return value


def parse_where(form: FormDefinition, specs: Iterable[str]) -> list[Condition]:
    specs = list(specs)
    if len(specs) > MAX_CONDITIONS:
        raise FilterError("where", "too_many", f"At most {MAX_CONDITIONS} conditions.")
    fields = {f.answer_path: f for f in form.iter_fields() if "/" not in f.answer_path and f.has_value}
    choices = {name: {str(c.value) for c in options} for name, options in form.choices.items()}
    out = []
    for spec in specs:
        name, sep, rest = spec.partition(":")
        op, sep2, raw = rest.partition(":")
        if not sep or not sep2:
            raise FilterError(name or "where", "invalid", f"{spec!r} is not FIELD:OP:VALUE.")
        field = fields.get(name)
        if field is None:
            raise FilterError(name, "unknown_field", f"{name!r} is not a top-level field of form {form.form_id} "
                                                     f"{form.version}.")
        if op not in OPERATORS:
            raise FilterError(name, "invalid_operator", f"{op!r} is not one of {', '.join(OPERATORS)}.")
        texts = raw.split("|") if op == "in" else [raw]
        if len(texts) > MAX_VALUES:
            raise FilterError(name, "too_many", f"At most {MAX_VALUES} values.")
        if field.type in _NUMERIC or (field.type == "calculate" and _all_numbers(texts)):
            out.append(Condition(name, op, tuple(_number(name, t) for t in texts), "number"))
            continue
        if field.type in ("select_one", "select_multiple") and field.choices in choices:
            unknown = [t for t in texts if t not in choices[field.choices]]
            if unknown:
                raise FilterError(name, "invalid_choice", f"{unknown[0]!r} is not a choice of {name}.")
        if field.type == "select_multiple":
            if op in _ORDERED:
                raise FilterError(name, "invalid_operator", f"{name} holds several choices: use eq, ne or in.")
            out.append(Condition(name, op, tuple(texts), "choices"))
            continue
        if field.type == "date":
            for text in texts:
                try:
                    dt.date.fromisoformat(text)
                except ValueError:
                    raise FilterError(name, "invalid_value", f"{text!r} is not a date (YYYY-MM-DD).") from None
        out.append(Condition(name, op, tuple(texts), "text"))
    return out


def _all_numbers(texts: list[str]) -> bool:
    try:
        return all(math.isfinite(float(t)) for t in texts)
    except ValueError:
        return False
