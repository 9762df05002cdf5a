// Runner for the language-neutral conformance cases in forms/conformance/ (format:
// forms/conformance/README.md; Python: forms/expressions/conformance.py).
//
// A pure ES module with no I/O, so that it runs the same under `node --test` and in a page:
// the caller reads the case files and passes them parsed.
//
//     const files = [{name: 'arithmetic.json', doc: JSON.parse(text)}, ...];
//     const report = runConformance(files);   // {total, passed, failed, results}
//     // results: [{file, id, ok, message}], message null when ok

import { compileExpression } from './compiler.js';
import { ExpressionEvaluationError, ExpressionSyntaxError } from './errors.js';
import { ChoiceAttributes, FieldTree } from './scope.js';
import { DateValue, Nodeset, parseDate } from './values.js';

export const CASE_KEYS = new Set(['id', 'expression', 'form', 'answers', 'repeat_path', 'current',
  'parameters', 'choice', 'today', 'as', 'expected', 'error', 'note']);
export const FILE_KEYS = new Set(['description', 'form', 'defaults', 'cases']);
const SPECIAL_NUMBERS = { NaN, Infinity, '-Infinity': -Infinity };
const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const onlyKey = (v, key) => isObject(v) && Object.keys(v).length === 1 && hasOwn(v, key);

/**
 * Every case of the given files with the file's `form`/`defaults` applied, in file order
 * (give the files sorted by name to match the Python runner). `files`: an array of
 * {name, doc}. Throws on a malformed file or an unknown case key.
 */
export function loadCases(files) {
  const cases = [];
  for (const { name, doc } of files) {
    for (const key of Object.keys(doc)) {
      if (!FILE_KEYS.has(key)) throw new Error(`${name}: unknown file key ${key}`);
    }
    const defaults = { ...(doc.defaults || {}) };
    if (hasOwn(doc, 'form') && !hasOwn(defaults, 'form')) defaults.form = doc.form;
    for (const raw of doc.cases) {
      const unknown = Object.keys(raw).filter((k) => !CASE_KEYS.has(k)).sort();
      if (unknown.length) throw new Error(`${name}: case ${raw.id}: unknown keys ${unknown.join(', ')}`);
      cases.push({ file: name, id: raw.id, data: { ...defaults, ...raw } });
    }
  }
  return cases;
}

