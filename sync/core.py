"""The sync core: every new revision of a submission or of a household is decided here.

Three ways make a revision: a phone's pushed item (``push_item``), a supervisor's correction
(``correct``) and a supervisor's resolution of a merge conflict (``resolve_conflict``). Each is
a pure function of what arrived and a *snapshot* of what is stored, with the form's evaluator
injected; it returns the reply and a list of *effects* (plain data) for the caller to write:

* ``HouseholdWrite``: create the household or give it a new revision (only when its answers
  change);
* ``SubmissionWrite``: store a submission revision (and the submission as last revised), with
  its own quality flags (``sync.quality``);
* ``YearWrite``: the household's row for the visit's review year (with what the village's quality
  comparisons read of it);
* ``ConflictQueued`` / ``ConflictResolved``: the supervisors' conflict queue.

The server (``server/services/push.py``, ``corrections``, ``reviews``) reads the snapshot,
calls these and writes the effects; the in-memory model (``sync.state``) does the same with
dicts, so the property tests and the drift guard prove the rules that run.

A pushed item, checked top to bottom; the first rule that answers decides (codes in
``ITEM_CODES``):

1. the area must be a village or commune (``unknown_area``) within the user's areas
   (``outside_scope``);
2. the form version must be published (``unknown_form_version``); a closed one takes only
   retries and edits of submissions stored before it closed (``form_version_closed``);
3. a stored submission must be theirs: a revision of a submission comes from the enumerator
   who created it (``not_your_submission``); a second visit to a household is a new submission
   of it. A submission or household stored *outside* the user's areas is treated as unknown by
   every rule (its existence is not theirs to learn), up to rule 8;
4. ``sync.decisions.decide``: duplicate, conflict, stale, mismatched or new/edit;
5. the visit's times: not before the earliest visit date, at most a day ahead of the server's
   clock, started before finished (``visit_too_early``, ``visit_in_future``,
   ``visit_start_after_end``); the visit's review year not closed by the commune's decision
   (``year_closed``);
6. the household: ``household_rev`` only for a household the server has in the user's areas
   (``unknown_household``), never beyond its revision (``invalid_household_rev``);
7. the form's verdict on the answers at the visit's date (``required``, ``constraint``, … from
   ``forms/``), attachments named by answers must be declared (``undeclared_attachment``),
   rural/urban must be the commune's on the visit's date (``area_type_mismatch``);
8. an id stored outside the user's areas cannot be stored again (``id_unavailable``, the same
   for a submission's and a household's id, after every other rule answered as for an unknown
   one);
9. accepted: merge into the household (``sync.merge``), from the submission's previous answers
   for an edit, from the household revision the phone pulled for a new visit, with no common
   ancestor otherwise; the merged record is recomputed at the visit's date.

One visit-date rule: every evaluation of a visit (push, correction, conflict resolution) uses
that visit's date in Vietnam time (``visit_date``): its ``finished_at``, or when it arrived if
the phone sent none. The review year a visit counts for is the form's ``review_year`` parameter
as it applies to the visit's province (``review_year``), or the visit's year for a form without
one. Every stored revision records what it was computed with (``provenance``): form version and
sha256, the province's parameter-set revision, the visit date and the review year.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sync.decisions import Outcome, StoredSubmission, decide
from sync.identity import content_hash
from sync.items import MAX_ANSWER_DEPTH, Attachment, Item, too_deep
from sync.merge import answers_equal, carry_withheld, merge_household
from sync.quality import Facts, Thresholds, assess
from sync.resolve import PathError, set_path

__all__ = [
    "ITEM_CODES", "VIETNAM", "Actor", "ConflictQueued", "ConflictResolved", "Evaluation", "Evaluator",
    "FormState", "HouseholdState", "HouseholdWrite", "Record", "Snapshot", "SubmissionState",
    "SubmissionWrite", "YearState", "YearWrite", "conflict_id", "correct", "push_item", "record_of",
    "resolve_conflict", "visit_date", "visit_day",
]

VIETNAM = dt.timezone(dt.timedelta(hours=7))
#: How far ahead of the server's clock a phone's clock may be.
CLOCK_SKEW = dt.timedelta(days=1)
_CONFLICTS = uuid.UUID("6f1d3c1e-52a3-4f35-9d36-0c1f3c8e2a77")

#: Every code a pushed item's rejection can carry besides the form's own answer codes, with
#: what the phone should do. Published in the error catalogue and the OpenAPI document.
ITEM_CODES: dict[str, str] = {
    "invalid": "The item is not a valid submission (see path); fix it and push again.",
    "null": "A field of the item that may not be null is null.",
    "type": "A field of the item has the wrong JSON type.",
    "nul": "Text holds the NUL character (U+0000), which cannot be stored.",
    "too_deep": "The answers nest too deeply; no form does, so the app is broken: report it.",
    "unknown_area": "No village or commune with this code: pull again for the areas.",
    "outside_scope": "The area is outside your areas.",
    "unknown_form_version": "No published version of this form: pull again for the forms.",
    "form_version_closed": "The version is closed and takes no new visits: start the visit again in the "
                           "published version.",
    "not_your_submission": "Another enumerator created this submission; a visit of yours is a new submission.",
    "invalid_revision": "rev must be an integer of at least 1.",
    "household_mismatch": "A submission never moves to another household; save the visit as a new submission.",
    "form_mismatch": "A submission never moves to another form; save the visit as a new submission.",
    "rev_content_mismatch": "(status conflict) This rev was stored with other content: save the change as the next "
                            "rev and push again.",
    "stale_revision": "A newer revision of this submission is stored: pull, then push changes as a higher rev.",
    "visit_too_early": "The visit's time is before the earliest date a visit may have: the phone's clock is "
                       "wrong; set it from the server's time (server_time) and push again.",
    "visit_in_future": "The visit's time is more than a day ahead of the server's clock: the phone's clock is "
                       "wrong; set it from the server's time (server_time) and push again.",
    "visit_start_after_end": "started_at is after finished_at: re-stamp the visit and push again.",
    "year_closed": "The commune's decision has closed the visit's review year: its records are final. Ask the "
                   "commune; an admin can reopen the year.",
    "unknown_household": "household_rev was given for a household the server does not have: send null for a "
                         "new household.",
    "invalid_household_rev": "household_rev is beyond the household's revision: pull again and redo the visit "
                             "from the pulled record.",
    "undeclared_attachment": "An answer names an attachment that the item does not list.",
    "id_unavailable": "The id (of the submission, or of the household: see path) cannot be used: give the "
                      "visit (or the new household) a new UUID and push again.",
    "area_type_mismatch": "The form's rural/urban answer is not the commune's setting on the visit's date.",
    "retry": "Stored concurrently by another request: push the item again as it is.",
}


# --------------------------------------------------------------------------- inputs


class Evaluator(Protocol):
    """The form version's rules, for one province's parameters (injected by the caller)."""

    keyed_repeats: Mapping[str, str]  # repeat path -> instance key
    area_type_field: str | None  # the field behind the form's ``area_type`` output
    review_year: int | None  # the form's ``review_year`` parameter as it applies (None: the visit's year)
    provenance: Mapping  # what the result is computed with: form version and sha256, parameter set
    withheld: frozenset[str]  # answer paths the pull does not send to phones (forms.prefill)
    quality_fields: Mapping[str, str]  # slot -> field the quality rules read (forms.quality.sources)

    def evaluate(self, answers: Mapping, on: dt.date) -> Evaluation: ...

    def answered(self, answers: Mapping) -> dict:
        """The answers without the values the form calculates."""
        ...


@dataclass(frozen=True)
class Evaluation:
    answers: dict  # normalised, with the server's calculations
    computed: dict
    outputs: dict
    errors: list[dict]  # {path (under answers/), code, message}
    attachments: list[str]  # sha256 named by image answers


@dataclass(frozen=True)
class Actor:
    user_id: str
    device_id: str | None
    now: dt.datetime
    earliest_visit: dt.date = dt.date(2020, 1, 1)
    thresholds: Thresholds = Thresholds()  # of the quality rules (sync.quality)


@dataclass(frozen=True)
class FormState:
    state: str  # draft | published | closed
    evaluator: Evaluator


@dataclass(frozen=True)
class SubmissionState:
    current_rev: int
    revisions: Mapping[int, str]  # rev -> content hash
    household_id: str
    form_id: str
    form_version: str
    area_code: str
    enumerator_id: str
    in_scope: bool
    answers: Mapping | None = None  # the current revision's; needed to store an edit
    # The enumerator's own latest revision, when a correction came after it: an edit from the
    # phone is made from what the phone sent, whether or not it has pulled the correction since.
    phone_answers: Mapping | None = None
    finished_at: dt.datetime | None = None
    received_at: dt.datetime | None = None
    household_rev_base: int | None = None
    started_at: dt.datetime | None = None  # the phone's latest visit times (a correction keeps them)
    attachments: tuple[Attachment, ...] = ()

    def identity(self) -> StoredSubmission:
        return StoredSubmission(self.current_rev, self.revisions, self.household_id, self.form_id)


@dataclass(frozen=True)
class HouseholdState:
    rev: int
    answers: Mapping
    area_code: str
    in_scope: bool
    household_code: str | None = None
    head_name: str | None = None
    classification: str | None = None
    base_answers: Mapping | None = None  # at the item's household_rev, when given and stored


@dataclass(frozen=True)
class YearState:
    submission_id: str
    visit_at: dt.datetime | None


@dataclass(frozen=True)
class Snapshot:
    """What is stored that one item's decision reads."""

    area: str  # ok | unknown | outside
    form: FormState | None
    submission: SubmissionState | None = None
    household: HouseholdState | None = None
    year: YearState | None = None  # the household's row for the visit's year
    area_type: str | None = None  # the commune's rural/urban on the visit's date
    # Files this actor has shown to hold: uploaded them, or may read them (a submission in their
    # areas lists the file and its enumerator uploaded it). Not "stored by anyone": that would
    # tell a phone that a file it never sent exists.
    present_attachments: frozenset[str] = frozenset()
    year_closed: bool = False  # the commune's decision has closed the visit's review year


