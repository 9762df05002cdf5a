// The form engine on the phone: the JavaScript twin of forms/answers.py (evaluate_submission)
// over a definition compiled once (forms/definition.py's load-time work that evaluation needs).
//
// What the enumerator sees must be what the supervisor gets, so this follows the Python
// evaluator step by step and in the same order:
//   1. shape: answers read per scope (types, choice membership, unknown keys, read-only),
//   2. values: relevance and calculations in the form's dependency order (Kahn's algorithm,
//      document order among the ready ones), irrelevant answers dropped before anything reads
//      them,
//   3. checks: required, constraints, choice filters and repeat counts on the final values,
//   4. output: dates back to ISO text, the `outputs` slots resolved.
// Errors come out in the same order with the same paths and codes; messages are the form's own
// (required_message / constraint_message, with `messages` per language) or the same English
// fallbacks. tests/js/form_engine.test.mjs checks all of it against Python on every bundled case.
//
// Expressions are compiled by the shared evaluator in ../forms/ (which passes the conformance
// cases); a form served by the API has already been validated by load_form, so compileForm
// does not re-check what the server refused at upload.

import {
  ChoiceAttributes, DateValue, EvalContext, ExpressionEvaluationError, FieldTree, Nodeset,
  compileExpression, parseDate,
} from '../forms/index.js';
import { AnswerTypeError, CHECKERS, isEmpty } from './answer_types.js';

export const MAX_REPEAT_INSTANCES = 1000;
export const INPUT_TYPES = new Set(Object.keys(CHECKERS));

// What an answer key means in its scope (forms/answers.py _kind).
export const INPUT = 0;
export const COMPUTED = 1;
export const READ_ONLY = 2;
export const NOTE = 3;
export const REPEAT = 4;
export const GROUP = 5;

const EXPRESSION_KEYS = ['relevant', 'required', 'constraint', 'calculation', 'choice_filter', 'repeat_count'];
const hasOwn = (o, k) => o !== null && o !== undefined && Object.prototype.hasOwnProperty.call(o, k);

/** The text of a label-like value in `language` (else `fallback`, else any): definition.text_in. */
export function textIn(label, language, fallback = null) {
  if (label === null || label === undefined || typeof label === 'string') return label ?? null;
  for (const lang of [language, fallback]) {
    if (lang !== null && lang !== undefined && hasOwn(label, lang)) return label[lang];
  }
  const keys = Object.keys(label);
  return keys.length ? label[keys[0]] : null;
}

class Field {
  constructor(spec, path, parent, scope) {
    this.spec = spec;
    this.name = spec.name;
    this.type = spec.type;
    this.path = path; // in the document: fields/3/fields/0
    this.parent = parent;
    this.scope = scope;
    this.label = spec.label ?? null;
    this.hint = spec.hint ?? null;
    this.appearance = spec.appearance ?? null;
    this.choices = typeof spec.choices === 'string' ? spec.choices : null;
    this.readOnly = spec.read_only === true;
    this.default = hasOwn(spec, 'default') ? spec.default : null;
    this.requiredMessage = spec.required_message ?? null;
    this.constraintMessage = spec.constraint_message ?? null;
    this.relevant = null;
    this.requiredExpr = null;
    this.required = false;
    this.constraint = null;
    this.calculation = null;
    this.choiceFilter = null;
    this.repeatCount = null;
    this.fields = [];
    const prefix = scope.path.join('/');
    this.answerPath = prefix ? `${prefix}/${this.name}` : this.name;
  }

  get computed() {
    return this.type === 'calculate' || (this.readOnly && this.calculation !== null);
  }

  get hasValue() {
    return INPUT_TYPES.has(this.type) || this.type === 'calculate';
  }

  get kind() {
    if (this.kindCache !== undefined) return this.kindCache;
    if (this.type === 'repeat') return REPEAT;
    if (this.type === 'group') return GROUP;
    if (this.type === 'note') return NOTE;
    if (this.computed) return COMPUTED;
    if (this.readOnly) return READ_ONLY;
    return INPUT;
  }
}

class Scope {
  constructor(repeat, parent) {
    this.repeat = repeat;
    this.parent = parent;
    this.depth = parent === null ? 0 : parent.depth + 1;
    this.path = parent === null ? [] : [...parent.path, repeat.name];
    this.fields = new Map(); // name -> Field (groups are transparent)
    this.children = [];
    this.refs = new Map(); // name -> {up, down, kind} for names that are not a sibling's value
    // Plan (forms/answers.py _ScopePlan):
    this.id = -1;
    this.checks = [];
    this.repeatChecks = [];
    this.dateNames = [];
    this.imageNames = [];
    this.computedNames = [];
  }
}

