"""The drift guard: the same generated batches go over HTTP to a real gunicorn (on the suite's
database: PostgreSQL in CI's second pass) and to the in-memory model (``sync.state``), and every
reply and the final stored state must be the same.

Both run the one sync core (``sync.core``); what this proves is that the server's shell (the
batched reads, the snapshot it builds, the two ways it writes effects, its transactions) adds
and loses nothing. The batches mix retries, crossed edits from two phones, stale and future
``household_rev``, closed and unknown form versions, unknown and foreign areas, another
enumerator's revisions, bad visit times, invalid answers and items the schema refuses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st
from support import COMMUNE_X
from support.live import LiveServer, fresh_database

from conftest import test_config as make_test_config
from forms.definition import load_form
from server import create_app
from server.cli import initialise
from server.db import db
from server.models import Conflict, Household, HouseholdRevision, HouseholdYear, Submission, SubmissionRevision
from server.scoping import Scope
from server.services import forms as form_service
from server.services.areas import create_village
from server.services.evaluation import FormEvaluator
from server.services.users import create_user
from sync import core, items, quality
from sync.state import SyncState, World, apply_push

PASSWORD = "correct horse battery"
VILLAGE_A, VILLAGE_B = f"{COMMUNE_X}-a", f"{COMMUNE_X}-b"
VILLAGE_Q = f"{COMMUNE_X}-q"  # the quality flags' fixed sequence alone
UNKNOWN_VILLAGE, PROVINCE = f"{COMMUNE_X}-zz", "01"


def drift_form(version: str) -> dict:
    return {
        "form_id": "drift", "version": version, "title": {"vi": "Kiểm tra", "en": "Drift guard"},
        "fields": [
            {"name": "x", "type": "integer", "label": "x", "constraint": ". <= 5"},
            {"name": "y", "type": "integer", "label": "y"},
            {"name": "head", "type": "text", "label": "head"},
            {"name": "members", "type": "repeat", "instance_key": "member_id", "label": "members", "fields": [
                {"name": "member_id", "type": "text", "label": "id", "required": True},
                {"name": "age", "type": "integer", "label": "age"}]},
            {"name": "classification", "type": "calculate", "calculation": "if(${x} > 2, 'poor', 'not_poor')"},
            # read by the quality flags (sync.quality)
            {"name": "loc", "type": "geopoint", "label": "where"},
            {"name": "hid", "type": "text", "label": "head's ID number"},
            {"name": "by", "type": "integer", "label": "head's birth year"},
            {"name": "n", "type": "integer", "label": "members"},
            {"name": "inc", "type": "integer", "label": "income per person"},
        ],
        "outputs": {"classification": "classification", "head_name": "head", "location": "loc",
                    "head_id_number": "hid", "head_birth_year": "by", "member_count": "n", "roster": "members",
                    "income_per_person": "inc"},
        # Version 2 counts its visits for review year 2025 whatever their date: an edit moving a
        # submission from version 1 to 2 moves it to another year row.
        **({"parameters": {"review_year": 2025}} if version == "2" else {}),
    }


class Drift:
    """The live server, its database, the two phones and the model's world."""

    def __init__(self, url: str, server: LiveServer, users: dict[str, tuple[str, list[str]]]):
        self.url, self.server, self.users = url, server, users  # name -> (user id, areas)
        self.engine = sa.create_engine(url)
        self.tokens = {name: self._login(name) for name in users}
        evaluators = {v: FormEvaluator(load_form(drift_form(v)), drift_form(v).get("parameters", {}))
                      for v in ("1", "2")}
        ids = {user_id: areas for user_id, areas in users.values()}
        self.world = World(
            forms={("drift", "1"): core.FormState("published", evaluators["1"]),
                   ("drift", "2"): core.FormState("closed", evaluators["2"]),
                   ("drift", "3"): core.FormState("draft", evaluators["1"])},
            area_exists=lambda code: code in {VILLAGE_A, VILLAGE_B, VILLAGE_Q},
            covers=lambda user_id, code: Scope(tuple(ids[user_id])).covers(code))

    def world_now(self) -> World:
        """The model's world for a sequence that starts now: the counted visits the server holds
        already (earlier examples' households, never this sequence's) are the background of the
        village comparisons (sync.quality)."""
        hy = HouseholdYear.__table__
        villages: dict[tuple[str, int], list[quality.Neighbour]] = {}
        ids: dict[tuple[int, str], list[str]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(sa.select(hy.c.area_code, hy.c.year, hy.c.household_id, hy.c.gps_lat, hy.c.gps_lon,
                                            hy.c.head_key, hy.c.income_per_person, hy.c.head_id_key)):
                villages.setdefault((r.area_code, r.year), []).append(quality.Neighbour(
                    str(r.household_id), r.gps_lat, r.gps_lon, r.head_key, r.income_per_person))
                if r.head_id_key is not None:
                    ids.setdefault((r.year, r.head_id_key), []).append(str(r.household_id))
        return replace(self.world, background=lambda area, year: villages.get((area, year), ()),
                       background_ids=lambda year, key: ids.get((year, key), ()))

    def _login(self, name: str) -> str:
        response = self.server.request("POST", "/api/v1/auth/login", json_body={
            "username": name, "password": PASSWORD, "device_id": f"drift-{name}"})
        assert response.status == 200, response.body
        return response.json()["access_token"]

    def push(self, name: str, batch: list) -> tuple[list[dict], dt.datetime]:
        response = self.server.request("POST", "/api/v1/sync/push", headers={
            "Authorization": f"Bearer {self.tokens[name]}"}, json_body={"device_id": f"drift-{name}",
                                                                         "submissions": batch})
        assert response.status == 200, response.body[:2000]
        body = response.json()
        return body["results"], dt.datetime.fromisoformat(body["server_time"])

    def upload(self, name: str, content: bytes) -> None:
        """PUT a file's bytes from the user's phone; the model learns that the user holds it."""
        sha = hashlib.sha256(content).hexdigest()
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        try:
            connection.request("PUT", f"/api/v1/attachments/{sha}", body=content, headers={
                "Authorization": f"Bearer {self.tokens[name]}", "Content-Type": "image/jpeg", "Connection": "close"})
            response = connection.getresponse()
            assert response.status == 201, response.read()[:2000]
        finally:
            connection.close()
        self.world.uploads.setdefault(self.users[name][0], set()).add(sha)


@pytest.fixture(scope="module")
def drift(db_url, tmp_path_factory) -> Iterator[Drift]:
    directory = tmp_path_factory.mktemp("drift")
    with fresh_database(db_url, directory) as url:
        app = create_app(make_test_config(url, directory / "instance"))
        users = {}
        with app.app_context():
            initialise()
            for code in ("a", "b", "q"):
                create_village(Scope(None), parent=COMMUNE_X, code=code, name=f"Thôn {code.upper()}")
            for name, areas in (("phone-one", [VILLAGE_A]), ("phone-two", [VILLAGE_A, VILLAGE_B, VILLAGE_Q])):
                user = create_user(Scope(None), username=name, password=PASSWORD, role="enumerator", areas=areas)
                users[name] = (str(user.id), areas)
            for version in ("1", "2", "3"):
                form_service.create_version(drift_form(version), None)
            for version in ("1", "2"):
                form_service.publish("drift", version, None)
            form_service.close("drift", "2", None, confirm="drift/2")
            db.session.remove()
            db.engine.dispose()
        with LiveServer(url, workers=2, directory=directory) as server:
            guard = Drift(url, server, users)
            yield guard
            guard.engine.dispose()


# --------------------------------------------------------------------------- generated batches

_examples = itertools.count()

answers_strategy = st.fixed_dictionaries({}, optional={
    "x": st.integers(0, 7),  # 6 and 7 break the constraint
    "y": st.integers(0, 3),
    "head": st.sampled_from(["Lò Văn Pấng", "Hà Thị Hoa"]),
    "members": st.lists(st.fixed_dictionaries({"member_id": st.sampled_from(["m1", "m2", "m3"]),
                                               "age": st.integers(0, 90)}),
                        max_size=3, unique_by=lambda m: m["member_id"]),
    # the quality flags' inputs: close to the village or 20 km off, too inaccurate, missing;
    # two heads' ID numbers and birth years; member counts; incomes, one far above the rest
    "loc": st.sampled_from([{"lat": 21.0285, "lon": 105.8542, "accuracy": 5.0}, {"lat": 21.0301, "lon": 105.8511},
                            {"lat": 21.0262, "lon": 105.8567, "accuracy": 12.0},
                            {"lat": 21.2085, "lon": 105.8542, "accuracy": 8.0},
                            {"lat": 21.0285, "lon": 105.8542, "accuracy": 400.0}]),
    "hid": st.sampled_from(["001086012345", "079190001234"]),
    "by": st.sampled_from([1970, 1984]),
    "n": st.integers(0, 3),
    "inc": st.sampled_from([900_000, 1_100_000, 1_250_000, 1_400_000, 12_000_000]),
})
FINISHED = ["2026-10-01T09:00:00+07:00", "2026-10-02T09:00:00+07:00", "2026-10-03T09:00:00+07:00", None,
            "2019-06-01T09:00:00+07:00", "2099-01-01T09:00:00+07:00", "2025-10-01T09:00:00+07:00"]
# 08:55 before a 09:00 finish is a short interview
STARTED = ["2026-10-01T08:00:00+07:00", None, "2026-10-02T12:00:00+07:00", "2026-10-02T08:55:00+07:00"]
SHA = hashlib.sha256(b"never uploaded").hexdigest()


def photo_of(names) -> tuple[bytes, str]:
    """The example's photo, which phone-one uploads before the example's batches (a JPEG to the
    sniffer): phone-one holds it, phone-two may read it once a visit of phone-one lists it."""
    content = b"\xff\xd8\xff drift photo " + names("photo").encode()
    return content, hashlib.sha256(content).hexdigest()


@st.composite
def an_item(draw, names):
    item = {
        "id": names(draw(st.sampled_from(["s1", "s2", "s3", "s4"]))),
        "form_id": "drift",
        "form_version": draw(st.sampled_from(["1", "1", "1", "1", "2", "3", "9"])),
        "area": draw(st.sampled_from([VILLAGE_A] * 6 + [VILLAGE_B, UNKNOWN_VILLAGE, PROVINCE])),
        "household_id": names(draw(st.sampled_from(["h1", "h1", "h2", "h3"]))),
        "household_rev": draw(st.sampled_from([None, None, None, 1, 2, 3])),
        "rev": draw(st.integers(1, 3)),
        "started_at": draw(st.sampled_from(STARTED)),
        "finished_at": draw(st.sampled_from(FINISHED)),
        "answers": draw(answers_strategy),
        "attachments": draw(st.sampled_from([[], [], [{"name": "photo", "sha256": SHA, "size": 3}],
                                             [{"name": "photo", "sha256": photo_of(names)[1], "size": 40}]])),
    }
    spoil = draw(st.sampled_from([None] * 12 + ["rev", "answers", "id"]))
    if spoil == "rev":
        item["rev"] = 0
    elif spoil == "answers":
        del item["answers"]
    elif spoil == "id":
        item["id"] = "not-a-uuid"
    return item


@st.composite
def a_sequence(draw):
    example = next(_examples)

    def names(name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"drift/{example}/{name}"))

    batches = []
    for _ in range(draw(st.integers(1, 4))):
        batch = draw(st.lists(an_item(names), min_size=1, max_size=6))
        # Retries: a batch sent again, whole or in part (the phone never heard the answer).
        if batches and draw(st.booleans()):
            batch = draw(st.sampled_from(batches)) + batch[:2]
        batches.append(batch)
    users = [draw(st.sampled_from(["phone-one", "phone-one", "phone-two"])) for _ in batches]
    return names, list(zip(users, batches, strict=True))


