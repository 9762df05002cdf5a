"""Reference runner for the language-neutral conformance cases in ``forms/conformance/``
(format: ``forms/conformance/README.md``). Used by the tests and the docs check."""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .compiler import compile_expression
from .errors import ExpressionEvaluationError, ExpressionSyntaxError
from .scope import ChoiceAttributes, FieldTree
from .values import Nodeset, parse_date

CONFORMANCE_DIR = Path(__file__).resolve().parent.parent / "conformance"
CASE_KEYS = frozenset({"id", "expression", "form", "answers", "repeat_path", "current",
                       "parameters", "choice", "today", "as", "expected", "error", "note"})
CONTEXT_KEYS = ("form", "answers", "repeat_path", "current", "parameters", "choice", "today")
_SPECIAL_NUMBERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@dataclass(frozen=True)
class Case:
    file: str
    id: str
    data: Mapping[str, object]

    def get(self, key: str, default: object = None) -> object:
        return self.data.get(key, default)


def case_files(directory: Path = CONFORMANCE_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def load_cases(directory: Path = CONFORMANCE_DIR) -> Iterator[Case]:
    """Every case with the file's ``form``/``defaults`` applied."""
    for path in case_files(directory):
        doc = json.loads(path.read_text(encoding="utf-8"))
        defaults = dict(doc.get("defaults") or {})
        if "form" in doc:
            defaults.setdefault("form", doc["form"])
        for raw in doc["cases"]:
            unknown = set(raw) - CASE_KEYS
            if unknown:
                raise ValueError(f"{path.name}: case {raw.get('id')}: unknown keys {sorted(unknown)}")
            merged = {**defaults, **raw}
            yield Case(path.name, raw["id"], merged)


def decode(value: object) -> object:
    """JSON input value -> Python: ``{"$date": …}``, ``{"$number": …}`` decoded, recursively."""
    if isinstance(value, dict):
        if set(value) == {"$date"}:
            d = parse_date(value["$date"])
            if d is None:
                raise ValueError(f"bad $date {value['$date']!r}")
            return d
        if set(value) == {"$number"}:
            return _SPECIAL_NUMBERS[value["$number"]]
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def encode(value: object) -> object:
    """Evaluation result -> JSON value (the encoding of ``expected``)."""
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, float):
        if value != value:
            return {"$number": "NaN"}
        if value in (math.inf, -math.inf):
            return {"$number": "Infinity" if value > 0 else "-Infinity"}
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, _dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {value!r}")


def matches(actual: object, expected: object) -> bool:
    """Strict comparison of a result with an ``expected`` JSON value."""
    if isinstance(expected, dict):
        if set(expected) == {"$number"}:
            if type(actual) is not float:
                return False
            want = _SPECIAL_NUMBERS[expected["$number"]]
            return (actual != actual) if want != want else actual == want
        if set(expected) == {"$date"}:
            return type(actual) is _dt.date and actual.isoformat() == expected["$date"]
        raise ValueError(f"bad expected value {expected!r}")
    if isinstance(expected, list):
        return (type(actual) is Nodeset and len(actual) == len(expected)
                and all(matches(a, e) for a, e in zip(actual, expected)))
    if isinstance(expected, bool):
        return type(actual) is bool and actual is expected
    if isinstance(expected, (int, float)):
        return type(actual) is float and actual == expected
    if isinstance(expected, str):
        return type(actual) is str and actual == expected
    raise ValueError(f"bad expected value {expected!r}")


def build_context(spec: Mapping[str, object]):
    """The :class:`EvalContext` for a case (or a docs example's context)."""
    answers = decode(spec.get("answers") or {})
    form = spec.get("form")
    tree = FieldTree.from_form(form) if form else FieldTree.infer(answers)  # type: ignore[arg-type]
    scoped = tree.scope(answers, spec.get("repeat_path") or ())  # type: ignore[arg-type]
    today = spec.get("today")
    choices = (form or {}).get("choices")  # type: ignore[union-attr]
    return scoped.context(
        parameters=decode(spec.get("parameters") or {}),
        current=decode(spec.get("current", "")),
        choice=decode(spec["choice"]) if spec.get("choice") is not None else None,
        today=None if today is None else parse_date(today),  # type: ignore[arg-type]
        choice_attr=ChoiceAttributes(tree, choices) if choices else None,
    )


def run_case(case: Case) -> None:
    """Run one case; raises AssertionError describing any mismatch."""
    data = case.data
    expression = data["expression"]
    want_error = data.get("error")
    if want_error not in (None, "syntax", "evaluation"):
        raise ValueError(f"{case.id}: error must be 'syntax' or 'evaluation'")
    if (want_error is None) == ("expected" not in data):
        raise ValueError(f"{case.id}: give exactly one of 'expected' and 'error'")
    try:
        expr = compile_expression(expression)  # type: ignore[arg-type]
    except ExpressionSyntaxError as exc:
        if want_error == "syntax":
            return
        raise AssertionError(f"{case.id}: unexpected syntax error: {exc}") from None
    if want_error == "syntax":
        raise AssertionError(f"{case.id}: expected a syntax error, compiled fine")
    ctx = build_context(data)
    method = {None: expr.evaluate, "boolean": expr.evaluate_bool,
              "number": expr.evaluate_number, "string": expr.evaluate_string}[data.get("as")]  # type: ignore[index]
    try:
        actual = method(ctx)
    except ExpressionEvaluationError as exc:
        if want_error == "evaluation":
            return
        raise AssertionError(f"{case.id}: unexpected evaluation error: {exc}") from None
    if want_error == "evaluation":
        raise AssertionError(f"{case.id}: expected an evaluation error, got {actual!r}")
    if not matches(actual, data["expected"]):
        raise AssertionError(
            f"{case.id}: {expression!r} gave {json.dumps(encode(actual), ensure_ascii=False)}, "
            f"expected {json.dumps(data['expected'], ensure_ascii=False)}")
