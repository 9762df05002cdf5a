// Compile a syntax tree into nested closures fn(ctx) -> value
// (Python: forms/expressions/compiler.py). No eval, no new Function: the field app's CSP
// forbids 'unsafe-eval', and closures are as fast on the phones.
//
// Each node compiles to a Compiled: the closure, the static kind of its result (N number,
// S string, B boolean, D date-or-empty, A anything, maybe a nodeset) and, when it has no
// inputs, its constant value (constant folding). Conversions are only inserted where the
// kind is not already right, and the hot shapes (${x} >= 18, ${a} = 'yes', a and b) get
// dedicated closures.

import { EvalContext } from './context.js';
import { ExpressionEvaluationError, ExpressionSyntaxError, syntaxErrorAt } from './errors.js';
import { FUNCTIONS } from './functions.js';
import { walk } from './nodes.js';
import { parse } from './parser.js';
import {
  DateValue, compare, getOwn, toBool, toNumber, toString, toValue,
} from './values.js';

export const N = 'N';
export const S = 'S';
export const B = 'B';
export const D = 'D';
export const A = 'A';
const NO_VALUE = Object.freeze({ noValue: true });

export class Compiled {
  constructor(fn, kind, constValue = NO_VALUE, ref = null) {
    this.fn = fn;
    this.kind = kind;
    this.const = constValue; // the value when the node is constant
    this.ref = ref; // the field name when the node is ${name} (for fused closures)
    Object.freeze(this);
  }

  get isConst() {
    return this.const !== NO_VALUE;
  }
}

export function constant(value, kind) {
  return new Compiled(() => value, kind, value);
}

// --------------------------------------------------------------------------- conversions

export function asNumber(c) {
  if (c.kind === N) return c.fn;
  if (c.isConst) {
    const v = toNumber(c.const);
    return () => v;
  }
  if (c.ref !== null) {
    const name = c.ref;
    return (ctx) => {
      const v = ctx.lookup(name);
      return typeof v === 'number' ? v : toNumber(toValue(v));
    };
  }
  const fn = c.fn;
  return (ctx) => toNumber(fn(ctx));
}

export function asString(c) {
  if (c.kind === S) return c.fn;
  if (c.isConst) {
    const v = toString(c.const);
    return () => v;
  }
  if (c.ref !== null) {
    const name = c.ref;
    return (ctx) => {
      const v = ctx.lookup(name);
      return typeof v === 'string' ? v : toString(toValue(v));
    };
  }
  const fn = c.fn;
  return (ctx) => toString(fn(ctx));
}

export function asBool(c) {
  if (c.kind === B) return c.fn;
  if (c.isConst) {
    const v = toBool(c.const);
    return () => v;
  }
  const fn = c.fn;
  return (ctx) => toBool(fn(ctx));
}

// --------------------------------------------------------------------------- leaves

function plainValue(v) {
  const t = typeof v;
  if (t === 'string' || t === 'number' || v instanceof DateValue) return v;
  return toValue(v);
}

function refFn(name) {
  return (ctx) => plainValue(ctx.lookup(name));
}

function paramFn(name) {
  return (ctx) => {
    const params = ctx.parameters;
    if (!Object.prototype.hasOwnProperty.call(params, name)) {
      throw new ExpressionEvaluationError(`unknown parameter '${name}'`);
    }
    return plainValue(params[name]);
  };
}

function currentFn(ctx) {
  return plainValue(ctx.current);
}

function bareFn(name) {
  const key = name === 'name' ? 'value' : name;
  return (ctx) => {
    const choice = ctx.choice;
    if (choice === null || choice === undefined) {
      throw new ExpressionEvaluationError(
        `bare name '${name}' outside a choice filter (write \${${name}} for a field)`);
    }
    return toValue(getOwn(choice, key));
  };
}

// --------------------------------------------------------------------------- operators

const CMP = {
  '=': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

const ARITH = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  div: (a, b) => a / b, // IEEE, as values.divide
  mod: (a, b) => a % b, // fmod, as values.modulo
};

