"""forms.quality.sources: the fields the quality flags read, from the form's outputs, else the
documented fallbacks (the bundled forms predate the slots and their bytes never change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forms.definition import FormDefinitionError, load_form
from forms.quality import sources

BUNDLED = sorted((Path(__file__).resolve().parents[3] / "forms" / "bundled").glob("*.json"))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_the_bundled_forms_are_read_through_the_fallbacks(path):
    assert sources(load_form(json.loads(path.read_text(encoding="utf-8")))) == {
        "location": "location", "head_id_number": "head_cccd", "roster": "members",
        "head_birth_year": "members[relation=head]/birth_year", "member_count": "member_count",
        "head_name": "head_name"}


def form(fields, outputs=None) -> dict:
    return {"form_id": "f", "version": "1", "title": "t", "fields": fields, **({"outputs": outputs} if outputs else {})}


def test_declared_slots_win_and_a_missing_field_switches_its_rule_off():
    doc = form([{"name": "gps", "type": "geopoint", "label": "g"},
                {"name": "location", "type": "geopoint", "label": "l"},
                {"name": "people", "type": "repeat", "label": "p", "fields": [{"name": "yob", "type": "integer",
                                                                               "label": "y"}]},
                {"name": "count", "type": "integer", "label": "c"},
                {"name": "head_yob", "type": "integer", "label": "h"}],
               {"location": "gps", "roster": "people", "member_count": "count", "head_birth_year": "head_yob"})
    assert sources(load_form(doc)) == {"location": "gps", "roster": "people", "member_count": "count",
                                       "head_birth_year": "head_yob"}
    # a field of the fallback's name but not its type is no fallback
    assert sources(load_form(form([{"name": "location", "type": "text", "label": "l"},
                                   {"name": "members", "type": "integer", "label": "m"}]))) == {}


def test_the_roster_slot_names_a_repeat_and_the_others_a_value():
    fields = [{"name": "people", "type": "repeat", "label": "p", "fields": [{"name": "x", "type": "text",
                                                                            "label": "x"}]},
              {"name": "n", "type": "integer", "label": "n"}]
    with pytest.raises(FormDefinitionError, match="not a repeat"):
        load_form(form(fields, {"roster": "n"}))
    with pytest.raises(FormDefinitionError, match="repeat"):
        load_form(form(fields, {"location": "people"}))
