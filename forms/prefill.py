"""Which stored answers travel to phones to prefill the next visit.

A household's merged answers are sent to the phones that visit it, so that the next visit
starts from last year's. Not every answer needs to travel: a citizen ID number (CCCD, or an old
CMND) is the one answer on the household review forms that identifies a person to any other
register, and a phone is easily lost. So an answer travels unless its field says
``"prefill": false``, and a field holding an ID number travels only when it says
``"prefill": true``. Forms name such fields conventionally (``head_cccd``, ``members/cccd``,
``so_dinh_danh``): a field whose name has one of ``ID_NUMBER_WORDS`` as a ``_``-separated part
is taken for an ID number, so forms published before the ``prefill`` key existed (whose bytes
never change) keep their ID numbers on the server.

A visit filled from such a prefill carries no answer for a withheld field unless the enumerator
typed it again; the merge counts that as "not asked", not as "erased"
(``sync.merge.carry_withheld``), so the household record keeps the number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from forms.definition import Field, FormDefinition

__all__ = ["ID_NUMBER_WORDS", "for_prefill", "holds_id_number", "travels", "withheld_paths"]

ID_NUMBER_WORDS = ("cccd", "cmnd", "dinh_danh", "id_number", "national_id", "citizen_id")
_ID_NUMBER_NAME = re.compile(r"(?:^|_)(?:" + "|".join(ID_NUMBER_WORDS) + r")(?:_|$)", re.IGNORECASE)


def holds_id_number(field: Field) -> bool:
    """The field's answer is taken for a personal ID number (by its name; see the module)."""
    return field.has_value and bool(_ID_NUMBER_NAME.search(field.name))


def travels(field: Field) -> bool:
    """Does the household's answer to ``field`` go to phones for prefill?"""
    explicit = field.spec.get("prefill")
    if isinstance(explicit, bool):
        return explicit
    return not holds_id_number(field)


def withheld_paths(form: FormDefinition) -> frozenset[str]:
    """Answer paths (``head_cccd``, ``members/cccd``) of the fields whose answers stay on the server."""
    return frozenset(f.answer_path for f in form.iter_fields() if f.has_value and not travels(f))


def without_paths(form: FormDefinition, answers: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of ``answers`` without the answers at ``paths`` (answer paths, in every repeat instance)."""
    dropped = frozenset(paths)
    if not dropped:
        return dict(answers)
    repeats = {f.answer_path for f in form.iter_fields() if f.type == "repeat"}

    def strip(scope: str, values: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in values.items():
            path = f"{scope}/{key}" if scope else key
            if path in dropped:
                continue
            if path in repeats and isinstance(value, list):
                value = [strip(path, item) if isinstance(item, Mapping) else item for item in value]
            out[key] = value
        return out

    return strip("", answers)


def for_prefill(form: FormDefinition, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The household's answers as a phone may hold them."""
    return without_paths(form, answers, withheld_paths(form))
