// The regex dialect of regex(): a small subset that JavaScript and Python read alike, with
// catastrophic backtracking ruled out (Python: forms/expressions/regex.py).
//
// Accepted: literal characters; `.`; `^` and `$` (whole input, no multiline); classes
// [...] / [^...] with ranges; escapes \d \D \w \W \s \S \b \B (\S and \b not inside
// classes), \n \r \t, \uXXXX and an escaped punctuation character; groups ( ) and (?: );
// alternation |; quantifiers * + ? {n} {n,} {n,m} (n, m <= 1000), each optionally lazy (?).
//
// Refused (message says why): backreferences, lookaround, named groups, inline flags, other
// escapes, a lone { or }, an empty class [], a [ inside a class, a quantifier with nothing
// to repeat or directly after another quantifier, and a *repeating* quantifier (* + {n,}
// {n,m} with m > 1) applied to a group that itself contains a quantifier or an alternation,
// e.g. (a+)+, (a*)*, (a|aa)+: the nested-quantifier shapes that make backtracking
// exponential. Patterns are at most 500 characters.
//
// Semantics: regex(s, p) is true when p matches *somewhere* in s (RegExp.test; anchor with
// ^…$ for a whole match). \d is [0-9], \w is [A-Za-z0-9_], \s is JavaScript's whitespace
// set, `.` is any character except the line terminators \n \r \u2028 \u2029;
// case-sensitive. The translation runs with the `u` flag, so that the pattern and the
// subject are read as code points like Python's `re` reads them.

export const MAX_PATTERN_LENGTH = 500;
export const MAX_REPEAT = 1000;

/** The pattern is outside the accepted dialect (or would risk catastrophic backtracking). */
export class RegexRefused extends Error {
  constructor(message) {
    super(message);
    this.name = 'RegexRefused';
  }
}

const JS_SPACE = '\\t\\n\\x0b\\x0c\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
const DOT = '[^\\n\\r\\u2028\\u2029]';
const PUNCT = new Set('\\^$.|?*+()[]{}/-,:=!<>#&~\'"@%;`');
const HEX = /^[0-9a-fA-F]{4}$/;
const DIGIT = /^\p{Nd}$/u; // Python: str.isdigit(), only for the message
const QUANT_RE = /\{([0-9]+)(,([0-9]*))?\}/y;
// Characters that must be escaped to stand for themselves in a `u`-mode pattern.
const SYNTAX = new Set('^$\\.*+?()[]{}|/');

class Group {
  constructor() {
    this.hasQuantifier = false;
    this.hasAlternation = false;
  }
}

/** The `u`-mode source for the literal character c (outside or inside a class). */
function literal(c, inClass) {
  if (SYNTAX.has(c)) return `\\${c}`;
  if (c === '-' && inClass) return '\\-';
  return c;
}

/** The next whole code point of `pattern` at UTF-16 index i. */
function charAt(pattern, i) {
  return String.fromCodePoint(pattern.codePointAt(i));
}

