"""evaluate_submission: types, relevance, constraints, repeats, calculations, parameters."""

from __future__ import annotations

import copy
import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings, strategies as st

from forms.answers import MAX_REPEAT_INSTANCES, SubmissionResult, evaluate_submission
from forms.definition import load_form
from forms.problems import SUBMISSION_CODES

TODAY = date(2026, 10, 1)
HASH = "sha256:" + "3f2a" * 16


def make_form(*fields, choices=None, parameters=None, outputs=None, **extra):
    doc = {
        "form_id": "test-form",
        "version": "1",
        "title": "Test",
        "default_language": "vi",
        "choices": {
            "yes_no": [{"value": "yes", "label": {"vi": "Có", "en": "Yes"}},
                       {"value": "no", "label": {"vi": "Không", "en": "No"}}],
            "water": [{"value": "tap"}, {"value": "rain"}, {"value": "river"}, {"value": "none"}],
            **(choices or {}),
        },
        "fields": list(fields),
    }
    if parameters is not None:
        doc["parameters"] = parameters
    if outputs is not None:
        doc["outputs"] = outputs
    doc.update(extra)
    return load_form(doc)


def run(form, answers, **kw) -> SubmissionResult:
    kw.setdefault("today", TODAY)
    result = evaluate_submission(form, answers, **kw)
    for p in result.errors:
        assert p.code in SUBMISSION_CODES, p
    return result


def errors(result) -> set[tuple[str, str]]:
    return {(p.path, p.code) for p in result.errors}


HOUSEHOLD = make_form(
    {"name": "head_name", "type": "text", "required": True},
    {"name": "area_type", "type": "select_one", "choices": "area", "required": True},
    {"name": "members_count", "type": "integer", "required": True, "constraint": ". >= 1 and . <= 30",
     "constraint_message": {"vi": "Từ 1 đến 30 người", "en": "From 1 to 30 people"}},
    {"name": "members", "type": "repeat", "repeat_count": "${members_count}", "fields": [
        {"name": "member_name", "type": "text", "required": True},
        {"name": "age", "type": "integer", "required": True, "constraint": ". >= 0 and . <= 120"},
        {"name": "has_health_insurance", "type": "select_one", "choices": "yes_no",
         "relevant": "${age} >= 6", "required": True},
        {"name": "monthly_income", "type": "decimal"},
        {"name": "insurance_deprived", "type": "calculate",
         "calculation": "if(${age} >= 6 and ${has_health_insurance} = 'no', 1, 0)"},
        {"name": "below_line", "type": "calculate", "calculation": "${monthly_income} < ${line}"},
        # XPath: an empty answer is NaN as a number, so sum() over it would be NaN (empty).
        {"name": "income_or_zero", "type": "calculate", "calculation": "coalesce(${monthly_income}, 0)"},
    ]},
    {"name": "location", "type": "geopoint"},
    {"name": "water_sources", "type": "select_multiple", "choices": "water"},
    {"name": "house_photo", "type": "image"},
    {"name": "deprivation_count", "type": "calculate", "calculation": "${dep_insurance} + ${dep_water}"},
    {"name": "dep_insurance", "type": "calculate", "calculation": "if(sum(${insurance_deprived}) > 0, 1, 0)"},
    {"name": "dep_water", "type": "calculate", "calculation": "if(selected(${water_sources}, 'none'), 1, 0)"},
    {"name": "total_income", "type": "calculate", "calculation": "sum(${income_or_zero})"},
    {"name": "income_per_person", "type": "calculate", "calculation": "${total_income} div ${members_count}"},
    {"name": "line", "type": "calculate",
     "calculation": "if(${area_type} = 'urban', ${param:income_line_urban}, ${param:income_line_rural})"},
    {"name": "classification", "type": "calculate",
     "calculation": "if(${income_per_person} <= ${line}, if(${deprivation_count} >= 2, 'poor', 'near_poor'), 'not_poor')"},
    choices={"area": [{"value": "rural"}, {"value": "urban"}]},
    parameters={"income_line_rural": 1500000, "income_line_urban": 2000000},
    outputs={"classification": "classification", "income_per_person": "income_per_person",
             "deprivation_count": "deprivation_count", "head_name": "head_name",
             "deprivations": {"health_insurance": "dep_insurance", "water": "dep_water"}},
)


