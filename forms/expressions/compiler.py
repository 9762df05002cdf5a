"""Compile a syntax tree into nested closures ``fn(ctx) -> value``.

Each node compiles to a :class:`Compiled`: the closure, the static kind of its result
(``N`` number, ``S`` string, ``B`` boolean, ``D`` date-or-empty, ``A`` anything, maybe a
nodeset) and, when it has no inputs, its constant value (constant folding). Conversions
are only inserted where the kind is not already right, and the hot shapes
(``${x} >= 18``, ``${a} = 'yes'``, ``a and b``) get dedicated closures.
"""

from __future__ import annotations

import datetime
import functools
import operator
from collections.abc import Callable
from typing import NamedTuple

from . import nodes as n
from .context import EvalContext
from .errors import ExpressionEvaluationError, ExpressionSyntaxError
from .parser import parse
from .values import (
    Nodeset,
    compare,
    divide,
    modulo,
    to_bool,
    to_number,
    to_string,
    to_value,
)

N, S, B, D, A = "N", "S", "B", "D", "A"
_date = datetime.date
_NO_VALUE = object()

Fn = Callable[[EvalContext], object]


class Compiled(NamedTuple):
    fn: Fn
    kind: str
    const: object = _NO_VALUE  # the value when the node is constant
    ref: str | None = None  # the field name when the node is ${name} (for fused closures)

    @property
    def is_const(self) -> bool:
        return self.const is not _NO_VALUE


def constant(value: object, kind: str) -> Compiled:
    return Compiled(lambda ctx: value, kind, value)


# --------------------------------------------------------------------------- conversions

def as_number(c: Compiled) -> Fn:
    if c.kind == N:
        return c.fn
    if c.is_const:
        v = to_number(c.const)
        return lambda ctx: v
    if c.ref is not None:
        name = c.ref

        def ref_number(ctx: EvalContext) -> float:
            v = ctx.lookup(name)
            t = type(v)
            if t is float:
                return v  # type: ignore[return-value]
            if t is int:
                return float(v)  # type: ignore[arg-type]
            return to_number(to_value(v))
        return ref_number
    fn = c.fn
    return lambda ctx: to_number(fn(ctx))


def as_string(c: Compiled) -> Fn:
    if c.kind == S:
        return c.fn
    if c.is_const:
        v = to_string(c.const)
        return lambda ctx: v
    if c.ref is not None:
        name = c.ref

        def ref_string(ctx: EvalContext) -> str:
            v = ctx.lookup(name)
            if type(v) is str:
                return v  # type: ignore[return-value]
            return to_string(to_value(v))
        return ref_string
    fn = c.fn
    return lambda ctx: to_string(fn(ctx))


def as_bool(c: Compiled) -> Fn:
    if c.kind == B:
        return c.fn
    if c.is_const:
        v = to_bool(c.const)
        return lambda ctx: v
    fn = c.fn
    return lambda ctx: to_bool(fn(ctx))


# --------------------------------------------------------------------------- leaves

def _ref(name: str) -> Fn:
    def ref(ctx: EvalContext) -> object:
        v = ctx.lookup(name)
        t = type(v)
        if t is str or t is float or t is _date:
            return v
        if t is int:
            return float(v)  # type: ignore[arg-type]
        return to_value(v)
    return ref


def _param(name: str) -> Fn:
    def param(ctx: EvalContext) -> object:
        try:
            v = ctx.parameters[name]
        except KeyError:
            raise ExpressionEvaluationError(f"unknown parameter {name!r}") from None
        t = type(v)
        if t is str or t is float:
            return v
        if t is int:
            return float(v)  # type: ignore[arg-type]
        return to_value(v)
    return param


def _current(ctx: EvalContext) -> object:
    v = ctx.current
    t = type(v)
    if t is str or t is float or t is _date:
        return v
    if t is int:
        return float(v)  # type: ignore[arg-type]
    return to_value(v)


def _bare(name: str) -> Fn:
    key = "value" if name == "name" else name

    def bare(ctx: EvalContext) -> object:
        choice = ctx.choice
        if choice is None:
            raise ExpressionEvaluationError(
                f"bare name {name!r} outside a choice filter (write ${{{name}}} for a field)"
            )
        return to_value(choice.get(key))
    return bare


# --------------------------------------------------------------------------- operators

_CMP = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "div": divide, "mod": modulo}