/** JSON input value -> evaluator value: {"$date": …}, {"$number": …} decoded, recursively. */
export function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (isObject(value)) {
    if (onlyKey(value, '$date')) {
      const d = parseDate(value.$date);
      if (d === null) throw new Error(`bad $date ${JSON.stringify(value.$date)}`);
      return d;
    }
    if (onlyKey(value, '$number')) return SPECIAL_NUMBERS[value.$number];
    const out = {};
    for (const k of Object.keys(value)) {
      Object.defineProperty(out, k, { value: decode(value[k]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** Evaluation result -> JSON value (the encoding of `expected`). */
export function encode(value) {
  if (typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (value !== value) return { $number: 'NaN' };
    if (value === Infinity) return { $number: 'Infinity' };
    if (value === -Infinity) return { $number: '-Infinity' };
    return value === 0 ? 0 : value;
  }
  if (value instanceof DateValue) return { $date: value.iso };
  if (value instanceof Nodeset) return value.items.map(encode);
  throw new TypeError(`cannot encode ${String(value)}`);
}

/** Strict comparison of a result with an `expected` JSON value. */
export function matches(actual, expected) {
  if (Array.isArray(expected)) {
    return actual instanceof Nodeset && actual.items.length === expected.length
      && expected.every((e, i) => matches(actual.items[i], e));
  }
  if (isObject(expected)) {
    if (onlyKey(expected, '$number')) {
      if (typeof actual !== 'number') return false;
      const want = SPECIAL_NUMBERS[expected.$number];
      if (want === undefined) throw new Error(`bad expected value ${JSON.stringify(expected)}`);
      return want !== want ? actual !== actual : actual === want;
    }
    if (onlyKey(expected, '$date')) return actual instanceof DateValue && actual.iso === expected.$date;
    throw new Error(`bad expected value ${JSON.stringify(expected)}`);
  }
  if (typeof expected === 'boolean') return actual === expected;
  if (typeof expected === 'number') return typeof actual === 'number' && actual === expected;
  if (typeof expected === 'string') return typeof actual === 'string' && actual === expected;
  throw new Error(`bad expected value ${JSON.stringify(expected)}`);
}

const isEmptyObject = (v) => !v || (isObject(v) && Object.keys(v).length === 0);

/** The EvalContext for a case (or a docs example's context). */
export function buildContext(spec) {
  const answers = decode(spec.answers || {});
  const form = spec.form;
  const tree = isEmptyObject(form) ? FieldTree.infer(answers) : FieldTree.fromForm(form);
  const scoped = tree.scope(answers, spec.repeat_path || []);
  const today = spec.today;
  const choices = isEmptyObject(form) ? undefined : form.choices;
  return scoped.context({
    parameters: decode(spec.parameters || {}),
    current: decode(hasOwn(spec, 'current') ? spec.current : ''),
    choice: spec.choice !== null && spec.choice !== undefined ? decode(spec.choice) : null,
    today: today === null || today === undefined ? null : parseDate(today),
    choiceAttr: isEmptyObject(choices) ? null : new ChoiceAttributes(tree, choices).hook,
  });
}

const METHODS = {
  boolean: 'evaluateBool',
  number: 'evaluateNumber',
  string: 'evaluateString',
};

/** Run one case; throws an Error describing any mismatch. */
export function checkCase(c) {
  const data = c.data;
  const { expression } = data;
  const wantError = data.error === undefined ? null : data.error;
  if (!(wantError === null || wantError === 'syntax' || wantError === 'evaluation')) {
    throw new Error(`${c.id}: error must be 'syntax' or 'evaluation'`);
  }
  if ((wantError === null) === !hasOwn(data, 'expected')) {
    throw new Error(`${c.id}: give exactly one of 'expected' and 'error'`);
  }
  let expr;
  try {
    expr = compileExpression(expression);
  } catch (exc) {
    if (!(exc instanceof ExpressionSyntaxError)) throw exc;
    if (wantError === 'syntax') return;
    throw new Error(`${c.id}: unexpected syntax error: ${exc}`);
  }
  if (wantError === 'syntax') throw new Error(`${c.id}: expected a syntax error, compiled fine`);
  const ctx = buildContext(data);
  const as = data.as === undefined || data.as === null ? null : data.as;
  if (as !== null && !hasOwn(METHODS, as)) throw new Error(`${c.id}: bad 'as' ${JSON.stringify(as)}`);
  const method = as === null ? expr.evaluate : expr[METHODS[as]];
  let actual;
  try {
    actual = method(ctx);
  } catch (exc) {
    if (!(exc instanceof ExpressionEvaluationError)) throw exc;
    if (wantError === 'evaluation') return;
    throw new Error(`${c.id}: unexpected evaluation error: ${exc.message}`);
  }
  if (wantError === 'evaluation') {
    throw new Error(`${c.id}: expected an evaluation error, got ${JSON.stringify(encode(actual))}`);
  }
  if (!matches(actual, data.expected)) {
    throw new Error(`${c.id}: ${JSON.stringify(expression)} gave ${JSON.stringify(encode(actual))}, `
      + `expected ${JSON.stringify(data.expected)}`);
  }
}

/** Run one case: {file, id, ok, message}; never throws. */
export function runCase(c) {
  try {
    checkCase(c);
    return { file: c.file, id: c.id, ok: true, message: null };
  } catch (exc) {
    const message = exc instanceof Error ? exc.message : String(exc);
    return { file: c.file, id: c.id, ok: false, message };
  }
}

/** Run every case of `files` ([{name, doc}]): {total, passed, failed, results}. */
export function runConformance(files) {
  const results = loadCases(files).map(runCase);
  const passed = results.filter((r) => r.ok).length;
  return { total: results.length, passed, failed: results.length - passed, results };
}