def household(**overrides):
    answers = {
        "head_name": "Nguyễn Thị Hoà",
        "area_type": "rural",
        "members_count": 3,
        "members": [
            {"member_name": "Nguyễn Thị Hoà", "age": 41, "has_health_insurance": "no", "monthly_income": 2000000},
            {"member_name": "Trần Văn Nam", "age": 43, "has_health_insurance": "yes", "monthly_income": 1000000.0},
            {"member_name": "Trần Bé", "age": 4},
        ],
        "location": {"lat": 21.0278, "lon": 105.8342, "accuracy": 12.5},
        "water_sources": ["none"],
        "house_photo": HASH,
    }
    answers.update(overrides)
    return answers


# --------------------------------------------------------------------------- the happy path


def test_valid_household_is_normalised_and_computed():
    result = run(HOUSEHOLD, household())
    assert result.errors == [] and result.valid
    a = result.answers
    assert a["members_count"] == 3 and type(a["members_count"]) is int
    assert a["members"][0]["monthly_income"] == 2000000.0 and type(a["members"][0]["monthly_income"]) is float
    assert a["members"][0]["insurance_deprived"] == 1 and a["members"][1]["insurance_deprived"] == 0
    assert a["members"][2]["insurance_deprived"] == 0  # too young to be deprived
    assert a["total_income"] == 3000000 and a["income_per_person"] == 1000000
    assert a["classification"] == "poor"
    assert result.computed["classification"] == "poor"
    assert result.computed["members"] == [
        {"insurance_deprived": 1, "below_line": False, "income_or_zero": 2000000},
        {"insurance_deprived": 0, "below_line": True, "income_or_zero": 1000000},
        {"insurance_deprived": 0, "below_line": False, "income_or_zero": 0},  # empty < n is false
    ]
    assert result.outputs == {
        "classification": "poor", "income_per_person": 1000000, "deprivation_count": 2,
        "head_name": "Nguyễn Thị Hoà", "deprivations": {"health_insurance": 1, "water": 1},
    }
    assert result.attachments == ["3f2a" * 16]


def test_input_answers_are_not_mutated():
    answers = household()
    snapshot = copy.deepcopy(answers)
    run(HOUSEHOLD, answers)
    assert answers == snapshot


def test_member_calculation_reads_a_top_level_calculation():
    result = run(HOUSEHOLD, household())
    # line = 1,500,000 (rural): 2,000,000 is not below, 1,000,000 is.
    assert [m["below_line"] for m in result.answers["members"][:2]] == [False, True]


def test_client_calculated_values_are_ignored_and_recomputed():
    answers = household(classification="not_poor", total_income=1)
    answers["members"][0]["insurance_deprived"] = 0
    result = run(HOUSEHOLD, answers)
    assert result.errors == []
    assert result.answers["classification"] == "poor"
    assert result.answers["total_income"] == 3000000
    assert result.answers["members"][0]["insurance_deprived"] == 1


# --------------------------------------------------------------------------- parameters


def test_province_override_of_parameters():
    # A province raising its line to 3,500,000 makes the household poor per-person either way;
    # lowering it below 1,000,000 makes it not poor.
    assert run(HOUSEHOLD, household(), parameters={"income_line_rural": 900000}).outputs["classification"] == "not_poor"
    assert run(HOUSEHOLD, household(), parameters=None).outputs["classification"] == "poor"
    assert run(HOUSEHOLD, household(), parameters={}).outputs["classification"] == "poor"


def test_override_of_one_parameter_keeps_the_others():
    result = run(HOUSEHOLD, household(area_type="urban"), parameters={"income_line_rural": 1})
    assert result.answers["line"] == 2000000


# --------------------------------------------------------------------------- types


