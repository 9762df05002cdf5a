// What an evaluation reads: EvalContext (Python: forms/expressions/context.py).

function noAnswers() {
  return '';
}

const EMPTY = Object.freeze({});

/**
 * Everything an expression may read. All fields are optional:
 *
 * lookup(name) -> value
 *     Value of ${name}, with repeat scoping already applied by the caller: inside a repeat
 *     instance the sibling's value; from outside, a Nodeset of the values across instances
 *     (flattened through nested repeats). Return raw answer values: number / string /
 *     boolean / DateValue / null or undefined (missing = empty), an array of strings for a
 *     select_multiple answer (it reads as the space-separated string, and choice-attr sees
 *     each value), a geopoint object, or a Nodeset. scope.js's ScopedAnswers implements
 *     this from a form's field tree and a submission's answers. Default: every name is empty.
 * parameters
 *     Plain object of ${param:NAME} values (own properties only); a missing name is an
 *     evaluation error.
 * current
 *     Value of `.` (the answer being validated), raw like a lookup result.
 * choice
 *     The choice being filtered ({value, label, extra keys}) for bare names in a
 *     choice_filter; bare `name` and `value` both read choice.value, a missing key is empty.
 *     null (default): bare names are an evaluation error.
 * today
 *     The DateValue today() returns (injected; evaluation never reads the clock).
 *     null: today() is an evaluation error.
 * position
 *     1-based index of the innermost current repeat instance, for position(..).
 *     null: position(..) is an evaluation error.
 * choiceAttr(fieldName, value, key, subkey) -> value
 *     Hook for choice-attr(): the extra key `key` of the choice `value` of the select field
 *     `fieldName` ([subkey] of it when it is an object). Return null or "" when absent.
 *     scope.js's ChoiceAttributes implements it from a form's choice lists.
 */
export class EvalContext {
  constructor({
    lookup = noAnswers,
    parameters = EMPTY,
    current = '',
    choice = null,
    today = null,
    position = null,
    choiceAttr = null,
  } = {}) {
    this.lookup = lookup;
    this.parameters = parameters;
    this.current = current;
    this.choice = choice;
    this.today = today;
    this.position = position;
    this.choiceAttr = choiceAttr;
  }

  /** A context whose ${name} reads answers[name] (flat; no repeat scoping). */
  static fromMapping(answers, options = {}) {
    const hasOwn = Object.prototype.hasOwnProperty;
    return new EvalContext({
      ...options,
      lookup: (name) => (hasOwn.call(answers, name) ? answers[name] : ''),
    });
  }
}
