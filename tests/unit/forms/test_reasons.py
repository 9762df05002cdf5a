"""``forms.reasons.explain``: why a household got its class, as data and as sentences.

Every valid worked case of every bundled form is explained and checked against its own result
(the line comparison agrees with the class, exactly the deprived indicators are listed, each
with the answers or members behind it); a few explanations are checked word for word; the
``reasons`` mapping is checked when a form loads.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from forms.answers import evaluate_submission
from forms.definition import check_parameter_overrides, load_form
from forms.problems import FormDefinitionError
from forms.reasons import LANGUAGES, explain, supplement

BUNDLED = Path(__file__).resolve().parents[3] / "forms" / "bundled"
TODAY = date(2026, 10, 1)
_forms: dict[str, object] = {}


def resolve_answers(book: dict, case: dict) -> dict:
    """A case's submission, as the case README says (the same as test_bundled_forms reads it)."""
    def patched(obj, patch):
        return {k: v for k, v in {**obj, **patch}.items() if v is not None}

    answers = case["answers"] if "answers" in case else patched(book["base"], case.get("patch", {}))
    templates = book.get("members", {})
    if "members" in answers:
        answers = dict(answers, members=[
            dict(templates[m]) if isinstance(m, str)
            else patched(templates.get(m.get("use"), {}), {k: v for k, v in m.items() if k != "use"})
            for m in answers["members"]])
    return answers


def _book(name: str) -> dict:
    return json.loads((BUNDLED / "cases" / name).read_text(encoding="utf-8"))


def _form(name: str):
    if name not in _forms:
        _forms[name] = load_form(json.loads((BUNDLED / name).read_text(encoding="utf-8")))
    return _forms[name]


def _valid_cases():
    for path in sorted((BUNDLED / "cases").glob("*.cases.json")):
        book = json.loads(path.read_text(encoding="utf-8"))
        for case in book["cases"]:
            if "expected" in case:
                yield pytest.param(book, case, id=f"{book['form'].removesuffix('.json')}:{case['id']}")


def _explained(book_name: str, case_id: str, parameters=None):
    book = _book(book_name)
    case = next(c for c in book["cases"] if c["id"] == case_id)
    form = _form(book["form"])
    params = parameters if parameters is not None else case.get("parameters")
    result = evaluate_submission(form, resolve_answers(book, case), parameters=params, today=TODAY)
    assert result.errors == []
    return result, explain(form, result, params)


@pytest.mark.parametrize(("book", "case"), list(_valid_cases()))
def test_every_case_is_explained_consistently(book, case):
    form = _form(book["form"])
    params = case.get("parameters")
    result = evaluate_submission(form, resolve_answers(book, case), parameters=params, today=TODAY)
    e = explain(form, result, params)
    json.dumps(e)  # plain data, ready to store

    assert e["classification"] == case["expected"]["classification"]
    assert e["income"]["at_or_below_line"] == (e["classification"] in ("poor", "near_poor"))
    assert e["income"]["line"] == result.answers["income_line"]
    on = [k for k, v in case["expected"]["deprivations"].items() if v]
    assert [d["indicator"] for d in e["deprivations"]] == on
    assert e["deprivation_count"] == len(on)
    for d in e["deprivations"]:
        # Every deprivation names what caused it: a member, or a household answer.
        assert d.get("members") or d.get("answers"), d
        for member in d.get("members", ()):
            assert member["answers"] and member["name"]
    for lang in LANGUAGES:
        sentence = e["sentence"][lang]
        assert sentence and "{" not in sentence
        for d in e["deprivations"]:
            assert d["label"][lang] in sentence
    average = e["income"]["average"]
    if e["classification"] == "average":
        assert average["band_published"] and average["at_or_below_average_line"]


