"""Recursive-descent parser with a nesting limit (no RecursionError, linear time)."""

from __future__ import annotations

from .errors import ExpressionSyntaxError
from .nodes import LEVELS, BareName, Call, Chain, Current, Negate, Node, Number, Param, Parent, Ref, String
from .tokenizer import Token, tokenize

MAX_DEPTH = 50        # nesting of parentheses, function calls and unary minus
MAX_TREE_DEPTH = 120  # depth of the syntax tree (bounds compile and evaluation recursion)


class _Parser:
    __slots__ = ("tokens", "i", "source", "depth")

    def __init__(self, source: str, tokens: list[Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def error(self, message: str, token: Token | None = None) -> ExpressionSyntaxError:
        tok = token or self.tokens[self.i]
        return ExpressionSyntaxError(message, tok.position, self.source)

    def describe(self, tok: Token) -> str:
        if tok.kind == "end":
            return "end of expression"
        if tok.kind == "string":
            return "string literal"
        return repr(tok.value)

    def parse(self) -> Node:
        node = self.expression()
        tok = self.tokens[self.i]
        if tok.kind != "end":
            raise self.error(f"unexpected {self.describe(tok)}: expected an operator or the end", tok)
        return node

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression is nested more than {MAX_DEPTH} levels deep", tok)

    def expression(self) -> Node:
        return self.level(0)

    def level(self, lvl: int) -> Node:
        if lvl == len(LEVELS):
            return self.unary()
        first = self.level(lvl + 1)
        ops = LEVELS[lvl]
        rest: list[tuple[str, Node]] = []
        tokens = self.tokens
        while True:
            tok = tokens[self.i]
            if tok.kind == "op" and tok.value in ops:
                self.i += 1
                rest.append((tok.value, self.level(lvl + 1)))
            else:
                break
        if not rest:
            return first
        return Chain(lvl, first, tuple(rest), getattr(first, "position", 0))

    def unary(self) -> Node:
        tok = self.tokens[self.i]
        if tok.kind == "op" and tok.value == "-":
            self.i += 1
            self.enter(tok)
            operand = self.unary()
            self.depth -= 1
            return Negate(operand, tok.position)
        return self.primary()

    def primary(self) -> Node:
        tok = self.tokens[self.i]
        kind = tok.kind
        self.i += 1
        if kind == "number":
            return Number(float(tok.value), tok.value, tok.position)
        if kind == "string":
            return String(tok.value, tok.position)
        if kind == "ref":
            return Ref(tok.value, tok.position)
        if kind == "param":
            return Param(tok.value, tok.position)
        if kind == "dot":
            return Current(tok.position)
        if kind == "dotdot":
            return Parent(tok.position)
        if kind == "name":
            return BareName(tok.value, tok.position)
        if kind == "lparen":
            self.enter(tok)
            node = self.expression()
            self.depth -= 1
            close = self.tokens[self.i]
            if close.kind != "rparen":
                raise self.error(f"expected ')' to close the '(' at position {tok.position}, "
                                 f"found {self.describe(close)}", close)
            self.i += 1
            return node
        if kind == "func":
            self.enter(tok)
            lparen = self.tokens[self.i]
            assert lparen.kind == "lparen"
            self.i += 1
            args: list[Node] = []
            if self.tokens[self.i].kind == "rparen":
                self.i += 1
            else:
                while True:
                    args.append(self.expression())
                    sep = self.tokens[self.i]
                    self.i += 1
                    if sep.kind == "rparen":
                        break
                    if sep.kind != "comma":
                        self.i -= 1
                        raise self.error(f"expected ',' or ')' in the arguments of {tok.value}(), "
                                         f"found {self.describe(sep)}", sep)
            self.depth -= 1
            return Call(tok.value, tuple(args), tok.position)
        self.i -= 1
        if kind == "end":
            raise self.error("unexpected end of expression: expected a value", tok)
        if kind == "op" and tok.value in ("and", "or", "div", "mod"):
            raise self.error(f"unexpected operator {tok.value!r}: expected a value", tok)
        raise self.error(f"unexpected {self.describe(tok)}: expected a value", tok)


def parse(source: str) -> Node:
    """Parse ``source`` into a syntax tree; raises :class:`ExpressionSyntaxError`.

    Only syntax is checked here; function names and arities are checked by
    :func:`compile_expression`.
    """
    tokens = tokenize(source)
    if tokens[0].kind == "end":
        raise ExpressionSyntaxError("empty expression", 0, source)
    tree = _Parser(source, tokens).parse()
    _check_tree_depth(tree, source)
    return tree


def _check_tree_depth(tree: Node, source: str) -> None:
    stack: list[tuple[Node, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise ExpressionSyntaxError(
                f"expression is nested more than {MAX_TREE_DEPTH} levels deep", node.position, source
            )
        if isinstance(node, Negate):
            stack.append((node.operand, depth + 1))
        elif isinstance(node, Chain):
            stack.append((node.first, depth + 1))
            stack.extend((operand, depth + 1) for _, operand in node.rest)
        elif isinstance(node, Call):
            stack.extend((arg, depth + 1) for arg in node.args)
