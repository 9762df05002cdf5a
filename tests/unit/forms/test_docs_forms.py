"""docs/forms.md stays true: its examples load, its answers are valid, its tables are complete."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from forms.answers import evaluate_submission
from forms.definition import FIELD_TYPES, LIMITS, OUTPUT_KEYS, load_form
from forms.problems import DEFINITION_CODES, SUBMISSION_CODES

DOC = Path(__file__).resolve().parents[3] / "docs" / "forms.md"
BLOCK = re.compile(r"^```(json[^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str, int]]:
    text = DOC.read_text(encoding="utf-8")
    return [(m.group(1).strip(), m.group(2), text.count("\n", 0, m.start()) + 1) for m in BLOCK.finditer(text)]


def test_the_doc_has_examples():
    tags = [tag for tag, _, _ in blocks()]
    assert tags.count("json form") >= 1 and tags.count("json answers") >= 1


@pytest.mark.parametrize("tag,body,line", blocks(), ids=lambda v: str(v) if isinstance(v, int) else None)
def test_every_json_block_parses(tag, body, line):
    if "…" in body:  # an abbreviated illustration, e.g. a shortened hash
        body = body.replace("…", "")
    json.loads(body)


def test_form_blocks_load_and_answers_blocks_are_valid():
    form = None
    for tag, body, line in blocks():
        if tag == "json form":
            form = load_form(json.loads(body))
        elif tag == "json answers":
            assert form is not None, f"line {line}: answers before any form"
            result = evaluate_submission(form, json.loads(body), today=date(2026, 10, 1))
            assert result.errors == [], f"line {line}: {result.errors}"


def test_worked_example_result_is_what_the_doc_says():
    text = DOC.read_text(encoding="utf-8")
    forms = [b for t, b, _ in blocks() if t == "json form"]
    answers = [b for t, b, _ in blocks() if t == "json answers"]
    result = evaluate_submission(load_form(json.loads(forms[0])), json.loads(answers[0]), today=date(2026, 10, 1))
    assert result.outputs["classification"] == "near_poor" and "*near-poor*" in text
    assert result.outputs["income_per_person"] == 900000 and "900,000 VND per person" in text
    assert result.outputs["deprivation_count"] == 1


def test_every_code_type_and_output_slot_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for code in (*DEFINITION_CODES, *SUBMISSION_CODES):
        assert f"`{code}`" in text, code
    for t in FIELD_TYPES:
        assert f"`{t}`" in text, t
    for slot in OUTPUT_KEYS:
        assert f"`{slot}`" in text, slot


def test_documented_limits_match_the_code():
    text = DOC.read_text(encoding="utf-8")
    assert f"| fields, groups and repeats in a form | {LIMITS['max_fields']:,} |" in text
    assert f"| nesting of groups and repeats | {LIMITS['max_depth']} |" in text
    assert f"| expression length | {LIMITS['max_expression_length']:,} characters |" in text
