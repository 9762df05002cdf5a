"""The reference model of the server's sync state: idempotent retries, nothing accepted lost,
and two phones' independent visits converging whatever the arrival order."""

from __future__ import annotations

import copy

from hypothesis import given, settings, strategies as st

from sync.decisions import Outcome
from sync.identity import content_hash
from sync.merge import answers_equal
from sync.state import PushResult, SyncState, apply_push

KEYED = {"members": "member_id"}
STORED = (Outcome.ACCEPTED, Outcome.EDIT, Outcome.DUPLICATE)


def item(sid="s1", rev=1, household="h1", household_rev=None, form="household-review", **answers):
    return {"id": sid, "rev": rev, "form_id": form, "form_version": "2026.1", "area": "01-00004-a",
            "household_id": household, "household_rev": household_rev, "answers": answers,
            "started_at": "2026-10-02T08:11:00+07:00", "attachments": []}


def push(state, *items):
    return apply_push(state, list(items))


# --------------------------------------------------------------------------- examples


def test_first_push_creates_submission_and_household():
    state = SyncState()
    [result] = push(state, item(x=1))
    assert result == PushResult("s1", Outcome.ACCEPTED, 1, household_rev=1)
    assert result.status == "accepted"
    assert state.households["h1"].answers == {"x": 1}
    assert state.submissions["s1"].hashes == {1: content_hash(item(x=1))}


def test_retry_is_a_duplicate_with_the_first_answer_and_changes_nothing():
    state = SyncState()
    first = push(state, item(x=1))[0]
    snapshot = copy.deepcopy(state)
    retry = dict(item(x=1.0), started_at="2026-10-02T09:00:00+07:00")  # re-stamped, re-serialised
    [again] = push(state, retry)
    assert again.outcome is Outcome.DUPLICATE and again.status == "duplicate"
    assert (again.rev, again.household_rev) == (first.rev, first.household_rev)
    assert state == snapshot


def test_same_rev_other_content_is_a_conflict_and_changes_nothing():
    state = SyncState()
    push(state, item(x=1))
    snapshot = copy.deepcopy(state)
    [result] = push(state, item(x=2))
    assert (result.outcome, result.code, result.status) == (Outcome.CONFLICT, "rev_content_mismatch", "conflict")
    assert state == snapshot


def test_rejections_change_nothing():
    state = SyncState()
    push(state, item(rev=3, x=1))  # first seen at rev 3: accepted
    snapshot = copy.deepcopy(state)
    results = push(state, item(rev=2, x=5), item(rev=4, household="h2"), item(rev=4, form="other"), item(rev=0))
    assert [(r.outcome, r.code) for r in results] == [
        (Outcome.REJECTED, "stale_revision"), (Outcome.REJECTED, "household_mismatch"),
        (Outcome.REJECTED, "form_mismatch"), (Outcome.REJECTED, "invalid_revision")]
    assert state == snapshot


def test_edit_keeps_history_and_applies_to_the_household():
    state = SyncState()
    push(state, item(x=1, y=1))
    [result] = push(state, item(rev=2, x=1, y=2))
    assert result.outcome is Outcome.EDIT and result.status == "accepted"
    assert result.household_rev == 2 and result.conflicts == ()
    assert state.households["h1"].answers == {"x": 1, "y": 2}
    assert set(state.submissions["s1"].contents) == {1, 2}
    assert state.households["h1"].history == {1: {"x": 1, "y": 1}, 2: {"x": 1, "y": 2}}


def test_a_conflict_is_queued_once_and_an_edit_does_not_raise_it_again():
    state = SyncState()
    push(state, item("s0", x=0, y=0))                                   # household rev 1
    push(state, item("sA", household_rev=1, x=1, y=0))                  # phone A: x -> 1 (rev 2)
    [b] = push(state, item("sB", household_rev=1, x=2, y=0))            # phone B from rev 1: x -> 2
    assert b.conflicts == ("x",) and b.household_rev == 2              # current kept, nothing changed
    [queued] = state.households["h1"].conflicts
    assert (queued.submission_id, queued.rev, queued.conflict.current, queued.conflict.incoming) == ("sB", 1, 1, 2)
    [edit] = push(state, item("sB", rev=2, household_rev=1, x=2, y=5))  # B edits y only
    assert edit.conflicts == () and state.households["h1"].answers == {"x": 1, "y": 5}
    assert len(state.households["h1"].conflicts) == 1


def test_editing_a_new_household_before_anyone_else_saw_it_just_applies():
    state = SyncState()
    push(state, item(x=1, y=1))
    [edit] = push(state, item(rev=2, x=2, y=1))
    assert edit.conflicts == () and state.households["h1"].answers == {"x": 2, "y": 1}


