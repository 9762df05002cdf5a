"""Answers as a person reads them: laid out like the form (its groups, its roster as member
cards), with the form's own labels and choice labels in the reader's language, numbers and dates
the Vietnamese way. Pure presentation over ``forms.definition``: no rule is decided here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from forms.definition import Field, FormDefinition
from forms.typed import parse_decimal, parse_integer

from server.console import auth
from server.console.auth import fmt_date, fmt_datetime, fmt_number

NUMERIC = frozenset({"integer", "decimal"})
SELECTS = frozenset({"select_one", "select_multiple"})
# What a supervisor can correct from the console: answers typed or chosen at the door.
CORRECTABLE = frozenset({"text", "integer", "decimal", "date", "select_one", "select_multiple"})


@dataclass
class Row:
    name: str  # the answer path: "head_name", "members/age"
    label: str
    value: str
    computed: bool = False


@dataclass
class Section:
    title: str | None
    rows: list[Row] = field(default_factory=list)
    members: list[tuple[str, list[Row]]] | None = None  # a repeat: (card title, rows) per instance
    children: list[Section] = field(default_factory=list)


def label_of(form: FormDefinition, f: Field, lang: str) -> str:
    return form.label_text(f.label, lang) or f.name


def choice_options(form: FormDefinition, f: Field, lang: str) -> list[tuple[str, str]]:
    """(value, label) of a select field's choices, in the form's order."""
    return [(str(c.value), form.label_text(c.label, lang) or str(c.value)) for c in form.choices.get(f.choices or "", ())]


def display(form: FormDefinition, f: Field | None, value: Any, lang: str) -> str:
    """One answer as text: choice labels (not codes), grouped digits, dd/mm/yyyy."""
    if value is None or value == "" or value == []:
        return "—"
    if f is not None and f.type in SELECTS:
        labels = dict(choice_options(form, f, lang))
        values = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(str(v), str(v)) for v in values)
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and abs(value) < 10_000:
            # Four digits stay whole: a birth year is 1986, not 1.986 (amounts are larger).
            return str(int(value))
        return fmt_number(value, 0 if float(value).is_integer() else 2)
    if f is not None and f.type == "date":
        return fmt_date(value)
    if f is not None and f.type == "datetime":
        return fmt_datetime(value)
    if f is not None and f.type == "geopoint" and isinstance(value, Mapping):
        parts = [fmt_number(value.get("lat"), 6), fmt_number(value.get("lon"), 6)]
        accuracy = value.get("accuracy")
        return ", ".join(parts) + (f" (± {fmt_number(accuracy, 0)} m)" if accuracy is not None else "")
    if isinstance(value, list | dict):
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return str(value)


def _value(f: Field, answers: Mapping[str, Any], computed: Mapping[str, Any]) -> Any:
    if f.name in answers:
        return answers[f.name]
    return computed.get(f.name) if f.computed else None


def layout(form: FormDefinition, answers: Mapping[str, Any], computed: Mapping[str, Any] | None,
           lang: str) -> list[Section]:
    """The submission as sections in the form's order: answered fields only (a question the form
    did not ask this household is not shown), calculations from the server's computed values."""
    computed = computed or {}
    top = Section(title=None)
    out = [top]

    def fill(fields: tuple[Field, ...], section: Section, scope_answers: Mapping[str, Any],
             scope_computed: Mapping[str, Any]) -> None:
        for f in fields:
            if f.type == "group":
                child = Section(title=label_of(form, f, lang))
                fill(f.fields, child, scope_answers, scope_computed)
                if child.rows or child.children or child.members:
                    (out if section is top else section.children).append(child)
            elif f.type == "repeat":
                items = scope_answers.get(f.name) or []
                computed_items = scope_computed.get(f.name) if isinstance(scope_computed.get(f.name), list) else []
                members = []
                for i, item in enumerate(items if isinstance(items, list) else []):
                    card = Section(title=None)
                    extra = computed_items[i] if i < len(computed_items) and isinstance(computed_items[i], Mapping) \
                        else {}
                    fill(f.fields, card, item if isinstance(item, Mapping) else {}, extra)
                    rows = card.rows + [r for c in card.children for r in c.rows]
                    members.append((_member_title(rows, i), rows))
                repeat = Section(title=label_of(form, f, lang), members=members)
                (out if section is top else section.children).append(repeat)
            elif f.type == "note":
                continue
            else:
                value = _value(f, scope_answers, scope_computed)
                if value is None or value == "" or value == []:
                    continue
                section.rows.append(Row(f.answer_path, label_of(form, f, lang), display(form, f, value, lang),
                                        computed=f.computed))

    fill(form.fields, top, answers, computed)
    return [s for s in out if s.rows or s.children or s.members is not None]


def _member_title(rows: list[Row], index: int) -> str:
    names = [r.value for r in rows if r.name.endswith("_name") or r.name.endswith("/name")]
    return f"{index + 1}. {names[0]}" if names else f"{index + 1}."


