"""Which answers of a form the quality flags read (``sync.quality``).

A form names them in its ``outputs`` (docs/forms.md, Outputs): ``location`` (a geopoint),
``head_id_number``, ``head_birth_year``, ``roster`` (a top-level repeat), ``member_count`` and
``head_name``. The bundled household-review forms were published before the first four slots
existed, and a published form's bytes never change, so a slot the form does not declare falls
back to a documented field name when the form has that field with a fitting type:

=================  ============================================================================
slot               fallback
=================  ============================================================================
location           top-level geopoint ``location``
head_id_number     top-level text ``head_cccd``
roster             top-level repeat ``members``
head_birth_year    the roster's member whose ``relation`` is ``head``: its integer ``birth_year``
=================  ============================================================================

A slot with neither switches its rule off (a form without a location raises no ``gps_missing``).
"""

from __future__ import annotations

from forms.definition import FormDefinition

SLOTS = ("location", "head_id_number", "head_birth_year", "roster", "member_count", "head_name")
_FALLBACKS = {"location": ("location", ("geopoint",)), "head_id_number": ("head_cccd", ("text",)),
              "roster": ("members", ("repeat",))}


def sources(definition: FormDefinition) -> dict[str, str]:
    """Slot -> the field the quality rules read (``sync.quality``'s source syntax)."""
    found = {slot: definition.outputs[slot] for slot in SLOTS if slot in definition.outputs}
    for slot, (name, types) in _FALLBACKS.items():
        field = definition.field_at(name)
        if slot not in found and field is not None and field.type in types:
            found[slot] = name
    roster = found.get("roster")
    if "head_birth_year" not in found and roster:
        relation, birth = definition.field_at(f"{roster}/relation"), definition.field_at(f"{roster}/birth_year")
        if relation is not None and birth is not None and birth.type == "integer":
            found["head_birth_year"] = f"{roster}[relation=head]/birth_year"
    return found
