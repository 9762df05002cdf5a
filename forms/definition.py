"""Form definitions: load, validate and compile a JSON form document.

``load_form(doc)`` checks a whole document and raises ``FormDefinitionError`` listing every
problem it finds (not just the first), each with a path into the document. A valid document
becomes a ``FormDefinition``: immutable, every expression compiled once, references resolved
to fields, and the order in which relevance and calculations must be evaluated fixed once.

The language is described for users in ``docs/forms.md``; this module is its reference.
"""

from __future__ import annotations

import heapq
import json
import math
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field as dc_field
from types import MappingProxyType
from typing import Any

import canonjson
from forms.answer_types import CHECKERS, AnswerTypeError
from forms.expressions import ExpressionEvaluationError, ExpressionSyntaxError, compile_expression
from forms.problems import FormDefinitionError, Problem

__all__ = [
    "Choice",
    "Field",
    "FormDefinition",
    "FormDefinitionError",
    "LIMITS",
    "Problem",
    "Reference",
    "Scope",
    "FIELD_TYPES",
    "check_parameter_overrides",
    "OUTPUT_KEYS",
    "load_form",
    "text_in",
]

# Hostile-upload guards. The server caps the document's byte size; these cap its shape.
LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "max_fields": 2_000,  # every field, group and repeat counted
        "max_depth": 10,  # groups and repeats nested in each other
        "max_choice_lists": 500,
        "max_choices_per_list": 5_000,
        "max_choices": 20_000,  # over all lists
        "max_choice_keys": 30,  # keys of one choice (value, label, extras)
        "max_parameters": 500,
        "max_languages": 20,
        "max_expression_length": 4_000,
        "max_text_length": 10_000,  # one label, hint or message
        "max_name_length": 64,
        "max_problems": 1_000,  # then the list ends with a `too_many` problem
        "max_value_depth": 48,  # JSON nesting of any value (guard against deep documents)
    }
)

FIELD_TYPES = (
    "text", "integer", "decimal", "date", "datetime", "select_one", "select_multiple",
    "geopoint", "image", "note", "calculate", "group", "repeat",
)
INPUT_TYPES = frozenset(CHECKERS)  # fields the enumerator answers
SELECT_TYPES = frozenset({"select_one", "select_multiple"})
CONTAINER_TYPES = frozenset({"group", "repeat"})

_COMMON_KEYS = frozenset({"name", "type", "label", "hint", "relevant", "appearance"})
_INPUT_KEYS = _COMMON_KEYS | {
    "required", "required_message", "constraint", "constraint_message", "calculation",
    "read_only", "default", "prefill",
}
ALLOWED_FIELD_KEYS: Mapping[str, frozenset] = MappingProxyType(
    {
        **{t: _INPUT_KEYS for t in INPUT_TYPES - SELECT_TYPES},
        **{t: _INPUT_KEYS | {"choices", "choice_filter"} for t in SELECT_TYPES},
        "note": _COMMON_KEYS,
        "calculate": frozenset({"name", "type", "label", "hint", "relevant", "calculation", "prefill"}),
        "group": _COMMON_KEYS | {"fields"},
        "repeat": _COMMON_KEYS | {"fields", "repeat_count", "instance_key"},
    }
)
ALL_FIELD_KEYS = frozenset().union(*ALLOWED_FIELD_KEYS.values())
_EXPRESSION_KEYS = ("relevant", "required", "constraint", "calculation", "choice_filter", "repeat_count")
_LABEL_KEYS = ("label", "hint", "constraint_message", "required_message")

DOCUMENT_KEYS = frozenset(
    {"form_id", "version", "title", "default_language", "parameters", "choices", "fields",
     "description", "languages", "outputs", "reasons"}
)
_REQUIRED_DOCUMENT_KEYS = ("form_id", "version", "title", "fields")

# Slots of `outputs`: the official results a server reports without knowing the form.
OUTPUT_KEYS = frozenset(
    {"classification", "income_per_person", "deprivation_count", "deprivations",
     "household_code", "head_name", "member_count", "score_a", "score_b", "area_type", "review_year",
     # read by the quality flags (forms.quality): `roster` names a top-level repeat
     "location", "head_id_number", "head_birth_year", "roster"}
)

# `reasons`: which fields explain a result (read by ``forms.reasons.explain``).
REASONS_KEYS = frozenset({"standard", "income", "deprivation_threshold", "indicators"})
REASONS_INCOME_FIELDS = frozenset(
    {"per_person", "line", "area_type", "average_per_person", "average_line", "farm_household"})
REASONS_INCOME_PARAMETERS = frozenset({"line_parameters", "average_line_parameters"})
REASONS_INDICATOR_KEYS = frozenset({"label", "repeat", "when", "name", "answers", "household"})
REASONS_ANSWER_KEYS = frozenset({"field", "label", "values"})

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z", re.ASCII)
_FORM_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z", re.ASCII)
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z", re.ASCII)
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*\Z", re.ASCII)
_CHOICE_VALUE_RE = re.compile(r"\S+\Z")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, eq=False, slots=True)
class Choice:
    """One choice of a list. ``data`` holds every key (value, label, extras) for choice_filter."""

    value: str
    label: str | Mapping[str, str] | None
    data: Mapping[str, Any]


@dataclass(frozen=True, eq=False, slots=True)
class Reference:
    """How ``${name}``, seen from one scope, reaches its field.

    ``up`` scopes outwards to the common ancestor, then ``down`` through these repeats
    (names, outer to inner). ``kind``: ``value`` (one value: same or enclosing scope),
    ``values`` (the list across repeat instances), ``instances`` (the repeat itself).
    """

    name: str
    field: "Field"
    up: int
    down: tuple[str, ...]
    kind: str


