"""Whose form it is, read from its form_id (forms/namespace.py)."""

from __future__ import annotations

import pytest

from forms.namespace import province_of_form, province_prefix


@pytest.mark.parametrize(("form_id", "province"), [
    ("p79-ho-kinh-doanh", "79"),
    ("p01-x", "01"),
    ("p01-", "01"),
    ("p01_x", None),            # the prefix ends with a hyphen
    ("p1-x", None),             # two digits, as province codes are
    ("p012-x", None),
    ("pa1-x", None),
    ("79-ho-kinh-doanh", None),  # an area code is not a form namespace
    ("household-review", None),
    ("phieu-p79-x", None),      # only at the start
    ("p٧٩-x", None),            # ASCII digits only
])
def test_province_of_form(form_id, province):
    assert province_of_form(form_id) == province


def test_prefix_round_trips():
    assert province_prefix("79") == "p79-"
    assert province_of_form(province_prefix("79") + "phieu") == "79"
