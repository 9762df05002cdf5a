"""The in-memory model around the sync core: idempotent retries, nothing accepted lost, two
phones' independent visits converging whatever the arrival order, and the rules the core adds
(ownership, visit dates, the year row following the visit date)."""

from __future__ import annotations

import copy
import datetime as dt
import uuid

from hypothesis import given, settings, strategies as st

from sync import core
from sync.identity import content_hash
from sync.merge import answers_equal
from sync.state import SyncState, World, apply_push, correct

KEYED = {"members": "member_id"}
NOW = dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC)
STORED = {"accepted", "duplicate"}


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def item(sid="s1", rev=1, household="h1", household_rev=None, form="f", finished="2026-10-02T08:40:00+07:00",
         **answers):
    return {"id": uid(sid), "rev": rev, "form_id": form, "form_version": "1", "area": "01-00004-a",
            "household_id": uid(household), "household_rev": household_rev, "answers": answers,
            "started_at": "2026-10-02T08:11:00+07:00", "finished_at": finished, "attachments": []}


def state(keyed=None) -> SyncState:
    world = World.plain(keyed)
    world.forms[("g", "1")] = world.forms[("f", "1")]
    return SyncState(world=world)


def push(st_, *items, user="u1"):
    return apply_push(st_, list(items), user_id=user, now=NOW)


def codes(reply: dict) -> list[str]:
    return [e["code"] for e in reply.get("errors", [])]


# --------------------------------------------------------------------------- examples


def test_first_push_creates_submission_and_household():
    s = state()
    [result] = push(s, item(x=1))
    assert result == {"id": uid("s1"), "status": "accepted", "rev": 1, "missing_attachments": [],
                      "household_rev": 1, "outputs": {}}
    assert s.households[uid("h1")].answers == {"x": 1}
    assert s.submissions[uid("s1")].revisions[1]["content_hash"] == content_hash(item(x=1))


def test_retry_is_a_duplicate_and_changes_nothing():
    s = state()
    push(s, item(x=1))
    before = copy.deepcopy(s)
    retry = dict(item(x=1.0), started_at="2026-10-02T09:00:00+07:00")  # re-stamped, re-serialised
    [again] = push(s, retry)
    assert again == {"id": uid("s1"), "status": "duplicate", "rev": 1, "missing_attachments": []}
    assert s == before


def test_same_rev_other_content_is_a_conflict_and_changes_nothing():
    s = state()
    push(s, item(x=1))
    before = copy.deepcopy(s)
    [result] = push(s, item(x=2))
    assert result["status"] == "conflict" and result["rev"] == 1
    assert s == before


def test_rejections_change_nothing():
    s = state()
    push(s, item(rev=3, x=1))  # first seen at rev 3: accepted
    before = copy.deepcopy(s)
    results = push(s, item(rev=2, x=5), item(rev=4, household="h2"), item(rev=4, form="g"))
    assert [codes(r) for r in results] == [["stale_revision"], ["household_mismatch"], ["form_mismatch"]]
    assert s == before


def test_edit_keeps_history_and_applies_to_the_household():
    s = state()
    push(s, item(x=1, y=1))
    [result] = push(s, item(rev=2, x=1, y=2))
    assert result["status"] == "accepted" and result["household_rev"] == 2 and "conflict_id" not in result
    assert s.households[uid("h1")].answers == {"x": 1, "y": 2}
    assert set(s.submissions[uid("s1")].revisions) == {1, 2}
    assert s.households[uid("h1")].history == {1: {"x": 1, "y": 1}, 2: {"x": 1, "y": 2}}


def test_a_conflict_is_queued_once_and_an_edit_does_not_raise_it_again():
    s = state()
    push(s, item("s0", x=0, y=0))                                   # household rev 1
    push(s, item("sA", household_rev=1, x=1, y=0))                  # phone A: x -> 1 (rev 2)
    [b] = push(s, item("sB", household_rev=1, x=2, y=0))            # phone B from rev 1: x -> 2
    assert b["household_rev"] == 2 and b["conflict_id"] == str(core.conflict_id(uuid.UUID(uid("sB")), 1))
    [queued] = s.conflicts.values()
    assert [(f["path"], f["current"], f["incoming"]) for f in queued["fields"]] == [("x", 1, 2)]
    [edit] = push(s, item("sB", rev=2, household_rev=1, x=2, y=5))  # B edits y only
    assert "conflict_id" not in edit and s.households[uid("h1")].answers == {"x": 1, "y": 5}
    assert len(s.conflicts) == 1


