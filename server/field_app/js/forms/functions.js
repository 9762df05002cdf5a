// The function library (Python: forms/expressions/functions.py). FUNCTIONS maps each name
// to its FunctionSpec (a Map, so that names like `constructor` are simply unknown).

// compiler.js imports this module too: only use its exports inside functions, at compile time.
import { Compiled, asBool, asNumber, asString } from './compiler.js';
import { ExpressionEvaluationError, syntaxErrorAt } from './errors.js';
import { RegexRefused, compileRegex } from './regex.js';
import {
  Nodeset, ceiling, floor, power, roundHalfAway, splitSelected, stripWs, toBool, toDate,
  toNumber, toString, toValue, truncate,
} from './values.js';

const N = 'N';
const S = 'S';
const B = 'B';
const D = 'D';
const A = 'A';

export class FunctionSpec {
  constructor(name, minArgs, maxArgs, kind, signature, summary, build, pure = true) {
    this.name = name;
    this.minArgs = minArgs;
    this.maxArgs = maxArgs; // null: any number
    this.kind = kind; // static kind of the result
    this.signature = signature;
    this.summary = summary;
    this.build = build; // (compiler, callNode) -> Compiled
    this.pure = pure; // result depends on arguments only (so constant arguments fold)
    Object.freeze(this);
  }

  arityText() {
    const plural = (k) => `${k} argument${k !== 1 ? 's' : ''}`;
    if (this.maxArgs === null) return `at least ${plural(this.minArgs)}`;
    if (this.minArgs === this.maxArgs) return plural(this.minArgs);
    return `${this.minArgs} to ${this.maxArgs} arguments`;
  }
}

const REGISTRY = new Map();
export const FUNCTIONS = REGISTRY;

function converter(kind) {
  if (kind === N) return asNumber;
  if (kind === S) return asString;
  if (kind === B) return asBool;
  return (c) => c.fn;
}

/**
 * Register impl(...convertedArgs); `argKinds` gives each argument's conversion (the last one
 * repeats when `variadic`).
 */
function eager(name, argKinds, kind, signature, summary, impl, { minArgs = null, variadic = false } = {}) {
  const lo = minArgs === null ? argKinds.length : minArgs;
  const build = (compiler, node) => {
    const fns = node.args.map((a, i) => converter(argKinds[Math.min(i, argKinds.length - 1)])(compiler.compile(a)));
    switch (fns.length) {
      case 0:
        return new Compiled(() => impl(), kind);
      case 1: {
        const [f] = fns;
        return new Compiled((ctx) => impl(f(ctx)), kind);
      }
      case 2: {
        const [f, g] = fns;
        return new Compiled((ctx) => impl(f(ctx), g(ctx)), kind);
      }
      case 3: {
        const [f, g, h] = fns;
        return new Compiled((ctx) => impl(f(ctx), g(ctx), h(ctx)), kind);
      }
      default:
        return new Compiled((ctx) => impl(...fns.map((f) => f(ctx))), kind);
    }
  };
  REGISTRY.set(name, new FunctionSpec(name, lo, variadic ? null : argKinds.length, kind, signature, summary, build));
}

function special(name, minArgs, maxArgs, kind, signature, summary, build, pure = true) {
  REGISTRY.set(name, new FunctionSpec(name, minArgs, maxArgs, kind, signature, summary, build, pure));
}

function members(values) {
  const out = [];
  for (const v of values) {
    if (v instanceof Nodeset) out.push(...v.items);
    else out.push(v);
  }
  return out;
}

/** Python's len(): code points. */
function codePoints(s) {
  return /[\ud800-\udfff]/.test(s) ? Array.from(s) : null;
}

// --------------------------------------------------------------------------- logic

special('if', 3, 3, A, 'if(condition, then, else)',
  '`then` when boolean(condition) is true, else `else`; only the chosen branch is evaluated.',
  (compiler, node) => {
    const cond = compiler.compile(node.args[0]);
    const yes = compiler.compile(node.args[1]);
    const no = compiler.compile(node.args[2]);
    const kind = yes.kind === no.kind ? yes.kind : A;
    if (cond.isConst) return toBool(cond.const) ? yes : no;
    const c = asBool(cond);
    const y = yes.fn;
    const f = no.fn;
    return new Compiled((ctx) => (c(ctx) ? y(ctx) : f(ctx)), kind);
  });

