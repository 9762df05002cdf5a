"""How the submission page writes an answer: amounts grouped the Vietnamese way, a year whole."""

from __future__ import annotations

import flask
import pytest

from server.console.answers import display


@pytest.mark.parametrize(("value", "lang", "shown"), [
    (1986, "vi", "1986"),  # a birth year, never 1.986
    (30, "vi", "30"),
    (3_000_000, "vi", "3.000.000"),
    (3_000_000, "en", "3,000,000"),
    (12.5, "vi", "12,50"),
    (None, "vi", "—"),
])
def test_numbers_are_grouped_only_when_they_are_amounts(value, lang, shown):
    with flask.Flask(__name__).test_request_context(f"/?lang={lang}"):
        assert display(None, None, value, lang) == shown  # type: ignore[arg-type]
