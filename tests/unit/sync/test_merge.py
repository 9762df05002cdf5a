"""merge_household: every case of the three-way merge, keyed repeats, and its properties."""

from __future__ import annotations

import copy
import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

from sync.merge import FieldConflict, MergeResult, answers_equal, diff_paths, merge_household

KEYED = {"members": "member_id"}


def member(mid, **fields):
    return {"member_id": mid, **fields}


BASE = {"head_name": "An", "floor_area": 60, "water_source": "tap",
        "members": [member("m1", age=40), member("m2", age=38), member("m3", age=10)]}


def edit(answers, **changes):
    out = copy.deepcopy(answers)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- fast forwards


def test_new_household_takes_incoming_as_is():
    incoming = {"head_name": "An", "empty": None}
    result = merge_household(None, None, incoming)
    assert result == MergeResult({"head_name": "An", "empty": None}, ("head_name",), (), True)
    assert merge_household(BASE, None, incoming).answers == incoming  # a base but no record: still new


def test_phone_started_from_the_latest_revision_wins_entirely():
    incoming = edit(BASE, floor_area=70, water_source=None, latrine="septic")
    result = merge_household(BASE, copy.deepcopy(BASE), incoming)
    assert result.fast_forward and result.conflicts == ()
    assert result.answers == incoming
    assert result.changed_paths == ("floor_area", "latrine", "water_source")


def test_base_equal_to_current_modulo_spelling_is_a_fast_forward():
    base = {"name": unicodedata.normalize("NFD", "Đỗ Thị"), "n": 1.0, "x": None}
    current = {"n": 1, "name": "Đỗ Thị"}
    assert merge_household(base, current, {"n": 2}).fast_forward


def test_result_shares_nothing_with_the_arguments():
    base, current = copy.deepcopy(BASE), edit(BASE, floor_area=65)
    incoming = edit(BASE, members=[member("m1", age=41)])
    for result in (merge_household(base, current, incoming), merge_household(base, base, incoming),
                   merge_household(None, None, incoming)):
        result.answers["members"][0]["age"] = 99
        assert incoming["members"][0]["age"] == 41


# --------------------------------------------------------------------------- three-way, per field


def test_phone_only_server_only_and_equal_changes_merge_cleanly():
    current = edit(BASE, floor_area=65, water_source="rain")       # server side
    incoming = edit(BASE, head_name="Ân", water_source="rain")     # phone
    result = merge_household(BASE, current, incoming)
    assert not result.fast_forward and result.conflicts == ()
    assert result.answers == edit(BASE, head_name="Ân", floor_area=65, water_source="rain")
    assert result.changed_paths == ("head_name",)


def test_same_field_changed_differently_keeps_current_and_records_all_three():
    current = edit(BASE, floor_area=65)
    incoming = edit(BASE, floor_area=70, head_name="Ân")
    result = merge_household(BASE, current, incoming)
    assert result.answers == edit(BASE, floor_area=65, head_name="Ân")
    assert result.conflicts == (FieldConflict("floor_area", 60, 65, 70),)
    assert result.changed_paths == ("head_name",)


def test_a_removed_answer_is_a_change_to_none():
    # removed by the phone, untouched on the server: removed
    result = merge_household(BASE, edit(BASE, floor_area=65), edit(BASE, water_source=None))
    assert "water_source" not in result.answers and result.changed_paths == ("water_source",)
    # removed by the phone, changed on the server: conflict, current kept
    result = merge_household(BASE, edit(BASE, water_source="rain"), edit(BASE, water_source=None))
    assert result.answers["water_source"] == "rain"
    assert result.conflicts == (FieldConflict("water_source", "tap", "rain", None),)
    # removed on both sides: no conflict
    result = merge_household(BASE, edit(BASE, water_source=None, floor_area=1), edit(BASE, water_source=None))
    assert "water_source" not in result.answers and result.conflicts == ()
    # explicit null and absent are the same answer
    result = merge_household(BASE, edit(BASE, floor_area=1), {**BASE, "water_source": None})
    assert "water_source" not in result.answers


