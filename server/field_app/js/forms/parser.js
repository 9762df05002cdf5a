// Recursive-descent parser with a nesting limit (no stack overflow, linear time)
// (Python: forms/expressions/parser.py).

import { ExpressionSyntaxError, syntaxErrorAt } from './errors.js';
import {
  BareName, Call, Chain, Current, LEVELS, Negate, Number_, Param, Parent, Ref, String_, children,
} from './nodes.js';
import { tokenize } from './tokenizer.js';

export const MAX_DEPTH = 50; // nesting of parentheses, function calls and unary minus
export const MAX_TREE_DEPTH = 120; // depth of the syntax tree (bounds compile and evaluation recursion)

class Parser {
  constructor(source, tokens) {
    this.source = source;
    this.tokens = tokens;
    this.i = 0;
    this.depth = 0;
  }

  error(message, tok) {
    const t = tok || this.tokens[this.i];
    return syntaxErrorAt(message, this.source, t.position);
  }

  describe(tok) {
    if (tok.kind === 'end') return 'end of expression';
    if (tok.kind === 'string') return 'string literal';
    return `'${tok.value}'`;
  }

  parse() {
    const node = this.expression();
    const tok = this.tokens[this.i];
    if (tok.kind !== 'end') {
      throw this.error(`unexpected ${this.describe(tok)}: expected an operator or the end`, tok);
    }
    return node;
  }

  enter(tok) {
    this.depth += 1;
    if (this.depth > MAX_DEPTH) {
      throw this.error(`expression is nested more than ${MAX_DEPTH} levels deep`, tok);
    }
  }

  expression() {
    return this.level(0);
  }

  level(lvl) {
    if (lvl === LEVELS.length) return this.unary();
    const first = this.level(lvl + 1);
    const ops = LEVELS[lvl];
    const rest = [];
    const tokens = this.tokens;
    for (;;) {
      const tok = tokens[this.i];
      if (tok.kind === 'op' && ops.has(tok.value)) {
        this.i += 1;
        rest.push([tok.value, this.level(lvl + 1)]);
      } else {
        break;
      }
    }
    if (rest.length === 0) return first;
    return Chain(lvl, first, rest, first.position);
  }

  unary() {
    const tok = this.tokens[this.i];
    if (tok.kind === 'op' && tok.value === '-') {
      this.i += 1;
      this.enter(tok);
      const operand = this.unary();
      this.depth -= 1;
      return Negate(operand, tok.position);
    }
    return this.primary();
  }

  primary() {
    const tok = this.tokens[this.i];
    const kind = tok.kind;
    this.i += 1;
    switch (kind) {
      case 'number':
        return Number_(Number(tok.value), tok.value, tok.position);
      case 'string':
        return String_(tok.value, tok.position);
      case 'ref':
        return Ref(tok.value, tok.position);
      case 'param':
        return Param(tok.value, tok.position);
      case 'dot':
        return Current(tok.position);
      case 'dotdot':
        return Parent(tok.position);
      case 'name':
        return BareName(tok.value, tok.position);
      case 'lparen': {
        this.enter(tok);
        const node = this.expression();
        this.depth -= 1;
        const close = this.tokens[this.i];
        if (close.kind !== 'rparen') {
          throw this.error(`expected ')' to close the '(' at position ${tok.position}, `
            + `found ${this.describe(close)}`, close);
        }
        this.i += 1;
        return node;
      }
      case 'func': {
        this.enter(tok);
        // The tokenizer only makes a func token when '(' follows.
        this.i += 1;
        const args = [];
        if (this.tokens[this.i].kind === 'rparen') {
          this.i += 1;
        } else {
          for (;;) {
            args.push(this.expression());
            const sep = this.tokens[this.i];
            this.i += 1;
            if (sep.kind === 'rparen') break;
            if (sep.kind !== 'comma') {
              this.i -= 1;
              throw this.error(`expected ',' or ')' in the arguments of ${tok.value}(), `
                + `found ${this.describe(sep)}`, sep);
            }
          }
        }
        this.depth -= 1;
        return Call(tok.value, args, tok.position);
      }
      default:
        break;
    }
    this.i -= 1;
    if (kind === 'end') throw this.error('unexpected end of expression: expected a value', tok);
    if (kind === 'op' && (tok.value === 'and' || tok.value === 'or' || tok.value === 'div' || tok.value === 'mod')) {
      throw this.error(`unexpected operator '${tok.value}': expected a value`, tok);
    }
    throw this.error(`unexpected ${this.describe(tok)}: expected a value`, tok);
  }
}

/**
 * Parse `source` into a syntax tree; throws ExpressionSyntaxError.
 * Only syntax is checked here; function names and arities are checked by compileExpression.
 */
export function parse(source) {
  const tokens = tokenize(source);
  if (tokens[0].kind === 'end') throw new ExpressionSyntaxError('empty expression', 0, source);
  const tree = new Parser(source, tokens).parse();
  checkTreeDepth(tree, source);
  return tree;
}

function checkTreeDepth(tree, source) {
  const stack = [[tree, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop();
    if (depth > MAX_TREE_DEPTH) {
      throw syntaxErrorAt(`expression is nested more than ${MAX_TREE_DEPTH} levels deep`, source, node.position);
    }
    for (const child of children(node)) stack.push([child, depth + 1]);
  }
}
