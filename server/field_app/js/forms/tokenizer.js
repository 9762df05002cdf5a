// Tokenizer: source text -> array of tokens {kind, value, position}
// (Python: forms/expressions/tokenizer.py).
//
// Token kinds: number string ref param dot dotdot name func op lparen rparen comma end.
// * `and or div mod` are operators only where an operator is expected (after an operand),
//   otherwise they are bare names (XPath's disambiguation rule), so a choice key may be
//   called `mod`.
// * A name followed by `(` is a function name and may then contain `-` and `:`
//   (`count-selected`); elsewhere a name is [A-Za-z_][A-Za-z0-9_]*.
// Positions are UTF-16 offsets; errors report them as code point offsets.

import { ExpressionSyntaxError, codePointLength, syntaxErrorAt } from './errors.js';

export const MAX_SOURCE_LENGTH = 4000;
export const MAX_TOKENS = 1000;

export const NAME_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
const FUNC_RE = /[A-Za-z_][A-Za-z0-9_]*(?:[-:][A-Za-z_][A-Za-z0-9_]*)*(?=[ \t\r\n]*\()/y;
const NUMBER_RE = /[0-9]+(?:\.[0-9]*)?|\.[0-9]+/y;
const REF_RE = /\$\{(?:(param):)?([A-Za-z_][A-Za-z0-9_]*)\}/y;
const ALNUM_OR_NUMBER_TAIL = /[\p{L}\p{N}_.]/u; // Python: str.isalnum() or in "_."
const WORD_OPS = new Set(['and', 'or', 'div', 'mod']);
const SYMBOL_OPS = ['!=', '<=', '>=', '=', '<', '>', '+', '-', '*'];
const OPERAND_END = new Set(['number', 'string', 'ref', 'param', 'dot', 'dotdot', 'name', 'rparen']);

const isAsciiDigit = (c) => c >= '0' && c <= '9';
const isAsciiLetter = (c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

function matchAt(re, source, i) {
  re.lastIndex = i;
  return re.exec(source);
}

function token(kind, value, position) {
  return { kind, value, position };
}

export function tokenize(source) {
  if (typeof source !== 'string') {
    throw new ExpressionSyntaxError('expression must be a string', 0);
  }
  if (source.length > MAX_SOURCE_LENGTH && codePointLength(source) > MAX_SOURCE_LENGTH) {
    throw new ExpressionSyntaxError(
      `expression is longer than ${MAX_SOURCE_LENGTH} characters`, MAX_SOURCE_LENGTH);
  }
  const tokens = [];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i += 1;
      continue;
    }
    if (tokens.length >= MAX_TOKENS) {
      throw syntaxErrorAt(`expression has more than ${MAX_TOKENS} tokens`, source, i);
    }
    const afterOperand = tokens.length > 0 && OPERAND_END.has(tokens[tokens.length - 1].kind);
    if (isAsciiDigit(c) || (c === '.' && i + 1 < n && isAsciiDigit(source[i + 1]))) {
      const m = matchAt(NUMBER_RE, source, i);
      const start = i;
      tokens.push(token('number', m[0], i));
      i += m[0].length;
      if (i < n && ALNUM_OR_NUMBER_TAIL.test(String.fromCodePoint(source.codePointAt(i)))) {
        throw syntaxErrorAt(`malformed number ${JSON.stringify(source.slice(start, i + 1))}`, source, start);
      }
      continue;
    }
    if (c === "'" || c === '"') {
      const end = source.indexOf(c, i + 1);
      if (end < 0) throw syntaxErrorAt('unterminated string literal', source, i);
      tokens.push(token('string', source.slice(i + 1, end), i));
      i = end + 1;
      continue;
    }
    if (c === '$') {
      const m = matchAt(REF_RE, source, i);
      if (m === null) {
        throw syntaxErrorAt('malformed reference: expected ${name} or ${param:NAME}', source, i);
      }
      tokens.push(token(m[1] ? 'param' : 'ref', m[2], i));
      i += m[0].length;
      continue;
    }
    if (c === '.') {
      if (source.startsWith('..', i)) {
        tokens.push(token('dotdot', '..', i));
        i += 2;
      } else {
        tokens.push(token('dot', '.', i));
        i += 1;
      }
      continue;
    }
    if (c === '(') {
      tokens.push(token('lparen', c, i));
      i += 1;
      continue;
    }
    if (c === ')') {
      tokens.push(token('rparen', c, i));
      i += 1;
      continue;
    }
    if (c === ',') {
      tokens.push(token('comma', c, i));
      i += 1;
      continue;
    }
    if (isAsciiLetter(c) || c === '_') {
      const word = matchAt(NAME_RE, source, i)[0];
      if (afterOperand && WORD_OPS.has(word)) {
        tokens.push(token('op', word, i));
        i += word.length;
        continue;
      }
      const f = matchAt(FUNC_RE, source, i);
      if (f !== null) {
        tokens.push(token('func', f[0], i));
        i += f[0].length;
        continue;
      }
      tokens.push(token('name', word, i));
      i += word.length;
      continue;
    }
    let op = null;
    for (const candidate of SYMBOL_OPS) {
      if (source.startsWith(candidate, i)) {
        op = candidate;
        break;
      }
    }
    if (op !== null) {
      tokens.push(token('op', op, i));
      i += op.length;
      continue;
    }
    if (c === '!') {
      throw syntaxErrorAt("unexpected '!': did you mean '!=' or not()?", source, i);
    }
    throw syntaxErrorAt(`unexpected character ${JSON.stringify(String.fromCodePoint(source.codePointAt(i)))}`, source, i);
  }
  tokens.push(token('end', '', n));
  return tokens;
}
