"""load_form: every problem code, paths, cycles, limits, canonical bytes."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

from forms.definition import LIMITS, FormDefinition, check_parameter_overrides, load_form
from forms.problems import DEFINITION_CODES, FormDefinitionError, Problem


def base(*fields, **extra) -> dict:
    doc = {
        "form_id": "household-review",
        "version": "2026.1",
        "title": {"vi": "Phiếu rà soát", "en": "Review"},
        "default_language": "vi",
        "parameters": {"income_line": 1500000},
        "choices": {
            "yes_no": [
                {"value": "yes", "label": {"vi": "Có", "en": "Yes"}},
                {"value": "no", "label": {"vi": "Không", "en": "No"}},
            ],
            "province": [
                {"value": "hn", "region": "north"},
                {"value": "hcm", "region": "south"},
            ],
        },
        "fields": list(fields) or [{"name": "head_name", "type": "text"}],
    }
    doc.update(extra)
    return doc


def problems_of(doc) -> list[Problem]:
    with pytest.raises(FormDefinitionError) as info:
        load_form(doc)
    assert info.value.problems, "FormDefinitionError without problems"
    for p in info.value.problems:
        assert p.code in DEFINITION_CODES, p
    return info.value.problems


def codes_at(doc) -> set[tuple[str, str]]:
    return {(p.path, p.code) for p in problems_of(doc)}


# --------------------------------------------------------------------------- a valid form


def household_form() -> dict:
    return base(
        {"name": "area_type", "type": "select_one", "choices": "yes_no", "required": True},
        {"name": "members_count", "type": "integer", "required": True,
         "constraint": ". >= 1 and . <= 30", "constraint_message": {"vi": "Từ 1 đến 30 người", "en": "1 to 30"}},
        {"name": "members", "type": "repeat", "repeat_count": "${members_count}", "fields": [
            {"name": "age", "type": "integer"},
            {"name": "income", "type": "decimal"},
            {"name": "adult", "type": "calculate", "calculation": "if(${age} >= 18, 1, 0)"},
        ]},
        {"name": "total_income", "type": "calculate", "calculation": "sum(${income})"},
        {"name": "income_per_person", "type": "calculate", "calculation": "${total_income} div ${members_count}"},
        {"name": "classification", "type": "calculate",
         "calculation": "if(${income_per_person} <= ${param:income_line}, 'poor', 'not_poor')"},
        outputs={"classification": "classification", "income_per_person": "income_per_person",
                 "deprivations": {"employment": "total_income"}},
    )


def test_valid_form_loads_and_exposes_its_parts():
    form = load_form(household_form())
    assert isinstance(form, FormDefinition)
    assert form.form_id == "household-review" and form.version == "2026.1"
    assert form.default_language == "vi"
    assert form.title["en"] == "Review"
    assert form.parameters["income_line"] == 1500000
    assert [c.value for c in form.choices["yes_no"]] == ["yes", "no"]
    assert form.choice_index["province"]["hn"].data["region"] == "north"
    assert form.outputs["classification"] == "classification"
    assert form.outputs["deprivations"]["employment"] == "total_income"
    assert [f.name for f in form.fields][:3] == ["area_type", "members_count", "members"]
    age = form.field_at("members/age")
    assert age is not None and age.type == "integer" and age.path == "fields/2/fields/0"
    assert form.field_at("age") is None
    assert form.field_at("members_count").constraint.source == ". >= 1 and . <= 30"


def test_form_is_immutable():
    form = load_form(household_form())
    with pytest.raises(AttributeError):
        form.version = "2"
    with pytest.raises(TypeError):
        form.parameters["income_line"] = 1
    with pytest.raises(TypeError):
        form.outputs["classification"] = "x"
    with pytest.raises(AttributeError):
        form.fields[0].name = "x"


def test_field_tree_and_scopes_are_read_only():
    form = load_form(household_form())
    with pytest.raises(TypeError):
        form.field_at("members_count").spec["constraint_message"]["vi"] = "x"
    with pytest.raises(TypeError):
        form.root.fields["new"] = form.fields[0]
    assert isinstance(form.root.children, tuple)


def test_parameter_overrides_are_checked_against_the_form():
    form = load_form(household_form())
    assert check_parameter_overrides(form, {"income_line": 1800000}) == []
    found = {(p.path, p.code) for p in check_parameter_overrides(
        form, {"income_line": "1800000", "poverty_line": 1})}
    assert found == {("income_line", "invalid_value"), ("poverty_line", "unknown_parameter")}
    assert [p.code for p in check_parameter_overrides(form, {"income_line": True})] == ["invalid_value"]
    assert [p.code for p in check_parameter_overrides(form, [1])] == ["invalid_value"]


def test_document_is_a_copy_and_input_is_not_kept():
    doc = household_form()
    form = load_form(doc)
    before = form.canonical_json()
    doc["fields"][0]["name"] = "changed"
    form.document["fields"][0]["name"] = "changed too"
    assert form.canonical_json() == before
    assert form.document["fields"][0]["name"] == "area_type"


def test_calculations_are_ordered_by_dependency_not_document_order():
    doc = base(
        {"name": "c", "type": "calculate", "calculation": "${b} + 1"},
        {"name": "b", "type": "calculate", "calculation": "${a} * 2"},
        {"name": "members", "type": "repeat", "fields": [
            {"name": "m", "type": "calculate", "calculation": "${a} + 1"},
        ]},
        {"name": "a", "type": "calculate", "calculation": "sum(${m}) + 1"},
    )
    # a depends on m (inside the repeat), so m comes first, then a, b, c.
    with pytest.raises(FormDefinitionError) as info:
        load_form(doc)
    assert {p.code for p in info.value.problems} == {"calculation_cycle"}

    doc["fields"][2]["fields"][0]["calculation"] = "2"
    form = load_form(doc)
    order = [f.answer_path for f in form.evaluation_order if f.type == "calculate"]
    assert order.index("members/m") < order.index("a") < order.index("b") < order.index("c")


# --------------------------------------------------------------------------- document-level problems


def test_not_an_object():
    assert codes_at([1, 2]) == {("", "invalid_value")}


def test_missing_document_keys_are_each_reported():
    found = codes_at({"fields": [{"name": "a", "type": "text"}]})
    assert found == {("form_id", "missing_key"), ("version", "missing_key"), ("title", "missing_key")}


def test_unknown_document_key():
    assert ("extra", "unknown_key") in codes_at(base(extra=1))


@pytest.mark.parametrize("key,value", [
    ("form_id", "Household Review"), ("form_id", ""), ("form_id", 7),
    ("version", "2026 1"), ("version", None),
    ("fields", {"name": "a"}), ("parameters", []), ("choices", ["yes"]),
])
def test_invalid_document_values(key, value):
    doc = base()
    doc[key] = value
    assert (key, "invalid_value") in codes_at(doc)


def test_empty_fields_list_is_refused():
    doc = base()
    doc["fields"] = []
    assert ("fields", "invalid_value") in codes_at(doc)


def test_every_problem_is_listed_at_once():
    doc = base(
        {"name": "1bad", "type": "text"},
        {"name": "ok", "type": "colour"},
        {"name": "dup", "type": "text", "colour": "red"},
        {"name": "dup", "type": "integer", "constraint": ". >"},
        {"name": "s", "type": "select_one", "choices": "nope"},
        {"name": "c", "type": "calculate", "calculation": "${ghost} + ${param:nope}"},
    )
    found = codes_at(doc)
    assert found >= {
        ("fields/0/name", "invalid_name"),
        ("fields/1/type", "unknown_type"),
        ("fields/2/colour", "unknown_key"),
        ("fields/3/name", "duplicate_name"),
        ("fields/3/constraint", "expression_syntax"),
        ("fields/4/choices", "missing_choice_list"),
        ("fields/5/calculation", "unknown_reference"),
        ("fields/5/calculation", "unknown_parameter"),
    }


def test_error_message_lists_problems():
    with pytest.raises(FormDefinitionError) as info:
        load_form(base({"name": "a", "type": "colour"}))
    assert "fields/0/type" in str(info.value)
    assert info.value.to_list()[0]["code"] == "unknown_type"


# --------------------------------------------------------------------------- field-level problems


def test_field_must_be_an_object_with_name_and_type():
    found = codes_at(base("text", {"type": "text"}, {"name": "x"}))
    assert found >= {("fields/0", "invalid_value"), ("fields/1/name", "missing_key"),
                     ("fields/2/type", "missing_key")}


@pytest.mark.parametrize("name", ["1st", "has space", "dấu", "a-b", "", "x" * 65])
def test_invalid_names(name):
    assert ("fields/0/name", "invalid_name") in codes_at(base({"name": name, "type": "text"}))


@pytest.mark.parametrize("field,key", [
    ({"name": "a", "type": "text", "repeat_count": "3"}, "repeat_count"),
    ({"name": "a", "type": "text", "choices": "yes_no"}, "choices"),
    ({"name": "a", "type": "integer", "choice_filter": "true()"}, "choice_filter"),
    ({"name": "a", "type": "note", "required": True}, "required"),
    ({"name": "a", "type": "calculate", "calculation": "1", "constraint": "true()"}, "constraint"),
    ({"name": "g", "type": "group", "fields": [{"name": "x", "type": "text"}], "repeat_count": "2"}, "repeat_count"),
    ({"name": "a", "type": "text", "fields": []}, "fields"),
])
def test_keys_that_do_not_belong_to_the_type(field, key):
    assert (f"fields/0/{key}", "key_not_allowed") in codes_at(base(field))


def test_unknown_type_lists_the_known_ones():
    problems = problems_of(base({"name": "a", "type": "barcode"}))
    assert problems[0].code == "unknown_type" and "select_one" in problems[0].message


@pytest.mark.parametrize("field,key", [
    ({"name": "a", "type": "calculate"}, "calculation"),
    ({"name": "a", "type": "select_one"}, "choices"),
    ({"name": "a", "type": "repeat"}, "fields"),
])
def test_missing_keys_per_type(field, key):
    assert (f"fields/0/{key}", "missing_key") in codes_at(base(field))


def test_select_with_empty_list():
    doc = base({"name": "a", "type": "select_multiple", "choices": "empty"})
    doc["choices"]["empty"] = []
    assert ("fields/0/choices", "empty_choice_list") in codes_at(doc)


def test_required_and_read_only_types():
    found = codes_at(base({"name": "a", "type": "text", "required": 1, "read_only": "yes"}))
    assert ("fields/0/required", "invalid_value") in found
    assert ("fields/0/read_only", "invalid_value") in found


def test_required_may_be_an_expression():
    form = load_form(base({"name": "a", "type": "integer"},
                          {"name": "b", "type": "text", "required": "${a} > 2"}))
    b = form.field_at("b")
    assert b.required is True and b.required_expr.source == "${a} > 2"


@pytest.mark.parametrize("default,ok", [
    (3, True), (1.5, False), ("3", False), (True, False),
])
def test_integer_defaults_are_type_checked(default, ok):
    doc = base({"name": "a", "type": "integer", "default": default})
    if ok:
        assert load_form(doc).field_at("a").default == default
    else:
        assert ("fields/0/default", "invalid_value") in codes_at(doc)


def test_select_default_must_be_a_choice():
    assert ("fields/0/default", "invalid_value") in codes_at(
        base({"name": "a", "type": "select_one", "choices": "yes_no", "default": "maybe"}))
    form = load_form(base({"name": "a", "type": "select_multiple", "choices": "yes_no", "default": ["yes"]}))
    assert form.field_at("a").default == ["yes"]


# --------------------------------------------------------------------------- names and scopes


def test_duplicate_names_in_form_scope_and_through_groups():
    doc = base(
        {"name": "a", "type": "text"},
        {"name": "g", "type": "group", "fields": [{"name": "a", "type": "integer"}]},
    )
    problems = problems_of(doc)
    assert [(p.path, p.code) for p in problems] == [("fields/1/fields/0/name", "duplicate_name")]
    assert "groups share their scope" in problems[0].message


def test_duplicate_names_within_one_repeat():
    doc = base({"name": "members", "type": "repeat", "fields": [
        {"name": "age", "type": "integer"},
        {"name": "g", "type": "group", "fields": [{"name": "age", "type": "integer"}]},
    ]})
    assert codes_at(doc) == {("fields/0/fields/1/fields/0/name", "duplicate_name")}


def test_same_name_in_different_scopes_is_allowed():
    doc = base(
        {"name": "age", "type": "integer"},
        {"name": "members", "type": "repeat", "fields": [{"name": "age", "type": "integer"},
                                                          {"name": "x", "type": "calculate", "calculation": "${age}"}]},
        {"name": "children", "type": "repeat", "fields": [{"name": "age", "type": "integer"}]},
    )
    form = load_form(doc)
    # Inside the repeat, ${age} is the sibling, not the form's field.
    ref = form.field_at("members/x").scope.reference("age")
    assert ref.field is form.field_at("members/age") and ref.kind == "value" and ref.up == 0


def test_choice_problems():
    doc = base()
    doc["choices"]["bad list"] = []
    doc["choices"]["dupes"] = [{"value": "a"}, {"value": "a"}, {"value": "has space"}, {"label": "x"},
                               {"value": "b", "9key": 1}, {"value": "c", "nested": {"x": [1]}}, "d"]
    found = codes_at(doc)
    assert found >= {
        ("choices/bad list", "invalid_name"),
        ("choices/dupes/1/value", "duplicate_choice"),
        ("choices/dupes/2/value", "invalid_value"),
        ("choices/dupes/3", "missing_key"),
        ("choices/dupes/4/9key", "invalid_name"),
        ("choices/dupes/5/nested", "invalid_value"),
        ("choices/dupes/6", "invalid_value"),
    }


def test_choice_extra_keys_may_be_maps_of_points():
    doc = base()
    doc["choices"]["walls"] = [{"value": "brick", "points": {"red_river_delta": 12, "urban": 9}}]
    form = load_form(doc)
    assert form.choice_index["walls"]["brick"].data["points"]["urban"] == 9


def test_parameter_problems():
    doc = base(parameters={"ok": 1, "bad name": 2, "table": {"a": 1}})
    assert codes_at(doc) == {("parameters/bad name", "invalid_name"), ("parameters/table", "invalid_value")}


# --------------------------------------------------------------------------- labels and languages


def test_label_maps_need_language_tags_and_text_values():
    doc = base({"name": "a", "type": "text", "label": {"Vietnamese!": "x", "en": 3}, "hint": {}},
               {"name": "b", "type": "text", "constraint_message": ["x"]})
    found = codes_at(doc)
    assert found >= {("fields/0/label/Vietnamese!", "invalid_language"),
                     ("fields/0/label/en", "invalid_value"),
                     ("fields/0/hint", "invalid_value"),
                     ("fields/1/constraint_message", "invalid_value")}


def test_label_map_with_non_string_language_key():
    doc = base({"name": "a", "type": "text", "label": {1: "x"}})
    assert ("fields/0/label/1", "invalid_language") in codes_at(doc)


def test_declared_languages_restrict_label_maps():
    doc = base({"name": "a", "type": "text", "label": {"vi": "x", "fr": "y"}}, languages=["vi", "en"])
    assert codes_at(doc) == {("fields/0/label/fr", "invalid_language")}
    doc = base(languages=["vi", "vi"], default_language="en")
    found = codes_at(doc)
    assert ("languages/1", "duplicate_name") in found and ("default_language", "invalid_language") in found


def test_default_language_is_inferred():
    doc = base()
    del doc["default_language"]
    assert load_form(doc).default_language == "vi"
    doc = base(languages=["en", "vi"])
    del doc["default_language"]
    assert load_form(doc).default_language == "en"


# --------------------------------------------------------------------------- expressions


def test_expression_syntax_names_field_and_key():
    problems = problems_of(base({"name": "age", "type": "integer", "constraint": ". >= 1 and"}))
    assert [(p.path, p.code) for p in problems] == [("fields/0/constraint", "expression_syntax")]
    assert problems[0].message.startswith("age.constraint:") and "position" in problems[0].message


def test_unknown_function_is_a_syntax_problem():
    assert codes_at(base({"name": "a", "type": "calculate", "calculation": "frobnicate(1)"})) == {
        ("fields/0/calculation", "expression_syntax")}


@pytest.mark.parametrize("value", ["", "   ", 3, None])
def test_expression_must_be_non_empty_text(value):
    assert ("fields/0/relevant", "invalid_value") in codes_at(base({"name": "a", "type": "text", "relevant": value}))


def test_references_resolve_to_fields_visible_from_the_expression():
    doc = base(
        {"name": "g", "type": "group", "relevant": "${a} = 1", "fields": [{"name": "a", "type": "integer"}]},
        {"name": "n", "type": "note", "label": "hello"},
        {"name": "b", "type": "text", "relevant": "${g} = 1"},
        {"name": "c", "type": "text", "relevant": "${n} = 1"},
        {"name": "d", "type": "text", "relevant": ". = 1"},
        {"name": "e", "type": "text", "relevant": "region = 'north'"},
        {"name": "f", "type": "text", "relevant": "${zzz} = 1"},
    )
    found = codes_at(doc)
    assert found >= {
        ("fields/2/relevant", "invalid_reference"),
        ("fields/3/relevant", "invalid_reference"),
        ("fields/4/relevant", "invalid_reference"),
        ("fields/5/relevant", "invalid_reference"),
        ("fields/6/relevant", "unknown_reference"),
    }
    # A group's relevance reading its own child is a loop: the child inherits the group's
    # relevance, so the group depends on a value that depends on the group.
    assert ("fields/0", "calculation_cycle") in found


def test_ambiguous_reference_into_two_repeats():
    doc = base(
        {"name": "members", "type": "repeat", "fields": [{"name": "age", "type": "integer"}]},
        {"name": "visitors", "type": "repeat", "fields": [{"name": "age", "type": "integer"}]},
        {"name": "oldest", "type": "calculate", "calculation": "max(${age})"},
    )
    problems = problems_of(doc)
    assert [(p.path, p.code) for p in problems] == [("fields/2/calculation", "ambiguous_reference")]
    assert "members/age" in problems[0].message and "visitors/age" in problems[0].message


def test_reference_kinds_across_repeats():
    doc = base(
        {"name": "area", "type": "text"},
        {"name": "members", "type": "repeat", "fields": [
            {"name": "age", "type": "integer"},
            {"name": "jobs", "type": "repeat", "fields": [{"name": "wage", "type": "decimal"}]},
            {"name": "wages", "type": "calculate", "calculation": "sum(${wage}) + count(${jobs})"},
            {"name": "urban", "type": "calculate", "calculation": "${area} = 'urban'"},
        ]},
        {"name": "all_wages", "type": "calculate", "calculation": "sum(${wage}) + count(${members})"},
    )
    form = load_form(doc)
    member_scope = form.field_at("members/age").scope
    top = form.root
    assert (top.reference("wage").up, top.reference("wage").down, top.reference("wage").kind) == (0, ("members", "jobs"), "values")
    assert top.reference("members").kind == "instances"
    assert (member_scope.reference("wage").down, member_scope.reference("wage").kind) == (("jobs",), "values")
    assert member_scope.reference("jobs").kind == "instances"
    assert (member_scope.reference("area").up, member_scope.reference("area").kind) == (1, "value")


def test_resolution_follows_the_shared_scoping_rules():
    # From inside `members`, a repeat nested in `members` is searched before the form's own
    # fields and before other repeats (forms/conformance/README.md, "Resolving ${name}").
    doc = base(
        {"name": "wage", "type": "integer"},
        {"name": "members", "type": "repeat", "fields": [
            {"name": "jobs", "type": "repeat", "fields": [{"name": "wage", "type": "integer"}]},
            {"name": "w", "type": "calculate", "calculation": "sum(${wage})"},
        ]},
        {"name": "visitors", "type": "repeat", "fields": [{"name": "wage", "type": "integer"}]},
        {"name": "top", "type": "calculate", "calculation": "${wage}"},
    )
    form = load_form(doc)
    inner = form.field_at("members/w").scope.reference("wage")
    assert inner.field is form.field_at("members/jobs/wage") and inner.kind == "values"
    top = form.root.reference("wage")
    assert top.field is form.field_at("wage") and top.kind == "value"


def test_unknown_parameter():
    problems = problems_of(base({"name": "a", "type": "calculate", "calculation": "${param:income_lines}"}))
    assert [(p.path, p.code) for p in problems] == [("fields/0/calculation", "unknown_parameter")]


def test_choice_filter_bare_names_must_be_choice_keys():
    ok = base({"name": "p", "type": "select_one", "choices": "province", "choice_filter": "region = 'north' and name != 'x'"})
    load_form(ok)
    bad = base({"name": "p", "type": "select_one", "choices": "province", "choice_filter": "colour = 'red'"})
    assert codes_at(bad) == {("fields/0/choice_filter", "unknown_choice_key")}


# --------------------------------------------------------------------------- cycles


def test_calculation_cycle_reports_the_loop():
    doc = base(
        {"name": "a", "type": "calculate", "calculation": "${c} + 1"},
        {"name": "b", "type": "calculate", "calculation": "${a} + 1"},
        {"name": "c", "type": "calculate", "calculation": "${b} + 1"},
        {"name": "d", "type": "calculate", "calculation": "${a} + 1"},
    )
    problems = problems_of(doc)
    assert [(p.path, p.code) for p in problems] == [("fields/0", "calculation_cycle")]
    assert "a → c → b → a" in problems[0].message or "a → b → c → a" in problems[0].message


def test_self_reference_is_a_cycle():
    assert codes_at(base({"name": "a", "type": "calculate", "calculation": "${a} + 1"})) == {
        ("fields/0", "calculation_cycle")}


def test_relevance_loop_is_a_cycle():
    doc = base({"name": "a", "type": "text", "relevant": "${b} = 'x'"},
               {"name": "b", "type": "text", "relevant": "${a} = 'y'"})
    assert codes_at(doc) == {("fields/0", "calculation_cycle")}


def test_dynamic_default_loop_is_a_cycle():
    doc = base({"name": "a", "type": "integer", "calculation": "${b}"},
               {"name": "b", "type": "integer", "calculation": "${a}"})
    assert codes_at(doc) == {("fields/0", "calculation_cycle")}


def test_repeat_count_that_depends_on_the_repeat_is_a_cycle():
    doc = base(
        {"name": "members", "type": "repeat", "repeat_count": "${n}", "fields": [{"name": "age", "type": "integer"}]},
        {"name": "n", "type": "calculate", "calculation": "count(${age})"},
    )
    assert codes_at(doc) == {("fields/0", "calculation_cycle")}


def test_constraints_referencing_each_other_are_not_cycles():
    doc = base({"name": "a", "type": "integer", "constraint": ". < ${b}"},
               {"name": "b", "type": "integer", "constraint": ". > ${a}", "required": "${a} > 0"})
    load_form(doc)


def test_sum_over_repeat_of_member_calculate_is_not_a_cycle():
    load_form(household_form())


# --------------------------------------------------------------------------- outputs


def test_outputs_must_name_top_level_fields():
    doc = household_form()
    doc["outputs"] = {
        "classification": "nope",
        "income_per_person": "age",  # inside the repeat
        "head_name": "members",  # a repeat has no single value
        "favourite_colour": "classification",
        "deprivations": {"employment": "missing", "bad key": "classification"},
        "household_code": 3,
    }
    found = codes_at(doc)
    assert found == {
        ("outputs/classification", "unknown_reference"),
        ("outputs/income_per_person", "unknown_reference"),
        ("outputs/head_name", "invalid_reference"),
        ("outputs/favourite_colour", "unknown_key"),
        ("outputs/deprivations/employment", "unknown_reference"),
        ("outputs/deprivations/bad key", "invalid_name"),
        ("outputs/household_code", "invalid_value"),
    }


def test_outputs_must_be_an_object():
    assert ("outputs", "invalid_value") in codes_at(base(outputs=["classification"]))


# --------------------------------------------------------------------------- hostile documents


def test_too_many_fields():
    fields = [{"name": f"f{i}", "type": "text"} for i in range(LIMITS["max_fields"] + 5)]
    problems = problems_of(base(*fields))
    assert [(p.path, p.code) for p in problems] == [(f"fields/{LIMITS['max_fields']}", "too_many")]


def test_nesting_too_deep():
    inner: dict = {"name": "leaf", "type": "text"}
    for i in range(LIMITS["max_depth"] + 3):
        inner = {"name": f"g{i}", "type": "group", "fields": [inner]}
    found = codes_at(base(inner))
    assert any(code == "too_deep" for _, code in found)


def test_deeply_nested_json_does_not_recurse_forever():
    deep: object = "x"
    for _ in range(100_000):
        deep = {"a": deep}
    found = codes_at(base({"name": "a", "type": "text", "label": deep}))
    assert any(code == "too_deep" for _, code in found)
    deep_list: object = []
    for _ in range(100_000):
        deep_list = [deep_list]
    assert any(code == "too_deep" for _, code in codes_at(base(fields=deep_list)))


def test_too_many_choices():
    doc = base()
    doc["choices"]["big"] = [{"value": f"v{i}"} for i in range(LIMITS["max_choices_per_list"] + 1)]
    assert ("choices/big", "too_many") in codes_at(doc)


def test_too_long_expression_and_label():
    long_expr = " + ".join(["1"] * 3000)
    found = codes_at(base({"name": "a", "type": "calculate", "calculation": long_expr},
                          {"name": "b", "type": "text", "label": "x" * (LIMITS["max_text_length"] + 1)}))
    assert found == {("fields/0/calculation", "too_large"), ("fields/1/label", "too_large")}


def test_problem_list_is_capped():
    fields = [{"name": f"f{i}", "type": "text", "colour": 1, "size": 2} for i in range(1500)]
    problems = problems_of(base(*fields))
    assert len(problems) == LIMITS["max_problems"] + 1
    assert problems[-1].code == "too_many"


def test_nan_is_refused():
    assert ("parameters/x", "invalid_value") in codes_at(base(parameters={"x": float("nan")}))


# --------------------------------------------------------------------------- canonical bytes


def test_canonical_json_is_sorted_compact_utf8_nfc():
    doc = household_form()
    doc["title"] = {"vi": unicodedata.normalize("NFD", "Phiếu rà soát hộ"), "en": "Review"}
    form = load_form(doc)
    raw = form.canonical_json()
    assert isinstance(raw, bytes)
    text = raw.decode("utf-8")
    assert text.startswith('{"choices":{') and ', "' not in text and '": ' not in text
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "Phiếu rà soát hộ" in text and unicodedata.is_normalized("NFC", text)
    assert "\\u" not in text
    assert form.sha256 == hashlib.sha256(raw).hexdigest()
    assert load_form(json.loads(raw)).canonical_json() == raw


def _shuffled(value, rnd: random.Random):
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rnd) for v in value]
    return value


def _to_nfd(value):
    if isinstance(value, dict):
        return {_to_nfd(k): _to_nfd(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_nfd(v) for v in value]
    if isinstance(value, str):
        return unicodedata.normalize("NFD", value)
    return value


REFERENCE_FORM = load_form(household_form())


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), nfd=st.booleans())
def test_canonical_json_is_stable_under_key_order_and_normalisation(seed, nfd):
    doc = _shuffled(copy.deepcopy(household_form()), random.Random(seed))
    if nfd:
        doc = _to_nfd(doc)
    form = load_form(doc)
    assert form.canonical_json() == REFERENCE_FORM.canonical_json()
    assert form.sha256 == REFERENCE_FORM.sha256


@settings(max_examples=60, deadline=None)
@given(label=st.text(min_size=1, max_size=30))
def test_any_label_text_round_trips_through_canonical_bytes(label):
    doc = household_form()
    doc["fields"][0]["label"] = {"vi": label}
    form = load_form(doc)
    again = load_form(json.loads(form.canonical_json()))
    assert again.sha256 == form.sha256
    assert again.field_at("area_type").label["vi"] == unicodedata.normalize("NFC", label)


def test_different_documents_have_different_hashes():
    a = load_form(household_form())
    doc = household_form()
    doc["version"] = "2026.2"
    assert load_form(doc).sha256 != a.sha256


def test_bundled_forms_load_if_present():
    from pathlib import Path

    bundled = sorted((Path(__file__).resolve().parents[3] / "forms" / "bundled").glob("*.json"))
    for path in bundled:
        form = load_form(json.loads(path.read_text(encoding="utf-8")))
        assert form.outputs.get("classification")


def test_instance_key_names_a_field_inside_its_repeat():
    from forms.definition import FormDefinitionError, load_form

    def doc(key):
        return {"form_id": "k", "version": "1", "title": "k", "fields": [
            {"name": "members", "type": "repeat", "instance_key": key, "fields": [
                {"name": "member_id", "type": "text"}, {"name": "photo", "type": "image"}]}]}

    assert load_form(doc("member_id")).instance_keys == {"members": "member_id"}
    for key, code in (("nope", "unknown_reference"), ("photo", "invalid_reference")):
        try:
            load_form(doc(key))
        except FormDefinitionError as exc:
            assert [(p.path, p.code) for p in exc.problems] == [("fields/0/instance_key", code)]
        else:
            raise AssertionError(f"instance_key {key!r} was accepted")