def test_spelling_differences_are_not_changes():
    base = {"n": 1, "s": "Đỗ"}
    current = {"n": 1.0, "s": "Đỗ", "other": True}
    incoming = {"n": 1, "s": unicodedata.normalize("NFD", "Đỗ")}
    result = merge_household(base, current, incoming)
    assert result.conflicts == () and result.changed_paths == ()
    # ... but true is not 1
    result = merge_household({"x": 1}, {"x": 1, "y": 0}, {"x": True})
    assert result.answers["x"] is True


def test_no_common_ancestor_conflicts_where_both_hold_different_values():
    current = {"a": 1, "b": 2, "c": 3}
    incoming = {"a": 1, "b": 5, "d": 4}
    result = merge_household(None, current, incoming)
    assert result.answers == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert result.conflicts == (FieldConflict("b", None, 2, 5),)


def test_structured_values_are_one_field():
    base = {"location": {"lat": 21.0, "lon": 105.0}, "telecom": ["mobile"]}
    current = {"location": {"lat": 21.5, "lon": 105.0}, "telecom": ["mobile", "tv"]}
    incoming = {"location": {"lat": 21.0, "lon": 105.5}, "telecom": ["mobile", "internet"]}
    result = merge_household(base, current, incoming)
    assert result.answers == current
    assert [c.path for c in result.conflicts] == ["location", "telecom"]


def test_unkeyed_repeat_is_one_field():
    current = edit(BASE, members=[member("m1", age=41), *BASE["members"][1:]])
    incoming = edit(BASE, members=[*BASE["members"], member("m4", age=0)])
    result = merge_household(BASE, current, incoming)
    assert result.answers == current
    assert result.conflicts == (FieldConflict("members", BASE["members"], current["members"], incoming["members"]),)


# --------------------------------------------------------------------------- keyed repeats


def members_of(answers):
    return {m["member_id"]: m for m in answers["members"]}


def test_keyed_repeat_merges_instance_by_instance():
    current = edit(BASE, members=[member("m1", age=41), member("m2", age=38), member("m3", age=10, school="yes")])
    incoming = edit(BASE, members=[member("m1", age=40, sex="male"), member("m2", age=38), member("m3", age=10),
                                   member("m4", age=0)])
    result = merge_household(BASE, current, incoming, keyed_repeats=KEYED)
    assert result.conflicts == ()
    assert result.answers["members"] == [member("m1", age=41, sex="male"), member("m2", age=38),
                                         member("m3", age=10, school="yes"), member("m4", age=0)]
    assert result.changed_paths == ("members[member_id=m1]/sex", "members[member_id=m4]")


def test_keyed_same_member_field_changed_differently_is_a_field_conflict():
    current = edit(BASE, members=[member("m1", age=41), *BASE["members"][1:]])
    incoming = edit(BASE, members=[member("m1", age=42), *BASE["members"][1:3], member("m4")])
    result = merge_household(BASE, current, incoming, keyed_repeats=KEYED)
    assert result.conflicts == (FieldConflict("members[member_id=m1]/age", 40, 41, 42),)
    assert members_of(result.answers)["m1"] == member("m1", age=41)
    assert "m4" in members_of(result.answers)


