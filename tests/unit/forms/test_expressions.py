"""Unit and property tests of forms.expressions (the conformance cases are in
test_conformance.py).

Speed, measured with bench/expressions_bench.py (see its docstring for recorded figures):
a simple comparison such as ``${age} >= 18`` evaluates in about 0.16 µs on a quiet machine.
"""

from __future__ import annotations

import datetime as dt
import math
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forms.expressions import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_SOURCE_LENGTH,
    MAX_TOKENS,
    CompiledExpression,
    EvalContext,
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    Nodeset,
    compile_expression,
    parse,
)
from forms.expressions import nodes as n
from forms.expressions.printer import unparse
from forms.expressions.regex import RegexRefused, translate
from forms.expressions.scope import ChoiceAttributes, FieldTree
from forms.expressions.values import number_to_string, round_half_away, to_number

TODAY = dt.date(2026, 10, 2)


def ev(source: str, **answers: object) -> object:
    return compile_expression(source).evaluate(EvalContext.from_mapping(answers, today=TODAY))


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize(
    ("source", "position"),
    [
        ("1 +", 3),
        ("(1 + 2", 6),
        ("1 + 2)", 5),
        ("${age} >= 18 18", 13),
        ("foo(1)", 0),
        ("1 + foo(1)", 4),
        ("if(1, 2)", 0),
        ("'abc", 0),
        ("1 + 'abc", 4),
        ("${ age }", 0),
        ("a ! b", 2),
        ("1 + #", 4),
        ("concat('a',)", 11),
        ("position(1)", 9),
        ("regex(., '(a+)+')", 9),
        ("12abc", 0),
    ],
)
def test_syntax_errors_carry_the_position(source, position):
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_expression(source)
    assert info.value.position == position
    assert info.value.source == source
    text = str(info.value)
    assert f"position {position}" in text
    assert "^" in text  # caret under the offending character
    assert isinstance(info.value, ValueError) and isinstance(info.value, ExpressionError)


def test_syntax_error_messages_are_readable():
    with pytest.raises(ExpressionSyntaxError, match=r"unknown function foo\(\)"):
        compile_expression("foo(1)")
    with pytest.raises(ExpressionSyntaxError, match=r"if\(\) takes 3 arguments, got 2"):
        compile_expression("if(1, 2)")
    with pytest.raises(ExpressionSyntaxError, match=r"round\(\) takes 1 to 2 arguments"):
        compile_expression("round()")
    with pytest.raises(ExpressionSyntaxError, match=r"concat\(\) takes at least 1 argument,"):
        compile_expression("concat()")
    with pytest.raises(ExpressionSyntaxError, match="nested quantifier"):
        compile_expression("regex(., '(a+)+')")
    with pytest.raises(ExpressionSyntaxError, match="expected a value"):
        compile_expression("1 + * 2")
    with pytest.raises(ExpressionSyntaxError, match="empty expression"):
        compile_expression("  ")


def test_non_string_source_is_a_syntax_error():
    with pytest.raises(ExpressionSyntaxError):
        compile_expression(12)  # type: ignore[arg-type]
    with pytest.raises(ExpressionSyntaxError):
        compile_expression(["1"])  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_checks_its_arity_at_compile_time(name):
    spec = FUNCTIONS[name]
    if spec.max_args is not None:
        args = ", ".join(["1"] * (spec.max_args + 1))
        with pytest.raises(ExpressionSyntaxError, match="takes"):
            compile_expression(f"{name}({args})")
    if spec.min_args > 0:
        args = ", ".join(["1"] * (spec.min_args - 1))
        with pytest.raises(ExpressionSyntaxError, match="takes"):
            compile_expression(f"{name}({args})")


def test_function_specs_are_documented():
    for name, spec in FUNCTIONS.items():
        assert spec.name == name
        assert spec.signature.startswith(name + "(")
        assert spec.summary


# --------------------------------------------------------------------------- limits

def test_source_length_limit():
    ok = "'" + "a" * (MAX_SOURCE_LENGTH - 2) + "'"
    assert compile_expression(ok).evaluate(EvalContext()) == "a" * (MAX_SOURCE_LENGTH - 2)
    with pytest.raises(ExpressionSyntaxError, match="longer than 4000"):
        compile_expression(ok + " ")