function compare2(op, left, right) {
  const opf = CMP[op];
  const relational = op !== '=' && op !== '!=';
  if (left.kind === N && right.kind === N) {
    const lf = left.fn;
    const rf = right.fn;
    return new Compiled((ctx) => opf(lf(ctx), rf(ctx)), B);
  }
  const fastStr = !relational;
  if (right.isConst) {
    const b = right.const;
    const tb = typeof b;
    const lf = left.fn;
    if (left.ref !== null && (tb === 'number' || (tb === 'string' && fastStr))) {
      // ${name} <op> literal, the commonest relevant/constraint shape: one frame.
      const name = left.ref;
      return new Compiled((ctx) => {
        const a = ctx.lookup(name);
        if (typeof a === tb) return opf(a, b);
        return compare(op, toValue(a), b);
      }, B);
    }
    if (tb === 'number' || (tb === 'string' && fastStr)) {
      return new Compiled((ctx) => {
        const a = lf(ctx);
        if (typeof a === tb) return opf(a, b);
        return compare(op, a, b);
      }, B);
    }
    return new Compiled((ctx) => compare(op, lf(ctx), b), B);
  }
  const lf = left.fn;
  const rf = right.fn;
  return new Compiled((ctx) => {
    const a = lf(ctx);
    const b = rf(ctx);
    const ta = typeof a;
    if (ta === typeof b && (ta === 'number' || (ta === 'string' && fastStr))) return opf(a, b);
    return compare(op, a, b);
  }, B);
}

function compareChain(first, rest) {
  if (rest.length === 1) return compare2(rest[0][0], first, rest[0][1]);
  const ff = first.fn;
  const steps = rest.map(([op, c]) => [op, c.fn]);
  return new Compiled((ctx) => {
    let acc = ff(ctx);
    for (let i = 0; i < steps.length; i++) acc = compare(steps[i][0], acc, steps[i][1](ctx));
    return acc;
  }, B);
}

function arithChain(first, rest) {
  const ff = asNumber(first);
  if (rest.length === 1) {
    const [op, c] = rest[0];
    const g = asNumber(c);
    switch (op) {
      case '+':
        return new Compiled((ctx) => ff(ctx) + g(ctx), N);
      case '-':
        return new Compiled((ctx) => ff(ctx) - g(ctx), N);
      case '*':
        return new Compiled((ctx) => ff(ctx) * g(ctx), N);
      case 'div':
        return new Compiled((ctx) => ff(ctx) / g(ctx), N);
      default:
        return new Compiled((ctx) => ff(ctx) % g(ctx), N);
    }
  }
  const steps = rest.map(([op, c]) => [ARITH[op], asNumber(c)]);
  return new Compiled((ctx) => {
    let acc = ff(ctx);
    for (let i = 0; i < steps.length; i++) acc = steps[i][0](acc, steps[i][1](ctx));
    return acc;
  }, N);
}

function logicChain(isOr, operands) {
  const fns = operands.map(asBool);
  if (fns.length === 2) {
    const [f, g] = fns;
    if (isOr) return new Compiled((ctx) => f(ctx) || g(ctx), B);
    return new Compiled((ctx) => f(ctx) && g(ctx), B);
  }
  if (isOr) {
    return new Compiled((ctx) => {
      for (let i = 0; i < fns.length; i++) if (fns[i](ctx)) return true;
      return false;
    }, B);
  }
  return new Compiled((ctx) => {
    for (let i = 0; i < fns.length; i++) if (!fns[i](ctx)) return false;
    return true;
  }, B);
}

// --------------------------------------------------------------------------- compiler

const FOLD_CONTEXT = new EvalContext();

export class Compiler {
  constructor(source) {
    this.source = source;
  }

  error(message, node) {
    return syntaxErrorAt(message, this.source, node.position);
  }

  compile(node) {
    const c = this.compileNode(node);
    if (!c.isConst && this.foldable(node)) {
      let value;
      try {
        value = c.fn(FOLD_CONTEXT);
      } catch (exc) {
        if (exc instanceof ExpressionEvaluationError) return c;
        throw exc;
      }
      return constant(value, c.kind);
    }
    return c;
  }

  foldable(node) {
    if (node.type === 'Chain') {
      return this.isLiteralTree(node.first) && node.rest.every((r) => this.isLiteralTree(r[1]));
    }
    if (node.type === 'Negate') return this.isLiteralTree(node.operand);
    if (node.type === 'Call') {
      return FUNCTIONS.get(node.name).pure && node.args.every((a) => this.isLiteralTree(a));
    }
    return false;
  }