# --------------------------------------------------------------------------- comparing


def comparable(reply: dict, raw: object) -> object:
    if reply["status"] == "rejected" and items.parse(raw) is None:
        return "rejected by the item schema"  # the model does not carry the schema's messages
    out = {k: v for k, v in reply.items() if k != "detail"}
    if "errors" in out:
        out["errors"] = sorted((e["path"], e["code"]) for e in out["errors"])
    return out


SIDS, HIDS = ("s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"), ("h1", "h2", "h3", "h4", "h6", "h7")


def stored_state(drift: Drift, names, sid_names=SIDS, hid_names=HIDS) -> dict:
    sids = [uuid.UUID(names(n)) for n in sid_names]
    hids = [uuid.UUID(names(n)) for n in hid_names]
    S, SR, H, HR, Y, C = (m.__table__ for m in (Submission, SubmissionRevision, Household, HouseholdRevision,
                                                HouseholdYear, Conflict))
    with drift.engine.connect() as conn:
        def rows(*columns, where):
            return conn.execute(sa.select(*columns).where(where)).all()

        revisions: dict[str, dict[int, str]] = {}
        for sid, rev, chash in rows(SR.c.submission_id, SR.c.rev, SR.c.content_hash,
                                    where=SR.c.submission_id.in_(sids)):
            revisions.setdefault(str(sid), {})[rev] = chash
        history: dict[str, dict[int, object]] = {}
        for hid, rev, answers in rows(HR.c.household_id, HR.c.rev, HR.c.answers, where=HR.c.household_id.in_(hids)):
            history.setdefault(str(hid), {})[rev] = answers
        return {
            "submissions": {str(r[0]): (str(r[1]), r[2], r[3], str(r[4]), r[5], r[6], revisions[str(r[0])],
                                        list(r[7]))
                            for r in rows(S.c.id, S.c.household_id, S.c.form_version, S.c.area_code,
                                          S.c.enumerator_id, S.c.rev, S.c.answers, S.c.flags, where=S.c.id.in_(sids))},
            "households": {str(r[0]): (r[1], r[2], r[3], r[4], r[5], history[str(r[0])])
                           for r in rows(H.c.id, H.c.rev, H.c.answers, H.c.area_code, H.c.classification,
                                         H.c.head_name, where=H.c.id.in_(hids))},
            "years": {(str(r[0]), r[1]): (str(r[2]), *r[3:])
                      for r in rows(Y.c.household_id, Y.c.year, Y.c.submission_id, Y.c.gps_lat, Y.c.gps_lon,
                                    Y.c.head_key, Y.c.head_id_key, Y.c.income_per_person,
                                    where=Y.c.household_id.in_(hids))},
            "conflicts": {str(r[0]): (str(r[1]), str(r[2]), r[3], r[4], sorted(f["path"] for f in r[5]))
                          for r in rows(C.c.id, C.c.household_id, C.c.submission_id, C.c.submission_rev,
                                        C.c.household_rev, C.c.fields, where=C.c.household_id.in_(hids))},
        }