def test_token_limit():
    ok = "1" + "+1" * ((MAX_TOKENS - 1) // 2)
    assert compile_expression(ok).evaluate(EvalContext()) == (MAX_TOKENS + 1) // 2
    with pytest.raises(ExpressionSyntaxError, match="tokens"):
        compile_expression(ok + "+1")


@pytest.mark.parametrize("template", ["({})", "not({})", "-{}", "concat({}, 'x')"])
def test_nesting_limit(template):
    inner = "1"
    for _ in range(MAX_DEPTH - 1):
        inner = template.format(inner)
    compile_expression(inner)
    for _ in range(5):
        inner = template.format(inner)
    with pytest.raises(ExpressionSyntaxError, match="nested more than"):
        compile_expression(inner)


def test_deep_nesting_fails_fast_without_recursion_error():
    # Far beyond the limit, and with a low recursion limit to leave no headroom.
    source = "(" * 3000 + "1" + ")" * 3000
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(800)
    try:
        with pytest.raises(ExpressionSyntaxError):
            compile_expression(source[:MAX_SOURCE_LENGTH])
        with pytest.raises(ExpressionSyntaxError):
            compile_expression("-" * 3999 + "1")
    finally:
        sys.setrecursionlimit(old)


def test_long_flat_sum_evaluates_without_deep_recursion():
    source = " + ".join(["${x}"] * 400)
    assert ev(source, x=2) == 800.0


def test_regex_refusals():
    for pattern in ["(a+)+", "(a*)*", "(a|aa)+", "(?=a)", "(a)\\1", "[", "a{", "x{5000}"]:
        with pytest.raises(RegexRefused):
            translate(pattern)
    with pytest.raises(ExpressionEvaluationError, match="nested quantifier"):
        compile_expression("regex('aaaa', ${p})").evaluate(EvalContext.from_mapping({"p": "(a+)+"}))


def test_refused_regex_stays_fast():
    # The ReDoS classic would take ages if it were ever compiled and run.
    expr = compile_expression("regex(${s}, ${p})")
    ctx = EvalContext.from_mapping({"s": "a" * 40 + "!", "p": "^(a|a)*$"})
    with pytest.raises(ExpressionEvaluationError):
        expr.evaluate(ctx)


# --------------------------------------------------------------------------- metadata

def test_references_parameters_bare_names_current():
    expr = compile_expression(
        "if(${age} >= ${param:adult_age} and region = ${region}, ., count(${members}))")
    assert isinstance(expr, CompiledExpression)
    assert expr.references == frozenset({"age", "region", "members"})
    assert expr.parameters == frozenset({"adult_age"})
    assert expr.bare_names == frozenset({"region"})
    assert expr.uses_current is True
    assert expr.functions == frozenset({"if", "count"})
    assert expr.source.startswith("if(")
    plain = compile_expression("1 + 2")
    assert plain.references == plain.parameters == plain.bare_names == frozenset()
    assert plain.uses_current is False


def test_operator_words_are_names_in_operand_position():
    expr = compile_expression("mod = 'x' and div")
    assert expr.bare_names == frozenset({"mod", "div"})


def test_compile_is_cached_and_parse_returns_a_tree():
    assert compile_expression("1 + 1") is compile_expression("1 + 1")
    tree = parse("1 + 2 * ${x}")
    assert isinstance(tree, n.Chain)
    assert tree.rest[0][1] == n.Chain(5, n.Number(2.0, "2", 4), (("*", n.Ref("x", 8)),), 4)


# --------------------------------------------------------------------------- evaluation API

def test_evaluate_conversions():
    expr = compile_expression("${n} * 2")
    ctx = EvalContext.from_mapping({"n": 3})
    assert expr.evaluate(ctx) == 6.0 and type(expr.evaluate(ctx)) is float
    assert expr.evaluate_bool(ctx) is True
    assert expr.evaluate_number(ctx) == 6.0
    assert expr.evaluate_string(ctx) == "6"
    empty = EvalContext()
    assert math.isnan(expr.evaluate(empty))
    assert expr.evaluate_bool(empty) is False
    assert expr.evaluate_string(empty) == "NaN"


def test_context_defaults_and_errors():
    assert ev("${anything}") == ""
    with pytest.raises(ExpressionEvaluationError, match="today"):
        compile_expression("today()").evaluate(EvalContext())
    with pytest.raises(ExpressionEvaluationError, match="parameter"):
        compile_expression("${param:x}").evaluate(EvalContext())
    with pytest.raises(ExpressionEvaluationError, match="choice filter"):
        compile_expression("region").evaluate(EvalContext())
    with pytest.raises(ExpressionEvaluationError, match="outside a repeat"):
        compile_expression("position(..)").evaluate(EvalContext())
    with pytest.raises(ExpressionEvaluationError, match="choice-attr"):
        compile_expression("choice-attr(${x}, 'k')").evaluate(EvalContext.from_mapping({"x": "a"}))
    assert compile_expression("position(..)").evaluate(EvalContext(position=4)) == 4.0


def test_raw_answer_values_are_normalised():
    assert ev("${n}", n=3) == 3.0
    assert ev("${n} = 3", n=3) is True
    assert ev("${flag}", flag=True) is True
    assert ev("${d} < today()", d=dt.date(2020, 1, 1)) is True
    assert ev("${sm}", sm=["a", "b"]) == "a b"
    assert ev("${geo}", geo={"lat": 21.0278, "lon": 105.8342, "accuracy": 12.5}) == "21.0278 105.8342 0 12.5"
    assert ev("${missing}", missing=None) == ""
    assert ev("${ns}", ns=Nodeset([1, ["a", "b"], None])) == Nodeset([1.0, "a b", ""])
    with pytest.raises(ExpressionEvaluationError, match="unsupported value"):
        ev("${x}", x=object())


def test_nodeset_result_type():
    result = ev("${ns}", ns=Nodeset([1, 2]))
    assert type(result) is Nodeset and result == [1.0, 2.0]


def test_today_is_injected_not_read_from_the_clock():
    expr = compile_expression("today()")
    assert expr.evaluate(EvalContext(today=dt.date(1999, 12, 31))) == dt.date(1999, 12, 31)


def test_constant_folding_keeps_errors_at_evaluation():
    expr = compile_expression("if(true(), 1, today())")
    assert expr.evaluate(EvalContext()) == 1.0
    expr = compile_expression("today() + 1")  # not folded: depends on the context
    assert expr.evaluate(EvalContext(today=dt.date(1970, 1, 1))) == 1.0


# --------------------------------------------------------------------------- values

@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (-0.0, "0"), (0.5, "0.5"), (1e21, "1000000000000000000000"),
     (1.5e-7, "0.00000015"), (123456789.125, "123456789.125"), (1e15, "1000000000000000"),
     (-2.5e16, "-25000000000000000"), (math.nan, "NaN"), (-math.inf, "-Infinity")],
)
def test_number_to_string(value, text):
    assert number_to_string(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_string_round_trip(x):
    text = number_to_string(x)
    assert "e" not in text and "E" not in text
    assert to_number(text) == x


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), st.integers(-5, 8))
def test_round_half_away_is_symmetric(x, digits):
    assert round_half_away(-x, digits) == -round_half_away(x, digits)


