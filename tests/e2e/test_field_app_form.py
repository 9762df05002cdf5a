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
        # On the first page the back button leaves the form; the draft is handed over first.
        changes = h.value("changes")
        page.get_by_test_id("form-prev").click()
        assert h.value("exited") is True
        assert h.value("changes") > changes
        assert h.value("lastAnswers")["household_code"] == "MT-0001"
        assert h.violations() == []
        assert h.foreign_requests() == []


def _answer_member(page, path: str, *, name: str, sex: str, birth_year: int, relation: str):
    page.get_by_label("Họ và tên", exact=False).first.fill(name)
    page.locator(f'[data-field="{path}/sex"]').get_by_role("radio", name=sex, exact=True).check()
    page.get_by_label("Năm sinh", exact=True).fill(str(birth_year))
    page.locator(f'[data-field="{path}/relation"]').get_by_role("radio", name=relation, exact=True).check()


def test_the_member_roster_cards_relevance_and_the_household_size(live):
    answers = {k: v for k, v in case_answers("base-not-poor").items() if k not in ("members", "member_count")}
    with harness(live) as h:
        page = h.page
        h.mount(definition=form_document(), answers=answers)
        page.get_by_test_id("form-next").click()
        expect(page.locator(".rf-title")).to_have_text("Danh sách thành viên hộ")
        expect(page.locator(".rf-cards-empty")).to_have_text("Chưa có thành viên nào.")

        page.get_by_test_id("repeat-add").click()
        expect(page.locator(".rf-title")).to_have_text("Thành viên 1: Thành viên 1")
        _answer_member(page, "members/0", name="Lò Văn Páo", sex="Nam", birth_year=1980, relation="Chủ hộ")
        expect(page.locator(".rf-title")).to_have_text("Thành viên 1: Lò Văn Páo")
        school = page.locator('[data-field="members/0/school_status"]')
        work = page.locator('[data-field="members/0/employment_status"]')
        # 47 years old: asked about work, not about school.
        expect(school).to_be_hidden()
        expect(work).to_be_visible()
        # A typo that makes him 12: the school question appears, the work question goes.
        page.get_by_label("Năm sinh", exact=True).fill("2015")
        expect(school).to_be_visible()
        expect(work).to_be_hidden()
        page.get_by_label("Năm sinh", exact=True).fill("1980")
        expect(school).to_be_hidden()
        # The member's own id (the instance key) was made by the app, and the household size follows the roster.
        last = h.value("lastAnswers")
        assert last["member_count"] == 1 and len(last["members"]) == 1
        assert len(last["members"][0]["member_id"]) == 36
        # The constraint on relation, in the form's words: only the first person is the head.
        page.get_by_test_id("repeat-done").click()  # shows what is left to answer, stays
        expect(page.locator('[data-field="members/0/has_health_insurance"] .rf-error')).to_be_visible()
        page.get_by_test_id("repeat-done").click()  # leaves
        page.get_by_test_id("repeat-add").click()
        _answer_member(page, "members/1", name="Lò Thị Mai", sex="Nữ", birth_year=1984, relation="Chủ hộ")
        page.locator('[data-field="members/1/relation"]').get_by_role("radio", name="Chủ hộ").blur()
        expect(page.locator('[data-field="members/1/relation"] .rf-error')).to_have_text(
            "Người đầu tiên trong danh sách là chủ hộ, và chỉ có một chủ hộ")
        page.locator('[data-field="members/1/relation"]').get_by_role("radio", name="Vợ/chồng", exact=True).check()
        expect(page.locator('[data-field="members/1/relation"] .rf-error')).to_be_hidden()
        h.screenshot("form-member-393.png")
        # "Xong" with unanswered questions shows them once; a second tap goes back to the list.
        page.get_by_test_id("repeat-done").click()
        expect(page.locator('[data-field="members/1/has_health_insurance"] .rf-error')).to_have_text("Câu này cần trả lời.")
        page.get_by_test_id("repeat-done").click()
        cards = page.get_by_test_id("member-card")
        expect(cards).to_have_count(2)
        expect(cards.nth(1)).to_contain_text("Lò Thị Mai")
        expect(cards.nth(1).locator(".rf-card-error")).to_be_visible()
        assert h.value("lastAnswers.member_count") == 2
        h.screenshot("form-roster-393.png")

        # Removing takes two taps; the household size follows.
        cards.nth(1).click()
        page.get_by_test_id("repeat-remove").click()
        expect(page.get_by_test_id("repeat-remove")).to_have_text("Chạm lần nữa để xóa")
        assert len(h.value("lastAnswers.members")) == 2
        page.get_by_test_id("repeat-remove").click()
        expect(page.get_by_test_id("member-card")).to_have_count(1)
        assert h.value("lastAnswers.member_count") == 1
        assert [m["member_name"] for m in h.value("lastAnswers.members")] == ["Lò Văn Páo"]
        # A household size typed by hand that disagrees with the cards is said under the list.
        page.get_by_label("Số nhân khẩu của hộ").fill("3")
        page.get_by_test_id("form-next").click()
        expect(page.locator('.rf-repeat[data-field="members"] > .rf-error')).to_have_text(
            "Danh sách có 1 người nhưng số nhân khẩu ghi 3.")
        expect(page.locator(".rf-title")).to_have_text("Danh sách thành viên hộ")
        assert page.evaluate("document.documentElement.scrollWidth") <= 393
        assert h.violations() == []
        assert h.foreign_requests() == []