def model_state(model: SyncState) -> dict:
    return {
        "submissions": {sid: (r.household_id, r.form_version, r.area_code, r.enumerator_id, r.rev, r.answers,
                              {rev: v["content_hash"] for rev, v in r.revisions.items()}, list(r.flags))
                        for sid, r in model.submissions.items()},
        "households": {hid: (h.rev, h.answers, h.area_code, h.classification, h.head_name, h.history)
                       for hid, h in model.households.items()},
        "years": {key: (row["submission_id"], row["quality"].lat, row["quality"].lon, row["quality"].head_key,
                        row["quality"].head_id_key, row["income_per_person"]) for key, row in model.years.items()},
        "conflicts": {cid: (c["household_id"], c["submission_id"], c["submission_rev"], c["household_rev"],
                            sorted(f["path"] for f in c["fields"])) for cid, c in model.conflicts.items()},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(sequence=a_sequence())
def test_the_server_and_the_model_agree_on_every_reply_and_on_what_is_stored(drift, sequence):
    names, batches = sequence
    drift.upload("phone-one", photo_of(names)[0])
    model = SyncState(world=drift.world_now())
    for user, batch in batches:
        replies, now = drift.push(user, batch)
        expected = apply_push(model, batch, user_id=drift.users[user][0], device_id=f"drift-{user}", now=now)
        assert [comparable(r, raw) for r, raw in zip(replies, batch, strict=True)] == \
               [comparable(r, raw) for r, raw in zip(expected, batch, strict=True)]
    assert stored_state(drift, names) == model_state(model)


def test_the_generated_batches_reach_every_rule(drift):
    """The guard is only as good as what it sends: one fixed sequence that must meet every
    outcome and code, so a narrowed generator cannot pass unnoticed."""
    seen: set[str] = set()
    example = next(_examples)

    def names(name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"drift-fixed/{example}/{name}"))

    def item(sid, hid, rev=1, hrev=None, **extra):
        base = {"id": names(sid), "form_id": "drift", "form_version": "1", "area": VILLAGE_A,
                "household_id": names(hid), "household_rev": hrev, "rev": rev, "started_at": None,
                "finished_at": "2026-10-02T09:00:00+07:00", "answers": {"x": 1}, "attachments": []}
        return base | extra

    content, photo = photo_of(names)
    drift.upload("phone-one", content)
    listed = [{"name": "photo", "sha256": photo, "size": len(content)}]
    model = SyncState(world=drift.world_now())
    sequence = [
        ("phone-two", [item("s5", "h4", attachments=listed)]),  # declared, never uploaded by phone-two
        ("phone-one", [item("s1", "h1"), item("s2", "h2", answers={"x": 3}, attachments=listed)]),
        ("phone-one", [item("s1", "h1"), item("s1", "h1", answers={"x": 2}), item("s1", "h1", rev=2,
                                                                                 answers={"x": 2})]),
        ("phone-two", [item("s3", "h1", hrev=1, answers={"x": 4}), item("s1", "h1", rev=3),
                       item("s4", "h2", hrev=9), item("s4", "h3", form_version="2"),
                       item("s4", "h3", form_version="3"), item("s4", "h3", area=UNKNOWN_VILLAGE),
                       item("s4", "h3", answers={"x": 7}), item("s4", "h3", finished_at="2099-01-01T00:00:00Z")]),
        ("phone-one", [item("s1", "h1", rev=1, household_id=names("h2")),
                       item("s4", "h3", area=VILLAGE_B), item("s1", "h1", rev=2, hrev=1, answers={"x": 5}),
                       item("s4", "h3", rev=3), item("s4", "h3", rev=2, answers={"x": 2})]),
        # phone-one's visit in village A now lists the photo it uploaded: phone-two may read it
        ("phone-two", [item("s5", "h4", rev=2, attachments=listed, answers={"x": 2})]),
        # ids stored in village B, which phone-one cannot see: answered as unknown ones until stored
        ("phone-two", [item("s6", "h6", area=VILLAGE_B)]),
        ("phone-one", [item("s6", "h7"), item("s7", "h6"), item("s8", "h6", hrev=1)]),
    ]
    for user, batch in sequence:
        replies, now = drift.push(user, batch)
        expected = apply_push(model, batch, user_id=drift.users[user][0], device_id=f"drift-{user}", now=now)
        assert [comparable(r, raw) for r, raw in zip(replies, batch, strict=True)] == \
               [comparable(r, raw) for r, raw in zip(expected, batch, strict=True)]
        for reply, raw in zip(replies, batch, strict=True):
            if raw["attachments"] and "missing_attachments" in reply:
                seen.add(f"attachment {'missing' if reply['missing_attachments'] else 'arrived'} ({user})")
            seen.add(reply["status"])
            seen.update(e["code"] for e in reply.get("errors", []))
            if "conflict_id" in reply:
                seen.add("queued conflict")
    assert stored_state(drift, names) == model_state(model)
    assert {"accepted", "duplicate", "conflict", "rejected", "queued conflict", "not_your_submission",
            "stale_revision", "invalid_household_rev", "form_version_closed", "unknown_form_version",
            "unknown_area", "outside_scope", "constraint", "visit_in_future", "household_mismatch",
            "id_unavailable", "unknown_household", "attachment missing (phone-two)", "attachment arrived (phone-one)",
            "attachment arrived (phone-two)"} <= seen, seen