@dataclass(frozen=True, eq=False, slots=True)
class Field:
    """One node of the field tree. Expressions are compiled; ``spec`` is the field's JSON."""

    name: str
    type: str
    path: str  # in the document: fields/3/fields/0
    answer_path: str  # in answers, repeats named without indexes: members/age
    spec: Mapping[str, Any]  # the normalised JSON of this field (children under `fields`)
    label: Any = None
    hint: Any = None
    required: bool = False
    required_expr: Any = None
    required_message: Any = None
    relevant: Any = None
    constraint: Any = None
    constraint_message: Any = None
    calculation: Any = None
    choices: str | None = None
    choice_filter: Any = None
    repeat_count: Any = None
    read_only: bool = False
    appearance: str | None = None
    default: Any = None
    fields: tuple["Field", ...] = ()
    # Set once while loading:
    parent: "Field | None" = dc_field(default=None, repr=False)
    scope: "Scope | None" = dc_field(default=None, repr=False)

    @property
    def computed(self) -> bool:
        """The server computes this value (calculate, or read-only with a calculation)."""
        return self.type == "calculate" or (self.read_only and self.calculation is not None)

    @property
    def has_value(self) -> bool:
        return self.type in INPUT_TYPES or self.type == "calculate"

    @property
    def answerable(self) -> bool:
        """The enumerator supplies the value (so it may appear in answers)."""
        return self.type in INPUT_TYPES and not self.read_only

    def iter_fields(self) -> Iterator["Field"]:
        for child in self.fields:
            yield child
            yield from child.iter_fields()


class Scope:
    """The form, or one repeat: a namespace of fields (groups are transparent)."""

    __slots__ = ("repeat", "parent", "depth", "fields", "children", "_refs")

    def __init__(self, repeat: Field | None, parent: "Scope | None"):
        self.repeat = repeat
        self.parent = parent
        self.depth = 0 if parent is None else parent.depth + 1
        self.fields: dict[str, Field] = {}
        self.children: list[Scope] = []
        self._refs: dict[str, Reference] = {}

    @property
    def path(self) -> tuple[str, ...]:
        """Repeat names from the form down to this scope."""
        names = []
        s = self
        while s.repeat is not None:
            names.append(s.repeat.name)
            s = s.parent
        return tuple(reversed(names))

    def ancestors(self) -> list["Scope"]:
        """This scope and every enclosing one, innermost first."""
        out, s = [], self
        while s is not None:
            out.append(s)
            s = s.parent
        return out

    def reference(self, name: str) -> Reference | None:
        """The resolved ``${name}`` as seen from this scope (only names used by the form)."""
        return self._refs.get(name)

    def __repr__(self) -> str:
        return f"<Scope {'/'.join(self.path) or '(form)'}>"


def text_in(label, language: str | None, fallback: str | None = None) -> str | None:
    """The text of a label-like value in ``language`` (else ``fallback``, else any)."""
    if label is None or isinstance(label, str):
        return label
    for lang in (language, fallback):
        if lang is not None and lang in label:
            return label[lang]
    return next(iter(label.values()), None)


class FormDefinition:
    """A loaded, validated, compiled form version. Immutable; build with ``load_form``."""

    __slots__ = (
        "_canonical", "_sha256", "form_id", "version", "title", "description",
        "default_language", "languages", "parameters", "choices", "choice_index", "fields",
        "outputs", "reasons", "root", "evaluation_order", "_by_answer_path", "_field_tree", "_plan",
    )

    def __setattr__(self, name, value):
        raise AttributeError("FormDefinition is immutable")

    def __delattr__(self, name):
        raise AttributeError("FormDefinition is immutable")

    def _set(self, name, value):
        object.__setattr__(self, name, value)

    @property
    def document(self) -> dict:
        """A fresh copy of the normalised document (mutating it changes nothing here)."""
        return json.loads(self._canonical)

    def canonical_json(self) -> bytes:
        """The published bytes: sorted keys, no spaces, UTF-8, NFC text."""
        return self._canonical

    @property
    def sha256(self) -> str:
        return self._sha256

    @property
    def instance_keys(self) -> dict[str, str]:
        """Repeat answer path -> the child field identifying its instances across visits (for merging)."""
        return {f.answer_path: f.spec["instance_key"] for f in self.iter_fields()
                if f.type == "repeat" and "instance_key" in f.spec}

    def iter_fields(self) -> Iterator[Field]:
        """Every field, group and repeat in document order."""
        for f in self.fields:
            yield f
            yield from f.iter_fields()

    def field_at(self, answer_path: str) -> Field | None:
        """The field at ``members/age`` (repeat names, no indexes; groups are skipped)."""
        return self._by_answer_path.get(answer_path)

    def label_text(self, label, language: str | None = None) -> str | None:
        return text_in(label, language or self.default_language, self.default_language)

    def __repr__(self) -> str:
        return f"<FormDefinition {self.form_id} {self.version} sha256={self._sha256[:12]}>"


# --------------------------------------------------------------------------- loading


class _TooMany(Exception):
    pass


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _join(path: str, key) -> str:
    return f"{path}/{key}" if path else str(key)