function compileKey(field, key) {
  const source = field.spec[key];
  if (key === 'required' && typeof source === 'boolean') {
    field.required = source;
    return;
  }
  if (typeof source !== 'string') return;
  const compiled = compileExpression(source);
  if (key === 'required') {
    field.requiredExpr = compiled;
    field.required = true;
  } else if (key === 'choice_filter') field.choiceFilter = compiled;
  else if (key === 'repeat_count') field.repeatCount = compiled;
  else field[key] = compiled;
}

/** Binary heap of [position, field] for Kahn's algorithm (Python's heapq). */
class Heap {
  constructor() { this.items = []; }
  get size() { return this.items.length; }
  push(item) {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p][0] <= a[i][0]) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }
  pop() {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l][0] < a[m][0]) m = l;
        if (r < a.length && a[r][0] < a[m][0]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * A definition compiled once: fields, scopes, resolved references, the evaluation order and
 * the per-scope checks. Cached per definition object.
 */
export class CompiledForm {
  constructor(definition) {
    this.definition = definition;
    this.formId = definition.form_id;
    this.version = definition.version;
    this.parameters = { ...(definition.parameters || {}) };
    this.outputs = definition.outputs || {};
    this.reasons = definition.reasons || null;
    this.languages = definition.languages || [];
    this.defaultLanguage = definition.default_language || this.languages[0] || 'vi';
    this.choices = {};
    this.choiceIndex = {};
    for (const [name, list] of Object.entries(definition.choices || {})) {
      this.choices[name] = list;
      const index = new Map();
      for (const c of list) index.set(c.value, c);
      this.choiceIndex[name] = index;
    }
    this.root = new Scope(null, null);
    this.allFields = [];
    this.byAnswerPath = new Map();
    this.fields = this.loadFields(definition.fields || [], 'fields', this.root, null);
    this.tree = FieldTree.fromForm(definition);
    this.choiceAttr = new ChoiceAttributes(this.tree, definition.choices || {}).hook;
    this.resolve();
    this.order();
    this.plan();
  }

  loadFields(items, path, scope, parent) {
    const out = [];
    items.forEach((spec, i) => {
      const fpath = `${path}/${i}`;
      const f = new Field(spec, fpath, parent, scope);
      for (const key of EXPRESSION_KEYS) if (hasOwn(spec, key)) compileKey(f, key);
      if (!scope.fields.has(f.name)) scope.fields.set(f.name, f);
      this.allFields.push(f);
      this.byAnswerPath.set(f.answerPath, f);
      if ((f.type === 'group' || f.type === 'repeat') && Array.isArray(spec.fields)) {
        let child = scope;
        if (f.type === 'repeat') {
          child = new Scope(f, scope);
          scope.children.push(child);
          f.childScope = child;
        }
        f.fields = this.loadFields(spec.fields, `${fpath}/fields`, child, f);
      }
      out.push(f);
    });
    return out;
  }

  /** The field at `members/age` (repeat names, no indexes; groups skipped). */
  fieldAt(answerPath) {
    return this.byAnswerPath.get(answerPath) || null;
  }

  // ${name} as seen from each scope (definition.py _resolve_uncached), and the dependencies.
  resolve() {
    this.deps = new Map(this.allFields.map((f) => [f, new Set()]));
    for (const f of this.allFields) {
      if (f.parent !== null) this.deps.get(f).add(f.parent);
      for (const key of EXPRESSION_KEYS) {
        const expr = key === 'required' ? f.requiredExpr
          : key === 'choice_filter' ? f.choiceFilter : key === 'repeat_count' ? f.repeatCount : f[key];
        if (!expr || typeof expr !== 'object') continue;
        for (const name of [...expr.references].sort()) {
          const ref = this.reference(f.scope, name);
          if (ref === null) continue;
          if (key === 'relevant' || key === 'calculation' || key === 'repeat_count') this.deps.get(f).add(ref.field);
        }
      }
    }
  }

  reference(scope, name) {
    if (scope.refs.has(name)) return scope.refs.get(name);
    let ref = null;
    let plan;
    try {
      plan = this.tree.plan(scope.path, name);
    } catch (exc) {
      if (!(exc instanceof ExpressionEvaluationError)) throw exc;
      plan = null;
    }
    if (plan !== null) {
      const [depth, chain] = plan;
      const up = scope.depth - depth;
      let target = scope;
      for (let i = 0; i < up; i++) target = target.parent;
      for (const rname of chain) target = target.children.find((c) => c.repeat.name === rname);
      const field = target.fields.get(name);
      const kind = field.type === 'repeat' ? 'instances' : chain.length ? 'values' : 'value';
      ref = { name, field, up, down: chain, kind };
    }
    scope.refs.set(name, ref);
    return ref;
  }

  // The evaluation order: Kahn's algorithm with document order among the ready fields.
  order() {
    const fields = this.allFields; // already in document order
    const position = new Map(fields.map((f, i) => [f, i]));
    const dependents = new Map(fields.map((f) => [f, []]));
    const remaining = new Map();
    for (const f of fields) {
      const ds = [...this.deps.get(f)].filter((d) => d !== f);
      remaining.set(f, ds.length);
      for (const d of ds) dependents.get(d).push(f);
    }
    const ready = new Heap();
    for (const f of fields) if (remaining.get(f) === 0) ready.push([position.get(f), f]);
    const order = [];
    while (ready.size) {
      const [, f] = ready.pop();
      if (this.deps.get(f).has(f)) continue;
      order.push(f);
      for (const g of dependents.get(f)) {
        remaining.set(g, remaining.get(g) - 1);
        if (remaining.get(g) === 0) ready.push([position.get(g), g]);
      }
    }
    this.evaluationOrder = order;
  }

  // Per-scope checks and the nodes evaluated in order (forms/answers.py build_plan).
  plan() {
    this.scopes = [];
    const planScope = (scope) => {
      scope.id = this.scopes.length;
      this.scopes.push(scope);
      for (const [name, f] of scope.fields) {
        const kind = f.kind;
        f.kindCache = kind; // read for every answer of every evaluation
        f.choiceIndexMap = f.choices ? this.choiceIndex[f.choices] || null : null;
        if (kind === INPUT && (f.required || f.constraint !== null || f.choiceFilter !== null)) scope.checks.push(f);
        if (kind === REPEAT && f.repeatCount !== null) scope.repeatChecks.push(f);
        if (f.type === 'date') scope.dateNames.push(name);
        else if (f.type === 'image') scope.imageNames.push(name);
        if (kind === COMPUTED) scope.computedNames.push(name);
      }
      const order = new Map(this.allFields.map((f, i) => [f, i]));
      scope.checks.sort((a, b) => order.get(a) - order.get(b));
      for (const child of scope.children) planScope(child);
    };
    planScope(this.root);
    const mayBeIrrelevant = new Set();
    this.nodes = [];
    for (const f of this.evaluationOrder) {
      const parent = f.parent;
      const inherit = parent !== null && parent.type === 'group' && mayBeIrrelevant.has(parent);
      if (f.relevant !== null || inherit) mayBeIrrelevant.add(f);
      const kind = f.kind;
      if (f.relevant === null && !inherit && kind !== COMPUTED) continue;
      this.nodes.push({ field: f, name: f.name, sid: f.scope.id, kind, inherit });
    }
    this.mayBeIrrelevant = mayBeIrrelevant;
  }

  hasComputed(scope) {
    return scope.computedNames.length > 0 || scope.children.some((c) => this.hasComputed(c));
  }
}

const compiledForms = new WeakMap();

/** The compiled form of a definition (compiled once per definition object). */
export function compileForm(definition) {
  let compiled = compiledForms.get(definition);
  if (compiled === undefined) {
    compiled = new CompiledForm(definition);
    compiledForms.set(definition, compiled);
  }
  return compiled;
}

// --------------------------------------------------------------------------- one evaluation

/** One repeat instance (or the root) during an evaluation. */
export class Instance {
  constructor(parent, path, scope) {
    this.values = Object.create(null);
    this.parent = parent;
    this.repeats = Object.create(null);
    this.path = path; // "" or "members/2"
    this.scope = scope;
    this.irrelevant = new Set();
    this.ctx = null;
    this.dead = false;
  }

  at(name) {
    return this.path ? `${this.path}/${name}` : name;
  }
}

function lookupFor(inst, refs) {
  const values = inst.values;
  return (name) => {
    const ref = refs.get(name);
    if (ref === undefined || ref === null || (ref.kind === 'value' && ref.up === 0)) return values[name];
    let i = inst;
    for (let k = 0; k < ref.up; k++) i = i.parent;
    if (ref.kind === 'value') return i.values[name];
    let level = [i];
    for (const rname of ref.down) {
      const next = [];
      for (const p of level) { const rs = p.repeats[rname]; if (rs) next.push(...rs); }
      level = next;
    }
    if (ref.kind === 'instances') {
      const out = [];
      for (const p of level) for (let n = (p.repeats[name] || []).length; n > 0; n--) out.push('');
      return new Nodeset(out);
    }
    return new Nodeset(level.map((p) => p.values[name] ?? ''));
  };
}

/** An expression's result as an answer value (forms/answers.py _stored). */
export function stored(v) {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return null;
    return v === 0 ? 0 : v;
  }
  if (typeof v === 'string') return v === '' ? null : v;
  if (v instanceof Nodeset) return v.items.length ? stored(v.items[0]) : null;
  return v === undefined ? null : v;
}

