"""Numbers as people type them: ``1.500.000`` is a million and a half in Vietnamese, ``12,5``
is twelve and a half. The field app reads typed numbers with the same rules
(``server/field_app/js/form/controls.js``: ``parseInteger``, ``parseDecimal``); both are held to
the cases in ``forms/typed_numbers.json`` (``tests/unit/forms/test_typed.py`` and
``tests/js/form_inputs.test.mjs``), so a supervisor's correction in the console reads ``2,5``
exactly as a phone would (refused as an integer), never as 25.

Each parser returns ``(value, None)`` or ``(None, error code)``; an empty text is ``(None, None)``.
"""

from __future__ import annotations

import re

__all__ = ["parse_decimal", "parse_integer"]

MAX_SAFE_INTEGER = 2**53 - 1  # what a phone's JavaScript holds exactly
# Whole digits, or groups of three after the first (1.500.000, 216 000 000): "2.5" is refused,
# not read as 25.
_INTEGER = re.compile(r"-?([0-9]+|[0-9]{1,3}(\.[0-9]{3})+)")
_DECIMAL = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)")
_SPACES = re.compile(r"[\s\u00a0]+")


def parse_integer(text: str) -> tuple[int | None, str | None]:
    """Dots and spaces separate thousands (in groups of three); anything else is refused."""
    s = _SPACES.sub(".", text.strip())
    if s == "":
        return None, None
    if not _INTEGER.fullmatch(s):
        return None, "integer"
    n = int(s.replace(".", ""))
    if abs(n) > MAX_SAFE_INTEGER:
        return None, "too_large"
    return n, None


def parse_decimal(text: str) -> tuple[float | None, str | None]:
    """A comma or a point before the decimals (the first comma is read as the point)."""
    s = re.sub(r"\s", "", text.strip()).replace(",", ".", 1)
    if s == "":
        return None, None
    if not _DECIMAL.fullmatch(s):
        return None, "decimal"
    return float(s), None
