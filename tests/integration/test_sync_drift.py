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
from sync import core, items
from sync.state import SyncState, World, apply_push

PASSWORD = "correct horse battery"
VILLAGE_A, VILLAGE_B = f"{COMMUNE_X}-a", f"{COMMUNE_X}-b"
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
        ],
        "outputs": {"classification": "classification", "head_name": "head"},
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
        evaluators = {v: FormEvaluator(load_form(drift_form(v)), {}) for v in ("1", "2")}
        ids = {user_id: areas for user_id, areas in users.values()}
        self.world = World(
            forms={("drift", "1"): core.FormState("published", evaluators["1"]),
                   ("drift", "2"): core.FormState("closed", evaluators["2"]),
                   ("drift", "3"): core.FormState("draft", evaluators["1"])},
            area_exists=lambda code: code in {VILLAGE_A, VILLAGE_B},
            covers=lambda user_id, code: Scope(tuple(ids[user_id])).covers(code))

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
            for code in ("a", "b"):
                create_village(Scope(None), parent=COMMUNE_X, code=code, name=f"Thôn {code.upper()}")
            for name, areas in (("phone-one", [VILLAGE_A]), ("phone-two", [VILLAGE_A, VILLAGE_B])):
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
})
FINISHED = ["2026-10-01T09:00:00+07:00", "2026-10-02T09:00:00+07:00", "2026-10-03T09:00:00+07:00", None,
            "2019-06-01T09:00:00+07:00", "2099-01-01T09:00:00+07:00"]
STARTED = ["2026-10-01T08:00:00+07:00", None, "2026-10-02T12:00:00+07:00"]
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


def stored_state(drift: Drift, names) -> dict:
    sids = [uuid.UUID(names(n)) for n in ("s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8")]
    hids = [uuid.UUID(names(n)) for n in ("h1", "h2", "h3", "h4", "h6", "h7")]
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
            "submissions": {str(r[0]): (str(r[1]), r[2], r[3], str(r[4]), r[5], r[6], revisions[str(r[0])])
                            for r in rows(S.c.id, S.c.household_id, S.c.form_version, S.c.area_code,
                                          S.c.enumerator_id, S.c.rev, S.c.answers, where=S.c.id.in_(sids))},
            "households": {str(r[0]): (r[1], r[2], r[3], r[4], r[5], history[str(r[0])])
                           for r in rows(H.c.id, H.c.rev, H.c.answers, H.c.area_code, H.c.classification,
                                         H.c.head_name, where=H.c.id.in_(hids))},
            "years": {(str(r[0]), r[1]): str(r[2]) for r in rows(Y.c.household_id, Y.c.year, Y.c.submission_id,
                                                                 where=Y.c.household_id.in_(hids))},
            "conflicts": {str(r[0]): (str(r[1]), str(r[2]), r[3], r[4], sorted(f["path"] for f in r[5]))
                          for r in rows(C.c.id, C.c.household_id, C.c.submission_id, C.c.submission_rev,
                                        C.c.household_rev, C.c.fields, where=C.c.household_id.in_(hids))},
        }


def model_state(model: SyncState) -> dict:
    return {
        "submissions": {sid: (r.household_id, r.form_version, r.area_code, r.enumerator_id, r.rev, r.answers,
                              {rev: v["content_hash"] for rev, v in r.revisions.items()})
                        for sid, r in model.submissions.items()},
        "households": {hid: (h.rev, h.answers, h.area_code, h.classification, h.head_name, h.history)
                       for hid, h in model.households.items()},
        "years": {key: row["submission_id"] for key, row in model.years.items()},
        "conflicts": {cid: (c["household_id"], c["submission_id"], c["submission_rev"], c["household_rev"],
                            sorted(f["path"] for f in c["fields"])) for cid, c in model.conflicts.items()},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(sequence=a_sequence())
def test_the_server_and_the_model_agree_on_every_reply_and_on_what_is_stored(drift, sequence):
    names, batches = sequence
    drift.upload("phone-one", photo_of(names)[0])
    model = SyncState(world=drift.world)
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
    model = SyncState(world=drift.world)
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
