"""Syntax tree -> canonical source text (``unparse(parse(s))`` means the same as ``s``)."""

from __future__ import annotations

from . import nodes as n
from .values import number_to_string


def unparse(node: n.Node) -> str:
    if isinstance(node, n.Number):
        return number_to_string(node.value)
    if isinstance(node, n.String):
        if "'" in node.value:
            if '"' in node.value:
                raise ValueError("a string literal cannot hold both quote characters")
            return f'"{node.value}"'
        return f"'{node.value}'"
    if isinstance(node, n.Ref):
        return f"${{{node.name}}}"
    if isinstance(node, n.Param):
        return f"${{param:{node.name}}}"
    if isinstance(node, n.Current):
        return "."
    if isinstance(node, n.Parent):
        return ".."
    if isinstance(node, n.BareName):
        return node.name
    if isinstance(node, n.Negate):
        inner = unparse(node.operand)
        if isinstance(node.operand, n.Chain):
            inner = f"({inner})"
        return f"-{inner}"
    if isinstance(node, n.Chain):
        parts = [_operand(node.first, node.level)]
        for op, operand in node.rest:
            parts.append(op)
            parts.append(_operand(operand, node.level))
        return " ".join(parts)
    if isinstance(node, n.Call):
        return f"{node.name}({', '.join(unparse(a) for a in node.args)})"
    raise TypeError(f"not a syntax tree node: {node!r}")


def _operand(node: n.Node, level: int) -> str:
    text = unparse(node)
    if isinstance(node, n.Chain) and node.level <= level:
        return f"({text})"
    return text