def test_a_third_of_a_dong_above_the_line_is_shown_as_such():
    result, e = _explained("household-review-2022.v2.cases.json", "rural-line-plus-0.33-average")
    assert result.outputs["income_per_person"] == pytest.approx(1500000.3333, abs=1e-4)
    assert e["income"] | {"average": None} == {
        "per_person": result.outputs["income_per_person"], "area_type": "rural", "line": 1500000,
        "line_parameter": "income_line_rural", "national_line": 1500000, "set_by_province": False,
        "at_or_below_line": False, "average": None,
        "standard": {"vi": "chuẩn nghèo đa chiều giai đoạn 2022–2025, Nghị định 07/2021/NĐ-CP",
                     "en": "2022–2025 multidimensional poverty standard, Decree 07/2021/NĐ-CP"}}
    assert e["sentence"]["en"] == (
        "Household with an average living standard. Income per person per month 1,500,000.33 VND, above the rural "
        "poverty line of 1,500,000 VND (2022–2025 multidimensional poverty standard, Decree 07/2021/NĐ-CP). A farm, "
        "forestry, fishery or salt-making household whose income without state social allowances, 1,500,000.33 VND "
        "per person per month, is above the poverty line and at or below the average living standard line of "
        "2,250,000 VND. Deprived on 3 indicators: floor area per person (living floor area (m²): 30, members: 4); "
        "domestic water (main water source: River, stream, pond or lake); hygienic latrine (latrine: Hanging latrine "
        "over water).")
    assert e["sentence"]["vi"].startswith(
        "Hộ có mức sống trung bình. Thu nhập bình quân đầu người/tháng 1.500.000,33 đồng, cao hơn chuẩn nghèo khu "
        "vực nông thôn 1.500.000 đồng")


def test_half_a_dong_below_the_line_is_not_shown_as_the_line():
    _, e = _explained("household-review-2027.v2.cases.json", "rural-line-minus-0.5-poor")
    assert "2,199,999.50 VND, at or below the rural poverty line of 2,200,000 VND" in e["sentence"]["en"]
    assert "2.199.999,50 đồng, không vượt chuẩn nghèo khu vực nông thôn 2.200.000 đồng" in e["sentence"]["vi"]
    _, e = _explained("household-review-2022.v2.cases.json", "income-rounded-to-dong")
    assert "1,388,889 VND" in e["sentence"]["en"]  # nowhere near a line: to the đồng


def test_a_member_deprivation_names_the_member_and_the_answers():
    _, e = _explained("household-review-2022.v2.cases.json", "working-age-man-61-born-july")
    assert e["deprivations"] == [{
        "indicator": "employment", "label": {"vi": "việc làm", "en": "employment"},
        "members": [{"index": 0, "name": "Phạm Văn Hùng", "answers": [
            {"field": "age", "label": {"vi": "tuổi", "en": "age"}, "value": 61, "text": {"vi": "61", "en": "61"}},
            {"field": "birth_month", "label": {"vi": "tháng sinh", "en": "month of birth"}, "value": 7,
             "text": {"vi": "7", "en": "7"}},
            {"field": "sex", "label": {"vi": "giới tính", "en": "sex"}, "value": "male",
             "text": {"vi": "Nam", "en": "Male"}},
            {"field": "employment_status", "label": {"vi": "việc làm", "en": "work"}, "value": "unemployed",
             "text": {"vi": "Thất nghiệp (không có việc làm, đang tìm việc)",
                      "en": "Unemployed (no work, looking for work)"}},
        ]}],
        "answers": [],
    }]
    # Without a month of birth the explanation says so: that is why a man of 61 is past working age.
    _, e = _explained("household-review-2027.v2.cases.json", "all-twelve-deprived")
    assert "Nguyễn Văn An — age: 40, month of birth: not given, sex: Male" in e["sentence"]["en"]


