"""The regex dialect of ``regex()``: a small subset that JavaScript and Python read alike,
with catastrophic backtracking ruled out.

Accepted: literal characters; ``.``; ``^`` and ``$`` (whole input, no multiline);
classes ``[...]`` / ``[^...]`` with ranges; escapes ``\\d \\D \\w \\W \\s \\S \\b \\B``
(``\\S`` and ``\\b`` not inside classes), ``\\n \\r \\t``, ``\\uXXXX`` and an escaped
punctuation character; groups ``( )`` and ``(?: )``; alternation ``|``; quantifiers
``* + ? {n} {n,} {n,m}`` (n, m <= 1000), each optionally lazy (``?``).

Refused (message says why): backreferences, lookaround, named groups, inline flags, other
escapes, a lone ``{`` or ``}``, an empty class ``[]``, a ``[`` inside a class, a quantifier
with nothing to repeat or directly after another quantifier, and a *repeating* quantifier
(``* + {n,} {n,m}`` with m > 1) applied to a group that itself contains a quantifier or an
alternation, e.g. ``(a+)+``, ``(a*)*``, ``(a|aa)+``: the nested-quantifier shapes that make
backtracking exponential. Patterns are at most 500 characters.

Semantics: ``regex(s, p)`` is true when ``p`` matches *somewhere* in ``s`` (JavaScript
``RegExp.test``; anchor with ``^…$`` for a whole match). ``\\d`` is ``[0-9]``, ``\\w`` is
``[A-Za-z0-9_]``, ``\\s`` is JavaScript's whitespace set, ``.`` is any character except
the line terminators ``\\n \\r \\u2028 \\u2029``; case-sensitive.
"""

from __future__ import annotations

import functools
import re

MAX_PATTERN_LENGTH = 500
MAX_REPEAT = 1000

_JS_SPACE = "\\t\\n\\x0b\\x0c\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_DOT = "[^\\n\\r\\u2028\\u2029]"
_PUNCT = set("\\^$.|?*+()[]{}/-,:=!<>#&~'\"@%;`")
_HEX = set("0123456789abcdefABCDEF")
_QUANT_RE = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")


class RegexRefused(ValueError):
    """The pattern is outside the accepted dialect (or would risk catastrophic backtracking)."""


class _Group:
    __slots__ = ("has_quantifier", "has_alternation")

    def __init__(self) -> None:
        self.has_quantifier = False
        self.has_alternation = False