def _through_the_pages(page):
    """Tap "Tiếp" until the result page (each page must be complete)."""
    for _ in range(12):
        if page.get_by_test_id("form-finish").count():
            return
        title = page.locator(".rf-title").inner_text()
        page.get_by_test_id("form-next").click()
        expect(page.locator(".rf-title")).not_to_have_text(title)
    raise AssertionError("never reached the result page")


SUMMARY = {
    "vi": "{cls}: thu nhập bình quân {income} đ/người/tháng ≤ chuẩn nông thôn {line} đ; thiếu hụt {count}/12 chỉ số: {items}",
    "en": "{cls}: income {income} VND per person per month ≤ rural line {line} VND; deprived on {count}/12 indicators: {items}",
}
LIVE = {"vi": "Tạm tính: {cls}", "en": "So far: {cls}"}
TITLE = {"vi": "Kết quả", "en": "Result"}
LAPTOP = {"width": 1280, "height": 800}


@pytest.mark.parametrize(("case_id", "expected_class", "lang", "viewport"), [
    ("province-override-threshold-2", "Hộ nghèo", "vi", None),
    ("rural-at-line-2-deprivations-near-poor", "Hộ cận nghèo", "vi", None),
    ("province-override-threshold-2", "Poor household", "en", LAPTOP),
], ids=["poor-vi-phone", "near-poor-vi-phone", "poor-en-laptop"])
def test_the_result_page_shows_the_class_and_its_reasons_as_the_server_computes_them(
        live, case_id, expected_class, lang, viewport):
    from forms.reasons import _money, explain

    b = book()
    case = next(c for c in b["cases"] if c["id"] == case_id)
    parameters = case.get("parameters") or {}
    answers = case_answers(case_id)
    doc = form_document()
    form = load_form(doc)
    server = evaluate_submission(form, answers, parameters=parameters or None, today=date(2026, 10, 1))
    assert server.errors == []
    why = explain(form, server, parameters or None)
    with harness(live, viewport) as h:
        page = h.page
        h.mount(definition=doc, parameters=parameters, answers=answers, lang=lang)
        expect(page.get_by_test_id("live-classification")).to_have_text(LIVE[lang].format(cls=expected_class))
        _through_the_pages(page)
        expect(page.locator(".rf-title")).to_have_text(TITLE[lang])
        expect(page.get_by_test_id("result-class")).to_have_text(expected_class)
        income = why["income"]
        assert not income["set_by_province"] and income["area_type"] == "rural"
        summary = SUMMARY[lang].format(
            cls=expected_class, income=_money(income["per_person"], lang, income["line"]),
            line=_money(income["line"], lang), count=why["deprivation_count"],
            items=", ".join(d["label"][lang] for d in why["deprivations"]))
        expect(page.get_by_test_id("result-summary")).to_have_text(summary)
        # The full explanation is, word for word, the one the server gives the commune.
        page.locator(".rf-result-details summary").click()
        expect(page.get_by_test_id("result-sentence")).to_have_text(why["sentence"][lang])
        width = (viewport or {"width": 393})["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        h.screenshot(f"form-result-{case_id}-{lang}-{width}.png")
        page.get_by_test_id("form-finish").click()
        page.wait_for_function("window.harness.finished !== null")
        finished = h.value("finished")
        # What "Hoàn tất" hands over is exactly what the server stores and computes from it: the
        # same outputs as the household had, and each member now carries the id the app gave it.
        again = evaluate_submission(form, finished["answers"], parameters=parameters or None, today=date(2026, 10, 1))
        assert again.errors == []
        assert finished["answers"] == json_ready(again.answers)
        assert finished["outputs"] == json_ready(server.outputs) == json_ready(again.outputs)
        assert all(len(m["member_id"]) == 36 for m in finished["answers"]["members"])
        assert finished["reasons"]["sentence"] == why["sentence"]
        assert h.violations() == []
        assert h.foreign_requests() == []


def json_ready(value):
    import json

    return json.loads(json.dumps(value))
