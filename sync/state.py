"""The in-memory model of the server's sync state: the same core (``sync.core``), with dicts
for tables.

It reads a snapshot from its dicts, calls the core and applies the effects, as the server does
with its database (``server/services/push.py`` and ``effects.py``). The property tests drive
it; the drift guard (``tests/integration/test_sync_drift.py``) sends the same batches to it and
to the real server and compares every reply and the final stored state.

What the model leaves to the server: an item that ``sync.items.parse`` does not take is
answered ``rejected`` with code ``invalid`` (the server's schema names the field and says why),
and text is not NFC-normalised (the server does it before anything else).

The world around sync (which areas exist and whose they are, form versions and their
evaluators, the communes' rural/urban setting, which attachments arrived, the quality thresholds
and the counted visits stored before the model began) is given as ``World``.

Quality flags (``sync.quality``): a submission's own flags come with its ``SubmissionWrite``; its
village flags are computed after the whole batch (``flag_relative``), as the server does at the
end of a push request, and after a correction.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from sync import core, items, quality
from sync.items import Item

__all__ = ["HouseholdRecord", "PlainEvaluator", "SubmissionRecord", "SyncState", "World", "apply_push",
           "flag_relative"]


class PlainEvaluator:
    """A form with no rules: every answer valid, nothing calculated (for the property tests)."""

    area_type_field = None
    review_year = None
    withheld: frozenset[str] = frozenset()
    quality_fields: Mapping[str, str] = MappingProxyType({})

    def __init__(self, keyed_repeats: Mapping[str, str] | None = None):
        self.keyed_repeats = dict(keyed_repeats or {})
        self.provenance = {"form_id": "plain", "form_version": "1", "form_sha256": None, "parameter_set": None}

    def evaluate(self, answers: Mapping, on: dt.date) -> core.Evaluation:
        return core.Evaluation(copy.deepcopy(dict(answers)), {}, {}, [], [])

    def answered(self, answers: Mapping) -> dict:
        return dict(answers)


@dataclass
class World:
    """What the server knows besides sync state, as the model needs it."""

    forms: dict[tuple[str, str], core.FormState] = field(default_factory=dict)
    area_exists: Callable[[str], bool] = lambda code: True
    covers: Callable[[str, str], bool] = lambda user_id, code: True  # (user, area code)
    area_type: Callable[[str, dt.date], str | None] = lambda code, on: None
    uploads: dict[str, set[str]] = field(default_factory=dict)  # user id -> files they uploaded
    earliest_visit: dt.date = dt.date(2020, 1, 1)
    year_closed: Callable[[str, int], bool] = lambda area, year: False  # (area code, review year)
    thresholds: quality.Thresholds = quality.Thresholds()
    # Counted visits stored before the model's state began, as the relative quality rules see
    # them: (area code, review year) -> neighbours; (review year, head_id_key) -> household ids.
    background: Callable[[str, int], Iterable[quality.Neighbour]] = lambda area, year: ()
    background_ids: Callable[[int, str], Iterable[str]] = lambda year, key: ()

    @classmethod
    def plain(cls, keyed_repeats: Mapping[str, str] | None = None, form_id: str = "f", versions=("1",)) -> World:
        evaluator = PlainEvaluator(keyed_repeats)
        return cls(forms={(form_id, v): core.FormState("published", evaluator) for v in versions})


@dataclass
class SubmissionRecord:
    household_id: str
    form_id: str
    form_version: str
    area_code: str
    enumerator_id: str
    rev: int
    answers: dict
    finished_at: dt.datetime | None
    received_at: dt.datetime
    household_rev_base: int | None
    attachments: tuple[items.Attachment, ...]
    review_state: str = "received"
    revisions: dict[int, dict] = field(default_factory=dict)  # rev -> what was stored
    started_at: dt.datetime | None = None
    year: int | None = None
    classification: str | None = None
    income_per_person: float | None = None
    quality: quality.Facts = quality.Facts()
    flags: tuple[str, ...] = ()  # own and relative (sync.quality)

    def state(self, covered: bool) -> core.SubmissionState:
        return core.SubmissionState(
            current_rev=self.rev, revisions={r: v["content_hash"] for r, v in self.revisions.items()},
            household_id=self.household_id, form_id=self.form_id, form_version=self.form_version,
            area_code=self.area_code, enumerator_id=self.enumerator_id, in_scope=covered, answers=self.answers,
            finished_at=self.finished_at, received_at=self.received_at, household_rev_base=self.household_rev_base,
            attachments=self.attachments, phone_answers=self._phone_answers(), started_at=self.started_at)

    def _phone_answers(self) -> dict | None:
        by_phone = [rev for rev, stored in self.revisions.items() if stored["source"] == "phone"]
        if not by_phone or max(by_phone) == self.rev:
            return None
        return self.revisions[max(by_phone)]["answers"]


@dataclass
class HouseholdRecord:
    rev: int
    answers: dict
    area_code: str
    form_id: str
    form_version: str
    household_code: str | None
    head_name: str | None
    classification: str | None
    history: dict[int, dict] = field(default_factory=dict)  # rev -> answers


@dataclass
class SyncState:
    world: World = field(default_factory=World.plain)
    submissions: dict[str, SubmissionRecord] = field(default_factory=dict)
    households: dict[str, HouseholdRecord] = field(default_factory=dict)
    years: dict[tuple[str, int], dict] = field(default_factory=dict)
    conflicts: dict[str, dict] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:  # the world is configuration, not state
        return isinstance(other, SyncState) and self.stored() == other.stored()

    def stored(self) -> tuple:
        return self.submissions, self.households, self.years, self.conflicts


def _rejected(raw: Any, errors: list[dict]) -> dict:
    raw_id = raw.get("id") if isinstance(raw, Mapping) else None
    return {"id": str(raw_id) if raw_id is not None else None, "status": "rejected", "errors": errors}


def apply_push(state: SyncState, raw_items: Iterable[Any], *, user_id: str = "u1", device_id: str | None = "d1",
               now: dt.datetime | None = None) -> list[dict]:
    """Apply one pushed batch to ``state`` (in place); one reply per item, in order."""
    actor = core.Actor(user_id, device_id, now or dt.datetime.now(dt.UTC), state.world.earliest_visit,
                       state.world.thresholds)
    written: dict[str, None] = {}
    replies = [_apply_item(state, raw, actor, written) for raw in raw_items]
    flag_relative(state, written)
    return replies


def _apply_item(state: SyncState, raw: Any, actor: core.Actor, written: dict[str, None]) -> dict:
    deep = items.nesting_error(raw)
    if deep:
        return _rejected(raw, deep)
    item = items.parse(raw)
    if item is None:
        return _rejected(raw, [{"path": "", "code": "invalid", "message": "Not a valid item."}])
    decided = core.push_item(item, snapshot(state, item, actor), actor)
    apply_effects(state, decided.effects, actor.now)
    written.update((str(e.id), None) for e in decided.effects if isinstance(e, core.SubmissionWrite))
    return decided.reply


def flag_relative(state: SyncState, submission_ids: Iterable[str]) -> None:
    """The relative quality flags of these submissions, against the state as it is now (after
    the whole batch, as the server computes them at the end of a push request)."""
    world = state.world
    for sid in submission_ids:
        record = state.submissions[sid]
        if record.year is None:
            continue
        village, holders = list(world.background(record.area_code, record.year)), []
        for (hid, year), row in state.years.items():
            if year != record.year:
                continue
            counted = row["quality"]
            if row["area_code"] == record.area_code:
                village.append(quality.Neighbour(hid, counted.lat, counted.lon, counted.head_key,
                                                 row["income_per_person"]))
            if record.quality.head_id_key is not None and counted.head_id_key == record.quality.head_id_key:
                holders.append(hid)
        if record.quality.head_id_key is not None:
            holders.extend(world.background_ids(record.year, record.quality.head_id_key))
        previous = state.years.get((record.household_id, record.year - 1))
        record.flags = quality.combine(record.quality.own, quality.relative(
            record.household_id, record.quality, income_per_person=record.income_per_person,
            classification=record.classification, village=quality.Village(village), id_holders=holders,
            previous_class=previous["classification"] if previous else None, thresholds=world.thresholds))


def snapshot(state: SyncState, item: Item, actor: core.Actor) -> core.Snapshot:
    world = state.world
    area = ("unknown" if not world.area_exists(item.area)
            else "ok" if world.covers(actor.user_id, item.area) else "outside")
    record = state.submissions.get(str(item.id))
    submission = record.state(world.covers(actor.user_id, record.area_code)) if record else None
    house = state.households.get(str(item.household_id))
    household = year = None
    day = core.visit_day(item, actor)
    if house is not None:
        base = house.history.get(item.household_rev) if item.household_rev is not None else None
        household = core.HouseholdState(house.rev, house.answers, house.area_code,
                                        world.covers(actor.user_id, house.area_code), house.household_code,
                                        house.head_name, house.classification, base)
        review_year = core.year_of(item, world.forms.get((item.form_id, item.form_version)), actor)
        if review_year is not None:
            row = state.years.get((str(item.household_id), review_year))
            year = core.YearState(row["submission_id"], row["visit_at"]) if row else None
    form = world.forms.get((item.form_id, item.form_version))
    item_year = core.year_of(item, form, actor)
    return core.Snapshot(area=area, form=form, submission=submission, household=household, year=year,
                         year_closed=item_year is not None and world.year_closed(item.area, item_year),
                         area_type=world.area_type(item.area, day) if day is not None and area == "ok" else None,
                         present_attachments=present_attachments(state, actor.user_id))


def present_attachments(state: SyncState, user_id: str) -> frozenset[str]:
    """The files the user has shown to hold (``core.Snapshot.present_attachments``): those they
    uploaded, and those a submission in their areas lists whose enumerator uploaded them."""
    uploads = state.world.uploads
    present = set(uploads.get(user_id, ()))
    for record in state.submissions.values():
        if state.world.covers(user_id, record.area_code):
            held = uploads.get(record.enumerator_id, ())
            present.update(a.sha256 for a in record.attachments if a.sha256 in held)
    return frozenset(present)


def apply_effects(state: SyncState, effects: Iterable[core.Effect], now: dt.datetime) -> None:
    for effect in effects:
        if isinstance(effect, core.HouseholdWrite):
            record = HouseholdRecord(effect.rev, copy.deepcopy(effect.answers), effect.area_code, effect.form_id,
                                     effect.form_version, effect.household_code, effect.head_name,
                                     effect.classification)
            old = state.households.get(str(effect.id))
            record.history = {**(old.history if old else {}), effect.rev: record.answers}
            state.households[str(effect.id)] = record
        elif isinstance(effect, core.SubmissionWrite):
            _store_submission(state, effect, now)
        elif isinstance(effect, core.YearWrite):
            state.years[(str(effect.household_id), effect.year)] = {
                "submission_id": str(effect.submission_id), "visit_at": effect.visit_at, "area_code": effect.area_code,
                "classification": effect.record.classification, "income_per_person": effect.record.income_per_person,
                "quality": effect.quality}
        elif isinstance(effect, core.ConflictQueued):
            state.conflicts[str(effect.id)] = {"household_id": str(effect.household_id),
                                               "submission_id": str(effect.submission_id),
                                               "submission_rev": effect.submission_rev,
                                               "household_rev": effect.household_rev, "status": "open",
                                               "fields": copy.deepcopy(list(effect.fields))}
        elif isinstance(effect, core.ConflictResolved):
            state.conflicts[str(effect.id)] |= {"status": "resolved", "resolution": copy.deepcopy(effect.resolution)}
        else:  # pragma: no cover
            raise TypeError(f"no writer for {type(effect).__name__}")


def _store_submission(state: SyncState, s: core.SubmissionWrite, now: dt.datetime) -> None:
    old = state.submissions.get(str(s.id))
    if old is None:
        record = SubmissionRecord(str(s.household_id), s.form_id, s.form_version, s.area_code, s.enumerator_id,
                                  s.rev, copy.deepcopy(s.answers), s.finished_at, now, s.household_rev_base,
                                  s.attachments, started_at=s.started_at)
    else:
        record = replace(old, form_version=s.form_version, area_code=s.area_code, rev=s.rev,
                         answers=copy.deepcopy(s.answers), attachments=s.attachments,
                         finished_at=s.finished_at if s.source == "phone" else old.finished_at,
                         started_at=s.started_at if s.source == "phone" else old.started_at,
                         review_state="received" if s.review_reset else old.review_state,
                         revisions=dict(old.revisions))
    record.year, record.classification = s.year, s.record.classification
    record.income_per_person, record.quality, record.flags = s.record.income_per_person, s.quality, s.quality.own
    record.revisions[s.rev] = {"content_hash": s.content_hash, "answers": copy.deepcopy(s.answers),
                               "source": s.source, "author_id": s.author_id, "household_rev_base": s.household_rev_base,
                               "provenance": dict(s.provenance)}
    state.submissions[str(s.id)] = record


def correct(state: SyncState, submission_id: str, changes: Mapping[str, Any], reason: str, *,
            user_id: str = "supervisor", now: dt.datetime | None = None) -> dict:
    """A supervisor's correction (``core.correct``) applied to the model."""
    actor = core.Actor(user_id, None, now or dt.datetime.now(dt.UTC), state.world.earliest_visit,
                       state.world.thresholds)
    record = state.submissions[submission_id]
    house = state.households[record.household_id]
    visit_at = record.finished_at or record.received_at
    evaluator = state.world.forms[(record.form_id, record.form_version)].evaluator
    year = state.years.get((record.household_id, core.review_year(evaluator, core.visit_date(visit_at))))
    snap = core.Snapshot(
        area="ok", form=state.world.forms[(record.form_id, record.form_version)], submission=record.state(True),
        household=core.HouseholdState(house.rev, house.answers, house.area_code, True, house.household_code,
                                      house.head_name, house.classification),
        year=core.YearState(year["submission_id"], year["visit_at"]) if year else None)
    decided = core.correct(uuid.UUID(submission_id), changes, reason, snap, actor)
    apply_effects(state, decided.effects, actor.now)
    flag_relative(state, [submission_id])
    return decided.reply