eager('not', 'B', B, 'not(x)', 'true when boolean(x) is false.', (x) => !x);
eager('true', '', B, 'true()', 'the boolean true.', () => true);
eager('false', '', B, 'false()', 'the boolean false.', () => false);
eager('boolean', 'B', B, 'boolean(x)',
  'XPath boolean(): a number is true unless 0 or NaN, a string unless empty, '
  + 'a nodeset unless empty, a date always.', (x) => x);

special('coalesce', 2, null, A, 'coalesce(a, b, ...)',
  "the first argument whose string value is not empty (a nodeset gives its first member), else ''. "
  + 'Later arguments are only evaluated when needed.',
  (compiler, node) => {
    const fns = node.args.map((a) => compiler.compile(a).fn);
    return new Compiled((ctx) => {
      // Only the empty string has an empty string value (string(NaN) is 'NaN').
      for (let i = 0; i < fns.length; i++) {
        let v = fns[i](ctx);
        if (v instanceof Nodeset) v = v.items.length ? v.items[0] : '';
        if (v !== '') return v;
      }
      return '';
    }, A);
  });

// --------------------------------------------------------------------------- selects

special('selected', 2, 2, B, 'selected(value, choice)',
  'true when `choice` (trimmed) is one of the space-separated items of `value` '
  + '(a select_multiple answer, or a select_one answer).',
  (compiler, node) => {
    const value = compiler.compile(node.args[0]);
    const choice = compiler.compile(node.args[1]);
    if (value.ref !== null && choice.isConst) {
      // selected(${field}, 'literal'): test the raw answer list before joining/splitting.
      const name = value.ref;
      const needle = stripWs(toString(choice.const));
      // An exact item is a selected value only when the needle is one token.
      const simple = needle !== '' && !/[ \t\r\n]/.test(needle);
      return new Compiled((ctx) => {
        const raw = ctx.lookup(name);
        if (simple && (typeof raw === 'string' ? raw === needle : (Array.isArray(raw) && raw.indexOf(needle) >= 0))) {
          return true;
        }
        return splitSelected(toValue(raw)).indexOf(needle) >= 0;
      }, B);
    }
    const vf = asString(value);
    const cf = asString(choice);
    return new Compiled((ctx) => splitSelected(vf(ctx)).indexOf(stripWs(cf(ctx))) >= 0, B);
  });

eager('count-selected', 'S', N, 'count-selected(value)',
  'the number of space-separated items in `value` (0 when empty).',
  (value) => splitSelected(value).length);

eager('selected-at', 'SN', S, 'selected-at(value, index)',
  "the item at 0-based `index` of the space-separated `value`; '' when out of range.",
  (value, index) => {
    const items = splitSelected(value);
    const i = truncate(index);
    if (i !== i || i < 0 || i >= items.length) return '';
    return items[i];
  });

// --------------------------------------------------------------------------- strings

eager('string', 'S', S, 'string(x)',
  "XPath string(): numbers without exponent ('3', '0.5', 'NaN', 'Infinity'), "
  + "booleans 'true'/'false', dates 'YYYY-MM-DD', a nodeset its first member.", (x) => x);

eager('string-length', 'S', N, 'string-length(s)',
  'the number of characters (Unicode code points) of string(s).',
  (s) => {
    const cps = codePoints(s);
    return cps === null ? s.length : cps.length;
  });

special('concat', 1, null, S, 'concat(a, ...)',
  'the string values joined; a nodeset argument contributes all its members.',
  (compiler, node) => {
    const plan = node.args.map((a) => {
      const c = compiler.compile(a);
      return c.isConst ? [true, toString(c.const)] : [false, c.fn];
    });
    return new Compiled((ctx) => {
      let out = '';
      for (let i = 0; i < plan.length; i++) {
        const [isConst, item] = plan[i];
        if (isConst) {
          out += item;
          continue;
        }
        const v = item(ctx);
        if (typeof v === 'string') out += v;
        else if (v instanceof Nodeset) for (const m of v.items) out += toString(m);
        else out += toString(v);
      }
      return out;
    }, S);
  });

