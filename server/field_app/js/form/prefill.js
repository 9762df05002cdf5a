// Prefill from last year's household record (forms/prefill.py on the server decides which
// answers travel: ID numbers stay there). The phone lays what it received under the draft:
//
// - only answers this form version can take: an answerable input of the same name in the same
//   scope whose value fits the field's type and choice list (last year's form may differ);
//   calculated values are never copied, they are recomputed;
// - only where the draft has no key at all. A field the enumerator cleared is kept in the
//   draft as null, so reopening the draft never brings last year's answer back;
// - a roster comes over whole (each member with its instance key, so the server's merge
//   matches members across years) when the draft has no roster yet.

import { CHECKERS } from './answer_types.js';
import { INPUT, REPEAT } from './engine.js';

function fits(field, value) {
  try {
    const v = CHECKERS[field.type](value);
    if (field.choiceIndexMap) {
      const values = Array.isArray(v) ? v : [v];
      if (!values.every((x) => field.choiceIndexMap.has(x))) return undefined;
    }
    return v;
  } catch (e) {
    return undefined;
  }
}

function fromScope(scope, source) {
  const out = {};
  if (source === null || typeof source !== 'object' || Array.isArray(source)) return out;
  for (const [name, value] of Object.entries(source)) {
    const field = scope.fields.get(name);
    if (!field || value === null || value === undefined) continue;
    if (field.kind === INPUT) {
      const v = fits(field, value);
      if (v !== undefined) out[name] = v;
    } else if (field.kind === REPEAT && Array.isArray(value)) {
      out[name] = value.filter((x) => x && typeof x === 'object' && !Array.isArray(x))
        .map((item) => fromScope(field.childScope, item));
    }
  }
  return out;
}

/** Last year's answers this form can take (prefill: the pulled household, or its answers). */
export function prefillAnswers(form, prefill) {
  if (!prefill || typeof prefill !== 'object') return {};
  const source = prefill.answers && typeof prefill.answers === 'object' ? prefill.answers : prefill;
  return fromScope(form.root, source);
}

/**
 * The draft with last year's answers laid under it: [answers, paths prefilled]. `answers` is
 * not modified.
 */
export function applyPrefill(form, answers, prefill) {
  const from = prefillAnswers(form, prefill);
  const out = { ...answers };
  const filled = new Set();
  for (const [name, value] of Object.entries(from)) {
    if (Object.prototype.hasOwnProperty.call(out, name)) continue;
    out[name] = value;
    filled.add(name);
  }
  return [out, filled];
}
