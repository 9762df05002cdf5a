"""The function library. ``FUNCTIONS`` maps each name to its :class:`FunctionSpec`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from . import nodes as n
from .errors import ExpressionEvaluationError, ExpressionSyntaxError
from .regex import RegexRefused, compile_regex
from .values import (
    NAN,
    XPATH_WS,
    Nodeset,
    ceiling,
    floor,
    power,
    round_half_away,
    split_selected,
    to_bool,
    to_date,
    to_number,
    to_string,
    to_value,
    truncate,
)

if TYPE_CHECKING:
    from .compiler import Compiled, Compiler

N, S, B, D, A = "N", "S", "B", "D", "A"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    kind: str  # static kind of the result
    signature: str
    summary: str
    build: Callable[[Compiler, n.Call], Compiled]
    pure: bool = True  # result depends on arguments only (so constant arguments fold)

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


_REGISTRY: dict[str, FunctionSpec] = {}
FUNCTIONS: Mapping[str, FunctionSpec] = MappingProxyType(_REGISTRY)


def _converter(kind: str):
    from .compiler import as_bool, as_number, as_string

    if kind == N:
        return as_number
    if kind == S:
        return as_string
    if kind == B:
        return as_bool
    return lambda c: c.fn


def eager(name: str, arg_kinds: str, kind: str, signature: str, summary: str,
          min_args: int | None = None, variadic: bool = False):
    """Register ``impl(*converted_args)``; ``arg_kinds`` gives each argument's conversion
    (the last one repeats when ``variadic``)."""

    def register(impl: Callable[..., object]) -> Callable[..., object]:
        lo = len(arg_kinds) if min_args is None else min_args

        def build(compiler: Compiler, node: n.Call) -> Compiled:
            from .compiler import Compiled

            compiled = [compiler.compile(a) for a in node.args]
            fns = []
            for i, c in enumerate(compiled):
                k = arg_kinds[min(i, len(arg_kinds) - 1)]
                fns.append(_converter(k)(c))
            if len(fns) == 0:
                return Compiled(lambda ctx: impl(), kind)
            if len(fns) == 1:
                (f,) = fns
                return Compiled(lambda ctx: impl(f(ctx)), kind)
            if len(fns) == 2:
                f, g = fns
                return Compiled(lambda ctx: impl(f(ctx), g(ctx)), kind)
            if len(fns) == 3:
                f, g, h = fns
                return Compiled(lambda ctx: impl(f(ctx), g(ctx), h(ctx)), kind)
            tfns = tuple(fns)
            return Compiled(lambda ctx: impl(*[f(ctx) for f in tfns]), kind)

        _REGISTRY[name] = FunctionSpec(name, lo, None if variadic else len(arg_kinds), kind,
                                       signature, summary, build)
        return impl

    return register


def special(name: str, min_args: int, max_args: int | None, kind: str, signature: str,
            summary: str, pure: bool = True):
    def register(build: Callable[[Compiler, n.Call], Compiled]):
        _REGISTRY[name] = FunctionSpec(name, min_args, max_args, kind, signature, summary, build, pure)
        return build
    return register


def _members(values: tuple[object, ...]) -> list[object]:
    out: list[object] = []
    for v in values:
        if type(v) is Nodeset:
            out.extend(v)  # type: ignore[arg-type]
        else:
            out.append(v)
    return out


# --------------------------------------------------------------------------- logic

@special("if", 3, 3, A, "if(condition, then, else)",
         "`then` when boolean(condition) is true, else `else`; only the chosen branch is evaluated.")
def _build_if(compiler: Compiler, node: n.Call) -> Compiled:
    from .compiler import Compiled, as_bool

    cond = compiler.compile(node.args[0])
    yes = compiler.compile(node.args[1])
    no = compiler.compile(node.args[2])
    kind = yes.kind if yes.kind == no.kind else A
    if cond.is_const:
        return yes if to_bool(cond.const) else no
    c, y, f = as_bool(cond), yes.fn, no.fn
    return Compiled(lambda ctx: y(ctx) if c(ctx) else f(ctx), kind)


@eager("not", "B", B, "not(x)", "true when boolean(x) is false.")
def _not(x: bool) -> bool:
    return not x


@eager("true", "", B, "true()", "the boolean true.")
def _true() -> bool:
    return True


@eager("false", "", B, "false()", "the boolean false.")
def _false() -> bool:
    return False


@eager("boolean", "B", B, "boolean(x)",
       "XPath boolean(): a number is true unless 0 or NaN, a string unless empty, "
       "a nodeset unless empty, a date always.")
def _boolean(x: bool) -> bool:
    return x


@special("coalesce", 2, None, A, "coalesce(a, b, ...)",
         "the first argument whose string value is not empty (a nodeset gives its first "
         "member), else ''. Later arguments are only evaluated when needed.")
def _build_coalesce(compiler: Compiler, node: n.Call) -> Compiled:
    from .compiler import Compiled

    fns = tuple(compiler.compile(a).fn for a in node.args)

    def coalesce(ctx):
        # Only the empty string has an empty string value (string(NaN) is 'NaN').
        for f in fns:
            v = f(ctx)
            if type(v) is Nodeset:
                v = v[0] if v else ""
            if v != "" or type(v) is not str:
                return v
        return ""
    return Compiled(coalesce, A)


# --------------------------------------------------------------------------- selects

@special("selected", 2, 2, B, "selected(value, choice)",
         "true when `choice` (trimmed) is one of the space-separated items of `value` "
         "(a select_multiple answer, or a select_one answer).")
def _build_selected(compiler: Compiler, node: n.Call) -> Compiled:
    from .compiler import Compiled, as_string

    value = compiler.compile(node.args[0])
    choice = compiler.compile(node.args[1])
    if value.ref is not None and choice.is_const:
        # selected(${field}, 'literal'): test the raw answer list before joining/splitting.
        name = value.ref
        needle = to_string(choice.const).strip(XPATH_WS)
        # An exact item is a selected value only when the needle is one token.
        simple = bool(needle) and not any(c in needle for c in XPATH_WS)

        def selected_fast(ctx):
            raw = ctx.lookup(name)
            t = type(raw)
            if simple and (raw == needle if t is str else (t is list and needle in raw)):
                return True
            return needle in split_selected(to_value(raw))
        return Compiled(selected_fast, B)
    vf, cf = as_string(value), as_string(choice)
    return Compiled(lambda ctx: cf(ctx).strip(XPATH_WS) in split_selected(vf(ctx)), B)


@eager("count-selected", "S", N, "count-selected(value)",
       "the number of space-separated items in `value` (0 when empty).")
def _count_selected(value: str) -> float:
    return float(len(split_selected(value)))


@eager("selected-at", "SN", S, "selected-at(value, index)",
       "the item at 0-based `index` of the space-separated `value`; '' when out of range.")
def _selected_at(value: str, index: float) -> str:
    items = split_selected(value)
    i = truncate(index)
    if i != i or i < 0 or i >= len(items):
        return ""
    return items[int(i)]


# --------------------------------------------------------------------------- strings

@eager("string", "S", S, "string(x)",
       "XPath string(): numbers without exponent ('3', '0.5', 'NaN', 'Infinity'), "
       "booleans 'true'/'false', dates 'YYYY-MM-DD', a nodeset its first member.")
def _string(x: str) -> str:
    return x


@eager("string-length", "S", N, "string-length(s)",
       "the number of characters (Unicode code points) of string(s).")
def _string_length(s: str) -> float:
    return float(len(s))


@special("concat", 1, None, S, "concat(a, ...)",
         "the string values joined; a nodeset argument contributes all its members.")
def _build_concat(compiler: Compiler, node: n.Call) -> Compiled:
    from .compiler import Compiled

    parts = tuple(compiler.compile(a) for a in node.args)
    plan = tuple((True, to_string(c.const)) if c.is_const else (False, c.fn) for c in parts)

    def concat(ctx):
        out = []
        for is_const, item in plan:
            if is_const:
                out.append(item)
                continue
            v = item(ctx)
            t = type(v)
            if t is str:
                out.append(v)
            elif t is Nodeset:
                out.extend(to_string(m) for m in v)
            else:
                out.append(to_string(v))
        return "".join(out)
    return Compiled(concat, S)


@eager("join", "SA", S, "join(separator, a, ...)",
       "the string values of the arguments (all members of nodesets) joined with `separator`.",
       min_args=2, variadic=True)
def _join(sep: str, *values: object) -> str:
    return sep.join(to_string(v) for v in _members(values))


@eager("contains", "SS", B, "contains(s, part)", "true when `part` occurs in `s`.")
def _contains(s: str, part: str) -> bool:
    return part in s


@eager("starts-with", "SS", B, "starts-with(s, prefix)", "true when `s` begins with `prefix`.")
def _starts_with(s: str, prefix: str) -> bool:
    return s.startswith(prefix)


@eager("ends-with", "SS", B, "ends-with(s, suffix)", "true when `s` ends with `suffix`.")
def _ends_with(s: str, suffix: str) -> bool:
    return s.endswith(suffix)


def _index(x: float, length: int) -> int:
    if x != x:
        return 0
    x = truncate(x)
    if x < 0:
        x = max(length + x, 0.0)
    return int(min(x, float(length)))


@eager("substr", "SNN", S, "substr(s, start[, end])",
       "characters from 0-based `start` up to, not including, `end` (default: the end); "
       "negative positions count from the end; out-of-range positions are clamped.",
       min_args=2)
def _substr(s: str, start: float, end: float | None = None) -> str:
    length = len(s)
    i = _index(start, length)
    j = length if end is None else _index(end, length)
    return s[i:j] if j > i else ""


def _regex_error(exc: RegexRefused, at_compile: bool, position: int, source: str):
    if at_compile:
        return ExpressionSyntaxError(str(exc), position, source)
    return ExpressionEvaluationError(str(exc))


@special("regex", 2, 2, B, "regex(s, pattern)",
         "true when `pattern` matches somewhere in `s` (anchor with ^…$). See the regex dialect.")
def _build_regex(compiler: Compiler, node: n.Call) -> Compiled:
    from .compiler import Compiled, as_string

    subject = as_string(compiler.compile(node.args[0]))
    pattern = compiler.compile(node.args[1])
    if isinstance(node.args[1], n.String):
        # Only a pattern written as a string literal is checked at compile time, so that
        # every implementation agrees on when a refused pattern is reported.
        try:
            rx = compile_regex(node.args[1].value)
        except RegexRefused as exc:
            raise _regex_error(exc, True, node.args[1].position, compiler.source) from None
        search = rx.search
        return Compiled(lambda ctx: search(subject(ctx)) is not None, B)
    pfn = as_string(pattern)

    def regex(ctx):
        try:
            rx = compile_regex(pfn(ctx))
        except RegexRefused as exc:
            raise _regex_error(exc, False, 0, "") from None
        return rx.search(subject(ctx)) is not None
    return Compiled(regex, B)


# --------------------------------------------------------------------------- numbers

@eager("number", "N", N, "number(x)",
       "XPath number(): a string like ' -12.5 ' reads as a number, anything else (including '' "
       "and '1e3') is NaN; true is 1, false 0; a date its days since 1970-01-01.")
def _number(x: float) -> float:
    return x


@eager("int", "N", N, "int(x)", "number(x) truncated toward zero (NaN and ±Infinity unchanged).")
def _int(x: float) -> float:
    return truncate(x)


@eager("round", "NN", N, "round(x[, digits])",
       "x rounded to `digits` decimals (default 0; negative rounds to tens, hundreds…), "
       "half away from zero, on x's shortest decimal form (round(2.675, 2) is 2.68).",
       min_args=1)
def _round(x: float, digits: float = 0.0) -> float:
    return round_half_away(x, digits)


@eager("floor", "N", N, "floor(x)", "the largest integer <= x.")
def _floor(x: float) -> float:
    return floor(x)


@eager("ceiling", "N", N, "ceiling(x)", "the smallest integer >= x.")
def _ceiling(x: float) -> float:
    return ceiling(x)


@eager("abs", "N", N, "abs(x)", "the absolute value of x.")
def _abs(x: float) -> float:
    return abs(x)


@eager("pow", "NN", N, "pow(base, exponent)",
       "base raised to exponent, as JavaScript's Math.pow (pow(1, NaN) is NaN).")
def _pow(a: float, b: float) -> float:
    return power(a, b)


# --------------------------------------------------------------------------- nodesets

@eager("count", "A", N, "count(nodeset)",
       "the number of members of a nodeset (repeat instances); 1 for a single value.")
def _count(v: object) -> float:
    if type(v) is Nodeset:
        return float(len(v))  # type: ignore[arg-type]
    return 1.0


@eager("sum", "A", N, "sum(nodeset)",
       "the sum of number() of the members, added left to right; 0 for an empty nodeset; "
       "NaN if any member is not a number (e.g. empty).")
def _sum(v: object) -> float:
    if type(v) is Nodeset:
        total = 0.0
        for m in v:  # type: ignore[attr-defined]
            total += to_number(m)
        return total
    return to_number(v)


def _extreme(values: tuple[object, ...], want_max: bool) -> float:
    members = _members(values)
    if not members:
        return NAN
    best = to_number(members[0])
    if best != best:
        return NAN
    for m in members[1:]:
        x = to_number(m)
        if x != x:
            return NAN
        if (x > best) if want_max else (x < best):
            best = x
    return best


@eager("min", "A", N, "min(a, ...)",
       "the smallest number() among all arguments and nodeset members; NaN when there is "
       "none or any is NaN.", min_args=1, variadic=True)
def _min(*values: object) -> float:
    return _extreme(values, False)


@eager("max", "A", N, "max(a, ...)",
       "the largest number() among all arguments and nodeset members; NaN when there is "
       "none or any is NaN.", min_args=1, variadic=True)
def _max(*values: object) -> float:
    return _extreme(values, True)


# --------------------------------------------------------------------------- dates, context

@eager("date", "A", D, "date(x)",
       "a date from 'YYYY-MM-DD' (a datetime's date part) or from a number of days since "
       "1970-01-01 (fraction dropped); '' when x is empty or not a valid date.")
def _date(v: object) -> object:
    return to_date(v)


@special("today", 0, 0, D, "today()", "the injected current date.", pure=False)
def _build_today(compiler: Compiler, node: n.Call) -> Compiled:
    from .compiler import Compiled

    def today(ctx):
        d = ctx.today
        if d is None:
            raise ExpressionEvaluationError("today() needs the evaluation date (EvalContext.today)")
        return d
    return Compiled(today, D)


@special("position", 1, 1, N, "position(..)",
         "the 1-based index of the current repeat instance.", pure=False)
def _build_position(compiler: Compiler, node: n.Call) -> Compiled:
    from .compiler import Compiled

    if not isinstance(node.args[0], n.Parent):
        raise compiler.error("position() only supports the form position(..)", node.args[0])

    def position(ctx):
        p = ctx.position
        if p is None:
            raise ExpressionEvaluationError("position(..) used outside a repeat")
        return float(p)
    return Compiled(position, N)


@special("choice-attr", 2, 3, A, "choice-attr(${field}, key[, subkey])",
         "rasoat extension: the extra key `key` of the selected choice of select field "
         "`field` (its `[subkey]` when that key holds a mapping); for a select_multiple or a "
         "field inside a repeat read from outside, a nodeset with one member per selected "
         "choice.", pure=False)
def _build_choice_attr(compiler: Compiler, node: n.Call) -> Compiled:
    from .compiler import Compiled, as_string

    target = node.args[0]
    if not isinstance(target, n.Ref):
        raise compiler.error("the first argument of choice-attr() must be a field reference ${name}",
                             target)
    field = target.name
    key_fn = as_string(compiler.compile(node.args[1]))
    sub_fn = as_string(compiler.compile(node.args[2])) if len(node.args) == 3 else None

    def choice_attr(ctx):
        hook = ctx.choice_attr
        if hook is None:
            raise ExpressionEvaluationError("choice-attr() needs the form's choices (EvalContext.choice_attr)")
        raw = ctx.lookup(field)
        key = key_fn(ctx)
        sub = None if sub_fn is None else sub_fn(ctx)
        if type(raw) is Nodeset or isinstance(raw, (list, tuple)):
            values: list[str] = []
            for m in raw:  # type: ignore[union-attr]
                if isinstance(m, (list, tuple)):
                    values.extend(to_string(to_value(x)) for x in m)
                else:
                    values.extend(split_selected(to_value(m)) if type(raw) is Nodeset
                                  else [to_string(to_value(m))])
            return Nodeset(to_value(hook(field, v, key, sub)) for v in values if v != "")
        value = to_string(to_value(raw)).strip(XPATH_WS)
        if value == "":
            return ""
        return to_value(hook(field, value, key, sub))
    return Compiled(choice_attr, A)
