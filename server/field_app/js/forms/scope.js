// Repeat scoping: resolve ${name} from a form's field tree, a submission's answers and the
// repeat instance being evaluated (Python: forms/expressions/scope.py). The rules of
// forms/conformance/README.md ("Resolving ${name}").
//
//     const tree = FieldTree.fromForm(form);                 // or FieldTree.infer(answers)
//     const scoped = tree.scope(answers, ['members', 2]);    // inside members[2] (0-based)
//     const ctx = scoped.context({parameters, today, current,
//                                 choiceAttr: new ChoiceAttributes(tree, form.choices).hook});
//     compileExpression('${age} >= 18').evaluate(ctx);
//
// Rules, in short. Groups are transparent (their fields belong to the enclosing scope, and
// their answers sit at that level). The scopes of an evaluation are the root and, for each
// repeat on the repeat path, that repeat (innermost last). ${x} looks at the scopes from
// the innermost outward; in each scope S it looks for declarations of x in S itself and in
// the repeats nested (at any depth) under S. The first scope with any declaration wins:
// * declared directly in S: the value in S's current instance (a scalar); this wins over
//   declarations in repeats nested under S;
// * declared in a repeat R1/R2/…/Rk under S: a Nodeset of the values across all instances
//   of R1 within S's current instance, then all instances of R2 within those, … (document
//   order, flattened);
// * not directly in S but in several repeats under S: an evaluation error (ambiguous);
// * none anywhere: an evaluation error for a declared tree; "" for an inferred one.
// A repeat's own name gives a nodeset with one "" per instance (so count(${members})
// counts instances). Values are typed by field type: integer/decimal as numbers, date as
// DateValue (a malformed date stays a string), select_multiple as an array, a missing
// answer (absent key or null) as "".

import { EvalContext } from './context.js';
import { ExpressionEvaluationError } from './errors.js';
import {
  Nodeset, getOwn, isMapping, parseDate, toString, toValue,
} from './values.js';

class Decl {
  constructor(name, type, scope, choices = null) {
    this.name = name;
    this.type = type;
    this.scope = scope;
    this.choices = choices;
  }
}

class Scope {
  constructor(name, parent) {
    this.name = name; // null for the root; else the repeat's name
    this.parent = parent;
    this.fields = new Map();
    this.repeats = new Map();
  }

  chainFrom(ancestor) {
    const names = [];
    let s = this;
    while (s !== ancestor) {
      names.push(s.name);
      s = s.parent;
    }
    return names.reverse();
  }
}

const PLAIN = 0;
const DATE = 1;
const REPEAT = 2;

function kindOf(decl) {
  if (decl.type === 'repeat') return REPEAT;
  if (decl.type === 'date') return DATE;
  return PLAIN;
}

function isWithin(inner, outer) {
  for (let s = inner; s !== null; s = s.parent) if (s === outer) return true;
  return false;
}

const pathKey = (names) => names.join('\u0000');

/** The scopes and field declarations of a form (or inferred from answers). */
export class FieldTree {
  constructor(fields, { strict = true } = {}) {
    this.strict = strict;
    this.root = new Scope(null, null);
    this.declsByName = new Map();
    this.plans = new Map();
    // Per repeat path: name -> [depth, chain, kind] or null for an unknown name. Filled
    // lazily; read on every lookup.
    this.fastPlans = new Map();
    this.addFields(this.root, fields);
  }

  static fromForm(form) {
    return new FieldTree(getOwn(form, 'fields') || []);
  }

  /**
   * A tree guessed from answers: a non-empty array of objects is a repeat, anything else a
   * field of unknown type; unknown names then resolve to "".
   */
  static infer(answers) {
    return new FieldTree(inferFields([answers]), { strict: false });
  }

  addFields(scope, fields) {
    for (const f of fields) {
      const type = f.type === undefined || f.type === null ? '' : String(f.type);
      const name = f.name;
      if (type === 'group') {
        this.addFields(scope, f.fields || []);
        continue;
      }
      if (typeof name !== 'string') continue;
      const choices = typeof f.choices === 'string' ? f.choices : null;
      const decl = new Decl(name, type, scope, choices);
      scope.fields.set(name, decl);
      if (!this.declsByName.has(name)) this.declsByName.set(name, []);
      this.declsByName.get(name).push(decl);
      if (type === 'repeat') {
        const child = new Scope(name, scope);
        scope.repeats.set(name, child);
        this.addFields(child, f.fields || []);
      }
    }
  }