# --------------------------------------------------------------------------- effects


@dataclass(frozen=True)
class Record:
    """What a household record, a submission and a year row show of a form's outputs."""

    household_code: str | None
    head_name: str | None
    classification: str | None
    deprivation_count: int | None
    income_per_person: float | None


@dataclass(frozen=True)
class HouseholdWrite:
    id: uuid.UUID
    new: bool
    rev: int
    answers: dict
    area_code: str
    form_id: str
    form_version: str
    household_code: str | None
    head_name: str | None
    classification: str | None
    submission_id: uuid.UUID | None  # what made this revision (None: a conflict resolution)
    submission_rev: int | None
    base_rev: int | None
    merged: bool


@dataclass(frozen=True)
class SubmissionWrite:
    id: uuid.UUID
    new: bool
    household_id: uuid.UUID
    form_id: str
    form_version: str
    area_code: str
    rev: int
    content_hash: str
    answers: dict
    computed: dict
    year: int
    record: Record
    enumerator_id: str
    author_id: str
    device_id: str | None
    source: str  # phone | correction
    reason: str | None
    household_rev_base: int | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    attachments: tuple[Attachment, ...]
    review_reset: bool  # a phone's new revision goes back to review
    provenance: Mapping  # form version, parameter set, visit date and review year it was computed with
    quality: Facts = Facts()  # own quality flags and what the relative ones compare (sync.quality)