function message(form, msg, fallback) {
  if (msg === null || msg === undefined) return [fallback, null];
  if (typeof msg === 'string') return [msg, null];
  return [textIn(msg, form.defaultLanguage), { ...msg }];
}

const q = (name) => `'${name}'`;

class Run {
  constructor(form, params, today) {
    this.form = form;
    this.errors = [];
    this.instances = form.scopes.map(() => []);
    this.params = params;
    this.today = today;
  }

  error(path, code, msg, messages = null) {
    const e = { path, code, message: msg };
    if (messages) e.messages = messages;
    this.errors.push(e);
  }

  // ---- 1. shape
  read(raw, scope, inst, position) {
    inst.ctx = new EvalContext({
      lookup: lookupFor(inst, scope.refs), parameters: this.params, today: this.today,
      position, choiceAttr: this.form.choiceAttr,
    });
    this.instances[scope.id].push(inst);
    const values = inst.values;
    for (const key of Object.keys(raw)) {
      let value = raw[key];
      const f = scope.fields.get(key);
      if (f === undefined) {
        this.error(inst.at(key), 'unknown_field', `${q(key)} is not a field of this form here`);
        continue;
      }
      const kind = f.kind;
      if (kind === INPUT) {
        if (value === null || value === undefined) continue;
        try {
          value = CHECKERS[f.type](value);
        } catch (exc) {
          if (!(exc instanceof AnswerTypeError)) throw exc;
          this.error(inst.at(key), exc.code, exc.message);
          continue;
        }
        if (f.choiceIndexMap && !this.inList(f, value, inst, key)) continue;
        if (f.type === 'date') value = parseDate(value);
        values[key] = value;
      } else if (kind === COMPUTED) {
        continue; // recomputed here, as the server does
      } else if (kind === REPEAT) {
        this.readRepeat(key, value, f.childScope, inst);
      } else if (kind === GROUP) {
        this.error(inst.at(key), 'unknown_field',
          `${q(key)} is a group; its fields' answers sit beside it, not inside it`);
      } else if (value !== null && value !== undefined) {
        const what = kind === NOTE ? 'a note' : 'read-only';
        this.error(inst.at(key), 'read_only', `${q(key)} is ${what} and must not be answered`);
      }
    }
  }

