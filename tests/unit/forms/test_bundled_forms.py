"""The bundled household review forms, checked against hand-derived worked cases.

Each case file (``forms/bundled/cases/*.cases.json``, format in its README) holds households
whose 12 deprivation flags, count, income per person and classification were worked out by
hand from the poverty standard; the engine must agree on every one of them. The published .1
versions keep their own cases (phones that were offline still submit them); the .2 versions,
which compare income exactly, read working age from the retirement-age schedule and judge the
average living standard as Decision 24/2021 states it, have theirs.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from support.case_books import resolve_answers

from forms.answers import evaluate_submission
from forms.definition import load_form

BUNDLED = Path(__file__).resolve().parents[3] / "forms" / "bundled"
CASES = BUNDLED / "cases"
FORM_FILES = ("household-review-2022.json", "household-review-2027.json",
              "household-review-2022.v2.json", "household-review-2027.v2.json")
# Valid cases a book must hold: the .2 books at least 80 per standard.
MIN_VALID = {"household-review-2022.json": 40, "household-review-2027.json": 40}
REVIEW_DATE = date(2026, 10, 1)  # the forms read ${param:review_year}, never today()
EXPRESSION_KEYS = ("relevant", "required", "constraint", "calculation", "choice_filter", "repeat_count")
CLASSES = {"poor", "near_poor", "average", "not_poor"}

_forms: dict[str, object] = {}


def _doc(name: str) -> dict:
    return json.loads((BUNDLED / name).read_text(encoding="utf-8"))


def _form(name: str):
    if name not in _forms:
        _forms[name] = load_form(_doc(name))
    return _forms[name]


def _case_files() -> list[Path]:
    return sorted(CASES.glob("*.cases.json"))


def _all_cases():
    for path in _case_files():
        book = json.loads(path.read_text(encoding="utf-8"))
        for case in book["cases"]:
            yield pytest.param(book, case, id=f"{book['form'].removesuffix('.json')}:{case['id']}")


def _fields(fields):
    for f in fields:
        yield f
        yield from _fields(f.get("fields", ()))


def _expressions(doc: dict):
    for f in _fields(doc["fields"]):
        for key in EXPRESSION_KEYS:
            value = f.get(key)
            if isinstance(value, str):
                yield f["name"], key, value


@pytest.mark.parametrize("name", FORM_FILES)
def test_bundled_form_loads(name):
    form = _form(name)
    doc = _doc(name)
    assert doc["form_id"] == "household-review"
    assert form is not None
    deprivations = doc["outputs"]["deprivations"]
    assert len(deprivations) == 12
    assert "information_means" in deprivations if "-2022" in name else "waste_treatment" in deprivations


def test_case_files_cover_every_form():
    assert sorted(json.loads(p.read_text(encoding="utf-8"))["form"] for p in _case_files()) == sorted(FORM_FILES)


@pytest.mark.parametrize(("book", "case"), list(_all_cases()))
def test_worked_case(book, case):
    form = _form(book["form"])
    overrides = case.get("parameters") or {}
    unknown = set(overrides) - set(_doc(book["form"])["parameters"])
    assert not unknown, f"case overrides parameters the form does not have: {unknown}"
    result = evaluate_submission(form, resolve_answers(book, case), parameters=overrides or None, today=REVIEW_DATE)

    if "expected_errors" in case:
        got = sorted((p.path, p.code) for p in result.errors)
        want = sorted((e["path"], e["code"]) for e in case["expected_errors"])
        assert got == want, [str(p) for p in result.errors]
        return

    assert result.errors == [], [str(p) for p in result.errors]
    expected = case["expected"]
    out = result.outputs
    assert out["deprivations"] == expected["deprivations"]
    assert out["deprivation_count"] == expected["deprivation_count"]
    # The .1 forms round to the đồng; the .2 forms keep the exact value, written to the hundredth.
    assert round(out["income_per_person"], 2) == expected["income_per_person"]
    assert out["classification"] == expected["classification"]


@pytest.mark.parametrize("path", _case_files(), ids=lambda p: p.name)
def test_cases_are_consistent_and_cover_every_indicator(path):
    book = json.loads(path.read_text(encoding="utf-8"))
    keys = set(_doc(book["form"])["outputs"]["deprivations"])
    valid = [c for c in book["cases"] if "expected" in c]
    assert len(valid) >= MIN_VALID.get(book["form"], 80)
    assert len({c["id"] for c in book["cases"]}) == len(book["cases"])
    alone = set()
    for case in valid:
        flags = case["expected"]["deprivations"]
        assert set(flags) == keys, case["id"]
        assert sum(flags.values()) == case["expected"]["deprivation_count"], case["id"]
        assert case["expected"]["classification"] in CLASSES, case["id"]
        on = [k for k, v in flags.items() if v]
        if len(on) == 1:
            alone.add(on[0])
    assert alone == keys, f"indicators never triggered alone: {keys - alone}"
    assert {c["expected"]["classification"] for c in valid} == CLASSES


_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
_REFERENCE = re.compile(r"\$\{[^}]*\}")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?|(?<![\w.])\.\d+")


@pytest.mark.parametrize("name", FORM_FILES)
def test_no_numeric_literal_in_expressions(name):
    """Thresholds are parameters (a province may override them), never literals."""
    found = []
    for field, key, expression in _expressions(_doc(name)):
        bare = _REFERENCE.sub(" ", _STRING.sub(" ", expression))
        found += [(field, key, n) for n in _NUMBER.findall(bare) if float(n) not in (0, 1)]
    assert found == []


def test_numeric_literal_check_catches_literals():
    bare = _REFERENCE.sub(" ", _STRING.sub(" ", "${age} < 16 and regex(., '^[0-9]{12}$') and ${param:x2} > 1"))
    assert _NUMBER.findall(bare) == ["16", "1"]


DOC = Path(__file__).resolve().parents[3] / "docs" / "household-review.md"


def test_every_parameter_is_documented_with_its_source():
    """docs/household-review.md names every parameter of every bundled version (a new one needs
    its line there, with its tag)."""
    text = DOC.read_text(encoding="utf-8")
    for name in FORM_FILES:
        for parameter in _doc(name)["parameters"]:
            head, _, tail = parameter.rpartition("_")
            # "`income_line_rural` / `_urban`" documents both.
            assert f"`{parameter}`" in text or (f"`{head}_" in text and f"`_{tail}`" in text), (name, parameter)


def test_the_documented_retirement_schedule_is_the_forms():
    text = DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (20\d\d) \| (\d+) years (\d+) months \| (\d+) years (\d+) months \|$", text, re.MULTILINE)
    assert [int(r[0]) for r in rows] == list(range(2021, 2031))
    for name in ("household-review-2022.v2.json", "household-review-2027.v2.json"):
        p = _doc(name)["parameters"]
        assert p["retirement_schedule_first_year"] == 2021
        lists = [p[k].split() for k in ("retirement_male_years", "retirement_male_months",
                                         "retirement_female_years", "retirement_female_months")]
        assert [list(r[1:]) for r in rows] == [list(entry) for entry in zip(*lists, strict=True)]