@dataclass(frozen=True)
class YearWrite:
    household_id: uuid.UUID
    year: int
    submission_id: uuid.UUID
    visit_at: dt.datetime
    area_code: str
    record: Record
    new: bool  # no row for this household and year yet
    # what the village comparisons read of the counted visit (sync.quality)
    quality: Facts = Facts()


@dataclass(frozen=True)
class ConflictQueued:
    id: uuid.UUID
    household_id: uuid.UUID
    submission_id: uuid.UUID
    submission_rev: int
    area_code: str
    base_rev: int | None
    household_rev: int
    fields: tuple[dict, ...]


@dataclass(frozen=True)
class ConflictResolved:
    id: uuid.UUID
    resolved_by: str
    household_rev: int
    resolution: dict
    chosen: dict


Effect = HouseholdWrite | SubmissionWrite | YearWrite | ConflictQueued | ConflictResolved


@dataclass(frozen=True)
class Result:
    reply: dict
    effects: tuple[Effect, ...] = field(default=())


# --------------------------------------------------------------------------- small rules


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value == value else None


def record_of(outputs: Mapping) -> Record:
    """The one projection from a form's outputs to what records show."""
    count = _number(outputs.get("deprivation_count"))
    head = outputs.get("head_name")
    return Record(household_code=str(outputs.get("household_code") or "") or None,
                  head_name=str(head) if head else None,
                  classification=outputs.get("classification") or None,
                  deprivation_count=int(count) if count is not None else None,
                  income_per_person=_number(outputs.get("income_per_person")))


