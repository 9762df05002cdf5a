"""Typed numbers read the same in Python (the console's corrections) as on the phone: both are
held to forms/typed_numbers.json (tests/js/form_inputs.test.mjs runs the same cases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forms.typed import parse_decimal, parse_integer

CASES = json.loads((Path(__file__).resolve().parents[3] / "forms" / "typed_numbers.json").read_text("utf-8"))


@pytest.mark.parametrize(("text", "value", "error"), CASES["integer"])
def test_integers(text, value, error):
    assert parse_integer(text) == (value, error)


@pytest.mark.parametrize(("text", "value", "error"), CASES["decimal"])
def test_decimals(text, value, error):
    assert parse_decimal(text) == (value, error)