def test_unknown_household_rev_is_no_common_ancestor():
    state = SyncState()
    push(state, item("s0", x=0, y=0))
    [result] = push(state, item("s1", household_rev=7, x=3, y=0, z=1))
    assert result.conflicts == ("x",)
    assert state.households["h1"].answers == {"x": 0, "y": 0, "z": 1}


def test_unchanged_household_keeps_its_revision():
    state = SyncState()
    push(state, item("s0", x=1))
    [result] = push(state, item("s1", household_rev=1, x=1))
    assert result.household_rev == 1 and list(state.households["h1"].history) == [1]


# --------------------------------------------------------------------------- properties

small_answers = st.dictionaries(st.sampled_from(["x", "y", "z"]), st.integers(0, 2), max_size=3)
items = st.builds(
    lambda sid, rev, hid, hrev, form, answers, started: {
        "id": sid, "rev": rev, "form_id": form, "form_version": "1", "area": "a", "household_id": hid,
        "household_rev": hrev, "answers": answers, "started_at": started},
    st.sampled_from(["s1", "s2", "s3"]), st.integers(0, 3), st.sampled_from(["h1", "h1", "h2"]),
    st.one_of(st.none(), st.integers(1, 3)), st.sampled_from(["f", "f", "f", "g"]), small_answers,
    st.sampled_from(["08:00", "09:00"]),
)
batches = st.lists(st.lists(items, max_size=5), min_size=1, max_size=6)


def check_replay(state, batch, original):
    """A batch sent again: nothing changes; what was stored is a duplicate, the rest answered alike."""
    snapshot = copy.deepcopy(state)
    again = apply_push(state, batch)
    assert state == snapshot
    for it, before, now in zip(batch, original, again, strict=True):
        if before.outcome in STORED:
            first = state.submissions[it["id"]].results[it["rev"]]
            assert now == PushResult(it["id"], Outcome.DUPLICATE, it["rev"], household_rev=first.household_rev,
                                     conflicts=first.conflicts)
        else:  # the same refusal (its detail may name a newer stored revision)
            assert (now.outcome, now.code, now.rev) == (before.outcome, before.code, before.rev)


@settings(deadline=None)
@given(batches, st.data())
def test_retrying_any_batch_any_number_of_times_changes_nothing(sequence, data):
    clean = SyncState()
    for batch in sequence:
        apply_push(clean, batch)
    state, answered = SyncState(), []
    for i, batch in enumerate(sequence):
        answered.append(apply_push(state, batch))
        for j in data.draw(st.lists(st.integers(0, i), max_size=3), label=f"retries after batch {i}"):
            check_replay(state, sequence[j], answered[j])
    assert state == clean
    # ...and replaying any prefix of the whole sequence afterwards, as one push, too.
    k = data.draw(st.integers(0, len(sequence)), label="prefix")
    check_replay(state, [it for b in sequence[:k] for it in b], [r for rs in answered[:k] for r in rs])


@settings(deadline=None)
@given(batches)
def test_nothing_accepted_is_lost(sequence):
    state, accepted, queued = SyncState(), [], 0
    for batch in sequence:
        for it, result in zip(batch, apply_push(state, batch), strict=True):
            if result.outcome in (Outcome.ACCEPTED, Outcome.EDIT):
                accepted.append((it, result))
                queued += len(result.conflicts)
    for it, result in accepted:
        record = state.submissions[it["id"]]
        assert record.contents[result.rev] == it
        assert record.hashes[result.rev] == content_hash(it)
        household = state.households[it["household_id"]]
        assert result.household_rev in household.history
    assert sum(len(h.conflicts) for h in state.households.values()) == queued
    for household in state.households.values():
        assert sorted(household.history) == list(range(1, household.rev + 1))
        assert household.answers == household.history[household.rev]
    for record in state.submissions.values():  # revisions only ever grow
        assert set(record.contents) == set(record.hashes) == set(record.results)


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
    for i, m in enumerate(base["members"]):
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
        state = SyncState(keyed_repeats=KEYED if keyed else {})
        push(state, item("s0", **base))
        results = push(state, *(item(sid, household_rev=1, **answers) for answers, sid in order))
        if keyed or answers_equal(a["members"], base["members"]) or answers_equal(b["members"], base["members"]) \
                or answers_equal(a["members"], b["members"]):
            assert all(r.outcome is Outcome.ACCEPTED and r.conflicts == () for r in results)
        finals.append(state.households["h1"])
    if all(not h.conflicts for h in finals):
        assert answers_equal(finals[0].answers, finals[1].answers)
        assert finals[0].rev == finals[1].rev