def test_every_quality_flag_is_raised_alike(drift):
    """One fixed sequence in a village of its own that raises every quality flag: the server and
    the model must agree on each submission's flags (and on everything else they store)."""
    example = next(_examples)

    def names(name: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"drift-quality/{example}/{name}"))

    def item(sid, household, hrev=None, started="2026-10-02T08:00:00+07:00", finished="2026-10-02T09:00:00+07:00",
             **answers):
        members = [{"member_id": f"m{i}", "age": 30 + i} for i in range(answers.pop("members", 2))]
        return {"id": names(sid), "form_id": "drift", "form_version": "1", "area": VILLAGE_Q,
                "household_id": names(household), "household_rev": hrev, "rev": 1, "started_at": started,
                "finished_at": finished, "attachments": [],
                "answers": {"x": 1, "n": len(members), "members": members, **answers}}

    # Five households around one point, with their own heads and incomes that spread a little.
    village = [item(f"s{i}", f"h{i}", head=f"Chủ hộ {i}", by=1960 + i, hid=f"0790{example:04d}{i:04d}",
                    loc={"lat": 21.0285 + i / 2000, "lon": 105.8542 - i / 2000, "accuracy": 6.0},
                    inc=1_000_000 + 100_000 * i) for i in range(1, 6)]
    last_year = item("s0", "h6", finished="2025-10-01T09:00:00+07:00", started="2025-10-01T08:00:00+07:00", x=1,
                     loc={"lat": 21.03, "lon": 105.85})
    odd = item("s6", "h6", hrev=1, started="2026-10-02T08:55:00+07:00", x=3, members=1, n=3,
               head="CHỦ HỘ 2", by=1962, hid=village[0]["answers"]["hid"],
               loc={"lat": 21.2085, "lon": 105.8542, "accuracy": 8.0}, inc=12_000_000)
    no_place = item("s7", "h7", inc=1_100_000)
    blurred = item("s8", "h8", inc=1_200_000, loc={"lat": 21.0285, "lon": 105.8542, "accuracy": 400.0})
    model = SyncState(world=drift.world_now())
    for batch in ([*village, last_year], [odd, no_place, blurred]):
        replies, now = drift.push("phone-two", batch)
        expected = apply_push(model, batch, user_id=drift.users["phone-two"][0], device_id="drift-phone-two", now=now)
        assert [r["status"] for r in replies] == ["accepted"] * len(batch), replies
        assert [comparable(r, raw) for r, raw in zip(replies, batch, strict=True)] == \
               [comparable(r, raw) for r, raw in zip(expected, batch, strict=True)]
    sids = [f"s{i}" for i in range(9)]
    hids = [f"h{i}" for i in range(1, 9)]
    assert stored_state(drift, names, sids, hids) == model_state(model)
    flags = {name: model.submissions[names(name)].flags for name in sids}
    assert flags["s6"] == ("short_interview", "roster_mismatch", "gps_far", "duplicate_id", "duplicate_name",
                           "income_outlier", "class_changed")
    assert flags["s7"] == ("gps_missing",)
    assert flags["s8"] == ("gps_inaccurate",)
    # the neighbours keep the flags they had when they were pushed (docs/quality.md)
    assert all(flags[f"s{i}"] == () for i in range(1, 6)), flags
    assert set().union(*flags.values()) == set(quality.FLAGS)