  isLiteralTree(node) {
    const stack = [node];
    while (stack.length) {
      const x = stack.pop();
      switch (x.type) {
        case 'Ref':
        case 'Param':
        case 'Current':
        case 'Parent':
        case 'BareName':
          return false;
        case 'Call':
          if (!FUNCTIONS.get(x.name).pure) return false;
          for (let i = 0; i < x.args.length; i++) stack.push(x.args[i]);
          break;
        case 'Negate':
          stack.push(x.operand);
          break;
        case 'Chain':
          stack.push(x.first);
          for (let i = 0; i < x.rest.length; i++) stack.push(x.rest[i][1]);
          break;
        default:
          break;
      }
    }
    return true;
  }

  compileNode(node) {
    switch (node.type) {
      case 'Number':
        return constant(node.value, N);
      case 'String':
        return constant(node.value, S);
      case 'Ref':
        return new Compiled(refFn(node.name), A, NO_VALUE, node.name);
      case 'Param':
        return new Compiled(paramFn(node.name), A);
      case 'Current':
        return new Compiled(currentFn, A);
      case 'BareName':
        return new Compiled(bareFn(node.name), A);
      case 'Parent':
        throw this.error("'..' is only allowed as position(..)", node);
      case 'Negate': {
        const f = asNumber(this.compile(node.operand));
        return new Compiled((ctx) => -f(ctx), N);
      }
      case 'Chain': {
        const first = this.compile(node.first);
        const rest = node.rest.map(([op, x]) => [op, this.compile(x)]);
        if (node.level === 0) return logicChain(true, [first, ...rest.map((r) => r[1])]);
        if (node.level === 1) return logicChain(false, [first, ...rest.map((r) => r[1])]);
        if (node.level === 2 || node.level === 3) return compareChain(first, rest);
        return arithChain(first, rest);
      }
      case 'Call': {
        const spec = FUNCTIONS.get(node.name);
        if (spec === undefined) throw this.error(`unknown function ${node.name}()`, node);
        const count = node.args.length;
        if (count < spec.minArgs || (spec.maxArgs !== null && count > spec.maxArgs)) {
          throw this.error(`${node.name}() takes ${spec.arityText()}, got ${count}`, node);
        }
        return spec.build(this, node);
      }
      default:
        throw new Error(`unknown node ${node.type}`);
    }
  }
}

// --------------------------------------------------------------------------- public

/**
 * A compiled expression.
 *
 * Properties: source, tree (syntax tree), references (Set of ${name} names), parameters
 * (Set of ${param:NAME} names), bareNames, usesCurrent (`.`), functions (Set of names
 * called), kind.
 * Functions (plain properties, call them unbound): evaluate(ctx) -> value;
 * evaluateBool(ctx), evaluateNumber(ctx), evaluateString(ctx) -> XPath
 * boolean()/number()/string() of it.
 */
export class CompiledExpression {
  constructor(source, tree, compiled) {
    this.source = source;
    this.tree = tree;
    const refs = new Set();
    const params = new Set();
    const bare = new Set();
    const funcs = new Set();
    let usesCurrent = false;
    for (const x of walk(tree)) {
      if (x.type === 'Ref') refs.add(x.name);
      else if (x.type === 'Param') params.add(x.name);
      else if (x.type === 'BareName') bare.add(x.name);
      else if (x.type === 'Current') usesCurrent = true;
      else if (x.type === 'Call') funcs.add(x.name);
    }
    this.references = refs;
    this.parameters = params;
    this.bareNames = bare;
    this.functions = funcs;
    this.usesCurrent = usesCurrent;
    this.kind = compiled.kind;
    this.evaluate = compiled.fn;
    this.evaluateBool = asBool(compiled);
    this.evaluateNumber = asNumber(compiled);
    this.evaluateString = asString(compiled);
    Object.freeze(this);
  }

  toString() {
    return `CompiledExpression(${JSON.stringify(this.source)})`;
  }
}

const CACHE_SIZE = 4096;
const cache = new Map();

/**
 * Compile `source`; throws ExpressionSyntaxError. Results are cached by source text (a
 * compiled expression is immutable and can be shared).
 */
export function compileExpression(source) {
  if (typeof source !== 'string') throw new ExpressionSyntaxError('expression must be a string', 0);
  let expr = cache.get(source);
  if (expr !== undefined) return expr;
  const tree = parse(source);
  expr = new CompiledExpression(source, tree, new Compiler(source).compile(tree));
  // Start afresh when full: a form holds far fewer expressions, and evicting one key at a
  // time from the front of a Map makes V8 rescan its deleted slots on every insert.
  if (cache.size >= CACHE_SIZE) cache.clear();
  cache.set(source, expr);
  return expr;
}
