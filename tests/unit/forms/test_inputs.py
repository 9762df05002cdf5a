import json
from pathlib import Path

import forms
from forms.definition import load_form
from forms.inputs import without_calculations


def test_calculated_values_are_dropped_at_every_level():
    form = load_form({"form_id": "f", "version": "1", "title": "f", "fields": [
        {"name": "n", "type": "integer"},
        {"name": "double", "type": "calculate", "calculation": "${n} * 2"},
        {"name": "people", "type": "repeat", "fields": [
            {"name": "age", "type": "integer"},
            {"name": "adult", "type": "calculate", "calculation": "${age} >= 18"}]}]})
    answers = {"n": 2, "double": 4, "people": [{"age": 30, "adult": True}, {"age": 3, "adult": False}]}
    assert without_calculations(form, answers) == {"n": 2, "people": [{"age": 30}, {"age": 3}]}
    assert answers["double"] == 4  # not mutated


def test_bundled_form_keeps_only_inputs():
    doc = json.loads((Path(forms.__file__).parent / "bundled" / "household-review-2022.json").read_text())
    form = load_form(doc)
    stripped = without_calculations(form, {"floor_area": 40, "deprivation_count": 3, "classification": "poor"})
    assert stripped == {"floor_area": 40}