def conflict_id(submission_id: uuid.UUID, rev: int) -> uuid.UUID:
    """A conflict's id follows from the revision that raised it, so a replay names the same one."""
    return uuid.uuid5(_CONFLICTS, f"{submission_id}/{rev}")


def visit_date(at: dt.datetime) -> dt.date:
    """The date of a visit: its time in Vietnam (calculations' ``today()``, the review year)."""
    return at.astimezone(VIETNAM).date()


def _visit_time_errors(item: Item, actor: Actor) -> list[dict] | None:
    earliest = dt.datetime.combine(actor.earliest_visit, dt.time(), VIETNAM)
    latest = actor.now + CLOCK_SKEW
    for name, at in (("finished_at", item.finished_at), ("started_at", item.started_at)):
        if at is None:
            continue
        if at < earliest:
            return _error(name, "visit_too_early", f"{name} is before {actor.earliest_visit.isoformat()}, the "
                                                   "earliest a visit may be; check the phone's clock.")
        if at > latest:
            return _error(name, "visit_in_future", f"{name} is more than a day ahead of the server's clock "
                                                   f"({actor.now.isoformat()}); check the phone's clock.")
    end = item.finished_at or actor.now
    if item.started_at is not None and item.started_at > end:
        return _error("started_at", "visit_start_after_end", "started_at is after finished_at.")
    return None


def review_year(evaluator: Evaluator, on: dt.date) -> int:
    """The review year a visit counts for: the form's ``review_year`` parameter (as the province
    sets it for the season), or the visit's year when the form has none."""
    return evaluator.review_year if evaluator.review_year is not None else on.year


def provenance(evaluator: Evaluator, on: dt.date, year: int) -> dict:
    return {**evaluator.provenance, "visit_date": on.isoformat(), "review_year": year}


def year_of(item: Item, form: FormState | None, actor: Actor) -> int | None:
    """The review year of a pushed item, for reading its year row (None: it will be rejected)."""
    day = visit_day(item, actor)
    if day is None or form is None:
        return None
    return review_year(form.evaluator, day)


def visit_day(item: Item, actor: Actor) -> dt.date | None:
    """The visit's date, or None when its times are out of bounds (the item will be rejected)."""
    if _visit_time_errors(item, actor):
        return None
    return visit_date(item.finished_at or actor.now)


def takes_year_row(year: YearState | None, submission_id: uuid.UUID, visit_at: dt.datetime) -> bool:
    """A year's row follows the year's latest visit (ties: the larger submission id), not the
    order of arrival; a submission that holds the row keeps it through its own edits."""
    if year is None or year.submission_id == str(submission_id) or year.visit_at is None:
        return True
    return (visit_at, str(submission_id)) >= (year.visit_at, year.submission_id)


def _error(path: str, code: str, message: str) -> list[dict]:
    return [{"path": path, "code": code, "message": message}]


def _rejected(item_id: Any, errors: list[dict]) -> Result:
    return Result({"id": str(item_id), "status": "rejected", "errors": errors})


def _missing(item: Item, snapshot: Snapshot) -> list[str]:
    return sorted({a.sha256 for a in item.attachments} - snapshot.present_attachments)


_PUBLIC_OUTPUTS = ("classification", "deprivation_count", "income_per_person", "deprivations")


# --------------------------------------------------------------------------- push


