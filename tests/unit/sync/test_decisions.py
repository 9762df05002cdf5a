"""decide(): one test per row of the decision table, plus its ordering and purity."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from sync.decisions import Decision, Outcome, StoredSubmission, decide

STORED = StoredSubmission(current_rev=3, revisions={1: "h1", 2: "h2", 3: "h3"}, household_id="hh", form_id="ff")
GAPPY = StoredSubmission(current_rev=5, revisions={2: "h2", 5: "h5"}, household_id="hh", form_id="ff")


def call(stored, rev, chash="hX", household_id="hh", form_id="ff"):
    return decide(stored, rev=rev, content_hash=chash, household_id=household_id, form_id=form_id)


@pytest.mark.parametrize("stored, rev, chash, household, form, outcome, code", [
    # 1. invalid rev
    (None, 0, "h", "hh", "ff", Outcome.REJECTED, "invalid_revision"),
    (None, -1, "h", "hh", "ff", Outcome.REJECTED, "invalid_revision"),
    (STORED, 0, "h", "hh", "ff", Outcome.REJECTED, "invalid_revision"),
    (None, True, "h", "hh", "ff", Outcome.REJECTED, "invalid_revision"),
    (None, "1", "h", "hh", "ff", Outcome.REJECTED, "invalid_revision"),
    # 2. nothing stored: accepted, also with rev > 1 (edited offline before the first sync)
    (None, 1, "h", "hh", "ff", Outcome.ACCEPTED, None),
    (None, 4, "h", "hh", "ff", Outcome.ACCEPTED, None),
    # 3. / 4. household or form differs: rejected, even for an otherwise duplicate or newer rev
    (STORED, 4, "h4", "other", "ff", Outcome.REJECTED, "household_mismatch"),
    (STORED, 3, "h3", "other", "ff", Outcome.REJECTED, "household_mismatch"),
    (STORED, 4, "h4", "hh", "other", Outcome.REJECTED, "form_mismatch"),
    (STORED, 3, "h3", "hh", "other", Outcome.REJECTED, "form_mismatch"),
    # 5. stored rev, same hash: duplicate, for the current and for older revisions
    (STORED, 3, "h3", "hh", "ff", Outcome.DUPLICATE, None),
    (STORED, 1, "h1", "hh", "ff", Outcome.DUPLICATE, None),
    (GAPPY, 2, "h2", "hh", "ff", Outcome.DUPLICATE, None),
    # 6. stored rev, different hash: conflict, for the current and for older revisions
    (STORED, 3, "hX", "hh", "ff", Outcome.CONFLICT, "rev_content_mismatch"),
    (STORED, 1, "h2", "hh", "ff", Outcome.CONFLICT, "rev_content_mismatch"),
    # 7. newer rev: an edit, also when it skips numbers
    (STORED, 4, "h4", "hh", "ff", Outcome.EDIT, None),
    (STORED, 9, "h3", "hh", "ff", Outcome.EDIT, None),  # even with the content of an older rev
    # 8. older rev that was never stored: stale
    (GAPPY, 3, "h3", "hh", "ff", Outcome.REJECTED, "stale_revision"),
    (GAPPY, 1, "h2", "hh", "ff", Outcome.REJECTED, "stale_revision"),
])
def test_decision_table(stored, rev, chash, household, form, outcome, code):
    decision = call(stored, rev, chash, household, form)
    assert decision.outcome is outcome
    assert decision.code == code
    if outcome in (Outcome.REJECTED, Outcome.CONFLICT):
        assert decision.detail
    else:
        assert decision == Decision(outcome)


def test_outcomes_are_their_wire_names():
    assert [o.value for o in Outcome] == ["accepted", "duplicate", "edit", "conflict", "rejected"]
    assert Outcome("edit") is Outcome.EDIT and Outcome.EDIT == "edit"


def test_conflict_detail_says_which_rev_to_send():
    assert "revision 4" in call(STORED, 3).detail


def test_decisions_and_stored_are_immutable():
    with pytest.raises(AttributeError):
        STORED.current_rev = 4  # type: ignore[misc]
    with pytest.raises(AttributeError):
        call(None, 1).outcome = Outcome.REJECTED  # type: ignore[misc]


revisions = st.dictionaries(st.integers(1, 8), st.sampled_from(["a", "b", "c"]), min_size=1)


@given(revisions, st.integers(-1, 10), st.sampled_from(["a", "b", "c"]))
def test_every_input_gets_exactly_the_tables_answer(revs, rev, chash):
    stored = StoredSubmission(max(revs), revs, "hh", "ff")
    got = call(stored, rev, chash)
    if rev < 1:
        expected = Outcome.REJECTED
    elif rev in revs:
        expected = Outcome.DUPLICATE if revs[rev] == chash else Outcome.CONFLICT
    elif rev > max(revs):
        expected = Outcome.EDIT
    else:
        expected = Outcome.REJECTED
    assert got.outcome is expected
    # Deciding is pure: same question, same answer.
    assert call(stored, rev, chash) == got
