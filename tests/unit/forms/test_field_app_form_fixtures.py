"""The field app's engine is checked against the Python engine through committed files
(tests/js/form_fixtures.py writes them): they must be what the Python side says today, or
the JavaScript test would compare the phone with a server that no longer exists."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _generator():
    spec = importlib.util.spec_from_file_location("form_fixtures", ROOT / "tests" / "js" / "form_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_engine_fixture_is_current():
    gen = _generator()
    assert gen.FIXTURE.read_text(encoding="utf-8") == gen.fixture_text(), (
        "tests/js/fixtures/form_engine_cases.json is stale: run .venv/bin/python tests/js/form_fixtures.py")


def test_reasons_supplements_module_is_current():
    gen = _generator()
    assert gen.SUPPLEMENTS_JS.read_text(encoding="utf-8") == gen.build_supplements(), (
        "server/field_app/js/form/supplements.js is stale: run .venv/bin/python tests/js/form_fixtures.py")