def judge(item: Item, snapshot: Snapshot, actor: Actor) -> Result | None:
    """Rules 1-5: the answer for an item that is not to be stored, or None. Needs no household
    and no answers from the snapshot, so the server answers retries from one batched read."""
    sid = item.id
    if snapshot.area == "unknown":
        return _rejected(sid, _error("area", "unknown_area", f"No village or commune {item.area!r}."))
    if snapshot.area != "ok":
        return _rejected(sid, _error("area", "outside_scope", "This area is outside your areas."))
    stored = _visible(snapshot.submission)
    form = snapshot.form
    if form is None or form.state == "draft":
        return _rejected(sid, _error("form_version", "unknown_form_version",
                                     f"Form {item.form_id!r} has no published version {item.form_version!r}."))
    if form.state == "closed" and stored is None:
        return _rejected(sid, _error("form_version", "form_version_closed",
                                     f"Version {item.form_version!r} is closed and takes no new submissions."))
    if stored is not None:
        if stored.enumerator_id != actor.user_id:
            return _rejected(sid, _error("id", "not_your_submission",
                                         "Another enumerator created this submission; record your visit as a "
                                         "new submission of the household."))
    decision = decide(stored.identity() if stored else None, rev=item.rev, content_hash=item.content_hash,
                      household_id=str(item.household_id), form_id=item.form_id)
    if decision.outcome is Outcome.DUPLICATE:
        return Result({"id": str(sid), "status": "duplicate", "rev": item.rev,
                         "missing_attachments": _missing(item, snapshot)})
    if decision.outcome is Outcome.CONFLICT:
        return Result({"id": str(sid), "status": "conflict", "rev": stored.current_rev,  # type: ignore[union-attr]
                         "detail": decision.detail})
    if decision.outcome is Outcome.REJECTED:
        path = {"stale_revision": "rev", "form_mismatch": "form_id", "invalid_revision": "rev"}.get(
            decision.code or "", "household_id")
        return _rejected(sid, _error(path, decision.code or "invalid", decision.detail or "Rejected."))
    times = _visit_time_errors(item, actor)
    if times:
        return _rejected(sid, times)
    if snapshot.year_closed:
        return _rejected(sid, _error("area", "year_closed", "The commune's decision has closed this review year: "
                                                            "its records are final."))
    return None