def test_a_household_rev_beyond_the_household_is_refused():
    s = state()
    push(s, item("s0", x=0))
    [result] = push(s, item("s1", household_rev=7, x=3))
    assert codes(result) == ["invalid_household_rev"]


def test_unchanged_household_keeps_its_revision():
    s = state()
    push(s, item("s0", x=1))
    [result] = push(s, item("s1", household_rev=1, x=1))
    assert result["household_rev"] == 1 and list(s.households[uid("h1")].history) == [1]


def test_another_enumerator_cannot_revise_my_submission():
    s = state()
    push(s, item(x=1), user="me")
    before = copy.deepcopy(s)
    [theirs] = push(s, item(rev=2, x=9), user="someone-else")
    assert codes(theirs) == ["not_your_submission"]
    [retry] = push(s, item(x=1), user="someone-else")
    assert codes(retry) == ["not_your_submission"]
    assert s == before
    [mine] = push(s, item(rev=2, x=9), user="me")
    assert mine["status"] == "accepted"


def test_visit_times_are_bounded():
    s = state()
    results = push(s, item("a", finished="0001-01-01T00:00:00+07:00", x=1),
                   item("b", finished="2019-12-31T23:59:00+07:00", x=1),
                   item("c", finished="2099-01-01T00:00:00+07:00", x=1),
                   dict(item("d", x=1), started_at="2026-10-02T09:00:00+07:00"),  # after finished_at
                   dict(item("e", finished="2020-01-01T00:00:00+07:00", household="h2", x=1), started_at=None))
    assert [codes(r) for r in results] == [["visit_too_early"], ["visit_too_early"], ["visit_in_future"],
                                           ["visit_start_after_end"], []]
    assert results[4]["status"] == "accepted"
    assert set(s.households) == {uid("h2")}


def test_the_year_row_follows_the_visit_date_not_arrival():
    s = state()
    push(s, item("late", finished="2026-11-20T10:00:00+07:00", x=2))
    push(s, item("early", household_rev=1, finished="2026-10-01T10:00:00+07:00", x=1))  # arrives after
    row = s.years[(uid("h1"), 2026)]
    assert row["submission_id"] == uid("late")


def test_a_visit_after_midnight_utc_counts_on_its_vietnam_date():
    s = state()
    push(s, dict(item(finished="2025-12-31T18:30:00+00:00", x=1), started_at=None))  # 01:30 on 1 Jan in Vietnam
    assert set(s.years) == {(uid("h1"), 2026)}


def test_a_correction_is_a_new_revision_that_keeps_the_review_and_updates_the_household():
    s = state()
    push(s, item(x=1, y=1))
    s.submissions[uid("s1")].review_state = "approved"
    reply = correct(s, uid("s1"), {"y": 5}, "Đo lại", now=NOW)
    assert reply == {"id": uid("s1"), "rev": 2, "household_rev": 2}
    record = s.submissions[uid("s1")]
    assert record.answers == {"x": 1, "y": 5} and record.review_state == "approved"
    assert record.revisions[2]["source"] == "correction"
    assert s.households[uid("h1")].answers == {"x": 1, "y": 5}
    # The phone's next revision, made before it pulled the correction, is a conflict on rev 2.
    [result] = push(s, item(rev=2, x=1, y=7))
    assert result["status"] == "conflict"
    # Its edit as rev 3, made from its own rev 1 (x changed, y as it had it), keeps the correction.
    [edit] = push(s, item(rev=3, x=2, y=1))
    assert edit["status"] == "accepted" and "conflict_id" not in edit
    assert s.households[uid("h1")].answers == {"x": 2, "y": 5}


# --------------------------------------------------------------------------- properties

small_answers = st.dictionaries(st.sampled_from(["x", "y", "z"]), st.integers(0, 2), max_size=3)
items = st.builds(
    lambda sid, rev, hid, hrev, form, answers, day: item(sid, rev, hid, hrev, form,
                                                         f"2026-10-0{day}T09:00:00+07:00", **answers),
    st.sampled_from(["s1", "s2", "s3"]), st.integers(1, 3), st.sampled_from(["h1", "h1", "h2"]),
    st.one_of(st.none(), st.integers(1, 3)), st.sampled_from(["f", "f", "f", "g"]), small_answers,
    st.integers(1, 3),
)
batches = st.lists(st.lists(items, max_size=5), min_size=1, max_size=6)


