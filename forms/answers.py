"""Submissions: validate a household's answers against a form and compute its calculations.

``evaluate_submission(form, answers, parameters=..., today=...)`` returns a
``SubmissionResult``: the normalised answers (with the server's own calculated values), the
calculated values alone, the form's ``outputs`` resolved, the attachment hashes referenced, and
every problem found (empty when valid).

How it runs, fast enough for a 30-member household in well under the 2 ms budget:

1. *Shape*: one pass over the answers checks types, choice membership, unknown keys and
   read-only fields, and builds one ``_Instance`` per repeat instance (a fresh ``values``
   dict, no deep copies).
2. *Values*: fields whose relevance or value must be computed are visited in the form's
   dependency order (fixed at load time), each across all instances of its scope. Irrelevant
   answers are rejected and dropped before anything else reads them.
3. *Checks*: required, constraints, choice filters and repeat counts, once every value is final.

Name resolution is precomputed per scope (``Reference``: go up N instances, then down through
these repeats), so a lookup never walks a chain of dicts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from forms.answer_types import CHECKERS, AnswerTypeError, is_empty
from forms.definition import Field, Scope, text_in
from forms.expressions import EvalContext, ExpressionEvaluationError
from forms.expressions.scope import ChoiceAttributes
from forms.expressions.values import Nodeset
from forms.problems import Problem

if TYPE_CHECKING:
    from forms.definition import FormDefinition

__all__ = ["MAX_REPEAT_INSTANCES", "SubmissionResult", "build_plan", "evaluate_submission"]

MAX_REPEAT_INSTANCES = 1_000  # per repeat, per enclosing instance
_MAX_SAFE = 2**53 - 1

# What an answer key means in its scope.
_INPUT, _COMPUTED, _READ_ONLY, _NOTE, _REPEAT, _GROUP = range(6)


@dataclass(frozen=True, slots=True)
class SubmissionResult:
    """What the server stores and reports for one submission."""

    answers: dict  # normalised answers, calculated values replaced by the server's own
    computed: dict  # calculated values only, shaped like answers (repeats as lists)
    outputs: dict  # the form's `outputs` slots -> values
    errors: list[Problem]  # empty when the submission is valid
    attachments: list[str]  # sha256 hex digests referenced by image answers, first-seen order

    @property
    def valid(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- plan (built at load)


class _Member:
    """One name in a scope: how an answer under this key is checked."""

    __slots__ = ("field", "kind", "checker", "choice_index")

    def __init__(self, field: Field, kind: int, checker, choice_index):
        self.field = field
        self.kind = kind
        self.checker = checker
        self.choice_index = choice_index


class _ScopePlan:
    __slots__ = (
        "id", "scope", "members", "children", "checks", "repeat_checks", "date_names",
        "image_names", "computed_names", "refs", "choice_attr",
    )

    def __init__(self, sid: int, scope: Scope):
        self.id = sid
        self.scope = scope
        self.members: dict[str, _Member] = {}
        self.children: dict[str, _ScopePlan] = {}
        self.checks: list[Field] = []  # input fields with required / constraint / choice_filter
        self.repeat_checks: list[Field] = []  # child repeats with repeat_count
        self.date_names: tuple[str, ...] = ()
        self.image_names: tuple[str, ...] = ()
        self.computed_names: tuple[str, ...] = ()
        # References that are not a sibling's value (resolved at load time).
        self.refs: Mapping = {
            name: ref for name, ref in scope._refs.items() if ref.kind != "value" or ref.up != 0
        }
        self.choice_attr = None


class _Node:
    """A field whose relevance or value is computed, in dependency order."""

    __slots__ = ("field", "name", "sid", "kind", "relevant", "inherit", "calculation")

    def __init__(self, field: Field, sid: int, kind: int, inherit: bool):
        self.field = field
        self.name = field.name
        self.sid = sid
        self.kind = kind
        self.relevant = field.relevant
        self.inherit = inherit  # the enclosing group may be irrelevant
        self.calculation = field.calculation if kind == _COMPUTED else None


class _Plan:
    __slots__ = ("root", "scopes", "nodes")

    def __init__(self, root: _ScopePlan, scopes: list[_ScopePlan], nodes: list[_Node]):
        self.root = root
        self.scopes = scopes
        self.nodes = nodes


def _kind(f: Field) -> int:
    if f.type == "repeat":
        return _REPEAT
    if f.type == "group":
        return _GROUP
    if f.type == "note":
        return _NOTE
    if f.computed:
        return _COMPUTED
    if f.read_only:
        return _READ_ONLY
    return _INPUT


def build_plan(form: "FormDefinition") -> _Plan:
    """Precompute per-scope answer checks and the evaluation order (called by load_form)."""
    scopes: list[_ScopePlan] = []
    by_scope: dict[Scope, _ScopePlan] = {}

    def plan_scope(scope: Scope) -> _ScopePlan:
        sp = _ScopePlan(len(scopes), scope)
        scopes.append(sp)
        by_scope[scope] = sp
        dates, images, computed = [], [], []
        for name, f in scope.fields.items():
            kind = _kind(f)
            index = form.choice_index.get(f.choices) if f.choices else None
            sp.members[name] = _Member(f, kind, CHECKERS.get(f.type), index)
            if kind == _INPUT and (f.required or f.constraint is not None or f.choice_filter is not None):
                sp.checks.append(f)
            if kind == _REPEAT and f.repeat_count is not None:
                sp.repeat_checks.append(f)
            if f.type == "date":
                dates.append(name)
            elif f.type == "image":
                images.append(name)
            if kind == _COMPUTED:
                computed.append(name)
        sp.date_names, sp.image_names, sp.computed_names = tuple(dates), tuple(images), tuple(computed)
        sp.checks.sort(key=lambda f: _doc_order(f.path))
        sp.choice_attr = choice_attr
        for child in scope.children:
            sp.children[child.repeat.name] = plan_scope(child)
        return sp

    # choice-attr() by the shared rules (forms/expressions/scope.py).
    choice_attr = ChoiceAttributes(
        form._field_tree, {name: [c.data for c in lst] for name, lst in form.choices.items()})
    root = plan_scope(form.root)

    may_be_irrelevant: set[Field] = set()
    nodes = []
    for f in form.evaluation_order:
        parent = f.parent
        inherit = parent is not None and parent.type == "group" and parent in may_be_irrelevant
        if f.relevant is not None or inherit:
            may_be_irrelevant.add(f)
        kind = _kind(f)
        if f.relevant is None and not inherit and kind != _COMPUTED:
            continue
        nodes.append(_Node(f, by_scope[f.scope].id, kind, inherit))
    return _Plan(root, scopes, nodes)


def _doc_order(path: str):
    return tuple(int(p) if p.isdigit() else -1 for p in path.split("/"))


# --------------------------------------------------------------------------- evaluation


class _Instance:
    """The form's answers, or one repeat instance's."""

    __slots__ = ("values", "parent", "repeats", "path", "irrelevant", "ctx", "dead")

    def __init__(self, parent: "_Instance | None", path: str):
        self.values: dict[str, Any] = {}
        self.parent = parent
        self.repeats: dict[str, list[_Instance]] = {}
        self.path = path  # "" or "members/2"
        self.irrelevant: set[str] = set()
        self.ctx: EvalContext | None = None
        self.dead = False


def _at(inst: _Instance, name: str) -> str:
    return f"{inst.path}/{name}" if inst.path else name


def _lookup_for(inst: _Instance, remote: Mapping):
    """``${name}`` from this instance. ``remote``: the scope's references that are not a
    sibling's value; when there are none the lookup is the values dict's own ``get``."""
    values = inst.values
    if not remote:
        return values.get
    remote_get = remote.get

    def lookup(name):
        ref = remote_get(name)
        if ref is None:
            return values.get(name)
        if ref.kind == "value":
            i = inst
            for _ in range(ref.up):
                i = i.parent
            return i.values.get(name)
        i = inst
        for _ in range(ref.up):
            i = i.parent
        level = [i]
        for rname in ref.down:
            level = [c for p in level for c in p.repeats.get(rname, ())]
        if ref.kind == "instances":
            return Nodeset("" for p in level for _ in p.repeats.get(name, ()))
        return Nodeset(p.values.get(name) for p in level)

    return lookup


def _stored(v):
    """An expression's result as an answer value (JSON-ready, dates kept until output)."""
    t = type(v)
    if t is float:  # most calculations give floats: the common case first, with literals
        if -9007199254740991.0 <= v <= 9007199254740991.0:  # +-_MAX_SAFE; False for NaN
            return int(v) if v.is_integer() else v
        return None if v - v != 0.0 else v  # NaN and infinities (v - v is NaN); else a large float
    if t is str:
        return v if v else None
    if t is bool or t is date or t is int:
        return v
    if t is Nodeset:
        return _stored(v[0]) if v else None
    return v


