"""The expression conformance cases (forms/conformance/*.json) run inside Chromium, against
the field app's JavaScript evaluator as the app serves it (/app/js/forms/): the phone's own
browser engine must agree with the Python evaluator on every case, not only Node.

The files are read here and handed to the page; the page imports the runner
(/app/js/forms/conformance.js, pure and I/O-free) from the live gunicorn and runs them all."""

from __future__ import annotations

import json
import os

import pytest
from support.form_harness import ROOT, harness
from support.live import LiveServer, fresh_database

CONFORMANCE = ROOT / "forms" / "conformance"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("conformance")) as url:
        server = LiveServer(url, workers=1)
        server.cli("init")
        with server:
            yield server


def test_every_conformance_case_passes_in_chromium(live):
    files = [{"name": p.name, "doc": json.loads(p.read_text(encoding="utf-8"))}
             for p in sorted(CONFORMANCE.glob("*.json"))]
    in_files = sum(len(f["doc"]["cases"]) for f in files)
    assert len(files) >= 15 and in_files >= 800
    with harness(live) as h:
        report = h.page.evaluate(
            "async (files) => (await import('/app/js/forms/conformance.js')).runConformance(files)", files)
        user_agent = h.page.evaluate("navigator.userAgent")
        assert h.violations() == []
        assert h.foreign_requests() == []
    failed = [f"{r['file']}:{r['id']}: {r['message']}" for r in report["results"] if not r["ok"]]
    assert failed == []
    assert report["total"] == report["passed"] == in_files
    assert "Chrome/" in user_agent