def check_replay(s, batch):
    """A batch sent again: whatever was stored answers duplicate, and nothing stored changes.

    (An item refused for what was missing then, a household_rev of a household another item
    creates later, may be stored now: that is what the phone retries for.)"""
    before = copy.deepcopy(s)
    again = push(s, *batch)
    for it, now in zip(batch, again, strict=True):
        record = before.submissions.get(it["id"])
        if record and record.revisions.get(it["rev"], {}).get("content_hash") == content_hash(it):
            assert now == {"id": it["id"], "status": "duplicate", "rev": it["rev"], "missing_attachments": []}
    for sid, record in before.submissions.items():
        assert {r: s.submissions[sid].revisions[r] for r in record.revisions} == record.revisions
    for hid, household in before.households.items():
        assert {r: s.households[hid].history[r] for r in household.history} == household.history
    for cid, conflict in before.conflicts.items():
        assert s.conflicts[cid] == conflict


@settings(deadline=None)
@given(batches, st.data())
def test_retrying_any_batch_any_number_of_times_loses_and_doubles_nothing(sequence, data):
    s = state()
    for i, batch in enumerate(sequence):
        push(s, *batch)
        for j in data.draw(st.lists(st.integers(0, i), max_size=3), label=f"retries after batch {i}"):
            check_replay(s, sequence[j])
    check_replay(s, [it for b in sequence for it in b])


@settings(deadline=None)
@given(batches)
def test_nothing_accepted_is_lost(sequence):
    s, accepted, queued = state(), [], 0
    for batch in sequence:
        for it, result in zip(batch, push(s, *batch), strict=True):
            if result["status"] == "accepted":
                accepted.append((it, result))
                queued += "conflict_id" in result
    for it, result in accepted:
        record = s.submissions[it["id"]]
        assert record.revisions[result["rev"]]["content_hash"] == content_hash(it)
        household = s.households[it["household_id"]]
        assert result["household_rev"] in household.history
    assert len(s.conflicts) == queued
    for household in s.households.values():
        assert sorted(household.history) == list(range(1, household.rev + 1))
        assert household.answers == household.history[household.rev]


def member(mid, **fields):
    return {"member_id": mid, **fields}


@st.composite
def two_phones(draw):
    """A household at revision 1 and two phones' visits from it touching disjoint paths."""
    base = {f: draw(st.integers(0, 3)) for f in ("a", "b", "c", "d") if draw(st.booleans())}
    base["members"] = [member(f"m{i}", age=draw(st.integers(0, 90))) for i in range(draw(st.integers(0, 3)))]
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    for f in ("a", "b", "c", "d", "e"):
        phone = draw(st.sampled_from([None, a, b]))
        if phone is not None:
            phone[f] = draw(st.integers(4, 6))
    for m in base["members"]:
        phone = draw(st.sampled_from([None, a, b]))
        if phone is not None:
            if draw(st.booleans()):
                phone["members"] = [x for x in phone["members"] if x["member_id"] != m["member_id"]]
            else:
                next(x for x in phone["members"] if x["member_id"] == m["member_id"])["age"] += 1
    for phone, prefix in ((a, "a"), (b, "b")):
        for j in range(draw(st.integers(0, 2))):
            phone["members"].insert(draw(st.integers(0, len(phone["members"]))), member(f"{prefix}{j}", age=0))
    return base, a, b


@settings(deadline=None)
@given(two_phones(), st.booleans())
def test_two_phones_from_the_same_revision_converge_in_either_order(visit, keyed):
    base, a, b = visit
    finals = []
    for order in ((a, "sA"), (b, "sB")), ((b, "sB"), (a, "sA")):
        s = state(KEYED if keyed else None)
        push(s, item("s0", **base))
        results = push(s, *(item(sid, household_rev=1, **answers) for answers, sid in order))
        if keyed or answers_equal(a["members"], base["members"]) or answers_equal(b["members"], base["members"]) \
                or answers_equal(a["members"], b["members"]):
            assert all(r["status"] == "accepted" and "conflict_id" not in r for r in results)
        finals.append((s.households[uid("h1")], s.conflicts))
    if all(not conflicts for _, conflicts in finals):
        assert answers_equal(finals[0][0].answers, finals[1][0].answers)
        assert finals[0][0].rev == finals[1][0].rev