def _message(form, msg, fallback: str) -> tuple[str, Mapping | None]:
    if msg is None:
        return fallback, None
    if isinstance(msg, str):
        return msg, None
    return text_in(msg, form.default_language), dict(msg)


class _Run:
    __slots__ = ("form", "plan", "errors", "instances", "params", "today")

    def __init__(self, form, params, today):
        self.form = form
        self.plan: _Plan = form._plan
        self.errors: list[Problem] = []
        self.instances: list[list[_Instance]] = [[] for _ in self.plan.scopes]
        self.params = params
        self.today = today

    def error(self, path: str, code: str, message: str, messages=None):
        self.errors.append(Problem(path, code, message, messages))

    # ---- 1. shape
    def read(self, raw: dict, sp: _ScopePlan, inst: _Instance, position: int | None):
        inst.ctx = EvalContext(
            lookup=_lookup_for(inst, sp.refs), parameters=self.params, today=self.today,
            position=position, choice_attr=sp.choice_attr,
        )
        self.instances[sp.id].append(inst)
        values = inst.values
        members = sp.members
        for key, value in raw.items():
            m = members.get(key)
            if m is None:
                self.error(_at(inst, key), "unknown_field", f"{key!r} is not a field of this form here")
                continue
            kind = m.kind
            if kind == _INPUT:
                if value is None:
                    continue
                try:
                    value = m.checker(value)
                except AnswerTypeError as exc:
                    self.error(_at(inst, key), exc.code, exc.message)
                    continue
                if m.choice_index is not None and not self.in_list(m, value, inst, key):
                    continue
                if m.field.type == "date":
                    value = date.fromisoformat(value)
                values[key] = value
            elif kind == _COMPUTED:
                continue  # the server recomputes it
            elif kind == _REPEAT:
                self.read_repeat(key, value, sp.children[key], inst)
            elif kind == _GROUP:
                self.error(_at(inst, key), "unknown_field",
                           f"{key!r} is a group; its fields' answers sit beside it, not inside it")
            elif value is not None:
                what = "a note" if kind == _NOTE else "read-only"
                self.error(_at(inst, key), "read_only", f"{key!r} is {what} and must not be answered")

    def in_list(self, m: _Member, value, inst, key) -> bool:
        index = m.choice_index
        if type(value) is list:
            bad = [v for v in value if v not in index]
        else:
            bad = [] if value in index else [value]
        if bad:
            self.error(_at(inst, key), "invalid_choice",
                       f"{', '.join(repr(b) for b in bad[:5])} not in choice list {m.field.choices!r}")
            return False
        return True

    def read_repeat(self, key, value, child: _ScopePlan, inst: _Instance):
        path = _at(inst, key)
        if value is None:
            return
        if type(value) is not list:
            self.error(path, "invalid_type", "a repeat's answer is a list of objects, one per instance")
            return
        if len(value) > MAX_REPEAT_INSTANCES:
            self.error(path, "too_many", f"more than {MAX_REPEAT_INSTANCES} instances")
            return
        out = []
        for i, item in enumerate(value):
            ipath = f"{path}/{i}"
            if type(item) is not dict:
                self.error(ipath, "invalid_type", "a repeat instance is an object")
                continue
            sub = _Instance(inst, ipath)
            self.read(item, child, sub, len(out) + 1)
            out.append(sub)
        inst.repeats[key] = out

    # ---- 2. values
    def compute(self):
        instances = self.instances
        for node in self.plan.nodes:
            name = node.name
            relevant_expr = node.relevant
            parent_name = node.field.parent.name if node.inherit else None
            kind = node.kind
            for inst in instances[node.sid]:
                if inst.dead:
                    continue
                if parent_name is not None and parent_name in inst.irrelevant:
                    relevant = False
                elif relevant_expr is not None:
                    try:
                        relevant = relevant_expr.evaluate_bool(inst.ctx)
                    except ExpressionEvaluationError as exc:
                        self.error(_at(inst, name), "evaluation_error", f"relevant of {name!r}: {exc.message}")
                        relevant = True
                else:
                    relevant = True
                if not relevant:
                    self.not_relevant(inst, node)
                elif kind == _COMPUTED:
                    try:
                        inst.values[name] = _stored(node.calculation.evaluate(inst.ctx))
                    except ExpressionEvaluationError as exc:
                        self.error(_at(inst, name), "evaluation_error", f"calculation of {name!r}: {exc.message}")
                        inst.values[name] = None

    def not_relevant(self, inst: _Instance, node: _Node):
        name = node.name
        inst.irrelevant.add(name)
        kind = node.kind
        if kind == _INPUT:
            if name in inst.values:
                del inst.values[name]
                self.error(_at(inst, name), "not_relevant", f"{name!r} is not relevant here and must not be answered")
        elif kind == _COMPUTED:
            inst.values[name] = None
        elif kind == _REPEAT:
            dropped = inst.repeats.pop(name, None)
            if dropped:
                self.error(_at(inst, name), "not_relevant", f"repeat {name!r} is not relevant here and must have no instances")
                stack = list(dropped)
                while stack:
                    d = stack.pop()
                    d.dead = True
                    for lst in d.repeats.values():
                        stack.extend(lst)

    # ---- 3. checks
    def check(self):
        form = self.form
        for sp in self.plan.scopes:
            checks, repeat_checks = sp.checks, sp.repeat_checks
            if not checks and not repeat_checks:
                continue
            for inst in self.instances[sp.id]:
                if inst.dead:
                    continue
                irrelevant = inst.irrelevant
                values = inst.values
                ctx = inst.ctx
                for f in checks:
                    name = f.name
                    if name in irrelevant:
                        continue
                    value = values.get(name)
                    if is_empty(value):
                        if f.required and self.is_required(f, inst):
                            msg, msgs = _message(form, f.required_message, f"{name!r} is required")
                            self.error(_at(inst, name), "required", msg, msgs)
                        continue
                    if f.choice_filter is not None:
                        self.filter_choices(f, inst, value)
                    if f.constraint is not None:
                        ctx.current = value
                        try:
                            ok = f.constraint.evaluate_bool(ctx)
                        except ExpressionEvaluationError as exc:
                            self.error(_at(inst, name), "evaluation_error", f"constraint of {name!r}: {exc.message}")
                            ok = True
                        ctx.current = ""
                        if not ok:
                            fallback = f"{name!r} does not satisfy its constraint: {f.spec.get('constraint')}"
                            msg, msgs = _message(form, f.constraint_message, fallback)
                            self.error(_at(inst, name), "constraint", msg, msgs)
                for f in repeat_checks:
                    if f.name not in irrelevant:
                        self.check_repeat_count(f, inst)

    def is_required(self, f: Field, inst: _Instance) -> bool:
        if f.required_expr is None:
            return True
        try:
            return f.required_expr.evaluate_bool(inst.ctx)
        except ExpressionEvaluationError as exc:
            self.error(_at(inst, f.name), "evaluation_error", f"required of {f.name!r}: {exc.message}")
            return False

    def filter_choices(self, f: Field, inst: _Instance, value):
        index = self.form.choice_index[f.choices]
        ctx = inst.ctx
        rejected = []
        try:
            for v in value if type(value) is list else (value,):
                ctx.choice = index[v].data
                if not f.choice_filter.evaluate_bool(ctx):
                    rejected.append(v)
        except ExpressionEvaluationError as exc:
            self.error(_at(inst, f.name), "evaluation_error", f"choice_filter of {f.name!r}: {exc.message}")
        finally:
            ctx.choice = None
        if rejected:
            self.error(_at(inst, f.name), "invalid_choice",
                       f"{', '.join(repr(r) for r in rejected[:5])} not offered here (choice_filter of {f.name!r})")

    def check_repeat_count(self, f: Field, inst: _Instance):
        try:
            n = f.repeat_count.evaluate_number(inst.ctx)
        except ExpressionEvaluationError as exc:
            self.error(_at(inst, f.name), "evaluation_error", f"repeat_count of {f.name!r}: {exc.message}")
            return
        if n != n or n in (math.inf, -math.inf):
            return  # an empty count cannot be enforced; its own field says whether it is required
        expected = max(0, int(n))
        actual = len(inst.repeats.get(f.name, ()))
        if actual != expected:
            self.error(_at(inst, f.name), "repeat_count",
                       f"repeat {f.name!r} has {actual} instance(s); its repeat_count says {expected}")

    # ---- 4. output
    def finish(self, sp: _ScopePlan, inst: _Instance, computed: dict, attachments: dict) -> dict:
        values = inst.values
        for name in sp.date_names:
            v = values.get(name)
            if type(v) is date:
                values[name] = v.isoformat()
        for name in sp.computed_names:
            v = values.get(name)
            if type(v) is date:
                v = values[name] = v.isoformat()
            computed[name] = v
        for name in sp.image_names:
            v = values.get(name)
            if v is not None:
                attachments.setdefault(v[7:], None)
        for name, child in sp.children.items():
            if name in inst.repeats:
                rows, computed_rows = [], []
                for sub in inst.repeats[name]:
                    c: dict = {}
                    rows.append(self.finish(child, sub, c, attachments))
                    computed_rows.append(c)
                values[name] = rows
                if _has_computed(child):
                    computed[name] = computed_rows
            elif _has_computed(child):
                computed[name] = []
        return values


