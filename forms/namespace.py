"""Whose form it is, read from its ``form_id``: the nation's, or one province's.

A ``form_id`` that starts with ``p``, a province's two-digit code and ``-`` (``p79-ho-kinh-doanh``)
belongs to that province: its admins may publish it and only phones in it receive it. Every other
``form_id`` (``household-review``) is national. The rule lives in the name rather than in a
column so that it travels with the form: the same id means the same owner in a JSON file, an
XLSForm, an export or a phone's outbox. The ``form_id`` charset (``[a-z0-9][a-z0-9_-]*``, see
``forms.definition``) already admits it, so no existing id changes meaning unless it starts with
``p`` and two digits and a hyphen, which no national form does.
"""

from __future__ import annotations

import re

_PROVINCE_PREFIX = re.compile(r"p([0-9]{2})-", re.ASCII)


def province_of_form(form_id: str) -> str | None:
    """The code of the province whose namespace ``form_id`` is in, or None for a national form."""
    match = _PROVINCE_PREFIX.match(form_id)
    return match.group(1) if match else None


def province_prefix(province_code: str) -> str:
    """The prefix of the forms of a province: ``p79-`` for ``79``."""
    return f"p{province_code}-"
