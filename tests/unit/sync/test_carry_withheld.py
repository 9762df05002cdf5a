"""carry_withheld: an answer the pull never sent, absent from a visit, is not erased by it."""

from __future__ import annotations

import copy

from sync.merge import carry_withheld, merge_household

KEYS = {"members": "member_id"}
WITHHELD = frozenset({"head_cccd", "members/cccd"})
BASE = {"head_name": "Hà Văn Tú", "head_cccd": "011086000001", "floor_area": 40,
        "members": [{"member_id": "m1", "member_name": "Hà Văn Tú"},
                    {"member_id": "m2", "member_name": "Lường Thị Én", "cccd": "011188000002"}]}


def pulled(answers: dict) -> dict:
    """What the phone received (the pull leaves the withheld answers out)."""
    out = copy.deepcopy(answers)
    out.pop("head_cccd", None)
    for member in out["members"]:
        member.pop("cccd", None)
    return out


def test_a_visit_made_from_the_prefill_keeps_the_id_numbers():
    visit = {**pulled(BASE), "floor_area": 45}
    carried = carry_withheld(BASE, visit, withheld=WITHHELD, keyed_repeats=KEYS)
    assert carried == {**BASE, "floor_area": 45}
    merged = merge_household(BASE, BASE, carried, keyed_repeats=KEYS)
    assert merged.answers == {**BASE, "floor_area": 45} and merged.changed_paths == ("floor_area",)
    assert visit == {**pulled(BASE), "floor_area": 45}  # the argument is not changed


def test_without_carrying_the_merge_would_erase_them():
    """Why the core carries: the plain merge reads a missing answer as removed."""
    merged = merge_household(BASE, BASE, pulled(BASE), keyed_repeats=KEYS)
    assert "head_cccd" not in merged.answers and "members[member_id=m2]/cccd" in merged.changed_paths


def test_an_id_number_the_phone_sends_wins():
    visit = pulled(BASE)
    visit["head_cccd"] = "011086009999"
    visit["members"][1]["cccd"] = "011188009999"
    visit["members"].append({"member_id": "m3", "member_name": "Hà Thị Mơ", "cccd": "011300000003"})
    assert carry_withheld(BASE, visit, withheld=WITHHELD, keyed_repeats=KEYS) == visit


def test_empty_answers_count_as_not_sent():
    visit = {**pulled(BASE), "head_cccd": ""}
    visit["members"][1]["cccd"] = None
    assert carry_withheld(BASE, visit, withheld=WITHHELD, keyed_repeats=KEYS) == BASE


def test_other_answers_are_not_carried():
    visit = pulled(BASE)
    del visit["floor_area"]
    carried = carry_withheld(BASE, visit, withheld=WITHHELD, keyed_repeats=KEYS)
    assert "floor_area" not in carried  # removing an answer that was sent is a change


def test_members_are_matched_by_key_not_position():
    visit = pulled(BASE)
    visit["members"].reverse()
    carried = carry_withheld(BASE, visit, withheld=WITHHELD, keyed_repeats=KEYS)
    assert carried["members"] == [BASE["members"][1], BASE["members"][0]]


def test_nothing_is_carried_without_a_base_or_a_key():
    visit = pulled(BASE)
    assert carry_withheld(None, visit, withheld=WITHHELD, keyed_repeats=KEYS) == visit
    # A repeat without an instance key: its instances cannot be matched.
    carried = carry_withheld(BASE, visit, withheld=WITHHELD, keyed_repeats={})
    assert carried == {**visit, "head_cccd": "011086000001"}
    assert carry_withheld(BASE, visit, withheld=frozenset(), keyed_repeats=KEYS) == visit
