"""Runs every language-neutral conformance case in forms/conformance/*.json."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from forms.expressions import FUNCTIONS
from forms.expressions.conformance import CONFORMANCE_DIR, case_files, load_cases, run_case

CASES = list(load_cases())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case):
    run_case(case)


def test_case_ids_are_unique():
    counts = Counter(c.id for c in CASES)
    assert [i for i, n in counts.items() if n > 1] == []


def test_there_are_enough_cases():
    assert len(CASES) >= 300
    assert len(case_files()) >= 10


def test_every_file_is_well_formed():
    for path in case_files():
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert set(doc) <= {"description", "form", "defaults", "cases"}, path.name
        assert isinstance(doc["description"], str) and doc["description"], path.name
        assert doc["cases"], path.name


def test_every_function_has_cases():
    text = "\n".join(c.data["expression"] for c in CASES)
    missing = [name for name in FUNCTIONS if f"{name}(" not in text]
    assert missing == []


def test_every_operator_has_cases():
    text = "\n".join(c.data["expression"] for c in CASES)
    for op in (" or ", " and ", " = ", " != ", " < ", " <= ", " > ", " >= ", " + ", " - ",
               " * ", " div ", " mod ", "-("):
        assert op in text, op


def test_readme_documents_the_case_keys():
    readme = (CONFORMANCE_DIR / "README.md").read_text(encoding="utf-8")
    for key in ("repeat_path", "expected", "error", "$number", "$date", "choice", "today",
                "parameters", "current", "form", "answers", "as"):
        assert f"`{key}`" in readme or f'"{key}"' in readme, key
