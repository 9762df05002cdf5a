"""The XLSForm expression language of rasoat forms (ODK/JavaRosa XPath 1.0 flavour).

Usage::

    from forms.expressions import compile_expression, EvalContext
    expr = compile_expression("if(${age} >= 18, 'adult', 'child')")
    expr.evaluate(EvalContext(lookup={"age": 41}.get))          # -> 'adult'

``compile_expression(source) -> CompiledExpression`` parses and compiles once into nested
closures (cached by source text); it raises :class:`ExpressionSyntaxError` (``message``,
``position``) for bad syntax, unknown functions, wrong arity, a refused literal regex, or a
limit exceeded (4,000 characters, 1,000 tokens, nesting 50 / syntax-tree depth 120).

A ``CompiledExpression`` has ``source``, ``tree``, ``references`` (``${name}``),
``parameters`` (``${param:NAME}``), ``bare_names`` (choice keys in a choice_filter),
``uses_current`` (``.``), ``functions``, and the callables ``evaluate(ctx)``,
``evaluate_bool(ctx)``, ``evaluate_number(ctx)``, ``evaluate_string(ctx)``.
Evaluation raises only :class:`ExpressionEvaluationError`.

``EvalContext`` (a dataclass, every field optional) is what evaluation reads:

* ``lookup(name) -> value``: ``${name}``, repeat scoping done by the caller (a sibling
  inside a repeat instance; a :class:`Nodeset` across instances from outside). Raw answer
  values are fine: int/float/str/bool/date/None, a list for select_multiple, a geopoint
  mapping. :class:`scope.ScopedAnswers` builds it from a field tree + answers + repeat path.
* ``parameters``: mapping for ``${param:NAME}``.
* ``current``: the value of ``.``.
* ``choice``: the choice being filtered (bare names read its keys; ``name``/``value`` its value).
* ``today``: the ``datetime.date`` of ``today()`` (never read from the clock).
* ``position``: 1-based index of the current repeat instance, for ``position(..)``.
* ``choice_attr(field_name, value, key, subkey=None)``: hook for ``choice-attr()``;
  :class:`scope.ChoiceAttributes` implements it from a form's choice lists.

Value model: number = float, string, boolean, date (``datetime.date``), nodeset
(:class:`Nodeset`, a list). Empty answer = ``""``. See ``docs/expressions.md`` for the full
reference and ``forms/conformance/README.md`` for the shared conformance cases.
"""

from .compiler import CompiledExpression, compile_expression
from .context import EvalContext
from .errors import ExpressionError, ExpressionEvaluationError, ExpressionSyntaxError
from .functions import FUNCTIONS, FunctionSpec
from .parser import MAX_DEPTH, MAX_TREE_DEPTH, parse
from .tokenizer import MAX_SOURCE_LENGTH, MAX_TOKENS
from .values import Nodeset

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_SOURCE_LENGTH",
    "MAX_TOKENS",
    "MAX_TREE_DEPTH",
    "CompiledExpression",
    "EvalContext",
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionSyntaxError",
    "FunctionSpec",
    "Nodeset",
    "compile_expression",
    "parse",
]
