"""Repeat scoping: resolve ``${name}`` from a form's field tree, a submission's answers
and the repeat instance being evaluated. The reference implementation of the rules in
``forms/conformance/README.md`` ("Resolving ${name}"); answer validation reuses it.

    tree = FieldTree.from_form(form)                      # or FieldTree.infer(answers)
    scoped = tree.scope(answers, ("members", 2))          # inside members[2] (0-based)
    ctx = scoped.context(parameters=..., today=..., current=...,
                         choice_attr=ChoiceAttributes(tree, form["choices"]))
    compile_expression("${age} >= 18").evaluate(ctx)

Rules, in short. Groups are transparent (their fields belong to the enclosing scope, and
their answers sit at that level). The scopes of an evaluation are the root and, for each
repeat on the repeat path, that repeat (innermost last). ``${x}`` looks at the scopes from
the innermost outward; in each scope S it looks for declarations of ``x`` in S itself and
in the repeats nested (at any depth) under S. The first scope with any declaration wins:

* declared directly in S: the value in S's current instance (a scalar); this wins over
  declarations in repeats nested under S;
* declared in a repeat R1/R2/…/Rk under S: a :class:`Nodeset` of the values across all
  instances of R1 within S's current instance, then all instances of R2 within those, …
  (document order, flattened);
* not directly in S but in several repeats under S: an evaluation error (ambiguous);
* none anywhere: an evaluation error for a declared tree; ``""`` for an inferred one.

A repeat's own name gives a nodeset with one ``""`` per instance (so ``count(${members})``
counts instances). Values are typed by field type: integer/decimal as numbers, date as
``datetime.date`` (a malformed date stays a string), select_multiple as a list, a missing
answer (absent key or null) as ``""``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .context import EvalContext
from .errors import ExpressionEvaluationError
from .values import Nodeset, parse_date, to_string, to_value


@dataclass(eq=False)
class _Decl:
    name: str
    type: str
    scope: _Scope
    choices: str | None = None


@dataclass(eq=False)
class _Scope:
    name: str | None  # None for the root; else the repeat's name
    parent: _Scope | None
    fields: dict[str, _Decl] = field(default_factory=dict)
    repeats: dict[str, _Scope] = field(default_factory=dict)

    def chain_from(self, ancestor: _Scope) -> tuple[str, ...]:
        names: list[str] = []
        s: _Scope | None = self
        while s is not ancestor:
            assert s is not None and s.name is not None
            names.append(s.name)
            s = s.parent
        return tuple(reversed(names))


class FieldTree:
    """The scopes and field declarations of a form (or inferred from answers)."""

    def __init__(self, fields: Sequence[Mapping[str, object]], *, strict: bool = True) -> None:
        self.strict = strict
        self.root = _Scope(None, None)
        self._decls_by_name: dict[str, list[_Decl]] = {}
        self._plans: dict[tuple[tuple[str, ...], str], tuple[int, tuple[str, ...], _Decl] | None] = {}
        # Per repeat path: name -> (depth, chain, kind) with kind _PLAIN/_DATE/_REPEAT,
        # or None for an unknown name. Filled lazily; read on every lookup.
        self._fast_plans: dict[tuple[str, ...], dict[str, tuple[int, tuple[str, ...], int] | None]] = {}
        self._add_fields(self.root, fields)

    @classmethod
    def from_form(cls, form: Mapping[str, object]) -> FieldTree:
        return cls(form.get("fields") or [])  # type: ignore[arg-type]

    @classmethod
    def infer(cls, answers: Mapping[str, object]) -> FieldTree:
        """A tree guessed from answers: a non-empty list of objects is a repeat, anything
        else a field of unknown type; unknown names then resolve to ``""``."""
        return cls(_infer_fields([answers]), strict=False)

    def _add_fields(self, scope: _Scope, fields: Sequence[Mapping[str, object]]) -> None:
        for f in fields:
            ftype = str(f.get("type", ""))
            name = f.get("name")
            if ftype == "group":
                self._add_fields(scope, f.get("fields") or [])  # type: ignore[arg-type]
                continue
            if not isinstance(name, str):
                continue
            choices = f.get("choices")
            decl = _Decl(name, ftype, scope, choices if isinstance(choices, str) else None)
            scope.fields[name] = decl
            self._decls_by_name.setdefault(name, []).append(decl)
            if ftype == "repeat":
                child = _Scope(name, scope)
                scope.repeats[name] = child
                self._add_fields(child, f.get("fields") or [])  # type: ignore[arg-type]

    # ------------------------------------------------------------------ resolution
    def declarations(self, name: str) -> list[_Decl]:
        return list(self._decls_by_name.get(name, ()))

    def scope_at(self, repeat_names: Sequence[str]) -> list[_Scope]:
        """The scope chain [root, repeat1, repeat2, …] for the given repeat names."""
        chain = [self.root]
        for r in repeat_names:
            child = chain[-1].repeats.get(r)
            if child is None:
                raise ExpressionEvaluationError(
                    f"{r!r} is not a repeat inside {chain[-1].name or 'the form'}")
            chain.append(child)
        return chain

    def plan(self, repeat_names: tuple[str, ...], name: str):
        """(scope depth, chain of repeat names below it, declaration), or None (unknown)."""
        key = (repeat_names, name)
        try:
            return self._plans[key]
        except KeyError:
            pass
        chain = self.scope_at(repeat_names)
        candidates = self._decls_by_name.get(name, ())
        result = None
        for depth in range(len(chain) - 1, -1, -1):
            scope = chain[depth]
            found = [d for d in candidates if _is_within(d.scope, scope)]
            if not found:
                continue
            direct = [d for d in found if d.scope is scope]
            if not direct and len(found) > 1:
                raise ExpressionEvaluationError(
                    f"${{{name}}} is ambiguous: declared in several repeats under "
                    f"{scope.name or 'the form'}")
            decl = (direct or found)[0]
            result = (depth, decl.scope.chain_from(scope), decl)
            break
        self._plans[key] = result
        return result

    def scope(self, answers: Mapping[str, object], repeat_path: Sequence[object] = ()) -> ScopedAnswers:
        return ScopedAnswers(self, answers, repeat_path)


def _is_within(inner: _Scope, outer: _Scope) -> bool:
    s: _Scope | None = inner
    while s is not None:
        if s is outer:
            return True
        s = s.parent
    return False


def _infer_fields(instances: list[Mapping[str, object]]) -> list[dict[str, object]]:
    fields: dict[str, dict[str, object]] = {}
    repeat_instances: dict[str, list[Mapping[str, object]]] = {}
    for inst in instances:
        for key, value in inst.items():
            if (isinstance(value, list) and value
                    and all(isinstance(v, Mapping) and "$date" not in v for v in value)):
                repeat_instances.setdefault(key, []).extend(value)
                fields[key] = {"name": key, "type": "repeat"}
            elif key not in fields:
                fields[key] = {"name": key, "type": ""}
    for key, insts in repeat_instances.items():
        fields[key]["fields"] = _infer_fields(insts)
    return list(fields.values())


_PLAIN, _DATE, _REPEAT = 0, 1, 2


def _kind(decl: _Decl) -> int:
    if decl.type == "repeat":
        return _REPEAT
    if decl.type == "date":
        return _DATE
    return _PLAIN


@functools.lru_cache(maxsize=4096)
def _date_answer(raw: str) -> object:
    d = parse_date(raw)
    return raw if d is None else d


def _typed(kind: int, raw: object) -> object:
    if raw is None:
        return ""
    if kind == _DATE and type(raw) is str:
        return _date_answer(raw)
    return raw


class ScopedAnswers:
    """A submission's answers seen from one repeat instance (or from the root)."""

    __slots__ = ("tree", "answers", "repeat_names", "instances", "position", "_fast")

    def __init__(self, tree: FieldTree, answers: Mapping[str, object],
                 repeat_path: Sequence[object] = ()) -> None:
        if len(repeat_path) % 2:
            raise ValueError("repeat_path must alternate repeat names and 0-based indexes")
        self.tree = tree
        self.answers = answers
        names: list[str] = []
        instances: list[Mapping[str, object]] = [answers]
        for k in range(0, len(repeat_path), 2):
            rname, index = repeat_path[k], repeat_path[k + 1]
            if not isinstance(rname, str) or not isinstance(index, int) or isinstance(index, bool):
                raise ValueError("repeat_path must alternate repeat names and 0-based indexes")
            items = instances[-1].get(rname)
            if not isinstance(items, list) or not 0 <= index < len(items):
                raise ValueError(f"repeat_path: no instance {rname}[{index}]")
            names.append(rname)
            instances.append(items[index])
        self.repeat_names = tuple(names)
        fast = tree._fast_plans.get(self.repeat_names)
        if fast is None:
            tree.scope_at(self.repeat_names)  # validates the names against the tree
            fast = tree._fast_plans[self.repeat_names] = {}
        self._fast = fast
        self.instances = instances
        self.position = int(repeat_path[-1]) + 1 if repeat_path else None  # type: ignore[arg-type]

    def lookup(self, name: str) -> object:
        try:
            plan = self._fast[name]
        except KeyError:
            plan = self._fast[name] = self._make_plan(name)
        if plan is None:
            if self.tree.strict:
                raise ExpressionEvaluationError(f"unknown field ${{{name}}}")
            return ""
        depth, chain, kind = plan
        inst = self.instances[depth]
        if not chain:
            if kind == _PLAIN:
                v = inst.get(name)
                return "" if v is None else v
            if kind == _REPEAT:
                return Nodeset("" for _ in _instances(inst, name))
            return _typed(kind, inst.get(name))
        frontier = [inst]
        for rname in chain:
            frontier = [child for f in frontier for child in _instances(f, rname)]
        if kind == _REPEAT:
            return Nodeset("" for f in frontier for _ in _instances(f, name))
        # Members are normalised here once, so the evaluator can use them as they are.
        return Nodeset(to_value(_typed(kind, f.get(name))) for f in frontier)

    def _make_plan(self, name: str) -> tuple[int, tuple[str, ...], int] | None:
        plan = self.tree.plan(self.repeat_names, name)
        if plan is None:
            return None
        depth, chain, decl = plan
        return depth, chain, _kind(decl)

    def context(self, **kwargs: object) -> EvalContext:
        """An :class:`EvalContext` reading these answers (``position`` filled in)."""
        kwargs.setdefault("position", self.position)
        return EvalContext(lookup=self.lookup, **kwargs)  # type: ignore[arg-type]