def _has_computed(sp: _ScopePlan) -> bool:
    return bool(sp.computed_names) or any(_has_computed(c) for c in sp.children.values())


def _resolve_outputs(outputs: Mapping, values: Mapping) -> dict:
    out = {}
    for slot, target in outputs.items():
        if isinstance(target, Mapping):
            out[slot] = {k: values.get(v) for k, v in target.items()}
        else:
            out[slot] = values.get(target)
    return out


def evaluate_submission(
    form: "FormDefinition",
    answers: dict,
    *,
    parameters: Mapping | None = None,
    today: date,
) -> SubmissionResult:
    """Validate ``answers`` against ``form`` and compute its calculations.

    ``parameters`` are the caller's effective values (a province override), laid over the
    form's own; expressions read them as ``${param:NAME}``. ``today`` is what ``today()``
    returns (the review date), never the server's clock.
    """
    if parameters:
        params: Mapping = {**form.parameters, **parameters}
    else:
        params = form.parameters
    run = _Run(form, params, today)
    root = _Instance(None, "")
    if not isinstance(answers, dict):
        run.error("", "invalid_answers", "answers are a JSON object field name -> answer")
        answers = {}
    run.read(answers, run.plan.root, root, None)
    run.compute()
    run.check()
    computed: dict = {}
    attachments: dict = {}
    values = run.finish(run.plan.root, root, computed, attachments)
    return SubmissionResult(
        answers=values,
        computed=computed,
        outputs=_resolve_outputs(form.outputs, values),
        errors=run.errors,
        attachments=list(attachments),
    )