  // ------------------------------------------------------------------ resolution
  declarations(name) {
    return (this.declsByName.get(name) || []).slice();
  }

  /** The scope chain [root, repeat1, repeat2, …] for the given repeat names. */
  scopeAt(repeatNames) {
    const chain = [this.root];
    for (const r of repeatNames) {
      const last = chain[chain.length - 1];
      const child = last.repeats.get(r);
      if (child === undefined) {
        throw new ExpressionEvaluationError(`'${r}' is not a repeat inside ${last.name || 'the form'}`);
      }
      chain.push(child);
    }
    return chain;
  }

  /** [scope depth, chain of repeat names below it, declaration], or null (unknown). */
  plan(repeatNames, name) {
    const key = `${pathKey(repeatNames)}\u0001${name}`;
    if (this.plans.has(key)) return this.plans.get(key);
    const chain = this.scopeAt(repeatNames);
    const candidates = this.declsByName.get(name) || [];
    let result = null;
    for (let depth = chain.length - 1; depth >= 0; depth--) {
      const scope = chain[depth];
      const found = candidates.filter((d) => isWithin(d.scope, scope));
      if (found.length === 0) continue;
      const direct = found.filter((d) => d.scope === scope);
      if (direct.length === 0 && found.length > 1) {
        throw new ExpressionEvaluationError(
          `\${${name}} is ambiguous: declared in several repeats under ${scope.name || 'the form'}`);
      }
      const decl = (direct.length ? direct : found)[0];
      result = [depth, decl.scope.chainFrom(scope), decl];
      break;
    }
    this.plans.set(key, result);
    return result;
  }

  scope(answers, repeatPath = []) {
    return new ScopedAnswers(this, answers, repeatPath);
  }
}

function inferFields(instances) {
  const fields = new Map();
  const repeatInstances = new Map();
  for (const inst of instances) {
    for (const key of Object.keys(inst)) {
      const value = inst[key];
      if (Array.isArray(value) && value.length
          && value.every((v) => isMapping(v) && !Object.prototype.hasOwnProperty.call(v, '$date'))) {
        if (!repeatInstances.has(key)) repeatInstances.set(key, []);
        repeatInstances.get(key).push(...value);
        fields.set(key, { name: key, type: 'repeat' });
      } else if (!fields.has(key)) {
        fields.set(key, { name: key, type: '' });
      }
    }
  }
  for (const [key, insts] of repeatInstances) fields.get(key).fields = inferFields(insts);
  return [...fields.values()];
}

const DATE_CACHE_SIZE = 4096;
const dateCache = new Map();

function dateAnswer(raw) {
  let v = dateCache.get(raw);
  if (v === undefined) {
    const d = parseDate(raw);
    v = d === null ? raw : d;
    if (dateCache.size >= DATE_CACHE_SIZE) dateCache.clear();
    dateCache.set(raw, v);
  }
  return v;
}

function typed(kind, raw) {
  if (raw === null || raw === undefined) return '';
  if (kind === DATE && typeof raw === 'string') return dateAnswer(raw);
  return raw;
}

function instancesOf(inst, rname) {
  const items = getOwn(inst, rname);
  if (!Array.isArray(items)) return [];
  return items.filter(isMapping);
}

/** A submission's answers seen from one repeat instance (or from the root). */
export class ScopedAnswers {
  constructor(tree, answers, repeatPath = []) {
    if (repeatPath.length % 2) throw new Error('repeat_path must alternate repeat names and 0-based indexes');
    this.tree = tree;
    this.answers = answers;
    const names = [];
    const instances = [answers];
    for (let k = 0; k < repeatPath.length; k += 2) {
      const rname = repeatPath[k];
      const idx = repeatPath[k + 1];
      if (typeof rname !== 'string' || !Number.isInteger(idx)) {
        throw new Error('repeat_path must alternate repeat names and 0-based indexes');
      }
      const items = getOwn(instances[instances.length - 1], rname);
      if (!Array.isArray(items) || !(idx >= 0 && idx < items.length)) {
        throw new Error(`repeat_path: no instance ${rname}[${idx}]`);
      }
      names.push(rname);
      instances.push(items[idx]);
    }
    this.repeatNames = names;
    const key = pathKey(names);
    let fast = tree.fastPlans.get(key);
    if (fast === undefined) {
      tree.scopeAt(names); // validates the names against the tree
      fast = new Map();
      tree.fastPlans.set(key, fast);
    }
    this.fast = fast;
    this.instances = instances;
    this.position = repeatPath.length ? repeatPath[repeatPath.length - 1] + 1 : null;
    this.lookup = this.lookup.bind(this);
  }

