"""Tokenizer: source text -> list of :class:`Token`.

Token kinds: ``number string ref param dot dotdot name func op lparen rparen comma end``.

* ``and or div mod`` are operators only where an operator is expected (after an operand),
  otherwise they are bare names (XPath's disambiguation rule), so a choice key may be
  called ``mod``.
* A name followed by ``(`` is a function name and may then contain ``-`` and ``:``
  (``count-selected``); elsewhere a name is ``[A-Za-z_][A-Za-z0-9_]*``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .errors import ExpressionSyntaxError

MAX_SOURCE_LENGTH = 4000
MAX_TOKENS = 1000

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FUNC_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[-:][A-Za-z_][A-Za-z0-9_]*)*(?=[ \t\r\n]*\()")
_NUMBER_RE = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_REF_RE = re.compile(r"\$\{(?:(param):)?([A-Za-z_][A-Za-z0-9_]*)\}")
_WORD_OPS = frozenset({"and", "or", "div", "mod"})
_SYMBOL_OPS = ("!=", "<=", ">=", "=", "<", ">", "+", "-", "*")
_OPERAND_END = frozenset({"number", "string", "ref", "param", "dot", "dotdot", "name", "rparen"})


class Token(NamedTuple):
    kind: str
    value: str
    position: int


def tokenize(source: str) -> list[Token]:
    if not isinstance(source, str):
        raise ExpressionSyntaxError("expression must be a string", 0)
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionSyntaxError(
            f"expression is longer than {MAX_SOURCE_LENGTH} characters", MAX_SOURCE_LENGTH
        )
    tokens: list[Token] = []
    append = tokens.append
    i = 0
    n = len(source)
    while i < n:
        c = source[i]
        if c in " \t\r\n":
            i += 1
            continue
        if len(tokens) >= MAX_TOKENS:
            raise ExpressionSyntaxError(f"expression has more than {MAX_TOKENS} tokens", i, source)
        after_operand = bool(tokens) and tokens[-1].kind in _OPERAND_END
        if c.isdigit() and c.isascii() or (c == "." and i + 1 < n and source[i + 1].isdigit() and source[i + 1].isascii()):
            m = _NUMBER_RE.match(source, i)
            assert m is not None
            append(Token("number", m.group(), i))
            i = m.end()
            if i < n and (source[i].isalnum() or source[i] in "_."):
                raise ExpressionSyntaxError(f"malformed number {source[m.start():i + 1]!r}", m.start(), source)
            continue
        if c == "'" or c == '"':
            end = source.find(c, i + 1)
            if end < 0:
                raise ExpressionSyntaxError("unterminated string literal", i, source)
            append(Token("string", source[i + 1:end], i))
            i = end + 1
            continue
        if c == "$":
            m = _REF_RE.match(source, i)
            if m is None:
                raise ExpressionSyntaxError(
                    "malformed reference: expected ${name} or ${param:NAME}", i, source
                )
            append(Token("param" if m.group(1) else "ref", m.group(2), i))
            i = m.end()
            continue
        if c == ".":
            if source.startswith("..", i):
                append(Token("dotdot", "..", i))
                i += 2
            else:
                append(Token("dot", ".", i))
                i += 1
            continue
        if c == "(":
            append(Token("lparen", c, i))
            i += 1
            continue
        if c == ")":
            append(Token("rparen", c, i))
            i += 1
            continue
        if c == ",":
            append(Token("comma", c, i))
            i += 1
            continue
        if c.isascii() and (c.isalpha() or c == "_"):
            m = NAME_RE.match(source, i)
            assert m is not None
            word = m.group()
            if after_operand and word in _WORD_OPS:
                append(Token("op", word, i))
                i = m.end()
                continue
            f = _FUNC_RE.match(source, i)
            if f is not None:
                append(Token("func", f.group(), i))
                i = f.end()
                continue
            append(Token("name", word, i))
            i = m.end()
            continue
        for op in _SYMBOL_OPS:
            if source.startswith(op, i):
                append(Token("op", op, i))
                i += len(op)
                break
        else:
            if c == "!":
                raise ExpressionSyntaxError("unexpected '!': did you mean '!=' or not()?", i, source)
            raise ExpressionSyntaxError(f"unexpected character {c!r}", i, source)
    append(Token("end", "", n))
    return tokens
