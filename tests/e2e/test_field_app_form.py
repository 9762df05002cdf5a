"""The form renderer in Chromium at a phone's size: pages with a progress bar, relevance that
hides and shows questions as answers change, a constraint's own message beside its field, the
member roster as cards (add, open, remove, with the household size kept in step), the result
page's classification and reasons, and "Hoàn tất" handing over exactly what the server stores.

Driven on a test page (tests/support/form_harness.py) against the app's real modules, styles and
catalogues served by gunicorn; no CSP violation and no request off the host."""

from __future__ import annotations

import os
from datetime import date

import pytest
from playwright.sync_api import expect
from support.form_harness import book, form_document, harness
from support.live import LiveServer, fresh_database

from forms.answers import evaluate_submission
from forms.definition import load_form


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), tmp_path_factory.mktemp("form")) as url:
        server = LiveServer(url, workers=1)
        server.cli("init")
        with server:
            yield server


def _member(entry, templates):
    if isinstance(entry, str):
        return dict(templates[entry])
    entry = dict(entry)
    base = dict(templates[entry.pop("use")]) if "use" in entry else {}
    for k, v in entry.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def case_answers(case_id: str, name: str = "household-review-2027.v2.cases.json") -> dict:
    b = book(name)
    case = next(c for c in b["cases"] if c["id"] == case_id)
    answers = dict(b["base"])
    for k, v in case.get("patch", {}).items():
        if v is None:
            answers.pop(k, None)
        else:
            answers[k] = v
    answers["members"] = [_member(m, b["members"]) for m in answers["members"]]
    return answers


def test_relevance_constraints_and_the_roster(live):
    definition = form_document()
    with harness(live) as h:
        page = h.page
        h.mount(definition=definition, answers={})
        expect(page.locator(".rf-title")).to_have_text("Thông tin chung về hộ")
        expect(page.locator(".rf-progress-text")).to_contain_text("Trang 1/")

        # A constraint's own message, beside its field, once the field is left.
        code = page.get_by_label("Mã hộ")
        code.fill("MT 0001")
        code.blur()
        field = page.locator('[data-field="household_code"]')
        expect(field.locator(".rf-error")).to_have_text("Mã hộ không được có dấu cách")
        code.fill("MT-0001")
        expect(field.locator(".rf-error")).to_be_hidden()

        # "Tiếp" on a page with unanswered required questions shows them all and stays.
        page.get_by_test_id("form-next").click()
        expect(page.locator('[data-field="head_name"] .rf-error')).to_have_text("Câu này cần trả lời.")
        expect(page.locator(".rf-title")).to_have_text("Thông tin chung về hộ")
        h.screenshot("form-identification-errors-393.png")