# --------------------------------------------------------------------------- scope

FORM = {
    "fields": [
        {"name": "hh", "type": "text"},
        {"name": "info", "type": "group", "fields": [{"name": "area", "type": "text"}]},
        {"name": "members", "type": "repeat", "fields": [
            {"name": "age", "type": "integer"},
            {"name": "dob", "type": "date"},
            {"name": "edu", "type": "select_one", "choices": "edu"},
            {"name": "kids", "type": "repeat", "fields": [{"name": "k_age", "type": "integer"}]},
        ]},
    ],
    "choices": {"edu": [{"value": "none", "points": {"rural": 4, "urban": 3}}]},
}
ANSWERS = {"hh": "H", "area": "rural",
           "members": [{"age": 40, "dob": "1986-01-02", "edu": "none", "kids": [{"k_age": 3}]},
                       {"age": 12, "kids": []}]}


def test_scoped_answers_resolve_like_the_conformance_spec():
    tree = FieldTree.from_form(FORM)
    root = tree.scope(ANSWERS)
    assert root.position is None
    assert root.lookup("hh") == "H"
    assert root.lookup("area") == "rural"  # group fields sit at their scope's level
    assert root.lookup("age") == Nodeset([40.0, 12.0])
    assert root.lookup("k_age") == Nodeset([3.0])
    assert root.lookup("members") == Nodeset(["", ""])
    inner = tree.scope(ANSWERS, ["members", 0])
    assert inner.position == 1
    assert inner.lookup("age") == 40.0
    assert inner.lookup("dob") == dt.date(1986, 1, 2)
    assert inner.lookup("hh") == "H"
    assert inner.lookup("k_age") == Nodeset([3.0])
    with pytest.raises(ExpressionEvaluationError, match="unknown field"):
        inner.lookup("nope")
    second = tree.scope(ANSWERS, ("members", 1))
    assert second.lookup("dob") == ""
    assert second.position == 2


