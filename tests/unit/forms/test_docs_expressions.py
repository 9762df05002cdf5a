"""Keeps docs/expressions.md true: every line of its ```expr blocks is evaluated.

Line format: ``EXPRESSION  =>  RESULT`` with RESULT a JSON value in the conformance
encoding, or ``error: syntax`` / ``error: evaluation``. ``# context: {...}`` sets the case
inputs (answers, form, repeat_path, parameters, choice, current, today) for the following
lines of the block; other ``#`` lines are comments.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from forms.expressions import FUNCTIONS
from forms.expressions.conformance import Case, run_case

DOC = Path(__file__).resolve().parents[3] / "docs" / "expressions.md"
DEFAULT_CONTEXT = {"today": "2026-10-02"}
_BLOCK = re.compile(r"^```expr\n(.*?)^```", re.S | re.M)
_LINE = re.compile(r"^(?P<expr>.+?)\s+=>\s+(?P<result>.+)$")


def doc_examples() -> list[tuple[str, dict]]:
    text = DOC.read_text(encoding="utf-8")
    examples = []
    for block_no, block in enumerate(_BLOCK.findall(text)):
        context = dict(DEFAULT_CONTEXT)
        for line in block.splitlines():
            if not line.strip():
                continue
            if line.startswith("# context:"):
                context = {**DEFAULT_CONTEXT, **json.loads(line[len("# context:"):])}
                continue
            if line.startswith("#"):
                continue
            m = _LINE.match(line)
            assert m, f"block {block_no}: cannot read example line {line!r}"
            data = {"id": line, "expression": m["expr"].strip(), **context}
            result = m["result"].strip()
            if result.startswith("error:"):
                data["error"] = result[len("error:"):].strip()
            else:
                data["expected"] = json.loads(result)
            examples.append((line, data))
    return examples


EXAMPLES = doc_examples()


@pytest.mark.parametrize("data", [d for _, d in EXAMPLES], ids=[i for i, _ in EXAMPLES])
def test_doc_example(data):
    run_case(Case("docs/expressions.md", data["id"], data))


def test_doc_has_examples():
    assert len(EXAMPLES) >= 100


def test_every_function_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in FUNCTIONS if f"`{name}(" not in text and f"{name}(" not in text]
    assert missing == []
    examples = " ".join(d["expression"] for _, d in EXAMPLES)
    assert [name for name in FUNCTIONS if f"{name}(" not in examples] == []