/** Check `pattern` against the dialect and return the equivalent JavaScript (`u`) pattern. */
export function translate(pattern) {
  if (pattern.length > MAX_PATTERN_LENGTH && [...pattern].length > MAX_PATTERN_LENGTH) {
    throw new RegexRefused(`regex is longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  const out = [];
  const stack = [new Group()];
  // What the next quantifier would apply to: null (nothing), 'atom', 'quantified', or a
  // closed Group.
  let last = null;
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const c = charAt(pattern, i);
    if (c === '\\') {
      const [text, next, isAssertion] = escape(pattern, i, false);
      out.push(text);
      i = next;
      last = isAssertion ? null : 'atom';
      continue;
    }
    if (c === '[') {
      const [text, next] = charClass(pattern, i);
      out.push(text);
      i = next;
      last = 'atom';
      continue;
    }
    if (c === '(') {
      if (pattern.startsWith('(?:', i)) {
        out.push('(?:');
        i += 3;
      } else if (pattern.startsWith('(?', i)) {
        throw new RegexRefused('only plain groups ( ) and (?: ) are supported in a regex '
          + '(no lookaround, named groups or flags)');
      } else {
        out.push('(');
        i += 1;
      }
      stack.push(new Group());
      last = null;
      continue;
    }
    if (c === ')') {
      if (stack.length === 1) throw new RegexRefused("unbalanced ')' in regex");
      const group = stack.pop();
      const parent = stack[stack.length - 1];
      if (group.hasQuantifier) parent.hasQuantifier = true;
      if (group.hasAlternation) parent.hasAlternation = true;
      out.push(')');
      i += 1;
      last = group;
      continue;
    }
    if (c === '|') {
      stack[stack.length - 1].hasAlternation = true;
      out.push('|');
      i += 1;
      last = null;
      continue;
    }
    if (c === '*' || c === '+' || c === '?' || c === '{') {
      let low;
      let high;
      let text;
      if (c === '{') {
        QUANT_RE.lastIndex = i;
        const m = QUANT_RE.exec(pattern);
        if (m === null) {
          throw new RegexRefused("a '{' in a regex must start a quantifier {n}, {n,} or {n,m}; "
            + 'write \\{ for the character');
        }
        low = Number(m[1]);
        high = m[2] === undefined ? low : (m[3] ? Number(m[3]) : null);
        if (low > MAX_REPEAT || (high !== null && high > MAX_REPEAT)) {
          throw new RegexRefused(`regex repeat counts are limited to ${MAX_REPEAT}`);
        }
        if (high !== null && high < low) throw new RegexRefused('regex quantifier {n,m} needs n <= m');
        text = m[0];
        i += m[0].length;
      } else {
        if (c === '*') [low, high] = [0, null];
        else if (c === '+') [low, high] = [1, null];
        else [low, high] = [0, 1];
        text = c;
        i += 1;
      }
      if (last === null) throw new RegexRefused('regex quantifier with nothing to repeat');
      if (last === 'quantified') throw new RegexRefused('regex quantifier directly after another quantifier');
      const repeating = high === null || high > 1;
      if (last instanceof Group && repeating && (last.hasQuantifier || last.hasAlternation)) {
        throw new RegexRefused('nested quantifier in regex (a repeated group that contains a '
          + "quantifier or '|', like (a+)+): refused, it can take exponential time");
      }
      if (i < n && pattern[i] === '?') {
        text += '?';
        i += 1;
      }
      stack[stack.length - 1].hasQuantifier = true;
      out.push(text);
      last = 'quantified';
      continue;
    }
    if (c === '}') throw new RegexRefused("a lone '}' in a regex: write \\} for the character");
    if (c === '.') out.push(DOT);
    else if (c === '$' || c === '^') out.push(c); // no `m` flag: whole input, like Python's \Z and ^
    else out.push(literal(c, false));
    i += c.length;
    last = c === '^' || c === '$' ? null : 'atom';
  }
  if (stack.length !== 1) throw new RegexRefused("unbalanced '(' in regex");
  return out.join('');
}

function escape(pattern, i, inClass) {
  if (i + 1 >= pattern.length) throw new RegexRefused('regex ends with a lone backslash');
  const e = charAt(pattern, i + 1);
  if (e === 'd' || e === 'D' || e === 'w' || e === 'W') return [`\\${e}`, i + 2, false];
  if (e === 's') return [inClass ? JS_SPACE : `[${JS_SPACE}]`, i + 2, false];
  if (e === 'S') {
    if (inClass) throw new RegexRefused('\\S is not supported inside a regex character class');
    return [`[^${JS_SPACE}]`, i + 2, false];
  }
  if (e === 'b' || e === 'B') {
    if (inClass) throw new RegexRefused('\\b is not supported inside a regex character class');
    // Python's re (before 3.14) never matches \B in an empty string; JavaScript does.
    return [e === 'B' ? '(?:(?!^$)\\B)' : '\\b', i + 2, true];
  }
  if (e === 'n' || e === 'r' || e === 't') return [`\\${e}`, i + 2, false];
  if (e === 'u') {
    const code = pattern.slice(i + 2, i + 6);
    if (!HEX.test(code)) throw new RegexRefused('regex escape \\u needs four hex digits');
    // \u{…} never pairs surrogates, so a surrogate escape stays one lone code point as in Python.
    return [`\\u{${code}}`, i + 6, false];
  }
  if (PUNCT.has(e) || e === ' ') return [literal(e, inClass), i + 2, false];
  if (DIGIT.test(e)) throw new RegexRefused('backreferences (\\1 …) are not supported in a regex');
  throw new RegexRefused(`unsupported escape \\${e} in regex`);
}

function charClass(pattern, i) {
  const n = pattern.length;
  const out = ['['];
  i += 1;
  if (i < n && pattern[i] === '^') {
    out.push('^');
    i += 1;
  }
  if (i < n && pattern[i] === ']') {
    throw new RegexRefused('empty regex character class []: write \\] for the character');
  }
  let prev = '';
  for (;;) {
    if (i >= n) throw new RegexRefused("unterminated regex character class '['");
    const c = charAt(pattern, i);
    if (c === ']') {
      out.push(']');
      return [out.join(''), i + 1];
    }
    if (c === '\\') {
      const [text, next] = escape(pattern, i, true);
      out.push(text);
      i = next;
      prev = '';
      continue;
    }
    if (c === '[') throw new RegexRefused("'[' inside a regex character class: write \\[");
    if (c === '-' && prev === '-') throw new RegexRefused("'--' inside a regex character class: write \\-");
    // A plain character means itself in a `u`-mode class, and '-' makes a range as in Python.
    out.push(c);
    prev = c;
    i += c.length;
  }
}

const CACHE_SIZE = 512;
const cache = new Map();

/** The compiled RegExp; throws RegexRefused. Cached. */
export function compileRegex(pattern) {
  let rx = cache.get(pattern);
  if (rx !== undefined) return rx;
  const source = translate(pattern);
  try {
    rx = new RegExp(source, 'u');
  } catch (exc) { // e.g. a bad range [z-a]
    throw new RegexRefused(`invalid regex: ${exc.message}`);
  }
  if (cache.size >= CACHE_SIZE) cache.clear(); // see compileExpression
  cache.set(pattern, rx);
  return rx;
}