TYPES = make_form(
    {"name": "t", "type": "text"},
    {"name": "i", "type": "integer"},
    {"name": "d", "type": "decimal"},
    {"name": "day", "type": "date"},
    {"name": "at", "type": "datetime"},
    {"name": "one", "type": "select_one", "choices": "yes_no"},
    {"name": "many", "type": "select_multiple", "choices": "water"},
    {"name": "gps", "type": "geopoint"},
    {"name": "photo", "type": "image"},
)


@pytest.mark.parametrize("key,value,code", [
    ("t", 3, "invalid_type"),
    ("t", ["a"], "invalid_type"),
    ("t", "x" * 10_001, "too_many"),
    ("i", 1.5, "invalid_type"),
    ("i", True, "invalid_type"),
    ("i", "3", "invalid_type"),
    ("i", 2**60, "invalid_value"),
    ("d", "1.5", "invalid_type"),
    ("d", False, "invalid_type"),
    ("d", float("nan"), "invalid_value"),
    ("d", float("inf"), "invalid_value"),
    ("day", "2026-02-30", "invalid_value"),
    ("day", "01/09/2026", "invalid_value"),
    ("day", "2026-9-1", "invalid_value"),
    ("day", 20260901, "invalid_type"),
    ("at", "2026-09-01T08:30:00", "invalid_value"),  # no offset
    ("at", "2026-09-01 08:30:00+07:00", "invalid_value"),
    ("at", "2026-13-01T08:30:00+07:00", "invalid_value"),
    ("one", "maybe", "invalid_choice"),
    ("one", 1, "invalid_type"),
    ("one", ["yes"], "invalid_type"),
    ("many", "tap", "invalid_type"),
    ("many", ["tap", "tap"], "duplicate_value"),
    ("many", ["tap", "lake"], "invalid_choice"),
    ("many", ["tap", 1], "invalid_type"),
    ("gps", {"lat": 91, "lon": 105}, "invalid_value"),
    ("gps", {"lat": 21, "lon": -180.5}, "invalid_value"),
    ("gps", {"lat": 21, "lon": 105, "accuracy": -1}, "invalid_value"),
    ("gps", {"lat": 21, "lon": 105, "altitude": 20000}, "invalid_value"),
    ("gps", {"lat": 21}, "invalid_value"),
    ("gps", {"lat": 21, "lon": 105, "speed": 3}, "invalid_value"),
    ("gps", {"lat": True, "lon": 105}, "invalid_type"),
    ("gps", {"lat": "21", "lon": 105}, "invalid_type"),
    ("gps", "21 105", "invalid_type"),
    ("photo", "3f2a" * 16, "invalid_value"),
    ("photo", "sha256:xyz", "invalid_value"),
    ("photo", "md5:" + "a" * 32, "invalid_value"),
    ("photo", 7, "invalid_type"),
])
def test_type_errors(key, value, code):
    result = run(TYPES, {key: value})
    assert errors(result) == {(key, code)}
    assert key not in result.answers


@pytest.mark.parametrize("key,value,normal", [
    ("t", unicodedata.normalize("NFD", "Nguyễn Thị Hoà"), "Nguyễn Thị Hoà"),
    ("i", 3.0, 3),
    ("i", -7, -7),
    ("d", 2, 2.0),
    ("day", "2026-02-28", "2026-02-28"),
    ("at", "2026-09-01T08:30:00+07:00", "2026-09-01T08:30:00+07:00"),
    ("at", "2026-09-01T01:30:00.123Z", "2026-09-01T01:30:00.123Z"),
    ("one", "yes", "yes"),
    ("many", ["rain", "tap"], ["rain", "tap"]),
    ("gps", {"lat": -90, "lon": 180, "accuracy": 0, "altitude": -10}, {"lat": -90.0, "lon": 180.0, "accuracy": 0.0, "altitude": -10.0}),
    ("photo", "sha256:" + "AB" * 32, "sha256:" + "ab" * 32),
])
def test_accepted_values_are_normalised(key, value, normal):
    result = run(TYPES, {key: value})
    assert result.errors == []
    assert result.answers[key] == normal
    assert type(result.answers[key]) is type(normal)