def test_keyed_removed_on_one_side():
    removed = edit(BASE, members=BASE["members"][:2])
    modified = edit(BASE, members=[*BASE["members"][:2], member("m3", age=11)])
    touched_elsewhere = edit(BASE, floor_area=1)
    # removed by the phone, unchanged on the server: removed
    result = merge_household(BASE, touched_elsewhere, removed, keyed_repeats=KEYED)
    assert list(members_of(result.answers)) == ["m1", "m2"] and result.conflicts == ()
    assert result.changed_paths == ("members[member_id=m3]",)
    # removed on the server, unchanged by the phone: stays removed
    result = merge_household(BASE, edit(removed, floor_area=1), edit(BASE, head_name="X"), keyed_repeats=KEYED)
    assert list(members_of(result.answers)) == ["m1", "m2"] and result.conflicts == ()
    # removed by the phone, modified on the server: conflict, current (modified) kept
    current = edit(modified, floor_area=1)
    result = merge_household(BASE, current, removed, keyed_repeats=KEYED)
    assert result.conflicts == (FieldConflict("members[member_id=m3]", member("m3", age=10), member("m3", age=11), None),)
    assert members_of(result.answers)["m3"] == member("m3", age=11)
    # removed on the server, modified by the phone: conflict, stays removed
    result = merge_household(BASE, edit(removed, floor_area=1), modified, keyed_repeats=KEYED)
    assert result.conflicts == (FieldConflict("members[member_id=m3]", member("m3", age=10), None, member("m3", age=11)),)
    assert "m3" not in members_of(result.answers)


def test_keyed_added_on_both_sides_kept_and_same_key_merged_from_nothing():
    current = edit(BASE, members=[*BASE["members"], member("c1", age=1)])
    incoming = edit(BASE, members=[*BASE["members"], member("p1", age=2)])
    result = merge_household(BASE, current, incoming, keyed_repeats=KEYED)
    assert [m["member_id"] for m in result.answers["members"]] == ["m1", "m2", "m3", "c1", "p1"]
    same_key = edit(BASE, members=[*BASE["members"], member("c1", age=1, sex="f")])
    clash = edit(BASE, members=[*BASE["members"], member("c1", age=3, sex="f")], floor_area=1)
    result = merge_household(BASE, same_key, clash, keyed_repeats=KEYED)
    assert result.conflicts == (FieldConflict("members[member_id=c1]/age", None, 1, 3),)


def test_keyed_order_new_instances_follow_their_anchor_sorted_by_key():
    base = {"members": [member("a"), member("b")]}
    current = {"members": [member("a"), member("y"), member("b")], "x": 1}
    incoming = {"members": [member("z"), member("a"), member("x"), member("b"), member("w")]}
    result = merge_household(base, current, incoming, keyed_repeats=KEYED)
    assert [m["member_id"] for m in result.answers["members"]] == ["z", "a", "x", "y", "b", "w"]


def test_keyed_order_phone_reorder_applies_unless_both_reordered():
    base = {"members": [member("a"), member("b"), member("c")]}
    server = {"members": [member("a", age=1), member("b"), member("c")]}
    phone = {"members": [member("c"), member("a"), member("b")]}
    result = merge_household(base, server, phone, keyed_repeats=KEYED)
    assert result.answers["members"] == [member("c"), member("a", age=1), member("b")]
    assert result.changed_paths == ("members/@order",) and result.conflicts == ()
    server_reordered = {"members": [member("b", age=1), member("a"), member("c")]}
    result = merge_household(base, server_reordered, phone, keyed_repeats=KEYED)
    assert result.answers == server_reordered
    assert result.conflicts == (FieldConflict("members/@order", ["a", "b", "c"], ["b", "a", "c"], ["c", "a", "b"]),)


@pytest.mark.parametrize("bad", [
    [member("m1"), member("m1")],          # a repeated key
    [member("m1"), {"age": 3}],            # a missing key
    [member("m1"), "not an object"],
    [{"member_id": True}],                 # a key that is not a string or int
    {"m1": member("m1")},                  # not a list at all
])
def test_unkeyable_lists_merge_as_one_field(bad):
    current = edit(BASE, members=[member("m1", age=41)])
    result = merge_household(BASE, current, edit(BASE, members=bad), keyed_repeats=KEYED)
    assert result.answers["members"] == current["members"]
    assert [c.path for c in result.conflicts] == ["members"]


