"""The worked-case books of ``forms/bundled/cases/`` (format: its README): a case's full
submission from the book's ``base`` and the case's ``patch``, members from the book's templates.
Read by the bundled-form tests and by the field app's fixture writer (tests/js/form_fixtures.py)."""

from __future__ import annotations


def patched(obj: dict, patch: dict) -> dict:
    """Shallow merge; a ``null`` in the patch removes the key."""
    out = dict(obj)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _member(entry, templates: dict) -> dict:
    if isinstance(entry, str):
        return dict(templates[entry])
    entry = dict(entry)
    template = entry.pop("use", None)
    return patched(templates[template] if template else {}, entry)


def resolve_answers(book: dict, case: dict) -> dict:
    """A case's full submission: ``answers`` as given, or the book's ``base`` with ``patch``."""
    answers = case["answers"] if "answers" in case else patched(book["base"], case.get("patch", {}))
    if "members" in answers:
        answers = dict(answers, members=[_member(m, book.get("members", {})) for m in answers["members"]])
    return answers