class _Loader:
    def __init__(self):
        self.problems: list[Problem] = []
        self.field_count = 0
        self.fields_capped = False
        self.languages_used: dict[str, str] = {}  # language -> first path seen
        self.declared_languages: tuple[str, ...] | None = None
        self.choice_lists: dict[str, tuple[Choice, ...]] = {}
        self.choice_keys: dict[str, frozenset] = {}
        self.broken_lists: set[str] = set()
        self.parameters: dict[str, Any] = {}
        self.all_fields: list[Field] = []
        self.expressions: list[tuple[Field, str, Any]] = []  # (field, key, compiled)
        self.top_fields: tuple[Field, ...] = ()
        self._field_tree = None

    # -- problems
    def add(self, path: str, code: str, message: str) -> None:
        if len(self.problems) >= LIMITS["max_problems"]:
            self.problems.append(Problem(path, "too_many", "too many problems; the rest are not listed"))
            raise _TooMany
        self.problems.append(Problem(path, code, message))

    # -- normalisation: an NFC copy, with a depth guard so hostile nesting cannot recurse forever
    def normalise(self, value, path: str, depth: int = 0):
        if depth > LIMITS["max_value_depth"]:
            self.add(path, "too_deep", f"value nested deeper than {LIMITS['max_value_depth']} levels")
            return None
        if isinstance(value, str):
            return value if value.isascii() else unicodedata.normalize("NFC", value)
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                nk = self.normalise(k, path, depth + 1) if isinstance(k, str) else k
                out[nk] = self.normalise(v, _join(path, nk), depth + 1)
            return out
        if isinstance(value, (list, tuple)):
            return [self.normalise(v, _join(path, i), depth + 1) for i, v in enumerate(value)]
        if isinstance(value, float) and not math.isfinite(value):
            self.add(path, "invalid_value", "numbers must be finite (no NaN or Infinity in JSON)")
            return None
        if value is None or isinstance(value, (bool, int, float)):
            return value
        self.add(path, "invalid_value", f"{type(value).__name__} is not a JSON value")
        return None

    # -- small validators
    def check_string(self, value, path, *, what="a string", pattern=None, max_length=None) -> bool:
        if not isinstance(value, str) or not value:
            self.add(path, "invalid_value", f"expected {what}, got {_describe(value) if value != '' else 'empty text'}")
            return False
        if max_length is not None and len(value) > max_length:
            self.add(path, "too_large", f"longer than {max_length} characters")
            return False
        if pattern is not None and not pattern.match(value):
            self.add(path, "invalid_value", f"{value[:80]!r} is not {what}")
            return False
        return True

    def check_name(self, value, path, what="name") -> bool:
        if not isinstance(value, str):
            self.add(path, "invalid_name", f"{what} must be text, got {_describe(value)}")
            return False
        if len(value) > LIMITS["max_name_length"]:
            self.add(path, "invalid_name", f"{what} longer than {LIMITS['max_name_length']} characters")
            return False
        if not _NAME_RE.match(value):
            self.add(path, "invalid_name", f"{what} {value[:80]!r} must match [A-Za-z_][A-Za-z0-9_]*")
            return False
        return True

    def check_language(self, lang, path) -> bool:
        if not isinstance(lang, str) or not _LANGUAGE_RE.match(lang):
            self.add(path, "invalid_language", f"{lang!r} is not a language tag like 'vi' or 'en'")
            return False
        if self.declared_languages is not None and lang not in self.declared_languages:
            self.add(path, "invalid_language", f"language {lang!r} is not declared in `languages`")
            return False
        self.languages_used.setdefault(lang, path)
        return True

    def check_label(self, value, path) -> Any:
        """A label-like value: text, or a non-empty map language -> text. Returns it frozen."""
        limit = LIMITS["max_text_length"]
        if isinstance(value, str):
            if len(value) > limit:
                self.add(path, "too_large", f"longer than {limit} characters")
            return value
        if isinstance(value, dict):
            if not value:
                self.add(path, "invalid_value", "a label map needs at least one language")
            if len(value) > LIMITS["max_languages"]:
                self.add(path, "too_many", f"more than {LIMITS['max_languages']} languages")
                return None
            ok = True
            for lang, text in value.items():
                lpath = _join(path, lang)
                ok &= self.check_language(lang, lpath)
                if not isinstance(text, str):
                    self.add(lpath, "invalid_value", f"label text must be a string, got {_describe(text)}")
                    ok = False
                elif len(text) > limit:
                    self.add(lpath, "too_large", f"longer than {limit} characters")
            return MappingProxyType(dict(value)) if ok else None
        self.add(path, "invalid_value", f"expected text or a map language -> text, got {_describe(value)}")
        return None

    def compile(self, source, path, field_name: str | None, key: str):
        if not isinstance(source, str) or not source.strip():
            self.add(path, "invalid_value", f"{key} must be an expression (text), got {_describe(source) if source != '' else 'empty text'}")
            return None
        if len(source) > LIMITS["max_expression_length"]:
            self.add(path, "too_large", f"expression longer than {LIMITS['max_expression_length']} characters")
            return None
        try:
            return compile_expression(source)
        except ExpressionSyntaxError as exc:
            pos = getattr(exc, "position", None)
            where = f"{field_name}.{key}" if field_name else key
            at = f" at position {pos}" if pos is not None else ""
            msg = getattr(exc, "message", None) or str(exc)
            self.add(path, "expression_syntax", f"{where}: {msg}{at}")
            return None

    # -- document
    def load(self, raw) -> FormDefinition:
        if not isinstance(raw, dict):
            self.add("", "invalid_value", f"a form document is a JSON object, got {_describe(raw)}")
            raise FormDefinitionError(self.problems)
        doc = self.normalise(raw, "")
        for key in doc:
            if key not in DOCUMENT_KEYS:
                self.add(_join("", key) if isinstance(key, str) else repr(key), "unknown_key", f"unknown document key {key!r}")
        for key in _REQUIRED_DOCUMENT_KEYS:
            if key not in doc:
                self.add(key, "missing_key", f"the document needs `{key}`")

        if "form_id" in doc:
            self.check_string(doc["form_id"], "form_id", what="a form id ([a-z0-9][a-z0-9_-]*)",
                              pattern=_FORM_ID_RE, max_length=LIMITS["max_name_length"])
        if "version" in doc:
            self.check_string(doc["version"], "version", what="a version ([A-Za-z0-9][A-Za-z0-9._-]*)",
                              pattern=_VERSION_RE, max_length=LIMITS["max_name_length"])
        if "languages" in doc:
            langs = doc["languages"]
            if not isinstance(langs, list) or not langs:
                self.add("languages", "invalid_value", "`languages` is a non-empty list of language tags")
            elif len(langs) > LIMITS["max_languages"]:
                self.add("languages", "too_many", f"more than {LIMITS['max_languages']} languages")
            else:
                good = []
                for i, lang in enumerate(langs):
                    if not isinstance(lang, str) or not _LANGUAGE_RE.match(lang):
                        self.add(f"languages/{i}", "invalid_language", f"{lang!r} is not a language tag")
                    elif lang in good:
                        self.add(f"languages/{i}", "duplicate_name", f"language {lang!r} listed twice")
                    else:
                        good.append(lang)
                self.declared_languages = tuple(good)
        default_language = doc.get("default_language")
        if "default_language" in doc:
            if self.check_language(default_language, "default_language") is False:
                default_language = None
        for key in ("title", "description"):
            if key in doc:
                self.check_label(doc[key], key)

        if "parameters" in doc:
            self.load_parameters(doc["parameters"])
        if "choices" in doc:
            self.load_choices(doc["choices"])

        root = Scope(None, None)
        fields: tuple[Field, ...] = ()
        if "fields" in doc:
            if not isinstance(doc["fields"], list):
                self.add("fields", "invalid_value", f"`fields` is a list, got {_describe(doc['fields'])}")
            else:
                if not doc["fields"]:
                    self.add("fields", "invalid_value", "a form needs at least one field")
                fields = self.load_fields(doc["fields"], "fields", root, None, 1)
        self.top_fields = fields

        by_answer_path = {f.answer_path: f for f in self.all_fields}
        self.check_instance_keys(by_answer_path)
        self.resolve_expressions()
        order = self.order_evaluation()
        outputs = self.load_outputs(doc["outputs"], root) if "outputs" in doc else MappingProxyType({})
        reasons = self.load_reasons(doc["reasons"], root, outputs) if "reasons" in doc else MappingProxyType({})

        if default_language is None:
            if self.declared_languages:
                default_language = self.declared_languages[0]
            elif self.languages_used:
                default_language = "vi" if "vi" in self.languages_used else next(iter(self.languages_used))
        languages = self.declared_languages or tuple(self.languages_used)

        if self.problems:
            raise FormDefinitionError(self.problems)

        stack = [root]
        while stack:  # scopes become read-only too
            scope = stack.pop()
            scope.fields = MappingProxyType(scope.fields)
            scope.children = tuple(scope.children)
            stack.extend(scope.children)

        # The normalised document as written (canonjson.dumps, not canonical_json: a published
        # form's bytes and sha256 are stored and served, and ``1.0`` in a form stays ``1.0``).
        canonical = canonjson.dumps(doc)
        form = object.__new__(FormDefinition)
        s = form._set
        s("_canonical", canonical)
        s("_sha256", canonjson.sha256_hex(canonical))
        s("form_id", doc["form_id"])
        s("version", doc["version"])
        s("title", _freeze_label(doc["title"]))
        s("description", _freeze_label(doc.get("description")))
        s("default_language", default_language)
        s("languages", languages)
        s("parameters", MappingProxyType(dict(self.parameters)))
        s("choices", MappingProxyType(dict(self.choice_lists)))
        s("choice_index", MappingProxyType({
            name: MappingProxyType({c.value: c for c in lst}) for name, lst in self.choice_lists.items()
        }))
        s("fields", fields)
        s("outputs", outputs)
        s("reasons", reasons)
        s("root", root)
        s("evaluation_order", order)
        s("_by_answer_path", MappingProxyType(by_answer_path))
        s("_field_tree", self.field_tree())
        from forms.answers import build_plan  # the evaluation plan lives beside the evaluator

        s("_plan", build_plan(form))
        return form

    # -- parameters
    def load_parameters(self, params) -> None:
        if not isinstance(params, dict):
            self.add("parameters", "invalid_value", f"`parameters` is an object name -> value, got {_describe(params)}")
            return
        if len(params) > LIMITS["max_parameters"]:
            self.add("parameters", "too_many", f"more than {LIMITS['max_parameters']} parameters")
            return
        for name, value in params.items():
            path = _join("parameters", name)
            if not self.check_name(name, path, "parameter name"):
                continue
            if isinstance(value, bool) or isinstance(value, (int, float)) or isinstance(value, str):
                self.parameters[name] = value
            else:
                self.add(path, "invalid_value", f"a parameter is a number, text or boolean, got {_describe(value)}")

    # -- choices
    def load_choices(self, lists) -> None:
        if not isinstance(lists, dict):
            self.add("choices", "invalid_value", f"`choices` is an object list name -> choices, got {_describe(lists)}")
            return
        if len(lists) > LIMITS["max_choice_lists"]:
            self.add("choices", "too_many", f"more than {LIMITS['max_choice_lists']} choice lists")
            return
        total = 0
        for list_name, items in lists.items():
            lpath = _join("choices", list_name)
            if not self.check_name(list_name, lpath, "choice list name"):
                self.broken_lists.add(list_name)
                continue
            if not isinstance(items, list):
                self.add(lpath, "invalid_value", f"a choice list is a list of choices, got {_describe(items)}")
                self.broken_lists.add(list_name)
                continue
            if len(items) > LIMITS["max_choices_per_list"]:
                self.add(lpath, "too_many", f"more than {LIMITS['max_choices_per_list']} choices in one list")
                self.broken_lists.add(list_name)
                continue
            total += len(items)
            if total > LIMITS["max_choices"]:
                self.add(lpath, "too_many", f"more than {LIMITS['max_choices']} choices in the form")
                return
            choices, seen, keys = [], set(), set()
            for i, item in enumerate(items):
                choice = self.load_choice(item, f"{lpath}/{i}")
                if choice is None:
                    continue
                if choice.value in seen:
                    self.add(f"{lpath}/{i}/value", "duplicate_choice", f"value {choice.value!r} appears twice in list {list_name!r}")
                    continue
                seen.add(choice.value)
                keys.update(choice.data)
                choices.append(choice)
            self.choice_lists[list_name] = tuple(choices)
            self.choice_keys[list_name] = frozenset(keys | {"value", "name", "label"})

    def load_choice(self, item, path) -> Choice | None:
        if not isinstance(item, dict):
            self.add(path, "invalid_value", f"a choice is an object with `value`, got {_describe(item)}")
            return None
        if len(item) > LIMITS["max_choice_keys"]:
            self.add(path, "too_many", f"more than {LIMITS['max_choice_keys']} keys in one choice")
            return None
        ok = True
        value = item.get("value")
        if "value" not in item:
            self.add(path, "missing_key", "a choice needs a `value`")
            ok = False
        elif not isinstance(value, str) or not _CHOICE_VALUE_RE.match(value) or len(value) > 200:
            self.add(_join(path, "value"), "invalid_value",
                     f"a choice value is non-empty text without spaces (≤ 200 characters), got {value!r}"[:200])
            ok = False
        label = None
        if "label" in item:
            label = self.check_label(item["label"], _join(path, "label"))
        data = {}
        for key, extra in item.items():
            if key in ("value", "label"):
                continue
            kpath = _join(path, key)
            if not self.check_name(key, kpath, "choice key"):
                ok = False
                continue
            if key == "name":
                self.add(kpath, "invalid_name", "`name` is reserved: it reads the choice's `value` in choice_filter")
                ok = False
                continue
            if _is_scalar(extra):
                data[key] = extra
            elif isinstance(extra, dict) and all(isinstance(k, str) and _is_scalar(v) for k, v in extra.items()):
                data[key] = MappingProxyType(dict(extra))
            else:
                self.add(kpath, "invalid_value", "an extra choice key holds a number, text, boolean, or a map of them")
                ok = False
        if not ok:
            return None
        data["value"] = value
        if label is not None:
            data["label"] = label
        return Choice(value=value, label=label, data=MappingProxyType(data))

    # -- fields
    def load_fields(self, items, path, scope: Scope, parent: Field | None, depth: int) -> tuple[Field, ...]:
        out = []
        for i, item in enumerate(items):
            fpath = f"{path}/{i}"
            if self.field_count >= LIMITS["max_fields"]:
                if not self.fields_capped:
                    self.fields_capped = True
                    self.add(fpath, "too_many", f"a form has at most {LIMITS['max_fields']} fields")
                break
            self.field_count += 1
            f = self.load_field(item, fpath, scope, parent, depth)
            if f is not None:
                out.append(f)
        return tuple(out)

    def load_field(self, item, path, scope: Scope, parent: Field | None, depth: int) -> Field | None:
        if not isinstance(item, dict):
            self.add(path, "invalid_value", f"a field is an object, got {_describe(item)}")
            return None
        ok = True
        name = item.get("name")
        if "name" not in item:
            self.add(_join(path, "name"), "missing_key", "a field needs a `name`")
            ok = False
        elif not self.check_name(name, _join(path, "name")):
            ok = False
        label_for = name if isinstance(name, str) else path
        ftype = item.get("type")
        if "type" not in item:
            self.add(_join(path, "type"), "missing_key", f"field {label_for!r} needs a `type`")
            allowed = ALL_FIELD_KEYS
            ok = False
        elif not isinstance(ftype, str) or ftype not in ALLOWED_FIELD_KEYS:
            self.add(_join(path, "type"), "unknown_type",
                     f"field {label_for!r}: unknown type {ftype!r}; known: {', '.join(FIELD_TYPES)}")
            allowed = ALL_FIELD_KEYS
            ok = False
        else:
            allowed = ALLOWED_FIELD_KEYS[ftype]
        for key in item:
            if key not in ALL_FIELD_KEYS:
                self.add(_join(path, key), "unknown_key", f"field {label_for!r}: unknown key {key!r}")
                ok = False
            elif key not in allowed:
                self.add(_join(path, key), "key_not_allowed", f"field {label_for!r}: `{key}` has no meaning on a {ftype} field")
                ok = False

        attrs: dict[str, Any] = {}
        for key in _LABEL_KEYS:
            if key in item:
                attrs[key] = self.check_label(item[key], _join(path, key))
        for key in _EXPRESSION_KEYS:
            if key not in item or key not in allowed:
                continue
            value = item[key]
            if key == "required" and isinstance(value, bool):
                attrs["required"] = value
                continue
            compiled = self.compile(value, _join(path, key), name if isinstance(name, str) else None, key)
            if compiled is None:
                ok = False
            attrs["required_expr" if key == "required" else key] = compiled
            if key == "required":
                attrs["required"] = compiled is not None
        if "read_only" in item:
            if not isinstance(item["read_only"], bool):
                self.add(_join(path, "read_only"), "invalid_value", "`read_only` is true or false")
                ok = False
            else:
                attrs["read_only"] = item["read_only"]
        if "prefill" in item and not isinstance(item["prefill"], bool):
            # Which stored answers travel to phones: forms/prefill.py.
            self.add(_join(path, "prefill"), "invalid_value", "`prefill` is true or false")
            ok = False
        if "appearance" in item:
            if self.check_string(item["appearance"], _join(path, "appearance"), what="text", max_length=200):
                attrs["appearance"] = item["appearance"]
        if ftype == "calculate" and "calculation" not in item:
            self.add(_join(path, "calculation"), "missing_key", f"calculate field {label_for!r} needs a `calculation`")
            ok = False
        if ftype in SELECT_TYPES:
            if "choices" not in item:
                self.add(_join(path, "choices"), "missing_key", f"select field {label_for!r} needs `choices` (a list name)")
                ok = False
            else:
                list_name = item["choices"]
                if not isinstance(list_name, str):
                    self.add(_join(path, "choices"), "invalid_value", f"`choices` names a list, got {_describe(list_name)}")
                    ok = False
                elif list_name not in self.choice_lists:
                    if list_name not in self.broken_lists:
                        self.add(_join(path, "choices"), "missing_choice_list",
                                 f"select field {label_for!r}: no choice list named {list_name!r}")
                    ok = False
                elif not self.choice_lists[list_name]:
                    self.add(_join(path, "choices"), "empty_choice_list",
                             f"select field {label_for!r}: choice list {list_name!r} has no choices")
                    ok = False
                else:
                    attrs["choices"] = list_name
        if "default" in item and ftype in INPUT_TYPES and ok:
            attrs["default"] = self.check_default(item["default"], _join(path, "default"), ftype, attrs.get("choices"))

        children_raw = item.get("fields")
        if ftype in CONTAINER_TYPES:
            if "fields" not in item:
                self.add(_join(path, "fields"), "missing_key", f"{ftype} {label_for!r} needs `fields`")
                ok = False
            elif not isinstance(children_raw, list):
                self.add(_join(path, "fields"), "invalid_value", f"`fields` is a list, got {_describe(children_raw)}")
                ok = False
                children_raw = None
            elif not children_raw:
                self.add(_join(path, "fields"), "invalid_value", f"{ftype} {label_for!r} has no fields")

        answer_prefix = "/".join(scope.path)
        spec = _deep_freeze({k: v for k, v in item.items() if k != "fields"})
        f = Field(
            name=name if isinstance(name, str) else "",
            type=ftype if isinstance(ftype, str) else "",
            path=path,
            answer_path=_join(answer_prefix, name) if isinstance(name, str) else path,
            spec=spec,
            label=attrs.get("label"),
            hint=attrs.get("hint"),
            required=attrs.get("required", False),
            required_expr=attrs.get("required_expr"),
            required_message=attrs.get("required_message"),
            relevant=attrs.get("relevant"),
            constraint=attrs.get("constraint"),
            constraint_message=attrs.get("constraint_message"),
            calculation=attrs.get("calculation"),
            choices=attrs.get("choices"),
            choice_filter=attrs.get("choice_filter"),
            repeat_count=attrs.get("repeat_count"),
            read_only=attrs.get("read_only", False),
            appearance=attrs.get("appearance"),
            default=attrs.get("default"),
        )
        object.__setattr__(f, "parent", parent)
        object.__setattr__(f, "scope", scope)

        if isinstance(name, str) and _NAME_RE.match(name):
            other = scope.fields.get(name)
            if other is not None:
                where = f"repeat {'/'.join(scope.path)}" if scope.path else "the form"
                self.add(_join(path, "name"), "duplicate_name",
                         f"name {name!r} is used twice in {where} (groups share their scope)")
            else:
                scope.fields[name] = f

        if ftype in CONTAINER_TYPES and isinstance(children_raw, list):
            if depth >= LIMITS["max_depth"]:
                self.add(_join(path, "fields"), "too_deep",
                         f"groups and repeats nest at most {LIMITS['max_depth']} levels deep")
            else:
                child_scope = scope
                if ftype == "repeat":
                    child_scope = Scope(f, scope)
                    scope.children.append(child_scope)
                children = self.load_fields(children_raw, _join(path, "fields"), child_scope, f, depth + 1)
                object.__setattr__(f, "fields", children)

        self.all_fields.append(f)
        for key in _EXPRESSION_KEYS:
            attr = "required_expr" if key == "required" else key
            compiled = getattr(f, attr)
            if compiled is not None:
                self.expressions.append((f, key, compiled))
        return f

    def check_default(self, value, path, ftype, list_name):
        # Defaults are literals (a dynamic default is a `calculation` on an input field).
        checker = CHECKERS[ftype]
        if ftype == "text" and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        try:
            value = checker(value)
        except AnswerTypeError as exc:
            self.add(path, "invalid_value", f"default does not fit a {ftype} field: {exc.message}")
            return None
        if list_name is not None:
            index = {c.value for c in self.choice_lists[list_name]}
            for v in value if isinstance(value, list) else [value]:
                if v not in index:
                    self.add(path, "invalid_value", f"default {v!r} is not in choice list {list_name!r}")
                    return None
        return value

    # -- references
    def resolve_expressions(self) -> None:
        self.deps: dict[Field, set[Field]] = {f: set() for f in self.all_fields}
        for f in self.all_fields:
            if f.parent is not None:
                self.deps[f].add(f.parent)
        for f, key, expr in self.expressions:
            path = _join(f.path, key)
            scope = f.scope
            for pname in sorted(expr.parameters):
                if pname not in self.parameters:
                    self.add(path, "unknown_parameter", f"{f.name}.{key}: no parameter named {pname!r} (${{param:{pname}}})")
            if expr.uses_current and key not in ("constraint",):
                self.add(path, "invalid_reference", f"{f.name}.{key}: `.` (this answer) only has a meaning in a constraint")
            if expr.bare_names:
                if key == "choice_filter":
                    known = self.choice_keys.get(f.choices or "", frozenset())
                    for bare in sorted(expr.bare_names):
                        if f.choices is not None and bare not in known:
                            self.add(path, "unknown_choice_key",
                                     f"{f.name}.choice_filter: no choice in list {f.choices!r} has a key {bare!r}")
                else:
                    for bare in sorted(expr.bare_names):
                        self.add(path, "invalid_reference",
                                 f"{f.name}.{key}: bare name {bare!r}; write ${{{bare}}} to read a field")
            for ref_name in sorted(expr.references):
                ref = self.resolve(scope, ref_name, path, f, key)
                if ref is None:
                    continue
                if key in ("relevant", "calculation", "repeat_count"):
                    self.deps[f].add(ref.field)

    def resolve(self, scope: Scope, name: str, path: str, f: Field, key: str) -> Reference | None:
        cached = scope._refs.get(name)
        if cached is not None:
            target = cached
        else:
            target = self._resolve_uncached(scope, name)
            if isinstance(target, Reference):
                scope._refs[name] = target
        if isinstance(target, str):
            code, message = target.split(":", 1)
            self.add(path, code, f"{f.name}.{key}: {message}")
            return None
        t = target.field
        if t.type == "group":
            self.add(path, "invalid_reference", f"{f.name}.{key}: ${{{name}}} is a group, which has no value")
            return None
        if t.type == "note":
            self.add(path, "invalid_reference", f"{f.name}.{key}: ${{{name}}} is a note, which has no value")
            return None
        return target

    def _resolve_uncached(self, scope: Scope, name: str):
        """Resolve by the shared scoping rules (``forms.expressions.scope.FieldTree``, the
        reference the phone's implementation is checked against), then keep the answer as a
        ``Reference`` to our own field so evaluation never resolves a name again."""
        tree = self.field_tree()
        try:
            plan = tree.plan(scope.path, name)
        except ExpressionEvaluationError:  # declared in several repeats
            where = ", ".join(sorted(f.answer_path for f in self.all_fields if f.name == name))
            return f"ambiguous_reference:${{{name}}} could mean {where}"
        if plan is None:
            for s in scope.ancestors():
                t = s.fields.get(name)
                if t is not None and t.type == "group":
                    return Reference(name, t, scope.depth - s.depth, (), "value")
            return f"unknown_reference:no field named ${{{name}}} is visible here"
        depth, chain, _decl = plan
        up = scope.depth - depth
        target = scope
        for _ in range(up):
            target = target.parent
        for rname in chain:
            target = next(c for c in target.children if c.repeat.name == rname)
        t = target.fields[name]
        if t.type == "repeat":
            kind = "instances"
        else:
            kind = "values" if chain else "value"
        return Reference(name, t, up, tuple(chain), kind)

    def field_tree(self):
        if self._field_tree is None:
            from forms.expressions.scope import FieldTree

            def plain(fields):
                return [{"name": f.name, "type": f.type, "choices": f.choices, "fields": plain(f.fields)}
                        for f in fields if f.name]

            self._field_tree = FieldTree(plain(self.top_fields))
        return self._field_tree

    # -- cycles and order
    def order_evaluation(self) -> tuple[Field, ...]:
        """Report dependency cycles; return every field in an order that respects dependencies."""
        fields = self.all_fields
        position = {f: i for i, f in enumerate(sorted(fields, key=lambda f: _path_key(f.path)))}
        deps = self.deps
        for component in _strongly_connected(fields, deps):
            if len(component) == 1:
                f = component[0]
                if f not in deps[f]:
                    continue
            members = sorted(component, key=position.__getitem__)
            first = members[0]
            loop = " → ".join(m.answer_path for m in members) + " → " + first.answer_path
            self.add(first.path, "calculation_cycle",
                     f"these fields' calculations, defaults or relevance depend on each other in a loop: {loop}")
        # Kahn's algorithm, document order among the ready ones; cyclic nodes are left out.
        dependents: dict[Field, list[Field]] = {f: [] for f in fields}
        remaining = {}
        for f in fields:
            ds = {d for d in deps[f] if d is not f}
            remaining[f] = len(ds)
            for d in ds:
                dependents[d].append(f)
        ready = [(position[f], f) for f in fields if remaining[f] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, f = heapq.heappop(ready)
            if f in deps[f]:
                continue
            order.append(f)
            for g in dependents[f]:
                remaining[g] -= 1
                if remaining[g] == 0:
                    heapq.heappush(ready, (position[g], g))
        return tuple(order)

    # -- repeat instance keys
    def check_instance_keys(self, by_answer_path: Mapping[str, Field]) -> None:
        """``instance_key`` names the child field that identifies a repeat instance across visits."""
        for f in self.all_fields:
            if f.type != "repeat" or "instance_key" not in f.spec:
                continue
            key, path = f.spec["instance_key"], _join(f.path, "instance_key")
            child = by_answer_path.get(_join(f.answer_path, key)) if isinstance(key, str) else None
            if child is None:
                self.add(path, "unknown_reference", f"`instance_key` names no field directly inside repeat {f.name!r}")
            elif child.type not in ("text", "integer"):
                self.add(path, "invalid_reference", f"`instance_key` must name a text or integer field, not a {child.type}")

    # -- outputs
    def load_outputs(self, outputs, root: Scope) -> Mapping:
        if not isinstance(outputs, dict):
            self.add("outputs", "invalid_value", f"`outputs` is an object slot -> field name, got {_describe(outputs)}")
            return MappingProxyType({})
        resolved: dict[str, Any] = {}
        for slot, target in outputs.items():
            path = _join("outputs", slot)
            if slot not in OUTPUT_KEYS:
                self.add(path, "unknown_key", f"unknown output {slot!r}; known: {', '.join(sorted(OUTPUT_KEYS))}")
                continue
            if slot == "deprivations":
                if not isinstance(target, dict):
                    self.add(path, "invalid_value", "`deprivations` is an object indicator -> field name")
                    continue
                if len(target) > 50:
                    self.add(path, "too_many", "more than 50 deprivation indicators")
                    continue
                inner = {}
                for indicator, fname in target.items():
                    ipath = _join(path, indicator)
                    if self.check_name(indicator, ipath, "indicator key") and self.check_output_field(fname, ipath, root):
                        inner[indicator] = fname
                resolved[slot] = MappingProxyType(inner)
            elif self.check_output_field(target, path, root, repeat=slot == "roster"):
                resolved[slot] = target
        return MappingProxyType(resolved)

    def check_output_field(self, fname, path, root: Scope, *, repeat: bool = False) -> bool:
        if not isinstance(fname, str):
            self.add(path, "invalid_value", f"an output names a field, got {_describe(fname)}")
            return False
        f = root.fields.get(fname)
        if f is None:
            self.add(path, "unknown_reference", f"no field named {fname!r} at the top level of the form (outside repeats)")
            return False
        if repeat:
            if f.type != "repeat":
                self.add(path, "invalid_reference", f"{fname!r} is a {f.type}, not a repeat")
                return False
            return True
        if not f.has_value:
            self.add(path, "invalid_reference", f"{fname!r} is a {f.type}, which has no value to report")
            return False
        return True

    # -- reasons
    def load_reasons(self, reasons, root: Scope, outputs: Mapping) -> Mapping:
        """``reasons``: which answers explain each deprivation, and which fields hold the income
        comparison. Only names are checked here; ``forms.reasons.explain`` reads the values."""
        if not isinstance(reasons, dict):
            self.add("reasons", "invalid_value", f"`reasons` is an object, got {_describe(reasons)}")
            return MappingProxyType({})
        for key in reasons:
            if key not in REASONS_KEYS:
                self.add(_join("reasons", key), "unknown_key",
                         f"unknown key {key!r} in `reasons`; known: {', '.join(sorted(REASONS_KEYS))}")
        if "standard" in reasons:
            self.check_label(reasons["standard"], "reasons/standard")
        if "deprivation_threshold" in reasons:
            self.check_parameter_name(reasons["deprivation_threshold"], "reasons/deprivation_threshold")
        income = reasons.get("income", {})
        if not isinstance(income, dict):
            self.add("reasons/income", "invalid_value", f"`income` is an object, got {_describe(income)}")
        else:
            for key, target in income.items():
                path = _join("reasons/income", key)
                if key in REASONS_INCOME_FIELDS:
                    self.check_output_field(target, path, root)
                elif key in REASONS_INCOME_PARAMETERS:
                    if not isinstance(target, dict) or not target:
                        self.add(path, "invalid_value", "an object: area type (the answer) -> parameter name")
                        continue
                    for area, pname in target.items():
                        self.check_parameter_name(pname, _join(path, area))
                else:
                    known = ", ".join(sorted(REASONS_INCOME_FIELDS | REASONS_INCOME_PARAMETERS))
                    self.add(path, "unknown_key", f"unknown key {key!r} in `reasons/income`; known: {known}")
        indicators = reasons.get("indicators", {})
        if not isinstance(indicators, dict):
            self.add("reasons/indicators", "invalid_value", f"`indicators` is an object, got {_describe(indicators)}")
        elif len(indicators) > 50:
            self.add("reasons/indicators", "too_many", "more than 50 indicators")
        else:
            declared = outputs.get("deprivations", {})
            for indicator, spec in indicators.items():
                path = _join("reasons/indicators", indicator)
                if indicator not in declared:
                    self.add(path, "unknown_reference", f"{indicator!r} is not an indicator of `outputs.deprivations`")
                    continue
                self.load_reason_indicator(spec, path, root)
        return _deep_freeze(reasons)

    def check_parameter_name(self, pname, path) -> None:
        if not isinstance(pname, str) or pname not in self.parameters:
            self.add(path, "unknown_parameter", f"no parameter named {pname!r}")

    def load_reason_indicator(self, spec, path, root: Scope) -> None:
        if not isinstance(spec, dict):
            self.add(path, "invalid_value", f"an indicator's reason is an object, got {_describe(spec)}")
            return
        for key in spec:
            if key not in REASONS_INDICATOR_KEYS:
                self.add(_join(path, key), "unknown_key",
                         f"unknown key {key!r}; known: {', '.join(sorted(REASONS_INDICATOR_KEYS))}")
        if "label" in spec:
            self.check_label(spec["label"], _join(path, "label"))
        scope = root
        if "repeat" in spec:
            repeat = spec["repeat"]
            scope = next((c for c in root.children if c.repeat.name == repeat), None)
            if scope is None:
                self.add(_join(path, "repeat"), "unknown_reference", f"no repeat named {repeat!r} at the top level")
                return
            for key in ("when", "name"):
                if key == "when" and key not in spec:
                    self.add(_join(path, key), "missing_key", "a repeat's reason needs `when`: the per-instance 1/0 field")
                elif key in spec:
                    self.check_reason_field(spec[key], _join(path, key), scope)
        elif "when" in spec or "name" in spec or "household" in spec:
            self.add(path, "key_not_allowed", "`when`, `name` and `household` belong to a reason with a `repeat`")
        answers = spec.get("answers")
        if not isinstance(answers, list) or not answers:
            self.add(_join(path, "answers"), "invalid_value", "`answers` is a non-empty list of fields")
            return
        self.load_reason_answers(answers, _join(path, "answers"), scope)
        if "repeat" in spec and "household" in spec:
            household = spec["household"]
            if not isinstance(household, list):
                self.add(_join(path, "household"), "invalid_value", "`household` is a list of top-level fields")
            else:
                self.load_reason_answers(household, _join(path, "household"), root)

    def load_reason_answers(self, answers: list, path: str, scope: Scope) -> None:
        if len(answers) > 20:
            self.add(path, "too_many", "more than 20 answers")
            return
        for i, entry in enumerate(answers):
            epath = _join(path, i)
            if isinstance(entry, dict):
                for key in entry:
                    if key not in REASONS_ANSWER_KEYS:
                        self.add(_join(epath, key), "unknown_key", f"unknown key {key!r}; known: field, label, values")
                if "label" in entry:
                    self.check_label(entry["label"], _join(epath, "label"))
                values = entry.get("values", [])
                if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                    self.add(_join(epath, "values"), "invalid_value", "`values` is a list of answer values")
                entry = entry.get("field")
            self.check_reason_field(entry, epath, scope)

    def check_reason_field(self, fname, path, scope: Scope) -> None:
        f = scope.fields.get(fname) if isinstance(fname, str) else None
        if f is None:
            where = f"repeat {scope.repeat.name!r}" if scope.repeat is not None else "the top level of the form"
            self.add(path, "unknown_reference", f"no field named {fname!r} in {where}")
        elif not f.has_value:
            self.add(path, "invalid_reference", f"{fname!r} is a {f.type}, which has no value")


def _deep_freeze(value, depth: int = 0):
    """Read-only views all the way down (values are already validated, so depth is bounded)."""
    if isinstance(value, dict) and depth < LIMITS["max_value_depth"]:
        return MappingProxyType({k: _deep_freeze(v, depth + 1) for k, v in value.items()})
    if isinstance(value, list) and depth < LIMITS["max_value_depth"]:
        return tuple(_deep_freeze(v, depth + 1) for v in value)
    return value


def _is_scalar(v) -> bool:
    return v is None or isinstance(v, (str, bool, int, float))


def _freeze_label(value):
    if isinstance(value, dict):
        return MappingProxyType(dict(value))
    return value


def _path_key(path: str):
    return tuple(int(p) if p.isdigit() else -1 for p in path.split("/"))


def _strongly_connected(nodes, deps) -> list[list]:
    """Tarjan's algorithm, iterative (2,000 fields would overflow Python's recursion)."""
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    out: list[list] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(deps[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(deps[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w is node:
                        break
                out.append(component)
    return out


def check_parameter_overrides(form: FormDefinition, overrides: Mapping) -> list[Problem]:
    """Problems with a province's parameter override for ``form`` (empty when it fits).

    Each name must be a parameter of the form, and each value of the same kind as the form's
    own (number, text or boolean), so an override cannot turn ``income_line_rural`` into text.
    """
    problems = []
    if not isinstance(overrides, Mapping):
        return [Problem("", "invalid_value", f"an override is an object name -> value, got {_describe(overrides)}")]

    def kind(v):
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, (int, float)):
            return "number"
        if isinstance(v, str):
            return "text"
        return None

    for name, value in overrides.items():
        if name not in form.parameters:
            problems.append(Problem(str(name), "unknown_parameter", f"form {form.form_id} {form.version} has no parameter {name!r}"))
            continue
        want, got = kind(form.parameters[name]), kind(value)
        if got is None or (isinstance(value, float) and not math.isfinite(value)):
            problems.append(Problem(name, "invalid_value", f"a parameter is a number, text or boolean, got {_describe(value)}"))
        elif got != want:
            problems.append(Problem(name, "invalid_value", f"{name!r} is a {want} in the form; the override gives {got}"))
    return problems


def load_form(doc: dict) -> FormDefinition:
    """Validate and compile a form document; raise ``FormDefinitionError`` listing every problem."""
    loader = _Loader()
    try:
        return loader.load(doc)
    except _TooMany:
        raise FormDefinitionError(loader.problems) from None