  inList(f, value, inst, key) {
    const index = f.choiceIndexMap;
    const bad = Array.isArray(value) ? value.filter((v) => !index.has(v)) : (index.has(value) ? [] : [value]);
    if (bad.length) {
      this.error(inst.at(key), 'invalid_choice',
        `${bad.slice(0, 5).map(q).join(', ')} not in choice list ${q(f.choices)}`);
      return false;
    }
    return true;
  }

  readRepeat(key, value, child, inst) {
    const path = inst.at(key);
    if (value === null || value === undefined) return;
    if (!Array.isArray(value)) {
      this.error(path, 'invalid_type', "a repeat's answer is a list of objects, one per instance");
      return;
    }
    if (value.length > MAX_REPEAT_INSTANCES) {
      this.error(path, 'too_many', `more than ${MAX_REPEAT_INSTANCES} instances`);
      return;
    }
    const out = [];
    value.forEach((item, i) => {
      const ipath = `${path}/${i}`;
      if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        this.error(ipath, 'invalid_type', 'a repeat instance is an object');
        return;
      }
      const sub = new Instance(inst, ipath, child);
      this.read(item, child, sub, out.length + 1);
      out.push(sub);
    });
    inst.repeats[key] = out;
  }

  // ---- 2. values
  compute() {
    for (const node of this.form.nodes) {
      const { name, kind, field } = node;
      const parentName = node.inherit ? field.parent.name : null;
      for (const inst of this.instances[node.sid]) {
        if (inst.dead) continue;
        let relevant = true;
        if (parentName !== null && inst.irrelevant.has(parentName)) relevant = false;
        else if (field.relevant !== null) {
          try {
            relevant = field.relevant.evaluateBool(inst.ctx);
          } catch (exc) {
            if (!(exc instanceof ExpressionEvaluationError)) throw exc;
            this.error(inst.at(name), 'evaluation_error', `relevant of ${q(name)}: ${exc.message}`);
            relevant = true;
          }
        }
        if (!relevant) this.notRelevant(inst, node);
        else if (kind === COMPUTED) {
          try {
            inst.values[name] = stored(field.calculation.evaluate(inst.ctx));
          } catch (exc) {
            if (!(exc instanceof ExpressionEvaluationError)) throw exc;
            this.error(inst.at(name), 'evaluation_error', `calculation of ${q(name)}: ${exc.message}`);
            inst.values[name] = null;
          }
        }
      }
    }
  }

  notRelevant(inst, node) {
    const { name, kind } = node;
    inst.irrelevant.add(name);
    if (kind === INPUT) {
      if (name in inst.values) {
        delete inst.values[name];
        this.error(inst.at(name), 'not_relevant', `${q(name)} is not relevant here and must not be answered`);
      }
    } else if (kind === COMPUTED) {
      inst.values[name] = null;
    } else if (kind === REPEAT) {
      const dropped = inst.repeats[name];
      delete inst.repeats[name];
      if (dropped && dropped.length) {
        this.error(inst.at(name), 'not_relevant', `repeat ${q(name)} is not relevant here and must have no instances`);
        const stack = [...dropped];
        while (stack.length) {
          const d = stack.pop();
          d.dead = true;
          for (const lst of Object.values(d.repeats)) stack.push(...lst);
        }
      }
    }
  }

  // ---- 3. checks
  check() {
    const form = this.form;
    for (const scope of form.scopes) {
      if (!scope.checks.length && !scope.repeatChecks.length) continue;
      for (const inst of this.instances[scope.id]) {
        if (inst.dead) continue;
        const ctx = inst.ctx;
        for (const f of scope.checks) {
          const name = f.name;
          if (inst.irrelevant.has(name)) continue;
          const value = inst.values[name];
          if (isEmpty(value)) {
            if (f.required && this.isRequired(f, inst)) {
              const [msg, msgs] = message(form, f.requiredMessage, `${q(name)} is required`);
              this.error(inst.at(name), 'required', msg, msgs);
            }
            continue;
          }
          if (f.choiceFilter !== null) this.filterChoices(f, inst, value);
          if (f.constraint !== null) {
            ctx.current = value;
            let ok;
            try {
              ok = f.constraint.evaluateBool(ctx);
            } catch (exc) {
              if (!(exc instanceof ExpressionEvaluationError)) throw exc;
              this.error(inst.at(name), 'evaluation_error', `constraint of ${q(name)}: ${exc.message}`);
              ok = true;
            }
            ctx.current = '';
            if (!ok) {
              const fallback = `${q(name)} does not satisfy its constraint: ${f.spec.constraint}`;
              const [msg, msgs] = message(form, f.constraintMessage, fallback);
              this.error(inst.at(name), 'constraint', msg, msgs);
            }
          }
        }
        for (const f of scope.repeatChecks) if (!inst.irrelevant.has(f.name)) this.checkRepeatCount(f, inst);
      }
    }
  }

  isRequired(f, inst) {
    if (f.requiredExpr === null) return true;
    try {
      return f.requiredExpr.evaluateBool(inst.ctx);
    } catch (exc) {
      if (!(exc instanceof ExpressionEvaluationError)) throw exc;
      this.error(inst.at(f.name), 'evaluation_error', `required of ${q(f.name)}: ${exc.message}`);
      return false;
    }
  }

  filterChoices(f, inst, value) {
    const index = f.choiceIndexMap;
    const ctx = inst.ctx;
    const rejected = [];
    try {
      for (const v of Array.isArray(value) ? value : [value]) {
        ctx.choice = index.get(v);
        if (!f.choiceFilter.evaluateBool(ctx)) rejected.push(v);
      }
    } catch (exc) {
      if (!(exc instanceof ExpressionEvaluationError)) throw exc;
      this.error(inst.at(f.name), 'evaluation_error', `choice_filter of ${q(f.name)}: ${exc.message}`);
    } finally {
      ctx.choice = null;
    }
    if (rejected.length) {
      this.error(inst.at(f.name), 'invalid_choice',
        `${rejected.slice(0, 5).map(q).join(', ')} not offered here (choice_filter of ${q(f.name)})`);
    }
  }

  checkRepeatCount(f, inst) {
    let n;
    try {
      n = f.repeatCount.evaluateNumber(inst.ctx);
    } catch (exc) {
      if (!(exc instanceof ExpressionEvaluationError)) throw exc;
      this.error(inst.at(f.name), 'evaluation_error', `repeat_count of ${q(f.name)}: ${exc.message}`);
      return;
    }
    if (!Number.isFinite(n)) return; // an empty count cannot be enforced
    const expected = Math.max(0, Math.trunc(n));
    const actual = (inst.repeats[f.name] || []).length;
    if (actual !== expected) {
      this.error(inst.at(f.name), 'repeat_count',
        `repeat ${q(f.name)} has ${actual} instance(s); its repeat_count says ${expected}`);
    }
  }

  // ---- 4. output
  // Builds the JSON answers beside the instance tree instead of converting it in place
  // (Python converts in place: nothing reads its values afterwards; the renderer still
  // evaluates choice filters on the tree, where a date must stay a date).
  finish(scope, inst, computed, attachments) {
    const values = inst.values;
    const out = plainObject(values);
    for (const name of scope.dateNames) {
      const v = values[name];
      if (v instanceof DateValue) out[name] = v.iso;
    }
    for (const name of scope.computedNames) {
      let v = values[name];
      if (v instanceof DateValue) { v = v.iso; out[name] = v; }
      computed[name] = v === undefined ? null : v;
    }
    for (const name of scope.imageNames) {
      const v = values[name];
      if (v !== null && v !== undefined) attachments.add(v.slice(7));
    }
    for (const child of scope.children) {
      const name = child.repeat.name;
      const has = this.form.hasComputed(child);
      if (name in inst.repeats) {
        const rows = [];
        const computedRows = [];
        for (const sub of inst.repeats[name]) {
          const c = {};
          rows.push(this.finish(child, sub, c, attachments));
          computedRows.push(c);
        }
        out[name] = rows;
        if (has) computed[name] = computedRows;
      } else if (has) computed[name] = [];
    }
    return out;
  }
}