def test_nested_keyed_repeats_use_nested_paths():
    keyed = {"members": "member_id", "members/illnesses": "code"}
    base = {"members": [member("m1", illnesses=[{"code": "I10", "since": 2020}])]}
    current = {"members": [member("m1", illnesses=[{"code": "I10", "since": 2021}])]}
    incoming = {"members": [member("m1", illnesses=[{"code": "I10", "since": 2019}, {"code": "E11"}])]}
    result = merge_household(base, current, incoming, keyed_repeats=keyed)
    assert result.answers["members"][0]["illnesses"] == [{"code": "I10", "since": 2021}, {"code": "E11"}]
    assert result.conflicts == (FieldConflict("members[member_id=m1]/illnesses[code=I10]/since", 2020, 2021, 2019),)
    assert result.changed_paths == ("members[member_id=m1]/illnesses[code=E11]",)


def test_diff_paths():
    assert diff_paths(None, {"a": 1, "b": None}) == ("a",)
    assert diff_paths({"a": 1}, {"a": 1.0}) == ()
    assert diff_paths(BASE, edit(BASE, members=list(reversed(BASE["members"]))), keyed_repeats=KEYED) == ("members/@order",)
    assert diff_paths(BASE, edit(BASE, members=list(reversed(BASE["members"])))) == ("members",)


# --------------------------------------------------------------------------- properties

FIELDS = ["head_name", "floor_area", "water_source", "telecom", "income"]
MEMBER_FIELDS = ["name", "age", "sex"]
values = st.one_of(st.integers(0, 3), st.sampled_from(["a", "b", "Đỗ"]),
                   st.lists(st.sampled_from(["tv", "phone"]), max_size=2, unique=True))
changes = st.one_of(st.none(), values)  # None: the answer removed


@st.composite
def households(draw):
    answers = {f: draw(values) for f in FIELDS if draw(st.booleans())}
    answers["members"] = [member(f"m{i}", **{f: draw(values) for f in MEMBER_FIELDS if draw(st.booleans())})
                          for i in range(draw(st.integers(0, 4)))]
    return answers


def set_field(scope, name, value):
    if value is None:
        scope.pop(name, None)
    else:
        scope[name] = value


@st.composite
def disjoint_visits(draw):
    """A base and two phones' visits from it whose changes touch disjoint paths."""
    base = draw(households())
    phones = {"A": copy.deepcopy(base), "B": copy.deepcopy(base)}
    for name in [*FIELDS, "extra"]:
        who = draw(st.sampled_from(["", "A", "B"]))
        if who:
            set_field(phones[who], name, draw(changes))
    for phone in ("A", "B"):
        phones[phone]["members"] = {m["member_id"]: m for m in phones[phone]["members"]}
    for m in base["members"]:
        fate = draw(st.sampled_from(["keep", "keep", "A", "B", "AB"]))
        if fate != "keep":  # removed by these phones; the other one leaves it alone
            for phone in fate:
                del phones[phone]["members"][m["member_id"]]
            continue
        for name in MEMBER_FIELDS + ["extra"]:
            who = draw(st.sampled_from(["", "", "A", "B"]))
            if who:
                set_field(phones[who]["members"][m["member_id"]], name, draw(changes))
    reorderer = draw(st.sampled_from(["", "A", "B"]))
    for phone in ("A", "B"):
        kept = list(phones[phone]["members"].values())
        if phone == reorderer:
            kept = draw(st.permutations(kept))
        for i in range(draw(st.integers(0, 2))):
            new = member(f"{phone.lower()}{draw(st.integers(0, 9))}{i}", age=draw(st.integers(0, 3)))
            kept.insert(draw(st.integers(0, len(kept))), new)
        phones[phone]["members"] = kept
    return base, phones["A"], phones["B"]


def arrive(base, first, second, keyed):
    one = merge_household(base, copy.deepcopy(base), first, keyed_repeats=keyed)
    two = merge_household(base, one.answers, second, keyed_repeats=keyed)
    return one, two


