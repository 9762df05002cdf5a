"""Valid household answers for the bundled forms, built from the worked cases' base household."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import uuid
from pathlib import Path

import forms

CASES = Path(forms.__file__).resolve().parent / "bundled" / "cases"
# "2022" and "2027" stay the first published versions (phones that were offline still submit
# them); "2022.2" and "2027.2" are the versions that compare income exactly, read working age
# from the retirement-age schedule and ask income by source.
VERSIONS = {"2022": "2022.1", "2027": "2027.1", "2022.2": "2022.2", "2027.2": "2027.2"}
CASE_BOOKS = {"2022": "household-review-2022.cases.json", "2027": "household-review-2027.cases.json",
              "2022.2": "household-review-2022.v2.cases.json", "2027.2": "household-review-2027.v2.cases.json"}


@functools.cache
def _cases(year: str) -> dict:
    return json.loads((CASES / CASE_BOOKS[year]).read_text(encoding="utf-8"))


def _member(entry, templates: dict) -> dict:
    if isinstance(entry, str):
        return copy.deepcopy(templates[entry])
    out = copy.deepcopy(templates[entry["use"]]) if "use" in entry else {}
    for key, value in entry.items():
        if key == "use":
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def household_answers(year: str = "2022", **overrides) -> dict:
    data = _cases(year)
    answers = copy.deepcopy(data["base"])
    answers["members"] = [_member(m, data["members"]) for m in answers["members"]]
    answers.update(overrides)
    return answers


def submission(area: str, *, year: str = "2022", household_id=None, household_rev=None, rev: int = 1,
               submission_id=None, answers: dict | None = None, attachments=(), **extra) -> dict:
    return {
        "id": str(submission_id or uuid.uuid4()),
        "form_id": "household-review",
        "form_version": VERSIONS[year],
        "area": area,
        "household_id": str(household_id or uuid.uuid4()),
        "household_rev": household_rev,
        "rev": rev,
        "started_at": "2026-10-02T08:11:00+07:00",
        "finished_at": "2026-10-02T08:40:12+07:00",
        "answers": answers if answers is not None else household_answers(year),
        "attachments": list(attachments),
        **extra,
    }


def photo(content: bytes = b"\xff\xd8\xff fake jpeg bytes") -> tuple[bytes, str]:
    return content, hashlib.sha256(content).hexdigest()