  lookup(name) {
    let plan = this.fast.get(name);
    if (plan === undefined) {
      plan = this.makePlan(name);
      this.fast.set(name, plan);
    }
    if (plan === null) {
      if (this.tree.strict) throw new ExpressionEvaluationError(`unknown field \${${name}}`);
      return '';
    }
    const [depth, chain, kind] = plan;
    const inst = this.instances[depth];
    if (chain.length === 0) {
      if (kind === PLAIN) {
        const v = getOwn(inst, name);
        return v === null || v === undefined ? '' : v;
      }
      if (kind === REPEAT) return new Nodeset(instancesOf(inst, name).map(() => ''));
      return typed(kind, getOwn(inst, name));
    }
    let frontier = [inst];
    for (const rname of chain) {
      const next = [];
      for (const f of frontier) next.push(...instancesOf(f, rname));
      frontier = next;
    }
    if (kind === REPEAT) {
      const out = [];
      for (const f of frontier) for (let i = instancesOf(f, name).length; i > 0; i--) out.push('');
      return new Nodeset(out);
    }
    // Members are normalised here once, so the evaluator can use them as they are.
    return new Nodeset(frontier.map((f) => toValue(typed(kind, getOwn(f, name)))));
  }

  makePlan(name) {
    const plan = this.tree.plan(this.repeatNames, name);
    if (plan === null) return null;
    const [depth, chain, decl] = plan;
    return [depth, chain, kindOf(decl)];
  }

  /** An EvalContext reading these answers (position filled in unless given). */
  context(options = {}) {
    return new EvalContext({ position: this.position, ...options, lookup: this.lookup });
  }
}

/**
 * The choiceAttr hook from a form's choice lists (use `.hook`, a bound function).
 *
 * choice-attr(${f}, key, subkey): the choice list of field f (every declaration of f must
 * use the same list), the choice whose `value` equals the value, then choice[key]; when
 * that is an object, [subkey] of it (no subkey: ""); a scalar is returned whatever the
 * subkey. Anything missing gives "".
 */
export class ChoiceAttributes {
  constructor(tree, choices) {
    this.tree = tree;
    this.index = new Map();
    for (const listName of Object.keys(choices || {})) {
      const byValue = new Map();
      for (const c of choices[listName]) byValue.set(toString(toValue(getOwn(c, 'value'))), c);
      this.index.set(listName, byValue);
    }
    this.fieldLists = new Map();
    this.memo = new Map();
    this.hook = this.call.bind(this);
  }

  choicesOf(fieldName) {
    const cached = this.fieldLists.get(fieldName);
    if (cached !== undefined) return cached;
    const lists = new Set(this.tree.declarations(fieldName).map((d) => d.choices));
    if (lists.size === 0) throw new ExpressionEvaluationError(`choice-attr(): unknown field \${${fieldName}}`);
    if (lists.size > 1) {
      throw new ExpressionEvaluationError(`choice-attr(): \${${fieldName}} is declared with different choice lists`);
    }
    const [listName] = lists;
    if (listName === null || !this.index.has(listName)) {
      throw new ExpressionEvaluationError(
        `choice-attr(): \${${fieldName}} is not a select field with a known choice list`);
    }
    const result = this.index.get(listName);
    this.fieldLists.set(fieldName, result);
    return result;
  }

  call(fieldName, value, key, subkey = null) {
    const memoKey = JSON.stringify([fieldName, value, key, subkey]);
    if (this.memo.has(memoKey)) return this.memo.get(memoKey);
    const result = this.attribute(fieldName, value, key, subkey);
    if (this.memo.size > 10000) this.memo.clear(); // keys may include free text (a subkey from an answer)
    this.memo.set(memoKey, result);
    return result;
  }

  attribute(fieldName, value, key, subkey) {
    const choice = this.choicesOf(fieldName).get(value);
    if (choice === undefined) return '';
    const attr = getOwn(choice, key);
    if (isMapping(attr)) {
      if (subkey === null) return '';
      const v = getOwn(attr, subkey);
      return v === undefined ? '' : v;
    }
    return attr === null || attr === undefined ? '' : attr;
  }
}