@settings(deadline=None)
@given(disjoint_visits(), st.sampled_from([KEYED, None]))
def test_disjoint_changes_give_the_same_household_in_either_arrival_order(visits, keyed):
    base, a, b = visits
    a_first = arrive(base, a, b, keyed)
    b_first = arrive(base, b, a, keyed)
    if keyed is None:
        # Unkeyed, the members list is one field: only disjoint if at most one phone touched it.
        touched = [p for p in (a, b) if not answers_equal(p["members"], base["members"])]
        if len(touched) == 2 and not answers_equal(a["members"], b["members"]):
            assert [c.path for c in a_first[1].conflicts] == ["members"]
            return
    for one, two in (a_first, b_first):
        assert one.fast_forward and one.conflicts == ()
        assert two.conflicts == ()
    assert answers_equal(a_first[1].answers, b_first[1].answers)
    final = a_first[1].answers
    # ...and the final record holds both phones' changes.
    for name in [*FIELDS, "extra"]:
        expected = next((p.get(name) for p in (a, b) if not answers_equal(p.get(name), base.get(name))),
                        base.get(name))
        assert answers_equal(final.get(name), expected)
    if keyed:
        got = members_of(final)
        in_base = set(members_of(base))
        removed = (in_base - set(members_of(a))) | (in_base - set(members_of(b)))
        added = (set(members_of(a)) | set(members_of(b))) - in_base
        assert set(got) == (in_base - removed) | added
        for phone in (a, b):
            for mid, m in members_of(phone).items():
                for name in MEMBER_FIELDS + ["extra"]:
                    base_m = next((x for x in base["members"] if x["member_id"] == mid), {})
                    if not answers_equal(m.get(name), base_m.get(name)):
                        assert answers_equal(got[mid].get(name), m.get(name))


def paths_changed(base, answers):
    return {p for p in diff_paths(base, answers, keyed_repeats=KEYED)}


@st.composite
def overlapping_visits(draw):
    """Two visits changing fields and member fields, overlapping freely (no adds/removals)."""
    base = draw(households())
    phones = []
    for _ in range(2):
        phone = copy.deepcopy(base)
        for name in [*FIELDS, "extra"]:
            if draw(st.booleans()):
                set_field(phone, name, draw(changes))
        for m in phone["members"]:
            for name in MEMBER_FIELDS:
                if draw(st.booleans()):
                    set_field(m, name, draw(changes))
        phones.append(phone)
    return base, *phones


def value_at(answers, path):
    if "/" not in path:
        return answers.get(path)
    head, name = path.split("/")
    mid = head[len("members[member_id="):-1]
    return members_of(answers)[mid].get(name)


@settings(deadline=None)
@given(overlapping_visits())
def test_conflicts_exactly_where_the_same_path_changed_differently(visits):
    base, a, b = visits
    current = merge_household(base, copy.deepcopy(base), a, keyed_repeats=KEYED).answers
    result = merge_household(base, current, b, keyed_repeats=KEYED)
    both = paths_changed(base, a) & paths_changed(base, b)
    expected = {p for p in both if not answers_equal(value_at(a, p), value_at(b, p))}
    assert {c.path for c in result.conflicts} == expected
    for c in result.conflicts:  # current kept, all three recorded
        assert answers_equal(c.base, value_at(base, c.path))
        assert answers_equal(c.current, value_at(a, c.path)) and answers_equal(value_at(result.answers, c.path), c.current)
        assert answers_equal(c.incoming, value_at(b, c.path))
    for p in paths_changed(base, b) - expected:
        assert answers_equal(value_at(result.answers, p), value_at(b, p))
    for p in paths_changed(base, a) - paths_changed(base, b):
        assert answers_equal(value_at(result.answers, p), value_at(a, p))


