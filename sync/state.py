"""A reference model of the server's sync state, built only from ``identity``, ``decisions``
and ``merge``: what the real server must do, minus validation, areas, reviews and I/O.
The property tests drive it; the server's integration tests can compare against it.

Per pushed item, in order (each item stands alone; one bad item never blocks the rest):

1. ``decide`` against the stored submission. DUPLICATE answers what the first acceptance
   of that (id, rev) answered, with outcome DUPLICATE; REJECTED and CONFLICT change nothing.
2. ACCEPTED / EDIT: merge the answers into the household record. The base is
   * for a submission's first accepted revision: the household's answers at
     ``household_rev`` (None when null or a revision the server never had: "no common
     ancestor", so differing fields conflict rather than overwrite);
   * for an EDIT: the answers of the submission's previous stored revision. The edit was made
     on the phone from that revision, so a field it did not touch again keeps whatever the
     household holds now (including the outcome of an earlier conflict) and is not raised again.
3. A new household starts at revision 1; an existing one gets a new revision only when its
   answers changed. Every field conflict is queued with the submission id and rev, and every
   accepted revision is kept verbatim: nothing a phone sent is dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from sync.decisions import Outcome, StoredSubmission, decide
from sync.identity import content_hash
from sync.merge import FieldConflict, merge_household

__all__ = ["HouseholdRecord", "PushResult", "QueuedConflict", "SubmissionRecord", "SyncState", "apply_push"]

_STATUS = {Outcome.ACCEPTED: "accepted", Outcome.EDIT: "accepted", Outcome.DUPLICATE: "duplicate",
           Outcome.CONFLICT: "conflict", Outcome.REJECTED: "rejected"}


@dataclass(frozen=True)
class PushResult:
    id: str
    outcome: Outcome
    rev: int
    code: str | None = None
    detail: str | None = None
    household_rev: int | None = None  # the household's revision after this item
    conflicts: tuple[str, ...] = ()  # paths queued for a supervisor

    @property
    def status(self) -> str:
        """The HTTP API's ``status`` (an edit is reported as ``accepted``)."""
        return _STATUS[self.outcome]


@dataclass(frozen=True)
class QueuedConflict:
    submission_id: str
    rev: int
    conflict: FieldConflict


@dataclass
class SubmissionRecord:
    household_id: str
    form_id: str
    contents: dict[int, dict] = field(default_factory=dict)  # rev -> the item as received
    hashes: dict[int, str] = field(default_factory=dict)  # rev -> content hash
    results: dict[int, PushResult] = field(default_factory=dict)  # rev -> first answer

    @property
    def current_rev(self) -> int:
        return max(self.hashes)

    def stored(self) -> StoredSubmission:
        return StoredSubmission(self.current_rev, dict(self.hashes), self.household_id, self.form_id)


@dataclass
class HouseholdRecord:
    rev: int
    answers: dict
    history: dict[int, dict]  # rev -> answers
    conflicts: list[QueuedConflict] = field(default_factory=list)


@dataclass
class SyncState:
    submissions: dict[str, SubmissionRecord] = field(default_factory=dict)
    households: dict[str, HouseholdRecord] = field(default_factory=dict)
    keyed_repeats: Mapping[str, str] = field(default_factory=dict)


def apply_push(state: SyncState, items: Iterable[Mapping]) -> list[PushResult]:
    """Apply one pushed batch to ``state`` (in place); one result per item, in order."""
    return [_apply_item(state, item) for item in items]


def _apply_item(state: SyncState, item: Mapping) -> PushResult:
    sid, rev, hid = item["id"], item["rev"], item["household_id"]
    record = state.submissions.get(sid)
    chash = content_hash(item)
    decision = decide(record.stored() if record else None, rev=rev, content_hash=chash,
                      household_id=hid, form_id=item["form_id"])
    if decision.outcome is Outcome.DUPLICATE:
        return replace(record.results[rev], outcome=Outcome.DUPLICATE)
    if decision.outcome not in (Outcome.ACCEPTED, Outcome.EDIT):
        return PushResult(sid, decision.outcome, rev, decision.code, decision.detail)

    household = state.households.get(hid)
    if record is not None:  # an edit: the phone changed its own previous revision
        base = record.contents[record.current_rev].get("answers") or {}
    elif household is not None:
        base = household.history.get(item.get("household_rev"))
    else:
        base = None
    merged = merge_household(base, household.answers if household else None, item.get("answers") or {},
                             keyed_repeats=state.keyed_repeats)
    if household is None:
        household = state.households[hid] = HouseholdRecord(1, merged.answers, {1: merged.answers})
    elif merged.changed_paths:
        household.rev += 1
        household.answers = household.history[household.rev] = merged.answers
    household.conflicts.extend(QueuedConflict(sid, rev, c) for c in merged.conflicts)

    if record is None:
        record = state.submissions[sid] = SubmissionRecord(hid, item["form_id"])
    record.contents[rev] = copy.deepcopy(dict(item))
    record.hashes[rev] = chash
    result = PushResult(sid, decision.outcome, rev, household_rev=household.rev,
                        conflicts=tuple(c.path for c in merged.conflicts))
    record.results[rev] = result
    return result