def _compare2(op: str, left: Compiled, right: Compiled) -> Compiled:
    opf = _CMP[op]
    relational = op not in ("=", "!=")
    if left.kind == N and right.kind == N:
        lf, rf = left.fn, right.fn
        return Compiled(lambda ctx: opf(lf(ctx), rf(ctx)), B)
    fast_str = not relational
    if right.is_const:
        b = right.const
        tb = type(b)
        lf = left.fn
        if left.ref is not None and (tb is float or (tb is str and fast_str)):
            # ${name} <op> literal, the commonest relevant/constraint shape: one frame.
            name = left.ref

            def cmp_ref_const(ctx: EvalContext) -> bool:
                a = ctx.lookup(name)
                ta = type(a)
                if ta is tb:
                    return opf(a, b)
                if ta is int and tb is float:
                    return opf(float(a), b)
                return compare(op, to_value(a), b)
            return Compiled(cmp_ref_const, B)
        if tb is float or (tb is str and fast_str):
            def cmp_const(ctx: EvalContext) -> bool:
                a = lf(ctx)
                if type(a) is tb:
                    return opf(a, b)
                return compare(op, a, b)
            return Compiled(cmp_const, B)

        def cmp_const_general(ctx: EvalContext) -> bool:
            return compare(op, lf(ctx), b)
        return Compiled(cmp_const_general, B)
    lf, rf = left.fn, right.fn

    def cmp(ctx: EvalContext) -> bool:
        a = lf(ctx)
        b = rf(ctx)
        ta = type(a)
        if ta is type(b) and (ta is float or ta is _date or (ta is str and fast_str)):
            return opf(a, b)
        return compare(op, a, b)
    return Compiled(cmp, B)


def _compare_chain(first: Compiled, rest: list[tuple[str, Compiled]]) -> Compiled:
    if len(rest) == 1:
        return _compare2(rest[0][0], first, rest[0][1])
    ff = first.fn
    steps = tuple((op, c.fn) for op, c in rest)

    def chain(ctx: EvalContext) -> bool:
        acc = ff(ctx)
        for op, g in steps:
            acc = compare(op, acc, g(ctx))
        return acc  # type: ignore[return-value]
    return Compiled(chain, B)


def _arith_chain(first: Compiled, rest: list[tuple[str, Compiled]]) -> Compiled:
    ff = as_number(first)
    if len(rest) == 1:
        op, c = rest[0]
        g = as_number(c)
        if op == "+":
            return Compiled(lambda ctx: ff(ctx) + g(ctx), N)
        if op == "-":
            return Compiled(lambda ctx: ff(ctx) - g(ctx), N)
        if op == "*":
            return Compiled(lambda ctx: ff(ctx) * g(ctx), N)
        f = _ARITH[op]
        return Compiled(lambda ctx: f(ff(ctx), g(ctx)), N)
    steps = tuple((_ARITH[op], as_number(c)) for op, c in rest)

    def chain(ctx: EvalContext) -> float:
        acc = ff(ctx)
        for f, g in steps:
            acc = f(acc, g(ctx))
        return acc
    return Compiled(chain, N)


def _logic_chain(is_or: bool, operands: list[Compiled]) -> Compiled:
    fns = tuple(as_bool(c) for c in operands)
    if len(fns) == 2:
        f, g = fns
        if is_or:
            return Compiled(lambda ctx: f(ctx) or g(ctx), B)
        return Compiled(lambda ctx: f(ctx) and g(ctx), B)
    if is_or:
        def any_(ctx: EvalContext) -> bool:
            for f in fns:
                if f(ctx):
                    return True
            return False
        return Compiled(any_, B)

    def all_(ctx: EvalContext) -> bool:
        for f in fns:
            if not f(ctx):
                return False
        return True
    return Compiled(all_, B)


# --------------------------------------------------------------------------- compiler