def test_text_is_nfc_normalised_but_keys_are_left_alone():
    nfd = unicodedata.normalize("NFD", "Thuỷ")
    result = run(TYPES, {"t": nfd})
    assert result.answers["t"] == "Thuỷ" and unicodedata.is_normalized("NFC", result.answers["t"])
    # A key in NFD is not a field name: it is reported as unknown, not silently merged.
    assert errors(run(TYPES, {unicodedata.normalize("NFD", "tê"): 1})) == {(unicodedata.normalize("NFD", "tê"), "unknown_field")}


def test_null_answer_is_no_answer():
    result = run(TYPES, {"t": None, "i": None})
    assert result.errors == [] and "t" not in result.answers


def test_attachments_are_listed_once_in_order():
    form = make_form({"name": "a", "type": "image"},
                     {"name": "photos", "type": "repeat", "fields": [{"name": "p", "type": "image"}]})
    h1, h2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    result = run(form, {"a": h2, "photos": [{"p": h1}, {"p": h2}, {}]})
    assert result.attachments == ["2" * 64, "1" * 64]


def test_answers_must_be_an_object():
    result = run(TYPES, ["t"])
    assert errors(result) == {("", "invalid_answers")}


# --------------------------------------------------------------------------- unknown, read-only, notes


def test_unknown_fields_are_rejected_with_their_path():
    answers = household(colour="red")
    answers["members"][1]["shoe_size"] = 42
    result = run(HOUSEHOLD, answers)
    assert errors(result) == {("colour", "unknown_field"), ("members/1/shoe_size", "unknown_field")}
    assert "colour" not in result.answers


def test_group_names_are_not_answer_keys():
    form = make_form({"name": "g", "type": "group", "fields": [{"name": "a", "type": "text"}]})
    assert run(form, {"a": "x"}).errors == []
    assert errors(run(form, {"g": {"a": "x"}})) == {("g", "unknown_field")}


def test_read_only_and_notes_must_not_be_answered():
    form = make_form(
        {"name": "intro", "type": "note", "label": "Xin chào"},
        {"name": "code", "type": "text", "read_only": True, "default": "X"},
        {"name": "n", "type": "integer"},
        {"name": "shown", "type": "integer", "read_only": True, "calculation": "${n} * 2"},
    )
    result = run(form, {"intro": "hi", "code": "X", "n": 2, "shown": 99})
    assert errors(result) == {("intro", "read_only"), ("code", "read_only")}
    assert result.answers["shown"] == 4 and result.computed["shown"] == 4


def test_dynamic_default_on_an_input_is_the_enumerators_answer():
    form = make_form({"name": "n", "type": "integer"},
                     {"name": "m", "type": "integer", "calculation": "${n} + 1"})
    assert run(form, {"n": 1, "m": 10}).answers["m"] == 10


# --------------------------------------------------------------------------- required


def test_required_answers():
    form = make_form(
        {"name": "a", "type": "text", "required": True, "required_message": {"vi": "Bắt buộc", "en": "Required"}},
        {"name": "b", "type": "select_multiple", "choices": "water", "required": True},
        {"name": "c", "type": "integer"},
        {"name": "d", "type": "text", "required": "${c} > 2"},
    )
    result = run(form, {"a": "", "b": [], "c": 3})
    assert errors(result) == {("a", "required"), ("b", "required"), ("d", "required")}
    a = next(p for p in result.errors if p.path == "a")
    assert a.message == "Bắt buộc" and a.messages == {"vi": "Bắt buộc", "en": "Required"}
    assert errors(run(form, {"a": "x", "b": ["tap"], "c": 1})) == set()


def test_required_inside_repeat_has_indexed_path():
    answers = household()
    del answers["members"][2]["age"]
    answers["members"][1]["member_name"] = ""
    result = run(HOUSEHOLD, answers)
    assert errors(result) == {("members/2/age", "required"), ("members/1/member_name", "required")}


# --------------------------------------------------------------------------- relevance