def test_one_person_with_exactly_three_deprivations():
    _, e = _explained("household-review-2022.v2.cases.json", "single-member-exactly-3-deprivations-poor")
    assert e["sentence"]["vi"] == (
        "Hộ nghèo. Thu nhập bình quân đầu người/tháng 1.200.000 đồng, không vượt chuẩn nghèo khu vực nông thôn "
        "1.500.000 đồng (chuẩn nghèo đa chiều giai đoạn 2022–2025, Nghị định 07/2021/NĐ-CP). Thiếu hụt 3 chỉ số (từ 3 "
        "chỉ số trở lên là hộ nghèo): bảo hiểm y tế (Hà Thị Thu — tuổi: 68, thẻ bảo hiểm y tế còn hạn: Không); nguồn "
        "nước sinh hoạt (nguồn nước chính: Giếng đào không được bảo vệ); nhà tiêu hợp vệ sinh (nhà tiêu: Hố xí đơn "
        "giản, hố đào).")


def test_a_province_line_is_named_as_the_provinces():
    _, e = _explained("household-review-2022.v2.cases.json", "province-override-urban-line-poor")
    assert e["income"]["set_by_province"] and e["income"]["national_line"] == 2000000
    assert ("at or below the urban poverty line set by the province of 2,500,000 VND (national line 2,000,000 VND; "
            "2022–2025 multidimensional poverty standard") in e["sentence"]["en"]


def test_the_2027_band_is_empty_until_a_province_sets_it():
    form = _form("household-review-2027.v2.json")
    assert (form.parameters["average_line_rural"], form.parameters["average_line_urban"]) == (0, 0)
    assert check_parameter_overrides(form, {"average_line_rural": 3300000}) == []
    result, e = _explained("household-review-2027.v2.cases.json", "rural-2500000-no-band-not-poor")
    assert result.outputs["classification"] == "not_poor"
    assert e["income"]["average"]["band_published"] is False
    assert "No average living standard line is published for this standard" in e["sentence"]["en"]
    # The same household once the province sets the band: the class turns on.
    result, e = _explained("household-review-2027.v2.cases.json", "rural-2500000-no-band-not-poor",
                           parameters={"average_line_rural": 3300000})
    assert result.outputs["classification"] == "average"
    assert e["income"]["average"] | {"per_person": None} == {
        "per_person": None, "without_state_social_allowances": True, "line": 3300000,
        "line_parameter": "average_line_rural", "set_by_province": True, "band_published": True,
        "farm_household": "yes", "above_poverty_line": True, "at_or_below_average_line": True}


def test_the_review_year_is_an_output():
    for name, year in (("household-review-2022.v2.json", 2026), ("household-review-2027.v2.json", 2027)):
        form = _form(name)
        assert form.outputs["review_year"] == "review_year"
        book = _book(name.removesuffix(".json") + ".cases.json")
        answers = resolve_answers(book, {"patch": {}})
        assert evaluate_submission(form, answers, today=TODAY).outputs["review_year"] == year
        overridden = evaluate_submission(form, answers, parameters={"review_year": year + 1}, today=TODAY)
        assert overridden.outputs["review_year"] == year + 1


def test_the_published_versions_get_their_mapping_from_the_supplement():
    for name in ("household-review-2022.json", "household-review-2027.json"):
        form = _form(name)
        assert form.reasons == {} and supplement(form)["indicators"].keys() == form.outputs["deprivations"].keys()
    _, e = _explained("household-review-2022.cases.json", "income-rounds-down-to-line")
    # 2022.1 compared the rounded income: its explanation shows what it compared.
    assert "1,500,000 VND, at or below the rural poverty line of 1,500,000 VND" in e["sentence"]["en"]
    _, e = _explained("household-review-2027.cases.json", "rural-2500000-average")
    assert ("Income of 2,500,000 VND per person per month is above the poverty line and at or below the average "
            "living standard line of 3,300,000 VND.") in e["sentence"]["en"]