def _instances(inst: Mapping[str, object], rname: str) -> list[Mapping[str, object]]:
    items = inst.get(rname)
    if not isinstance(items, list):
        return []
    return [i for i in items if isinstance(i, Mapping)]


class ChoiceAttributes:
    """The ``choice_attr`` hook from a form's choice lists.

    ``choice-attr(${f}, key, subkey)``: the choice list of field ``f`` (every declaration
    of ``f`` must use the same list), the choice whose ``value`` equals the value, then
    ``choice[key]``; when that is a mapping, ``[subkey]`` of it (no subkey: ``""``); a
    scalar is returned whatever the subkey. Anything missing gives ``""``.
    """

    def __init__(self, tree: FieldTree, choices: Mapping[str, Sequence[Mapping[str, object]]]) -> None:
        self.tree = tree
        self._index = {
            list_name: {to_string(to_value(c.get("value"))): c for c in items}
            for list_name, items in (choices or {}).items()
        }
        self._field_lists: dict[str, dict[str, Mapping[str, object]]] = {}
        self._memo: dict[tuple[str, str, str, str | None], object] = {}

    def _choices_of(self, field_name: str) -> dict[str, Mapping[str, object]]:
        try:
            return self._field_lists[field_name]
        except KeyError:
            pass
        lists = {d.choices for d in self.tree.declarations(field_name)}
        if not lists:
            raise ExpressionEvaluationError(f"choice-attr(): unknown field ${{{field_name}}}")
        if len(lists) > 1:
            raise ExpressionEvaluationError(
                f"choice-attr(): ${{{field_name}}} is declared with different choice lists")
        (list_name,) = lists
        if list_name is None or list_name not in self._index:
            raise ExpressionEvaluationError(
                f"choice-attr(): ${{{field_name}}} is not a select field with a known choice list")
        result = self._index[list_name]
        self._field_lists[field_name] = result
        return result

    def __call__(self, field_name: str, value: str, key: str, subkey: str | None = None) -> object:
        memo_key = (field_name, value, key, subkey)
        try:
            return self._memo[memo_key]
        except KeyError:
            pass
        result = self._attribute(field_name, value, key, subkey)
        if len(self._memo) > 10_000:  # keys may include free text (a subkey from an answer)
            self._memo.clear()
        self._memo[memo_key] = result
        return result

    def _attribute(self, field_name: str, value: str, key: str, subkey: str | None) -> object:
        choice = self._choices_of(field_name).get(value)
        if choice is None:
            return ""
        attr = choice.get(key)
        if isinstance(attr, Mapping):
            if subkey is None:
                return ""
            return attr.get(subkey, "")
        return "" if attr is None else attr


__all__ = ["ChoiceAttributes", "FieldTree", "ScopedAnswers"]