function plainObject(values) {
  const out = {};
  for (const k of Object.keys(values)) out[k] = values[k] === undefined ? null : values[k];
  return out;
}

function resolveOutputs(outputs, values) {
  const out = {};
  for (const [slot, target] of Object.entries(outputs)) {
    if (target !== null && typeof target === 'object') {
      const inner = {};
      for (const [k, v] of Object.entries(target)) inner[k] = values[v] ?? null;
      out[slot] = inner;
    } else out[slot] = values[target] ?? null;
  }
  return out;
}

/** today() as a DateValue: a DateValue, an ISO date, or a JS Date read in Vietnam time. */
export function toToday(today) {
  if (today === null || today === undefined) today = new Date();
  if (today instanceof DateValue) return today;
  if (typeof today === 'string') return parseDate(today);
  // Vietnam has no daylight saving: UTC+7 all year.
  const vn = new Date(today.getTime() + 7 * 3600 * 1000);
  return DateValue.fromYMD(vn.getUTCFullYear(), vn.getUTCMonth() + 1, vn.getUTCDate());
}

/**
 * Validate `answers` against the compiled form and compute its calculations
 * (forms/answers.py evaluate_submission). Returns
 * {answers, computed, outputs, errors, attachments, root, instances}: `answers` is what the
 * server would store (irrelevant answers dropped, calculations the engine's own), `root` the
 * instance tree the renderer reads relevance and values from.
 */
export function runForm(form, answers, { parameters = null, today = null } = {}) {
  const params = parameters ? { ...form.parameters, ...parameters } : form.parameters;
  const run = new Run(form, params, toToday(today));
  const root = new Instance(null, '', form.root);
  if (answers === null || typeof answers !== 'object' || Array.isArray(answers)) {
    run.error('', 'invalid_answers', 'answers are a JSON object field name -> answer');
    answers = {};
  }
  run.read(answers, form.root, root, null);
  run.compute();
  run.check();
  const computed = {};
  const attachments = new Set();
  const values = run.finish(form.root, root, computed, attachments);
  return {
    answers: values,
    computed,
    outputs: resolveOutputs(form.outputs, values),
    errors: run.errors,
    attachments: [...attachments],
    root,
    params,
  };
}