def test_scoped_context_evaluates():
    tree = FieldTree.from_form(FORM)
    scoped = tree.scope(ANSWERS, ["members", 0])
    ctx = scoped.context(parameters={"region": "rural"}, today=TODAY,
                         choice_attr=ChoiceAttributes(tree, FORM["choices"]))
    assert compile_expression("choice-attr(${edu}, 'points', ${param:region})").evaluate(ctx) == 4.0
    assert compile_expression("position(..) + count(${k_age})").evaluate(ctx) == 2.0
    assert compile_expression("int((today() - ${dob}) div 365.25)").evaluate(ctx) == 40.0


def test_bad_repeat_paths():
    tree = FieldTree.from_form(FORM)
    with pytest.raises(ValueError):
        tree.scope(ANSWERS, ["members"])
    with pytest.raises(ValueError):
        tree.scope(ANSWERS, ["members", 5])
    with pytest.raises(ValueError):
        tree.scope(ANSWERS, ["members", "0"])
    with pytest.raises(ExpressionEvaluationError):
        FieldTree.from_form(FORM).scope({"hh": [{"a": 1}]}, ["hh", 0])


def test_inferred_tree():
    tree = FieldTree.infer(ANSWERS)
    scoped = tree.scope(ANSWERS, ["members", 1])
    assert scoped.lookup("age") == 12
    assert scoped.lookup("unknown") == ""
    assert tree.scope(ANSWERS).lookup("k_age") == Nodeset([3])


# --------------------------------------------------------------------------- properties

NAMES = st.sampled_from(["age", "x", "region", "name", "mod", "and"])
FUNCS_FIXED = {name: spec for name, spec in FUNCTIONS.items()
               if name not in ("position", "choice-attr", "regex")}


def _leaf():
    return st.one_of(
        st.builds(lambda v: n.Number(v, ""), st.sampled_from([0.0, 1.0, 2.5, 18.0, 1000000.0, 0.125])),
        st.builds(n.String, st.text(alphabet="ab 'ễ1", max_size=4).filter(lambda s: not ("'" in s and '"' in s))),
        st.builds(n.Ref, NAMES),
        st.builds(n.Param, st.sampled_from(["p", "q"])),
        st.just(n.Current()),
        st.builds(n.BareName, NAMES),
    )


def _call(children):
    def make(draw_name, args):
        spec = FUNCS_FIXED[draw_name]
        count = max(spec.min_args, min(len(args), spec.max_args if spec.max_args is not None else 4))
        padded = (list(args) + [n.Number(1.0, "1")] * count)[:count]
        return n.Call(draw_name, tuple(padded))
    return st.builds(make, st.sampled_from(sorted(FUNCS_FIXED)), st.lists(children, max_size=4))