def push_item(item: Item, snapshot: Snapshot, actor: Actor) -> Result:
    """A phone's pushed item: the reply, and the effects when it is stored."""
    judged = judge(item, snapshot, actor)
    if judged is not None:
        return judged
    sid, stored, household = item.id, _visible(snapshot.submission), _visible(snapshot.household)
    assert snapshot.form is not None
    if household is None and item.household_rev is not None:
        return _rejected(sid, _error("household_id", "unknown_household",
                                     "No such household; send household_rev null for a new one."))
    if household is not None:
        if item.household_rev is not None and item.household_rev > household.rev:
            return _rejected(sid, _error("household_rev", "invalid_household_rev",
                                         f"The household is at revision {household.rev}."))
    evaluator = snapshot.form.evaluator
    visit_at = item.finished_at or actor.now
    on = visit_date(visit_at)
    result = evaluator.evaluate(item.answers, on)
    if result.errors:
        return _rejected(sid, result.errors)
    undeclared = sorted(set(result.attachments) - {a.sha256 for a in item.attachments})
    if undeclared:
        return _rejected(sid, _error("attachments", "undeclared_attachment",
                                     f"Answers refer to attachments not listed: {', '.join(undeclared)}."))
    mismatch = _area_type_mismatch(evaluator, result, snapshot.area_type, item.area, on)
    if mismatch:
        return _rejected(sid, mismatch)
    # An id stored outside the user's areas was answered as unknown so far; only now, where an
    # unknown id would be stored, does the answer differ, and it says no more than that the id is
    # taken (which two records cannot share), not where nor by what.
    taken = [e for name, state in (("id", snapshot.submission), ("household_id", snapshot.household))
             if state is not None and not state.in_scope
             for e in _error(name, "id_unavailable", "This id cannot be used: make a new one and push again.")]
    if taken:
        return _rejected(sid, taken)

    # An edit starts from the enumerator's previous revision (what the phone had); a new visit
    # from the household revision the phone pulled.
    if stored is not None:
        base = stored.phone_answers if stored.phone_answers is not None else stored.answers
    else:
        base = household.base_answers if household else None
    house = _merged_household(item.household_id, household, base, result, evaluator, on,
                              area_code=item.area, form_id=item.form_id, form_version=item.form_version,
                              submission_id=sid, submission_rev=item.rev, base_rev=item.household_rev)
    effects: list[Effect] = []
    if house.write is not None:
        effects.append(house.write)
    record = record_of(result.outputs)
    year = review_year(evaluator, on)
    facts = assess(evaluator.quality_fields, result.answers, started_at=item.started_at,
                   finished_at=item.finished_at, thresholds=actor.thresholds)
    effects.append(SubmissionWrite(
        id=sid, new=stored is None, household_id=item.household_id, form_id=item.form_id,
        form_version=item.form_version, area_code=item.area, rev=item.rev, content_hash=item.content_hash,
        answers=result.answers, computed=dict(result.computed), year=year, record=record,
        enumerator_id=actor.user_id, author_id=actor.user_id, device_id=actor.device_id, source="phone",
        reason=None, household_rev_base=item.household_rev, started_at=item.started_at,
        finished_at=item.finished_at, attachments=_unique(item.attachments), review_reset=True,
        provenance=provenance(evaluator, on, year), quality=facts))
    if takes_year_row(snapshot.year, sid, visit_at):
        effects.append(YearWrite(item.household_id, year, sid, visit_at, item.area, record, snapshot.year is None,
                                 facts))
    reply = {"id": str(sid), "status": "accepted", "rev": item.rev, "missing_attachments": _missing(item, snapshot),
             "household_rev": house.rev,
             "outputs": {k: v for k, v in result.outputs.items() if k in _PUBLIC_OUTPUTS}}
    if house.conflicts:
        queued = ConflictQueued(conflict_id(sid, item.rev), item.household_id, sid, item.rev, item.area,
                                item.household_rev, house.rev, house.conflicts)
        effects.append(queued)
        reply["conflict_id"] = str(queued.id)
    return Result(reply, tuple(effects))


def _visible(state: SubmissionState | HouseholdState | None) -> Any:
    """What is stored under an id as the user may know it: nothing, when it is outside their areas
    (so that every rule answers as it would for an unknown id, until ``id_unavailable``)."""
    return state if state is not None and state.in_scope else None