def test_answer_to_irrelevant_field_is_rejected_and_dropped():
    answers = household()
    answers["members"][2]["has_health_insurance"] = "no"  # a 4-year-old
    result = run(HOUSEHOLD, answers)
    assert errors(result) == {("members/2/has_health_insurance", "not_relevant")}
    assert "has_health_insurance" not in result.answers["members"][2]
    assert result.answers["members"][2]["insurance_deprived"] == 0


def test_irrelevant_required_field_need_not_be_answered():
    answers = household()
    assert "has_health_insurance" not in answers["members"][2]
    assert run(HOUSEHOLD, answers).errors == []


def test_irrelevant_calculate_is_empty():
    form = make_form({"name": "n", "type": "integer"},
                     {"name": "c", "type": "calculate", "calculation": "${n} * 2", "relevant": "${n} > 1"})
    assert run(form, {"n": 1}).answers["c"] is None
    assert run(form, {"n": 1}).computed["c"] is None
    assert run(form, {"n": 2}).answers["c"] == 4


def test_group_relevance_is_inherited():
    form = make_form(
        {"name": "has_land", "type": "select_one", "choices": "yes_no"},
        {"name": "land", "type": "group", "relevant": "${has_land} = 'yes'", "fields": [
            {"name": "area", "type": "decimal", "required": True},
            {"name": "inner", "type": "group", "fields": [{"name": "crop", "type": "text"}]},
            {"name": "area_x2", "type": "calculate", "calculation": "${area} * 2"},
        ]},
    )
    result = run(form, {"has_land": "no", "area": 5, "crop": "rice"})
    assert errors(result) == {("area", "not_relevant"), ("crop", "not_relevant")}
    assert result.answers["area_x2"] is None
    result = run(form, {"has_land": "yes"})
    assert errors(result) == {("area", "required")}
    assert run(form, {"has_land": "yes", "area": 2, "crop": "rice"}).answers["area_x2"] == 4


def test_irrelevant_answer_does_not_feed_later_relevance():
    form = make_form(
        {"name": "a", "type": "integer"},
        {"name": "b", "type": "integer", "relevant": "${a} > 0"},
        {"name": "c", "type": "integer", "relevant": "${b} > 0"},
    )
    result = run(form, {"a": 0, "b": 5, "c": 1})
    assert errors(result) == {("b", "not_relevant"), ("c", "not_relevant")}


def test_irrelevant_repeat_must_have_no_instances():
    form = make_form(
        {"name": "has_children", "type": "select_one", "choices": "yes_no"},
        {"name": "children", "type": "repeat", "relevant": "${has_children} = 'yes'", "fields": [
            {"name": "age", "type": "integer", "required": True}]},
        {"name": "n", "type": "calculate", "calculation": "count(${children})"},
    )
    result = run(form, {"has_children": "no", "children": [{"age": 3}, {}]})
    assert errors(result) == {("children", "not_relevant")}  # no `required` errors from dropped instances
    assert result.answers["n"] == 0
    assert "children" not in result.answers
    assert run(form, {"has_children": "no", "children": []}).errors == []


# --------------------------------------------------------------------------- constraints


def test_constraint_message_in_default_language_with_all_languages():
    result = run(HOUSEHOLD, household(members_count=31))
    problem = next(p for p in result.errors if p.code == "constraint")
    assert problem.path == "members_count"
    assert problem.message == "Từ 1 đến 30 người"
    assert problem.messages == {"vi": "Từ 1 đến 30 người", "en": "From 1 to 30 people"}
    assert problem.to_dict()["messages"]["en"] == "From 1 to 30 people"


def test_constraint_without_message_quotes_the_expression():
    result = run(HOUSEHOLD, household(members=[{"member_name": "A", "age": 130}], members_count=1))
    problem = next(p for p in result.errors if p.code == "constraint")
    assert problem.path == "members/0/age" and ". >= 0 and . <= 120" in problem.message


def test_constraint_is_not_checked_on_empty_answers():
    form = make_form({"name": "a", "type": "text", "constraint": "string-length(.) > 3"})
    assert run(form, {"a": ""}).errors == []
    assert errors(run(form, {"a": "ab"})) == {("a", "constraint")}


