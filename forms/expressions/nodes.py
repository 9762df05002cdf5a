"""Syntax tree of an expression (what :func:`parse` returns). Immutable dataclasses.

Chains of operators of one precedence level are flattened into one :class:`Chain` node
(``a + b - c`` is ``Chain(PLUS_LEVEL, a, (('+', b), ('-', c)))``), so a long sum does not
make a deep tree.
"""

from __future__ import annotations

from dataclasses import dataclass

# Precedence levels, lowest first.
LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"or"}),
    frozenset({"and"}),
    frozenset({"=", "!="}),
    frozenset({"<", "<=", ">", ">="}),
    frozenset({"+", "-"}),
    frozenset({"*", "div", "mod"}),
)
OP_LEVEL = {op: i for i, ops in enumerate(LEVELS) for op in ops}


@dataclass(frozen=True, slots=True)
class Number:
    value: float
    text: str
    position: int = 0


@dataclass(frozen=True, slots=True)
class String:
    value: str
    position: int = 0


@dataclass(frozen=True, slots=True)
class Ref:
    """``${name}``"""
    name: str
    position: int = 0


@dataclass(frozen=True, slots=True)
class Param:
    """``${param:NAME}``"""
    name: str
    position: int = 0


@dataclass(frozen=True, slots=True)
class Current:
    """``.``"""
    position: int = 0


@dataclass(frozen=True, slots=True)
class Parent:
    """``..`` (only as the argument of ``position()``)"""
    position: int = 0


@dataclass(frozen=True, slots=True)
class BareName:
    """A bare identifier: a key of the choice being filtered."""
    name: str
    position: int = 0


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Node
    position: int = 0


@dataclass(frozen=True, slots=True)
class Chain:
    level: int
    first: Node
    rest: tuple[tuple[str, Node], ...]
    position: int = 0


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]
    position: int = 0


Node = Number | String | Ref | Param | Current | Parent | BareName | Negate | Chain | Call


def walk(node: Node):
    """All nodes of the tree, iteratively (depth is bounded anyway)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, Negate):
            stack.append(n.operand)
        elif isinstance(n, Chain):
            stack.append(n.first)
            stack.extend(operand for _, operand in n.rest)
        elif isinstance(n, Call):
            stack.extend(n.args)
