"""The answers an enumerator gave, without the values a form calculates from them.

Merging two visits compares what people answered; calculated values (deprivation flags,
classification) follow from the answers and are recomputed after a merge, never merged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forms.definition import FormDefinition


def _calculated_names(form: FormDefinition) -> dict[str, set[str]]:
    """Scope (repeat answer path, '' for the top) -> names of its calculate fields."""
    out: dict[str, set[str]] = {}
    for field in form.iter_fields():
        if field.type == "calculate":
            scope, _, name = field.answer_path.rpartition("/")
            out.setdefault(scope, set()).add(name)
    return out


def without_calculations(form: FormDefinition, answers: Mapping[str, Any]) -> dict[str, Any]:
    names = _calculated_names(form)
    repeats = {f.answer_path for f in form.iter_fields() if f.type == "repeat"}

    def strip(scope: str, values: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in values.items():
            if key in names.get(scope, ()):
                continue
            path = f"{scope}/{key}" if scope else key
            if path in repeats and isinstance(value, list):
                value = [strip(path, item) if isinstance(item, Mapping) else item for item in value]
            out[key] = value
        return out

    return strip("", answers)