def test_constraint_reads_other_fields_and_dates():
    form = make_form({"name": "born", "type": "date", "constraint": ". <= today()"},
                     {"name": "married", "type": "date", "constraint": ". > ${born}"})
    assert run(form, {"born": "1990-01-01", "married": "2010-05-01"}).errors == []
    assert errors(run(form, {"born": "2027-01-01"})) == {("born", "constraint")}
    assert errors(run(form, {"born": "1990-01-01", "married": "1980-01-01"})) == {("married", "constraint")}
    assert run(form, {"born": "1990-01-01"}).answers["born"] == "1990-01-01"


def test_constraint_on_select_multiple():
    form = make_form({"name": "w", "type": "select_multiple", "choices": "water",
                      "constraint": "not(selected(., 'none') and count-selected(.) > 1)"})
    assert run(form, {"w": ["none"]}).errors == []
    assert errors(run(form, {"w": ["none", "tap"]})) == {("w", "constraint")}


# --------------------------------------------------------------------------- repeats


def test_repeat_count_must_match():
    result = run(HOUSEHOLD, household(members_count=2))
    assert errors(result) == {("members", "repeat_count")}


def test_repeat_shape_errors():
    assert errors(run(HOUSEHOLD, household(members={"a": 1}, members_count=1))) >= {("members", "invalid_type")}
    answers = household()
    answers["members"][1] = "Nam"
    assert ("members/1", "invalid_type") in errors(run(HOUSEHOLD, answers))


def test_too_many_instances():
    form = make_form({"name": "r", "type": "repeat", "fields": [{"name": "x", "type": "integer"}]})
    result = run(form, {"r": [{}] * (MAX_REPEAT_INSTANCES + 1)})
    assert errors(result) == {("r", "too_many")}


def test_nested_repeats_paths_and_sums():
    form = make_form(
        {"name": "members", "type": "repeat", "fields": [
            {"name": "jobs", "type": "repeat", "fields": [
                {"name": "wage", "type": "decimal", "constraint": ". >= 0"},
                {"name": "wage_k", "type": "calculate", "calculation": "${wage} div 1000"},
            ]},
            {"name": "member_wages", "type": "calculate", "calculation": "sum(${wage_k})"},
            {"name": "job_count", "type": "calculate", "calculation": "count(${jobs})"},
        ]},
        {"name": "all_wages", "type": "calculate", "calculation": "sum(${member_wages})"},
        {"name": "every_wage", "type": "calculate", "calculation": "sum(${wage})"},
        {"name": "jobs_total", "type": "calculate", "calculation": "count(${jobs})"},
    )
    answers = {"members": [{"jobs": [{"wage": 1000}, {"wage": 2000}]}, {"jobs": [{"wage": -5}, {"wage": 4000}]}]}
    result = run(form, answers)
    assert errors(result) == {("members/1/jobs/0/wage", "constraint")}
    assert [m["member_wages"] for m in result.answers["members"]] == [3, -0.005 + 4]
    assert result.answers["every_wage"] == 1000 + 2000 - 5 + 4000
    assert result.answers["jobs_total"] == 4
    assert [m["job_count"] for m in result.answers["members"]] == [2, 2]
    assert result.computed["members"][0]["jobs"][1] == {"wage_k": 2}


def test_position_in_repeat():
    form = make_form({"name": "members", "type": "repeat", "fields": [
        {"name": "relation", "type": "select_one", "choices": "rel",
         "constraint": "(. = 'head') = (position(..) = 1)"}]},
        choices={"rel": [{"value": "head"}, {"value": "child"}]})
    assert run(form, {"members": [{"relation": "head"}, {"relation": "child"}]}).errors == []
    assert errors(run(form, {"members": [{"relation": "child"}, {"relation": "head"}]})) == {
        ("members/0/relation", "constraint"), ("members/1/relation", "constraint")}


# --------------------------------------------------------------------------- choice filters and points


