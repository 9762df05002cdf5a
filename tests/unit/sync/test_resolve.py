import pytest

from sync.merge import merge_household
from sync.resolve import PathError, set_path

KEYS = {"members": "member_id"}


def household(**changes):
    base = {"floor_area": 40, "members": [{"member_id": "a", "age": 40}, {"member_id": "b", "age": 12}]}
    base.update(changes)
    return base


def test_top_level_value_is_set_and_removed():
    assert set_path(household(), "floor_area", 55)["floor_area"] == 55
    assert "floor_area" not in set_path(household(), "floor_area", None)


def test_field_of_a_keyed_instance():
    out = set_path(household(), "members[member_id=b]/age", 13)
    assert out["members"][1] == {"member_id": "b", "age": 13}


def test_whole_instance_added_replaced_removed():
    added = set_path(household(), "members[member_id=c]", {"member_id": "c", "age": 1})
    assert [m["member_id"] for m in added["members"]] == ["a", "b", "c"]
    removed = set_path(household(), "members[member_id=a]", None)
    assert [m["member_id"] for m in removed["members"]] == ["b"]


def test_order_of_instances():
    out = set_path(household(), "members/@order", ["b", "a"])
    assert [m["member_id"] for m in out["members"]] == ["b", "a"]


def test_arguments_are_not_mutated():
    answers = household()
    set_path(answers, "members[member_id=a]/age", 41)
    assert answers == household()


@pytest.mark.parametrize("path", ["", "floor_area/x", "members[member_id=zz]/age"])
def test_paths_that_name_nothing(path):
    with pytest.raises(PathError):
        set_path(household(), path, 1)


def test_every_conflict_path_of_a_merge_can_be_resolved_either_way():
    base = household()
    current = household(floor_area=50, members=[{"member_id": "a", "age": 41}, {"member_id": "b", "age": 12}])
    incoming = household(floor_area=60, members=[{"member_id": "a", "age": 42}, {"member_id": "b", "age": 12}])
    merged = merge_household(base, current, incoming, keyed_repeats=KEYS)
    assert {c.path for c in merged.conflicts} == {"floor_area", "members[member_id=a]/age"}
    answers = merged.answers
    for conflict in merged.conflicts:
        answers = set_path(answers, conflict.path, conflict.incoming)
    assert answers == incoming