def _unique(attachments: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    return tuple({a.sha256: a for a in attachments}.values())


def _area_type_mismatch(evaluator: Evaluator, result: Evaluation, expected: str | None, area: str,
                        on: dt.date) -> list[dict] | None:
    """Rural or urban picks the poverty line, so it is the commune's, not the enumerator's choice."""
    name = evaluator.area_type_field
    if not name or expected is None:
        return None
    given = result.outputs.get("area_type")
    if given == expected:
        return None
    return _error(f"answers/{name}", "area_type_mismatch",
                  f"The commune of {area} counts as {expected} on {on.isoformat()}, not {given}; correct the "
                  "answer (or ask an admin to correct the commune's setting).")


@dataclass(frozen=True)
class _House:
    rev: int
    write: HouseholdWrite | None
    conflicts: tuple[dict, ...] = ()


def _merged_household(household_id: uuid.UUID, household: HouseholdState | None, base: Mapping | None,
                      result: Evaluation, evaluator: Evaluator, on: dt.date, *, area_code: str, form_id: str,
                      form_version: str, submission_id: uuid.UUID | None, submission_rev: int | None,
                      base_rev: int | None) -> _House:
    """Create the household, or merge the visit into it: a new revision only when its answers change."""
    if household is None:
        record = record_of(result.outputs)
        return _House(1, HouseholdWrite(household_id, True, 1, result.answers, area_code, form_id, form_version,
                                        record.household_code, record.head_name, record.classification,
                                        submission_id, submission_rev, base_rev, merged=False))
    # Base None: no common ancestor (two phones created the same household): their member ids
    # cannot match, so a differing roster is one conflicting answer, not a union. What people
    # answered is merged; what the form calculates is recomputed afterwards.
    keys = evaluator.keyed_repeats if base is not None else None
    base = None if base is None else evaluator.answered(base)
    # The phone never received the withheld answers (ID numbers): not sending them erases nothing.
    incoming = carry_withheld(base, evaluator.answered(result.answers), withheld=evaluator.withheld,
                              keyed_repeats=keys)
    merge = merge_household(base, evaluator.answered(household.answers), incoming, keyed_repeats=keys)
    recomputed = evaluator.evaluate(merge.answers, on)
    answers, outputs = ((merge.answers, result.outputs) if recomputed.errors
                        else (recomputed.answers, recomputed.outputs))
    conflicts = tuple({"path": c.path, "base": c.base, "current": c.current, "incoming": c.incoming}
                      for c in merge.conflicts)
    if answers_equal(answers, household.answers):
        return _House(household.rev, None, conflicts)
    write = _household_revision(household_id, household, answers, outputs, area_code=area_code, form_id=form_id,
                                form_version=form_version, submission_id=submission_id,
                                submission_rev=submission_rev, base_rev=base_rev, merged=not merge.fast_forward)
    return _House(write.rev, write, conflicts)


def _household_revision(household_id: uuid.UUID, household: HouseholdState, answers: dict, outputs: Mapping, *,
                        area_code: str, form_id: str, form_version: str, submission_id: uuid.UUID | None,
                        submission_rev: int | None, base_rev: int | None, merged: bool) -> HouseholdWrite:
    # The record shows what its own (merged) answers give; an output left empty keeps the old value.
    record = record_of(outputs)
    return HouseholdWrite(household_id, False, household.rev + 1, answers, area_code, form_id, form_version,
                          record.household_code or household.household_code,
                          record.head_name or household.head_name,
                          record.classification or household.classification,
                          submission_id, submission_rev, base_rev, merged=merged)


# --------------------------------------------------------------------------- supervisors


class Refused(ValueError):
    """A supervisor's change that cannot be made; ``errors`` name the fields."""

    def __init__(self, message: str, errors: list[dict]):
        super().__init__(message)
        self.errors = errors


class YearClosed(Refused):
    """The commune's decision has closed the review year: its records are final."""


def correct(submission_id: uuid.UUID, changes: Mapping[str, Any], reason: str, snapshot: Snapshot,
            actor: Actor) -> Result:
    """A supervisor's correction: a new revision of the submission (source ``correction``),
    validated and recomputed at the visit's date as a pushed one is, merged into the household
    from the submission's previous answers. The review state is kept."""
    stored, household = snapshot.submission, snapshot.household
    if stored is None or stored.answers is None or household is None or snapshot.form is None:
        raise ValueError("a correction needs the stored submission, its household and its form")
    if snapshot.year_closed:
        raise YearClosed("The commune's decision has closed this review year: its records are final.",
                         _error("", "year_closed", "The review year is closed."))
    if not reason.strip():
        raise Refused("Say why the answers are corrected.", _error("reason", "required", "A reason is required."))
    unknown = [name for name in changes if not isinstance(name, str) or not name]
    if unknown:
        raise Refused("Unknown field.", _error("answers", "unknown_field", "Field names are text."))
    evaluator = snapshot.form.evaluator
    answers = {**evaluator.answered(stored.answers), **changes}
    answers = {k: v for k, v in answers.items() if v is not None}
    visit_at = stored.finished_at or stored.received_at or actor.now
    on = visit_date(visit_at)
    result = evaluator.evaluate(answers, on)
    if result.errors:
        raise Refused("The corrected answers are not valid.", result.errors)
    rev = stored.current_rev + 1
    chash = content_hash({"form_id": stored.form_id, "form_version": stored.form_version, "area": stored.area_code,
                          "household_id": stored.household_id, "household_rev": stored.household_rev_base,
                          "answers": result.answers,
                          "attachments": [{"name": a.name, "sha256": a.sha256} for a in stored.attachments]})
    hid = uuid.UUID(stored.household_id)
    house = _merged_household(hid, household, stored.answers, result, evaluator, on, area_code=stored.area_code,
                              form_id=stored.form_id, form_version=stored.form_version,
                              submission_id=submission_id, submission_rev=rev, base_rev=household.rev)
    record = record_of(result.outputs)
    year = review_year(evaluator, on)
    facts = assess(evaluator.quality_fields, result.answers, started_at=stored.started_at,
                   finished_at=stored.finished_at, thresholds=actor.thresholds)  # the phone's visit times
    effects: list[Effect] = [] if house.write is None else [house.write]
    effects.append(SubmissionWrite(
        id=submission_id, new=False, household_id=hid, form_id=stored.form_id, form_version=stored.form_version,
        area_code=stored.area_code, rev=rev, content_hash=chash, answers=result.answers,
        computed=dict(result.computed), year=year, record=record, enumerator_id=stored.enumerator_id,
        author_id=actor.user_id, device_id=None, source="correction", reason=reason.strip(),
        household_rev_base=stored.household_rev_base, started_at=None, finished_at=stored.finished_at,
        attachments=stored.attachments, review_reset=False, provenance=provenance(evaluator, on, year),
        quality=facts))
    if takes_year_row(snapshot.year, submission_id, visit_at):
        effects.append(YearWrite(hid, year, submission_id, visit_at, stored.area_code, record, snapshot.year is None,
                                 facts))
    if house.conflicts:
        effects.append(ConflictQueued(conflict_id(submission_id, rev), hid, submission_id, rev, stored.area_code,
                                      household.rev, house.rev, house.conflicts))
    return Result({"id": str(submission_id), "rev": rev, "household_rev": house.rev}, tuple(effects))


def resolve_conflict(conflict: Mapping, choices: Mapping[str, Any], comment: str | None, household_id: uuid.UUID,
                     household: HouseholdState, evaluator: Evaluator, visit_at: dt.datetime, *, area_code: str,
                     form_id: str, form_version: str, resolved_by: str) -> Result:
    """A supervisor's choice for every field of an open conflict: a new household revision
    (validated, recomputed at the conflicting visit's date) and the conflict resolved.

    ``conflict``: ``{"id", "fields": [{path, base, current, incoming}], "household_rev"}``;
    a choice is ``"current"``, ``"incoming"`` or ``{"value": ...}``.
    """
    by_path = {f["path"]: f for f in conflict["fields"]}
    errors = [{"path": f"choices/{p}", "code": "unknown_path", "message": "Not a field of this conflict."}
              for p in choices if p not in by_path]
    errors += [{"path": f"choices/{p}", "code": "required", "message": "Choose current, incoming or a value."}
               for p in by_path if p not in choices]
    if errors:
        raise Refused(errors[0]["message"], errors)
    answers: Mapping = household.answers
    chosen: dict[str, Any] = {}
    for path, choice in choices.items():
        if choice == "current":
            continue  # the record already holds the current value
        if choice == "incoming":
            value = by_path[path]["incoming"]
        elif isinstance(choice, Mapping) and set(choice) == {"value"}:
            value = choice["value"]
            if too_deep(value):  # before any recursive walk (copy, merge, evaluation) meets it
                raise Refused("The chosen value nests too deeply.",
                              _error(f"choices/{path}/value", "too_deep",
                                     f"A value may nest at most {MAX_ANSWER_DEPTH} lists or objects deep."))
        else:
            raise Refused("A choice is current, incoming or {value}.",
                          _error(f"choices/{path}", "invalid", 'Choose "current", "incoming" or {"value": …}.'))
        chosen[path] = value
        try:
            answers = set_path(answers, path, value)
        except PathError as exc:
            raise Refused(f"Cannot apply: {exc}", _error(f"choices/{path}", "unknown_path", f"Cannot apply: {exc}")) \
                from exc
    result = evaluator.evaluate(answers, visit_date(visit_at))
    if result.errors:
        raise Refused("The chosen values do not make a valid household.", result.errors)
    write = _household_revision(household_id, household, result.answers, result.outputs, area_code=area_code,
                                form_id=form_id, form_version=form_version, submission_id=None,
                                submission_rev=None, base_rev=conflict["household_rev"], merged=True)
    resolution = {"choices": dict(choices), "comment": (comment or "").strip() or None, "household_rev": write.rev}
    return Result({"household_rev": write.rev},
                    (write, ConflictResolved(conflict["id"], resolved_by, write.rev, resolution, chosen)))