def translate(pattern: str) -> str:
    """Check ``pattern`` against the dialect and return the equivalent Python pattern."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RegexRefused(f"regex is longer than {MAX_PATTERN_LENGTH} characters")
    out: list[str] = []
    stack: list[_Group] = [_Group()]
    # What the next quantifier would apply to: None (nothing), "atom", "quantified",
    # or a closed _Group.
    last: object = None
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            text, i, is_assertion = _escape(pattern, i, in_class=False)
            out.append(text)
            last = None if is_assertion else "atom"
            continue
        if c == "[":
            text, i = _char_class(pattern, i)
            out.append(text)
            last = "atom"
            continue
        if c == "(":
            if pattern.startswith("(?:", i):
                out.append("(?:")
                i += 3
            elif pattern.startswith("(?", i):
                raise RegexRefused("only plain groups ( ) and (?: ) are supported in a regex "
                                   "(no lookaround, named groups or flags)")
            else:
                out.append("(")
                i += 1
            stack.append(_Group())
            last = None
            continue
        if c == ")":
            if len(stack) == 1:
                raise RegexRefused("unbalanced ')' in regex")
            group = stack.pop()
            if group.has_quantifier:
                stack[-1].has_quantifier = True
            if group.has_alternation:
                stack[-1].has_alternation = True
            out.append(")")
            i += 1
            last = group
            continue
        if c == "|":
            stack[-1].has_alternation = True
            out.append("|")
            i += 1
            last = None
            continue
        if c in "*+?{":
            if c == "{":
                m = _QUANT_RE.match(pattern, i)
                if m is None:
                    raise RegexRefused("a '{' in a regex must start a quantifier {n}, {n,} or {n,m}; "
                                       "write \\{ for the character")
                low = int(m.group(1))
                high = low if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
                if low > MAX_REPEAT or (high is not None and high > MAX_REPEAT):
                    raise RegexRefused(f"regex repeat counts are limited to {MAX_REPEAT}")
                if high is not None and high < low:
                    raise RegexRefused("regex quantifier {n,m} needs n <= m")
                text = m.group()
                i = m.end()
            else:
                low, high = (0, None) if c == "*" else (1, None) if c == "+" else (0, 1)
                text = c
                i += 1
            if last is None:
                raise RegexRefused("regex quantifier with nothing to repeat")
            if last == "quantified":
                raise RegexRefused("regex quantifier directly after another quantifier")
            repeating = high is None or high > 1
            if isinstance(last, _Group) and repeating and (last.has_quantifier or last.has_alternation):
                raise RegexRefused("nested quantifier in regex (a repeated group that contains a "
                                   "quantifier or '|', like (a+)+): refused, it can take exponential time")
            if i < n and pattern[i] == "?":
                text += "?"
                i += 1
            stack[-1].has_quantifier = True
            out.append(text)
            last = "quantified"
            continue
        if c == "}":
            raise RegexRefused("a lone '}' in a regex: write \\} for the character")
        if c == ".":
            out.append(_DOT)
        elif c == "$":
            out.append("\\Z")
        elif c == "^":
            out.append("^")
        else:
            out.append(re.escape(c))
        i += 1
        last = None if c in "^$" else "atom"
    if len(stack) != 1:
        raise RegexRefused("unbalanced '(' in regex")
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int, bool]:
    if i + 1 >= len(pattern):
        raise RegexRefused("regex ends with a lone backslash")
    e = pattern[i + 1]
    if e in "dDwW":
        return "\\" + e, i + 2, False
    if e == "s":
        return (_JS_SPACE if in_class else f"[{_JS_SPACE}]"), i + 2, False
    if e == "S":
        if in_class:
            raise RegexRefused("\\S is not supported inside a regex character class")
        return f"[^{_JS_SPACE}]", i + 2, False
    if e in "bB":
        if in_class:
            raise RegexRefused("\\b is not supported inside a regex character class")
        return "\\" + e, i + 2, True
    if e in "nrt":
        return "\\" + e, i + 2, False
    if e == "u":
        code = pattern[i + 2:i + 6]
        if len(code) != 4 or not set(code) <= _HEX:
            raise RegexRefused("regex escape \\u needs four hex digits")
        return "\\u" + code, i + 6, False
    if e in _PUNCT or e == " ":
        return re.escape(e), i + 2, False
    if e.isdigit():
        raise RegexRefused("backreferences (\\1 …) are not supported in a regex")
    raise RegexRefused(f"unsupported escape \\{e} in regex")


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    n = len(pattern)
    out = ["["]
    i += 1
    if i < n and pattern[i] == "^":
        out.append("^")
        i += 1
    if i < n and pattern[i] == "]":
        raise RegexRefused("empty regex character class []: write \\] for the character")
    prev = ""
    while True:
        if i >= n:
            raise RegexRefused("unterminated regex character class '['")
        c = pattern[i]
        if c == "]":
            out.append("]")
            return "".join(out), i + 1
        if c == "\\":
            text, i, _ = _escape(pattern, i, in_class=True)
            out.append(text)
            prev = ""
            continue
        if c == "[":
            raise RegexRefused("'[' inside a regex character class: write \\[")
        if c == "-" and prev == "-":
            raise RegexRefused("'--' inside a regex character class: write \\-")
        out.append("\\" + c if c in "&~|" else c)
        prev = c
        i += 1


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """The compiled Python pattern; raises :class:`RegexRefused`. Cached."""
    python_pattern = translate(pattern)
    try:
        return re.compile(python_pattern, re.ASCII)
    except re.error as exc:  # e.g. a bad range [z-a]
        raise RegexRefused(f"invalid regex: {exc.msg}") from None
