// Syntax tree of an expression (what parse() returns); Python: forms/expressions/nodes.py.
//
// Nodes are frozen plain objects tagged by `type`: Number {value, text}, String {value},
// Ref {name} (${name}), Param {name} (${param:NAME}), Current (.), Parent (..), BareName
// {name}, Negate {operand}, Chain {level, first, rest: [[op, node], ...]}, Call {name, args};
// every node has `position` (UTF-16 offset in the source). Chains of operators of one
// precedence level are flattened into one Chain node (`a + b - c` is
// Chain(PLUS_LEVEL, a, [['+', b], ['-', c]])), so a long sum does not make a deep tree.

/** Precedence levels, lowest first. */
export const LEVELS = Object.freeze([
  new Set(['or']),
  new Set(['and']),
  new Set(['=', '!=']),
  new Set(['<', '<=', '>', '>=']),
  new Set(['+', '-']),
  new Set(['*', 'div', 'mod']),
]);

export const OP_LEVEL = new Map();
LEVELS.forEach((ops, i) => ops.forEach((op) => OP_LEVEL.set(op, i)));

const node = (fields) => Object.freeze(fields);

export const Number_ = (value, text, position = 0) => node({ type: 'Number', value, text, position });
export const String_ = (value, position = 0) => node({ type: 'String', value, position });
export const Ref = (name, position = 0) => node({ type: 'Ref', name, position });
export const Param = (name, position = 0) => node({ type: 'Param', name, position });
export const Current = (position = 0) => node({ type: 'Current', position });
export const Parent = (position = 0) => node({ type: 'Parent', position });
export const BareName = (name, position = 0) => node({ type: 'BareName', name, position });
export const Negate = (operand, position = 0) => node({ type: 'Negate', operand, position });
export const Chain = (level, first, rest, position = 0) =>
  node({ type: 'Chain', level, first, rest: Object.freeze(rest.map((r) => Object.freeze(r))), position });
export const Call = (name, args, position = 0) => node({ type: 'Call', name, args: Object.freeze(args), position });

/** The direct children of a node. */
export function children(n) {
  switch (n.type) {
    case 'Negate':
      return [n.operand];
    case 'Chain':
      return [n.first, ...n.rest.map((r) => r[1])];
    case 'Call':
      return n.args;
    default:
      return [];
  }
}

/** All nodes of the tree, iteratively (depth is bounded anyway). */
export function* walk(root) {
  const stack = [root];
  while (stack.length) {
    const n = stack.pop();
    yield n;
    const kids = children(n);
    for (let i = 0; i < kids.length; i++) stack.push(kids[i]);
  }
}