PROVINCES = make_form(
    {"name": "region", "type": "select_one", "choices": "regions"},
    {"name": "province", "type": "select_one", "choices": "provinces", "choice_filter": "region = ${region}"},
    {"name": "walls", "type": "select_multiple", "choices": "walls", "choice_filter": "points > 0"},
    {"name": "wall_points", "type": "calculate", "calculation": "sum(choice-attr(${walls}, 'points'))"},
    choices={
        "regions": [{"value": "north"}, {"value": "south"}],
        "provinces": [{"value": "hn", "region": "north"}, {"value": "hcm", "region": "south"}],
        "walls": [{"value": "brick", "points": 12}, {"value": "wood", "points": 5}, {"value": "mud", "points": 0}],
    },
)


def test_choice_filter():
    assert run(PROVINCES, {"region": "north", "province": "hn"}).errors == []
    assert errors(run(PROVINCES, {"region": "south", "province": "hn"})) == {("province", "invalid_choice")}
    assert errors(run(PROVINCES, {"walls": ["brick", "mud"]})) == {("walls", "invalid_choice")}


def test_choice_points_are_data():
    assert run(PROVINCES, {"walls": ["brick", "wood"]}).answers["wall_points"] == 17


# --------------------------------------------------------------------------- order and errors of evaluation


def test_calculations_out_of_document_order():
    form = make_form(
        {"name": "c", "type": "calculate", "calculation": "${b} * 10"},
        {"name": "b", "type": "calculate", "calculation": "${a} + 1"},
        {"name": "a", "type": "integer"},
    )
    assert run(form, {"a": 1}).answers["c"] == 20


def test_today_is_injected():
    form = make_form({"name": "born", "type": "date"},
                     {"name": "age_days", "type": "calculate", "calculation": "today() - ${born}"},
                     {"name": "today_is", "type": "calculate", "calculation": "today()"})
    result = run(form, {"born": "2026-09-01"}, today=date(2026, 9, 11))
    assert result.answers["age_days"] == 10
    assert result.answers["today_is"] == "2026-09-11"


def test_evaluation_errors_are_reported_as_form_defects():
    form = make_form({"name": "pattern", "type": "text"},
                     {"name": "a", "type": "text", "constraint": "regex(., ${pattern})"})
    result = run(form, {"pattern": "(", "a": "x"})
    assert [p.code for p in result.errors] == ["evaluation_error"]
    assert result.errors[0].path == "a"


def test_sum_over_an_empty_answer_is_empty():
    form = make_form({"name": "r", "type": "repeat", "fields": [{"name": "x", "type": "integer"}]},
                     {"name": "total", "type": "calculate", "calculation": "sum(${x})"})
    assert run(form, {"r": [{"x": 1}, {}]}).answers["total"] is None
    assert run(form, {"r": [{"x": 1}, {"x": 2}]}).answers["total"] == 3


def test_division_by_zero_and_empty_values_compute_to_empty():
    form = make_form({"name": "n", "type": "integer"},
                     {"name": "x", "type": "calculate", "calculation": "10 div ${n}"},
                     {"name": "s", "type": "calculate", "calculation": "concat('', '')"})
    result = run(form, {"n": 0})
    assert result.answers["x"] is None and result.answers["s"] is None
    assert result.errors == []


# --------------------------------------------------------------------------- properties


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=40))
def test_any_text_answer_comes_back_nfc(text):
    result = run(TYPES, {"t": text})
    assert result.errors == []
    if text:
        assert result.answers["t"] == unicodedata.normalize("NFC", text)
        nfd = run(TYPES, {"t": unicodedata.normalize("NFD", text)})
        assert nfd.answers == result.answers


@settings(max_examples=80, deadline=None)
@given(ages=st.lists(st.integers(min_value=-5, max_value=130), min_size=1, max_size=8))
def test_member_errors_point_at_the_right_instance(ages):
    answers = household(members_count=len(ages),
                        members=[{"member_name": f"M{i}", "age": a, **({"has_health_insurance": "yes"} if a >= 6 else {})}
                                 for i, a in enumerate(ages)])
    result = run(HOUSEHOLD, answers)
    expected = {(f"members/{i}/age", "constraint") for i, a in enumerate(ages) if not 0 <= a <= 120}
    assert errors(result) == expected