def test_a_supplement_only_fits_the_bytes_it_was_written_for():
    doc = json.loads((BUNDLED / "household-review-2022.json").read_text(encoding="utf-8"))
    changed = load_form({**doc, "title": "Another title"})
    assert supplement(changed) == {}


def test_a_form_without_a_mapping_still_gets_its_class_and_indicators():
    doc = {
        "form_id": "mini", "version": "1", "title": "Mini", "default_language": "en",
        "parameters": {"line": 100},
        "fields": [
            {"name": "income", "type": "integer"},
            {"name": "water", "type": "text"},
            {"name": "dep_water", "type": "calculate", "label": {"en": "Deprived: water"},
             "calculation": "if(${water} = 'river', 1, 0)"},
            {"name": "income_pp", "type": "calculate", "calculation": "${income}"},
            {"name": "classification", "type": "calculate",
             "calculation": "if(${income} <= ${param:line}, 'near_poor', 'not_poor')"},
        ],
        "outputs": {"classification": "classification", "income_per_person": "income_pp",
                    "deprivations": {"water": "dep_water"}},
    }
    form = load_form(doc)
    result = evaluate_submission(form, {"income": 80, "water": "river"}, today=TODAY)
    e = explain(form, result)
    assert e["deprivations"] == [{"indicator": "water", "label": {"vi": "Deprived: water", "en": "Deprived: water"},
                                  "answers": []}]
    assert e["sentence"]["en"] == "Near-poor household. Income per person per month 80 VND. Deprived on 1 indicator: Deprived: water."


def _mini(reasons: dict) -> dict:
    return {
        "form_id": "mini", "version": "1", "title": "Mini", "parameters": {"threshold": 3},
        "fields": [
            {"name": "members", "type": "repeat", "fields": [
                {"name": "name", "type": "text"}, {"name": "insured", "type": "text"},
                {"name": "m_dep", "type": "calculate", "calculation": "if(${insured} = 'no', 1, 0)"}]},
            {"name": "water", "type": "text"},
            {"name": "dep_insurance", "type": "calculate", "calculation": "if(sum(${m_dep}) > 0, 1, 0)"},
            {"name": "dep_water", "type": "calculate", "calculation": "if(${water} = 'river', 1, 0)"},
        ],
        "outputs": {"deprivations": {"health_insurance": "dep_insurance", "water": "dep_water"}},
        "reasons": reasons,
    }


def test_the_mapping_is_checked_when_the_form_loads():
    good = {"deprivation_threshold": "threshold", "indicators": {
        "health_insurance": {"repeat": "members", "when": "m_dep", "name": "name", "answers": ["insured"],
                             "household": ["water"]},
        "water": {"label": {"en": "water"}, "answers": [{"field": "water", "values": ["river"]}]}}}
    assert load_form(_mini(good)).reasons["indicators"]["water"]["answers"][0]["field"] == "water"

    bad = {"deprivation_threshold": "nope", "colour": 1, "income": {"line": "missing", "per_month": "water"},
           "indicators": {
               "health_insurance": {"repeat": "members", "answers": ["water"]},
               "water": {"answers": ["insured"], "when": "m_dep"},
               "telecom": {"answers": ["water"]}}}
    with pytest.raises(FormDefinitionError) as exc:
        load_form(_mini(bad))
    got = sorted((p.path, p.code) for p in exc.value.problems)
    assert got == sorted([
        ("reasons/colour", "unknown_key"),
        ("reasons/deprivation_threshold", "unknown_parameter"),
        ("reasons/income/line", "unknown_reference"),
        ("reasons/income/per_month", "unknown_key"),
        ("reasons/indicators/health_insurance/when", "missing_key"),
        ("reasons/indicators/health_insurance/answers/0", "unknown_reference"),
        ("reasons/indicators/water", "key_not_allowed"),
        ("reasons/indicators/water/answers/0", "unknown_reference"),
        ("reasons/indicators/telecom", "unknown_reference"),
    ])