@st.composite
def any_triple(draw):
    """base, current, incoming: related by disjoint or overlapping edits, or unrelated."""
    kind = draw(st.sampled_from(["disjoint", "overlapping", "unrelated"]))
    if kind == "disjoint":
        base, current, incoming = draw(disjoint_visits())
    elif kind == "overlapping":
        base, current, incoming = draw(overlapping_visits())
    else:
        base, current, incoming = draw(households()), draw(households()), draw(households())
    if draw(st.integers(0, 4)) == 0:
        base = None  # no common ancestor
    if draw(st.integers(0, 9)) == 0:
        current = None  # a new household
    return base, current, incoming


def nested(inner, outer):
    return inner == outer or inner.startswith(outer + "/") or inner.startswith(outer + "[")


@settings(deadline=None)
@given(any_triple(), st.sampled_from([KEYED, None]))
def test_nothing_the_phone_changed_is_lost(triple, keyed):
    base, current, incoming = triple
    result = merge_household(base, current, incoming, keyed_repeats=keyed)
    again = merge_household(copy.deepcopy(base), copy.deepcopy(current), copy.deepcopy(incoming), keyed_repeats=keyed)
    assert again == result  # deterministic
    assert list(result.changed_paths) == sorted(result.changed_paths)
    assert [c.path for c in result.conflicts] == sorted(c.path for c in result.conflicts)
    conflicted = {c.path for c in result.conflicts}
    for path in diff_paths(base, incoming, keyed_repeats=keyed):
        if path.endswith("/@order"):
            continue
        prefixes = {path, path.split("/")[0], path.split("[")[0]}
        if prefixes & conflicted:
            continue
        # not conflicted: the merged record agrees with the phone at that path
        assert path not in diff_paths(result.answers, incoming, keyed_repeats=keyed), path
    # An existing record only changes where (or inside, or around what) the phone changed.
    if current is not None:
        phone = diff_paths(base, incoming, keyed_repeats=keyed)
        for path in result.changed_paths:
            assert path == "members/@order" or any(nested(path, q) or nested(q, path) for q in phone), path


@settings(deadline=None)
@given(any_triple(), st.sampled_from([KEYED, None]))
def test_merging_the_same_visit_again_changes_nothing(triple, keyed):
    base, current, incoming = triple
    first = merge_household(base, current, incoming, keyed_repeats=keyed)
    second = merge_household(base, first.answers, incoming, keyed_repeats=keyed)
    assert answers_equal(second.answers, first.answers)
    assert second.changed_paths == ()


@settings(deadline=None)
@given(households(), households(), st.sampled_from([KEYED, None]))
def test_a_phone_that_changed_nothing_changes_nothing(base, current, keyed):
    result = merge_household(base, current, copy.deepcopy(base), keyed_repeats=keyed)
    assert result.conflicts == ()
    assert answers_equal(result.answers, current) and result.changed_paths == ()


# --------------------------------------------------------------------------- diff

from sync.merge import FieldChange, diff  # noqa: E402


def test_diff_is_field_by_field_with_members_matched_by_key():
    old = {"floor_area": 30, "head": "An", "members": [{"member_id": "a", "age": 40, "name": "An"},
                                                      {"member_id": "b", "age": 12}]}
    new = {"floor_area": 45, "members": [{"member_id": "b", "age": 13}, {"member_id": "a", "age": 40, "name": "An"},
                                         {"member_id": "c", "age": 0}]}
    assert diff(old, new, keyed_repeats={"members": "member_id"}) == (
        FieldChange("floor_area", 30, 45),
        FieldChange("head", "An", None),
        FieldChange("members/@order", ["a", "b"], ["b", "a"]),
        FieldChange("members[member_id=b]/age", 12, 13),
        FieldChange("members[member_id=c]", None, {"member_id": "c", "age": 0}),
    )
    assert [c.path for c in diff(old, new)] == ["floor_area", "head", "members"]  # unkeyed: one field
    assert diff(old, old, keyed_repeats={"members": "member_id"}) == ()
    assert diff({"x": 1}, {"x": 1.0}) == ()  # the same answer