eager('join', 'SA', S, 'join(separator, a, ...)',
  'the string values of the arguments (all members of nodesets) joined with `separator`.',
  (sep, ...values) => members(values).map(toString).join(sep),
  { minArgs: 2, variadic: true });

eager('contains', 'SS', B, 'contains(s, part)', 'true when `part` occurs in `s`.',
  (s, part) => s.indexOf(part) >= 0);
eager('starts-with', 'SS', B, 'starts-with(s, prefix)', 'true when `s` begins with `prefix`.',
  (s, prefix) => s.startsWith(prefix));
eager('ends-with', 'SS', B, 'ends-with(s, suffix)', 'true when `s` ends with `suffix`.',
  (s, suffix) => s.endsWith(suffix));

function index(x, length) {
  if (x !== x) return 0;
  let i = truncate(x);
  if (i < 0) i = Math.max(length + i, 0);
  return Math.min(i, length);
}

eager('substr', 'SNN', S, 'substr(s, start[, end])',
  'characters from 0-based `start` up to, not including, `end` (default: the end); '
  + 'negative positions count from the end; out-of-range positions are clamped.',
  (s, start, end) => {
    const cps = codePoints(s);
    const length = cps === null ? s.length : cps.length;
    const i = index(start, length);
    const j = end === undefined ? length : index(end, length);
    if (j <= i) return '';
    return cps === null ? s.slice(i, j) : cps.slice(i, j).join('');
  },
  { minArgs: 2 });

function regexError(exc, atCompile, position, source) {
  if (atCompile) return syntaxErrorAt(exc.message, source, position);
  return new ExpressionEvaluationError(exc.message);
}

special('regex', 2, 2, B, 'regex(s, pattern)',
  'true when `pattern` matches somewhere in `s` (anchor with ^…$). See the regex dialect.',
  (compiler, node) => {
    const subject = asString(compiler.compile(node.args[0]));
    const pattern = compiler.compile(node.args[1]);
    if (node.args[1].type === 'String') {
      // Only a pattern written as a string literal is checked at compile time, so that
      // every implementation agrees on when a refused pattern is reported.
      let rx;
      try {
        rx = compileRegex(node.args[1].value);
      } catch (exc) {
        if (exc instanceof RegexRefused) throw regexError(exc, true, node.args[1].position, compiler.source);
        throw exc;
      }
      return new Compiled((ctx) => rx.test(subject(ctx)), B);
    }
    const pfn = asString(pattern);
    return new Compiled((ctx) => {
      let rx;
      try {
        rx = compileRegex(pfn(ctx));
      } catch (exc) {
        if (exc instanceof RegexRefused) throw regexError(exc, false, 0, '');
        throw exc;
      }
      return rx.test(subject(ctx));
    }, B);
  });

// --------------------------------------------------------------------------- numbers

eager('number', 'N', N, 'number(x)',
  "XPath number(): a string like ' -12.5 ' reads as a number, anything else (including '' "
  + "and '1e3') is NaN; true is 1, false 0; a date its days since 1970-01-01.", (x) => x);
eager('int', 'N', N, 'int(x)', 'number(x) truncated toward zero (NaN and ±Infinity unchanged).', truncate);
eager('round', 'NN', N, 'round(x[, digits])',
  'x rounded to `digits` decimals (default 0; negative rounds to tens, hundreds…), '
  + "half away from zero, on x's shortest decimal form (round(2.675, 2) is 2.68).",
  (x, digits) => roundHalfAway(x, digits === undefined ? 0 : digits),
  { minArgs: 1 });
eager('floor', 'N', N, 'floor(x)', 'the largest integer <= x.', floor);
eager('ceiling', 'N', N, 'ceiling(x)', 'the smallest integer >= x.', ceiling);
eager('abs', 'N', N, 'abs(x)', 'the absolute value of x.', Math.abs);
eager('pow', 'NN', N, 'pow(base, exponent)',
  "base raised to exponent, as JavaScript's Math.pow (pow(1, NaN) is NaN).", power);

// --------------------------------------------------------------------------- nodesets