class Compiler:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str, node: n.Node) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, node.position, self.source)

    def compile(self, node: n.Node) -> Compiled:
        c = self._compile(node)
        if not c.is_const and self._foldable(node):
            try:
                value = c.fn(_FOLD_CONTEXT)
            except ExpressionEvaluationError:
                return c
            return constant(value, c.kind)
        return c

    def _foldable(self, node: n.Node) -> bool:
        from .functions import FUNCTIONS

        if isinstance(node, n.Chain):
            return all(self._is_literal_tree(x) for x in (node.first, *(o for _, o in node.rest)))
        if isinstance(node, n.Negate):
            return self._is_literal_tree(node.operand)
        if isinstance(node, n.Call):
            spec = FUNCTIONS[node.name]
            return spec.pure and all(self._is_literal_tree(a) for a in node.args)
        return False

    def _is_literal_tree(self, node: n.Node) -> bool:
        from .functions import FUNCTIONS

        for x in n.walk(node):
            if isinstance(x, (n.Ref, n.Param, n.Current, n.Parent, n.BareName)):
                return False
            if isinstance(x, n.Call) and not FUNCTIONS[x.name].pure:
                return False
        return True

    def _compile(self, node: n.Node) -> Compiled:
        if isinstance(node, n.Number):
            return constant(node.value, N)
        if isinstance(node, n.String):
            return constant(node.value, S)
        if isinstance(node, n.Ref):
            return Compiled(_ref(node.name), A, _NO_VALUE, node.name)
        if isinstance(node, n.Param):
            return Compiled(_param(node.name), A)
        if isinstance(node, n.Current):
            return Compiled(_current, A)
        if isinstance(node, n.BareName):
            return Compiled(_bare(node.name), A)
        if isinstance(node, n.Parent):
            raise self.error("'..' is only allowed as position(..)", node)
        if isinstance(node, n.Negate):
            f = as_number(self.compile(node.operand))
            return Compiled(lambda ctx: -f(ctx), N)
        if isinstance(node, n.Chain):
            first = self.compile(node.first)
            rest = [(op, self.compile(x)) for op, x in node.rest]
            if node.level == 0:
                return _logic_chain(True, [first, *(c for _, c in rest)])
            if node.level == 1:
                return _logic_chain(False, [first, *(c for _, c in rest)])
            if node.level in (2, 3):
                return _compare_chain(first, rest)
            return _arith_chain(first, rest)
        if isinstance(node, n.Call):
            from .functions import FUNCTIONS

            spec = FUNCTIONS.get(node.name)
            if spec is None:
                raise self.error(f"unknown function {node.name}()", node)
            count = len(node.args)
            if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
                raise self.error(f"{node.name}() takes {spec.arity_text()}, got {count}", node)
            return spec.build(self, node)
        raise AssertionError(f"unknown node {node!r}")  # pragma: no cover


_FOLD_CONTEXT = EvalContext()


# --------------------------------------------------------------------------- public

class CompiledExpression:
    """A compiled expression.

    Attributes: ``source``, ``tree`` (syntax tree), ``references`` (``${name}`` names),
    ``parameters`` (``${param:NAME}`` names), ``bare_names``, ``uses_current`` (``.``),
    ``functions`` (function names called).

    Callables (plain attributes, so a call costs no method binding):
    ``evaluate(ctx)`` -> value; ``evaluate_bool(ctx)``, ``evaluate_number(ctx)``,
    ``evaluate_string(ctx)`` -> XPath ``boolean()``/``number()``/``string()`` of it.
    """

    __slots__ = ("source", "tree", "references", "parameters", "bare_names", "uses_current",
                 "functions", "kind", "evaluate", "evaluate_bool", "evaluate_number",
                 "evaluate_string")

    def __init__(self, source: str, tree: n.Node, compiled: Compiled) -> None:
        self.source = source
        self.tree = tree
        refs, params, bare, funcs = set(), set(), set(), set()
        uses_current = False
        for x in n.walk(tree):
            if isinstance(x, n.Ref):
                refs.add(x.name)
            elif isinstance(x, n.Param):
                params.add(x.name)
            elif isinstance(x, n.BareName):
                bare.add(x.name)
            elif isinstance(x, n.Current):
                uses_current = True
            elif isinstance(x, n.Call):
                funcs.add(x.name)
        self.references = frozenset(refs)
        self.parameters = frozenset(params)
        self.bare_names = frozenset(bare)
        self.functions = frozenset(funcs)
        self.uses_current = uses_current
        self.kind = compiled.kind
        self.evaluate = compiled.fn
        self.evaluate_bool = as_bool(compiled)
        self.evaluate_number = as_number(compiled)
        self.evaluate_string = as_string(compiled)

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


@functools.lru_cache(maxsize=4096)
def _compile_cached(source: str) -> CompiledExpression:
    tree = parse(source)
    return CompiledExpression(source, tree, Compiler(source).compile(tree))


def compile_expression(source: str) -> CompiledExpression:
    """Compile ``source``; raises :class:`ExpressionSyntaxError`. Results are cached by
    source text (a compiled expression is immutable and shareable across threads)."""
    if not isinstance(source, str):
        raise ExpressionSyntaxError("expression must be a string", 0)
    return _compile_cached(source)


__all__ = ["CompiledExpression", "Compiled", "Compiler", "compile_expression", "Nodeset",
           "as_bool", "as_number", "as_string", "constant", "N", "S", "B", "D", "A"]