TREES = st.recursive(
    _leaf(),
    lambda children: st.one_of(
        st.builds(n.Negate, children),
        st.builds(lambda level, first, rest: n.Chain(level, first, tuple(
            (sorted(n.LEVELS[level])[i % len(n.LEVELS[level])], r) for i, r in enumerate(rest))),
            st.integers(0, 5), children, st.lists(children, min_size=1, max_size=3)),
        _call(children),
    ),
    max_leaves=25,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(TREES)
def test_unparse_parse_round_trip(tree):
    text = unparse(tree)
    reparsed = parse(text)
    assert unparse(reparsed) == text
    compile_expression(text)  # every generated call has a valid arity


VALUES = st.one_of(
    st.integers(-5, 100), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5),
    st.booleans(), st.none(), st.dates(), st.lists(st.sampled_from(["a", "b"]), max_size=3),
    st.builds(Nodeset, st.lists(st.one_of(st.integers(0, 9), st.text(max_size=2)), max_size=3)),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(TREES, st.dictionaries(NAMES, VALUES), VALUES, st.booleans())
def test_evaluation_raises_only_documented_errors(tree, answers, current, with_choice):
    expr = compile_expression(unparse(tree))
    ctx = EvalContext.from_mapping(answers, current=current, parameters={"p": 1, "q": "x"},
                                   today=TODAY, choice=({"value": "a"} if with_choice else None))
    try:
        value = expr.evaluate(ctx)
    except ExpressionEvaluationError:
        return
    assert type(value) in (float, str, bool, dt.date, Nodeset)
    assert type(expr.evaluate_bool(ctx)) is bool
    assert type(expr.evaluate_number(ctx)) is float
    assert type(expr.evaluate_string(ctx)) is str


TOKENS = st.sampled_from([
    "1", "2.5", ".5", "'a'", '"b"', "${x}", "${param:p}", ".", "..", "x", "(", ")", ",", " ",
    "+", "-", "*", "div", "mod", "=", "!=", "<", "<=", ">", ">=", "and", "or", "if(", "not(",
    "concat(", "regex(", "sum(", "position(", "choice-attr(", "foo(", "$", "{", "}", "!", "#",
    "'", "1e", "count-selected(", "today()", "selected(",
])


@settings(max_examples=500)
@given(st.lists(TOKENS, max_size=30).map("".join))
def test_random_token_soup_raises_only_documented_errors(source):
    try:
        expr = compile_expression(source)
    except ExpressionSyntaxError as exc:
        assert 0 <= exc.position <= len(source)
        return
    try:
        expr.evaluate(EvalContext.from_mapping({"x": "1"}, today=TODAY, parameters={"p": 2}))
    except ExpressionEvaluationError:
        pass


@settings(max_examples=300)
@given(st.text(alphabet="ab()[]{}*+?|\\^$.-,0123456789dswSu&~:=!<", max_size=20))
def test_random_regex_patterns_are_refused_or_compile(pattern):
    try:
        expr = compile_expression("regex(${s}, ${p})")
        expr.evaluate(EvalContext.from_mapping({"s": "ab1 -", "p": pattern}))
    except ExpressionEvaluationError:
        pass


@settings(max_examples=300)
@given(st.one_of(st.lists(st.text(alphabet="ab \t", max_size=3), max_size=4), st.text(alphabet="ab \t", max_size=5)),
       st.text(alphabet="ab \t", max_size=3).filter(lambda s: "'" not in s))
def test_selected_fast_path_agrees_with_the_generic_path(answer, needle):
    ctx = EvalContext.from_mapping({"x": answer})
    fast = compile_expression(f"selected(${{x}}, '{needle}')").evaluate(ctx)
    generic = compile_expression(f"selected(concat(${{x}}), concat('{needle}'))").evaluate(ctx)
    assert fast is generic


@settings(max_examples=300)
@given(st.one_of(st.integers(-3, 3), st.floats(allow_nan=True), st.text(alphabet="12.- ", max_size=4),
                 st.booleans(), st.dates(), st.none(), st.lists(st.sampled_from(["1", "a"]), max_size=2),
                 st.builds(Nodeset, st.lists(st.integers(0, 3), max_size=3))),
       st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
       st.sampled_from(["1", "0", "'1'", "''", "'a'", "1.5"]))
def test_fused_comparisons_agree_with_the_generic_path(answer, op, literal):
    ctx = EvalContext.from_mapping({"x": answer})
    fused = compile_expression(f"${{x}} {op} {literal}").evaluate(ctx)
    generic = compile_expression(f"if(${{y}} = '', ${{x}}, 0) {op} if(${{y}} = '', {literal}, 0)").evaluate(ctx)
    assert fused is generic
