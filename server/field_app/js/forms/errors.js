// The two exceptions the expression language may raise (Python: forms/expressions/errors.py).

/** Base class of both expression errors (catch this to catch either). */
export class ExpressionError extends Error {}

/**
 * The expression cannot be compiled: bad syntax, unknown function, wrong number of
 * arguments, a literal regex that is refused, or a limit (length, depth, tokens) exceeded.
 *
 * `position` is the 0-based offset in the source where the problem was found, counted in
 * Unicode code points like the Python implementation (not UTF-16 units).
 */
export class ExpressionSyntaxError extends ExpressionError {
  constructor(message, position = 0, source = null) {
    let text = `${message} (at position ${position})`;
    if (source !== null && codePointLength(source) <= 200) {
      text += `\n  ${source}\n  ${' '.repeat(position)}^`;
    }
    super(text);
    this.name = 'ExpressionSyntaxError';
    this.message = message;
    this.position = position;
    this.source = source;
    this.detail = text;
  }

  toString() {
    return this.detail;
  }
}

/**
 * Evaluation could not produce a value: a refused or invalid regex built at run time,
 * `today()` without an injected date, an unknown parameter, a bare name outside a choice
 * filter, `position(..)` outside a repeat, an unknown or ambiguous field in a declared
 * form, or a value of an unsupported type supplied by the caller.
 */
export class ExpressionEvaluationError extends ExpressionError {
  constructor(message) {
    super(message);
    this.name = 'ExpressionEvaluationError';
  }

  toString() {
    return this.message;
  }
}

/** A syntax error at UTF-16 `index` of `source`, reported as a code point position. */
export function syntaxErrorAt(message, source, index) {
  return new ExpressionSyntaxError(message, codePointIndex(source, index), source);
}

/** The number of code points in `s` (Python's len(); lone surrogates count as one). */
export function codePointLength(s) {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** The code point offset of UTF-16 offset `index` in `s`. */
export function codePointIndex(s, index) {
  return codePointLength(s.slice(0, index));
}