eager('count', 'A', N, 'count(nodeset)',
  'the number of members of a nodeset (repeat instances); 1 for a single value.',
  (v) => (v instanceof Nodeset ? v.items.length : 1));

eager('sum', 'A', N, 'sum(nodeset)',
  'the sum of number() of the members, added left to right; 0 for an empty nodeset; '
  + 'NaN if any member is not a number (e.g. empty).',
  (v) => {
    if (v instanceof Nodeset) {
      let total = 0;
      for (const m of v.items) total += toNumber(m);
      return total;
    }
    return toNumber(v);
  });

function extreme(values, wantMax) {
  const all = members(values);
  if (all.length === 0) return NaN;
  let best = toNumber(all[0]);
  if (best !== best) return NaN;
  for (let i = 1; i < all.length; i++) {
    const x = toNumber(all[i]);
    if (x !== x) return NaN;
    if (wantMax ? x > best : x < best) best = x;
  }
  return best;
}

eager('min', 'A', N, 'min(a, ...)',
  'the smallest number() among all arguments and nodeset members; NaN when there is '
  + 'none or any is NaN.', (...values) => extreme(values, false), { minArgs: 1, variadic: true });
eager('max', 'A', N, 'max(a, ...)',
  'the largest number() among all arguments and nodeset members; NaN when there is '
  + 'none or any is NaN.', (...values) => extreme(values, true), { minArgs: 1, variadic: true });

// --------------------------------------------------------------------------- dates, context

eager('date', 'A', D, 'date(x)',
  "a date from 'YYYY-MM-DD' (a datetime's date part) or from a number of days since "
  + "1970-01-01 (fraction dropped); '' when x is empty or not a valid date.", toDate);

special('today', 0, 0, D, 'today()', 'the injected current date.',
  () => new Compiled((ctx) => {
    const d = ctx.today;
    if (d === null || d === undefined) {
      throw new ExpressionEvaluationError('today() needs the evaluation date (EvalContext.today)');
    }
    return d;
  }, D),
  false);

special('position', 1, 1, N, 'position(..)', 'the 1-based index of the current repeat instance.',
  (compiler, node) => {
    if (node.args[0].type !== 'Parent') {
      throw compiler.error('position() only supports the form position(..)', node.args[0]);
    }
    return new Compiled((ctx) => {
      const p = ctx.position;
      if (p === null || p === undefined) throw new ExpressionEvaluationError('position(..) used outside a repeat');
      return p;
    }, N);
  },
  false);

special('choice-attr', 2, 3, A, 'choice-attr(${field}, key[, subkey])',
  'rasoat extension: the extra key `key` of the selected choice of select field '
  + '`field` (its `[subkey]` when that key holds a mapping); for a select_multiple or a '
  + 'field inside a repeat read from outside, a nodeset with one member per selected choice.',
  (compiler, node) => {
    const target = node.args[0];
    if (target.type !== 'Ref') {
      throw compiler.error('the first argument of choice-attr() must be a field reference ${name}', target);
    }
    const field = target.name;
    const keyFn = asString(compiler.compile(node.args[1]));
    const subFn = node.args.length === 3 ? asString(compiler.compile(node.args[2])) : null;
    return new Compiled((ctx) => {
      const hook = ctx.choiceAttr;
      if (hook === null || hook === undefined) {
        throw new ExpressionEvaluationError("choice-attr() needs the form's choices (EvalContext.choiceAttr)");
      }
      const raw = ctx.lookup(field);
      const key = keyFn(ctx);
      const sub = subFn === null ? null : subFn(ctx);
      const isSet = raw instanceof Nodeset;
      if (isSet || Array.isArray(raw)) {
        const values = [];
        for (const m of isSet ? raw.items : raw) {
          if (Array.isArray(m)) {
            for (const x of m) values.push(toString(toValue(x)));
          } else if (isSet) {
            values.push(...splitSelected(toValue(m)));
          } else {
            values.push(toString(toValue(m)));
          }
        }
        return new Nodeset(values.filter((v) => v !== '').map((v) => toValue(hook(field, v, key, sub))));
      }
      const value = stripWs(toString(toValue(raw)));
      if (value === '') return '';
      return toValue(hook(field, value, key, sub));
    }, A);
  },
  false);