def filter_fields(form: FormDefinition, lang: str) -> dict[str, dict[str, Any]]:
    """The fields a queue can filter on (``forms.filters``: top-level, holding a value), with
    their labels, kind and choices, for the answer-value filter's pickers."""
    out = {}
    for f in form.iter_fields():
        if "/" in f.answer_path or not f.has_value:
            continue
        kind = "choices" if f.type in SELECTS else "number" if f.type in NUMERIC else "text"
        out[f.answer_path] = {"label": label_of(form, f, lang), "kind": kind,
                              "choices": choice_options(form, f, lang) if f.type in SELECTS else []}
    return out


def correctable_fields(form: FormDefinition, answers: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    """Top-level answers a supervisor may correct from the console, with what they hold now.
    (Roster members are corrected from the phone, or through the API's PATCH.)"""
    out = []
    for f in form.iter_fields():
        if "/" in f.answer_path or f.type not in CORRECTABLE or f.computed or f.read_only:
            continue
        current = answers.get(f.name)
        out.append({"name": f.name, "label": label_of(form, f, lang), "type": f.type,
                    "choices": choice_options(form, f, lang) if f.type in SELECTS else [],
                    "current": current, "shown": display(form, f, current, lang)})
    return out


def parse_correction(form: FormDefinition, name: str, raw: list[str]) -> Any:
    """A corrected value from the form's inputs, typed as the field is (validation is the
    corrections service's: a value of the wrong shape comes back as its 422 beside the field)."""
    f = form.field_at(name)
    if f is None:
        return raw[0] if raw else None
    if f.type == "select_multiple":
        return [v for v in raw if v]
    text = (raw[0] if raw else "").strip()
    if text == "":
        return None
    if f.type in ("integer", "decimal"):
        # Read as the phone reads it (forms.typed); what it cannot read goes on as typed, and the
        # service's 422 says so beside the field: "2,5" is never stored as 25.
        value, error = (parse_integer if f.type == "integer" else parse_decimal)(text)
        return text if error else value
    return text


def output_value(form: FormDefinition, name: str, answers: Mapping[str, Any] | None,
                 computed: Mapping[str, Any] | None) -> Any:
    """The value of one of the form's declared outputs (``head_name``, ``household_code``...):
    the output names a field, answered or calculated."""
    target = form.outputs.get(name) if form.outputs else None
    if not isinstance(target, str):
        return None
    answers, computed = answers or {}, computed or {}
    return answers.get(target) if answers.get(target) not in (None, "") else computed.get(target)


def diff_rows(definition, changes: list[dict], answers: dict, lang: str) -> list[dict[str, Any]]:
    """The diff's paths in words: field labels, and a roster member (matched by its key, or by
    its position in an unkeyed roster) by name."""
    keys = definition.instance_keys
    rows = []
    for change in changes:
        parts = str(change["path"]).split("/")
        schema: list[str] = []
        labels: list[str] = []
        for part in parts:
            f = definition.field_at("/".join([*schema, part]))
            if f is not None:
                schema.append(part)
                labels.append(definition.label_text(f.label, lang) or part if f.label else part)
            elif part == "@order":
                labels.append(auth.t("console.submission.member_order"))
            elif schema:  # an instance of the repeat named last: its key, or its index
                repeat = "/".join(schema)
                labels.append(_member_label(answers.get(schema[-1]) if len(schema) == 1 else None,
                                            keys.get(repeat), part))
            else:
                labels.append(part)
        field = definition.field_at("/".join(schema))
        whole = field is not None and field.type == "repeat"
        row = {"path": change["path"], "label": " · ".join(labels), "field": field}
        for side in ("before", "after", "base", "current", "incoming"):
            if side in change:
                row[side] = _member_value(change[side]) if whole else display(definition, field, change[side], lang)
        rows.append(row)
    return rows


def _member_label(members, key_field: str | None, part: str) -> str:
    for i, member in enumerate(members if isinstance(members, list) else []):
        if isinstance(member, dict) and ((key_field and str(member.get(key_field)) == part)
                                         or (not key_field and part.isdigit() and int(part) == i)):
            name = next((v for k, v in member.items() if k.endswith("name") and v), None)
            return auth.t("console.submission.member_named", n=i + 1, name=name or "")
    return auth.t("console.submission.member_n", n=int(part) + 1) if part.isdigit() else \
        auth.t("console.submission.member_key", key=part[:8])


def _member_value(value) -> str:
    """A whole member added or removed: their name (or what identifies them)."""
    if value is None:
        return "—"
    if isinstance(value, dict):
        return next((str(v) for k, v in value.items() if k.endswith("name") and v), auth.t("console.submission.member"))
    if isinstance(value, list):
        return ", ".join(str(v)[:8] for v in value)
    return str(value)
