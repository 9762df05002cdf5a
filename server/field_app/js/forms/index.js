// The XLSForm expression language of rasoat forms (ODK/JavaRosa XPath 1.0 flavour), for the
// field app. The JavaScript twin of forms/expressions/ (Python): same modules, same rules,
// and both pass the shared cases in forms/conformance/ (tests/js/conformance.test.mjs, and
// in the browser through conformance.js). Plain ES modules, no build step, no eval.
//
//     import { compileExpression, EvalContext } from './forms/index.js';
//     const expr = compileExpression("if(${age} >= 18, 'adult', 'child')");
//     expr.evaluate(EvalContext.fromMapping({age: 41}));            // -> 'adult'
//
// compileExpression(source) -> CompiledExpression parses and compiles once into nested
// closures (cached by source text); it throws ExpressionSyntaxError (message, position)
// for bad syntax, unknown functions, wrong arity, a refused literal regex, or a limit
// exceeded (4,000 characters, 1,000 tokens, nesting 50 / syntax-tree depth 120).
// Evaluation throws only ExpressionEvaluationError.
//
// Names map one to one onto the Python ones, in camelCase: compile_expression ->
// compileExpression, evaluate_bool -> evaluateBool, EvalContext.choice_attr ->
// EvalContext.choiceAttr, FieldTree.from_form -> FieldTree.fromForm, … A Python
// datetime.date is a DateValue here, a Nodeset wraps its members in `.items`.
// package.json in this folder only tells Node that these .js files are ES modules.

export { CompiledExpression, compileExpression } from './compiler.js';
export { EvalContext } from './context.js';
export { ExpressionError, ExpressionEvaluationError, ExpressionSyntaxError } from './errors.js';
export { FUNCTIONS, FunctionSpec } from './functions.js';
export { MAX_DEPTH, MAX_TREE_DEPTH, parse } from './parser.js';
export { ChoiceAttributes, FieldTree, ScopedAnswers } from './scope.js';
export { MAX_SOURCE_LENGTH, MAX_TOKENS } from './tokenizer.js';
export { DateValue, Nodeset, parseDate } from './values.js';
