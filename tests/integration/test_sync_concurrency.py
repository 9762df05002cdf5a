"""The sync guarantees under real concurrency: a real gunicorn (2 workers x 4 threads) on a fresh,
committed database (a throwaway PostgreSQL database when TEST_DATABASE_URL is PostgreSQL, else a
SQLite file), real threads released by a ``threading.Barrier``, row counts read with a separate
engine.

A race is only a race if the server really handled the requests at the same time: every thread
sends its request's headers before the barrier and its body after it, and ``race`` checks the
server's request log (start and end of every request) for an overlap, trying again with fresh
data when a loaded machine happened to serialise them.

What push.py guarantees for simultaneous requests, and why (so the assertions can be exact):

* PostgreSQL (READ COMMITTED): an INSERT that collides with another request's uncommitted row
  waits for that request to commit, then fails with IntegrityError; the savepoint is rolled back
  and the item decided again against what is now committed. The same submission therefore comes
  back ``duplicate``; another submission of the same household finds the household (locked
  FOR UPDATE) and is merged. ``rejected``/``retry`` needs a second failure for the same item,
  which one submission or one household cannot cause; two batches locking households in
  crossed order can (a deadlock, detected by PostgreSQL, is retried once like a collision).
* SQLite: every request takes the write lock up front (BEGIN IMMEDIATE), so requests are
  serialised and there are no collisions at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from support import COMMUNE_X
from support.households import household_answers, submission
from support.live import LiveServer, Response, fresh_database

from conftest import test_config as make_test_config
import forms
from forms.definition import load_form
from forms.inputs import without_calculations
from server import create_app
from server.cli import initialise
from server.db import db
from server.models import (
    Attachment,
    AttachmentUpload,
    Conflict,
    Household,
    HouseholdRevision,
    HouseholdYear,
    Submission,
    SubmissionRevision,
)
from server.scoping import Scope
from server.services.areas import create_village, set_area_type
from server.services.users import create_user


def bundled_form():
    path = Path(forms.__file__).parent / "bundled" / "household-review-2022.json"
    return load_form(json.loads(path.read_text(encoding="utf-8")))


PUSH = "/api/v1/sync/push"
PASSWORD = "correct horse battery"
VILLAGE = f"{COMMUNE_X}-a"
PHONES = 8
JPEG = b"\xff\xd8\xff\xe0"  # what an attachment's bytes must start with to be taken as a JPEG
TIMEOUT = 60
T = TypeVar("T")


@dataclass(frozen=True)
class Phone:
    username: str
    device_id: str
    token: str

    def headers(self, content_type: str = "application/json") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": content_type}

    def push_body(self, items: list[dict]) -> bytes:
        return json.dumps({"device_id": self.device_id, "submissions": items}).encode()


@dataclass
class Live:
    server: LiveServer
    engine: sa.Engine
    phones: list[Phone]

    @property
    def attachments_dir(self) -> Path:
        return self.server.directory / "instance" / "attachments"


def _seed(url: str, directory: Path) -> None:
    """Migrate and load the fresh database, one village, PHONES enumerators; committed."""
    app = create_app(make_test_config(url, directory / "seed"))
    try:
        with app.app_context():
            initialise()
            create_village(Scope(None), parent=COMMUNE_X, code="a", name="Thôn A")
            set_area_type(Scope(None), COMMUNE_X, "rural", dt.date(2025, 7, 1))  # the households are rural
            for i in range(PHONES):
                create_user(Scope(None), username=f"phone{i}", password=PASSWORD, role="enumerator",
                            areas=[VILLAGE])
            db.session.commit()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("sync-live")
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), directory) as url:
        _seed(url, directory)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with LiveServer(url, workers=2, threads=4, directory=directory / "server") as server:
                phones = []
                for i in range(PHONES):
                    device = f"phone-{i}"
                    answer = server.request("POST", "/api/v1/auth/login", json_body={
                        "username": f"phone{i}", "password": PASSWORD, "device_id": device})
                    assert answer.status == 200, answer.body
                    phones.append(Phone(f"phone{i}", device, answer.json()["access_token"]))
                yield Live(server, engine, phones)
        finally:
            engine.dispose()


# --- talking to the server ------------------------------------------------------------------


def _connect(server: LiveServer) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    connection.connect()
    return connection


def _exchange(connection: http.client.HTTPConnection, method: str, path: str, body: bytes,
              headers: dict[str, str]) -> Response:
    connection.request(method, path, body=body, headers={"Connection": "close", **headers})
    answer = connection.getresponse()
    return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())


def send(server: LiveServer, method: str, path: str, body: bytes, headers: dict[str, str]) -> Response:
    connection = _connect(server)
    try:
        return _exchange(connection, method, path, body, headers)
    finally:
        connection.close()


def at_once(server: LiveServer, requests: list[tuple[str, str, bytes, dict[str, str]]]) -> tuple[list[Response], int]:
    """Send every request from its own thread and connection, all bodies released at the same
    instant: each thread first sends its request's headers, so that the server can take every
    request in hand (authenticate it, start reading its body) before the barrier lets the bodies
    go. Returns the answers, in order, and how many of the requests the server was handling at
    once at most."""
    barrier = threading.Barrier(len(requests))
    answers: list[Response | None] = [None] * len(requests)
    failures: list[BaseException] = []
    request_ids = [f"race-{uuid.uuid4().hex}" for _ in requests]

    def run(index: int) -> None:
        method, path, body, headers = requests[index]
        connection = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        try:
            try:
                connection.putrequest(method, path)
                for name, value in {**headers, "Connection": "close", "X-Request-ID": request_ids[index],
                                    "Content-Length": str(len(body))}.items():
                    connection.putheader(name, value)
                connection.endheaders()
            finally:
                barrier.wait(timeout=TIMEOUT)
            connection.send(body)
            answer = connection.getresponse()
            answers[index] = Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a request never came back"
    assert not failures, failures
    return answers, most_in_flight(server, request_ids)  # type: ignore[return-value]


def race(server: LiveServer, make: Callable[[], tuple[list, T]], attempts: int = 5) -> tuple[list[Response], T]:
    """Run ``make()``'s requests at once; on a loaded machine the server may happen to finish one
    before it starts the next (no race at all), so try again with fresh data (``make`` builds new
    ids each time) until it really handled two at once. Returns the answers and ``make``'s context."""
    for _ in range(attempts):
        requests, context = make()
        answers, overlap = at_once(server, requests)
        if overlap >= 2:
            return answers, context
    raise AssertionError(f"the requests never overlapped in {attempts} attempts: no race was tested")


def most_in_flight(server: LiveServer, request_ids: list[str]) -> int:
    """How many of these requests the app was handling at once at most, from its request log
    (each line: finish timestamp and duration). The ids sent are logged as client_request_id
    (the server makes its own request ids)."""
    wanted, events = set(request_ids), []
    for line in server.stdout_path.read_text(errors="replace").splitlines():
        if '"client_request_id": "race-' not in line:
            continue
        entry = json.loads(line)
        if entry.get("event") == "request" and entry.get("client_request_id") in wanted:
            finished = dt.datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
            events += [(finished - entry["ms"] / 1000, 1), (finished, -1)]
    assert len(events) == 2 * len(wanted), "some requests are missing from the request log"
    most = current = 0
    for _, step in sorted(events, key=lambda event: (event[0], event[1])):
        current += step
        most = max(most, current)
    return most


def results(answer: Response) -> list[dict]:
    assert answer.status == 200, (answer.status, answer.body[:2000])
    return answer.json()["results"]


def push(live: Live, phone: Phone, items: list[dict]) -> list[dict]:
    return results(send(live.server, "POST", PUSH, phone.push_body(items), phone.headers()))


# --- reading the database directly --------------------------------------------------------

TABLES = {
    "submissions": Submission, "submission_revisions": SubmissionRevision, "households": Household,
    "household_revisions": HouseholdRevision, "household_years": HouseholdYear, "conflicts": Conflict,
    "attachments": Attachment,
}


def counts(live: Live) -> dict[str, int]:
    with live.engine.connect() as conn:
        return {name: conn.execute(sa.select(sa.func.count()).select_from(model.__table__)).scalar_one()
                for name, model in TABLES.items()}


def counts_for(live: Live, submission_ids, household_ids) -> dict[str, int]:
    sids = [uuid.UUID(str(s)) for s in submission_ids]
    hids = [uuid.UUID(str(h)) for h in household_ids]
    where = {
        "submissions": Submission.id.in_(sids),
        "submission_revisions": SubmissionRevision.submission_id.in_(sids),
        "households": Household.id.in_(hids),
        "household_revisions": HouseholdRevision.household_id.in_(hids),
        "household_years": HouseholdYear.household_id.in_(hids),
        "conflicts": Conflict.household_id.in_(hids),
    }
    with live.engine.connect() as conn:
        return {name: conn.execute(sa.select(sa.func.count()).select_from(TABLES[name].__table__).where(clause))
                .scalar_one() for name, clause in where.items()}


def household(live: Live, household_id) -> dict:
    with live.engine.connect() as conn:
        row = conn.execute(sa.select(Household.rev, Household.answers).where(
            Household.id == uuid.UUID(str(household_id)))).one()
        revs = conn.execute(sa.select(HouseholdRevision.rev).where(
            HouseholdRevision.household_id == uuid.UUID(str(household_id))).order_by(HouseholdRevision.rev)
        ).scalars().all()
        conflicts = conn.execute(sa.select(Conflict.submission_id, Conflict.fields).where(
            Conflict.household_id == uuid.UUID(str(household_id)))).all()
    return {"rev": row.rev, "answers": row.answers, "revisions": list(revs),
            "conflicts": [(str(c.submission_id), c.fields) for c in conflicts]}


def stored_answers(live: Live, submission_id) -> dict:
    with live.engine.connect() as conn:
        return conn.execute(sa.select(Submission.answers).where(Submission.id == uuid.UUID(str(submission_id)))
                            ).scalar_one()


# --- the guarantees -----------------------------------------------------------------------


def test_the_server_really_runs_several_workers(live):
    assert len(live.server.worker_pids()) == 2, live.server.logs()


@pytest.mark.parametrize("round_", range(3))
def test_same_submission_sent_many_times_at_once_is_stored_once(live, round_):
    # A phone that retries while its first push is still running (a revision of a submission
    # only ever comes from the enumerator who created it).
    phone = live.phones[0]

    def make():
        item = submission(VILLAGE)
        return [("POST", PUSH, phone.push_body([item]), phone.headers()) for _ in live.phones], item

    answers, item = race(live.server, make)
    outcomes = [results(answer)[0] for answer in answers]
    accepted = [o for o in outcomes if o["status"] == "accepted"]
    duplicates = [o for o in outcomes if o["status"] != "accepted"]
    assert len(accepted) == 1, outcomes
    assert accepted[0]["rev"] == 1 and accepted[0]["household_rev"] == 1
    # Every other answer is exactly what a later retry would get: no `retry`, no conflict.
    assert duplicates == [{"id": item["id"], "status": "duplicate", "rev": 1, "missing_attachments": []}] * (
        PHONES - 1), outcomes
    assert counts_for(live, [item["id"]], [item["household_id"]]) == {
        "submissions": 1, "submission_revisions": 1, "households": 1, "household_revisions": 1,
        "household_years": 1, "conflicts": 0}
    assert household(live, item["household_id"])["revisions"] == [1]


def with_member_ids(answers: dict, prefix: str = "member") -> dict:
    """Members as a phone sends them: each with its stable member_id (the roster's instance key)."""
    for i, member in enumerate(answers["members"]):
        member["member_id"] = f"{prefix}-{i:04d}"
    return answers


@pytest.mark.parametrize("member_ids", ["shared", "each-phone-its-own"])
@pytest.mark.parametrize("round_", range(2))
def test_two_visits_creating_the_same_household_at_once_are_both_kept(live, round_, member_ids):
    one, two = live.phones[0], live.phones[1]
    prefixes = ("member", "member") if member_ids == "shared" else ("phoneone", "phonetwo")

    def make():
        hid = str(uuid.uuid4())
        a = submission(VILLAGE, household_id=hid,
                       answers=with_member_ids(household_answers(floor_area=70), prefixes[0]))
        b = submission(VILLAGE, household_id=hid,
                       answers=with_member_ids(household_answers(floor_area=20, latrine_type="none"), prefixes[1]))
        return [("POST", PUSH, one.push_body([a]), one.headers()),
                ("POST", PUSH, two.push_body([b]), two.headers())], (hid, a, b)

    answers, (hid, a, b) = race(live.server, make)
    ra, rb = (results(answer)[0] for answer in answers)
    assert ra["status"] == rb["status"] == "accepted", (ra, rb)
    # The second to arrive changes nothing on the record (every differing answer conflicts), so
    # the household stays at revision 1.
    assert ra["household_rev"] == rb["household_rev"] == 1
    assert sorted(["conflict_id" in ra, "conflict_id" in rb]) == [False, True], (ra, rb)
    (first, _), (second, second_result) = sorted([(a, ra), (b, rb)], key=lambda pair: "conflict_id" in pair[1])

    assert counts_for(live, [a["id"], b["id"]], [hid]) == {
        "submissions": 2, "submission_revisions": 2, "households": 1, "household_revisions": 1,
        "household_years": 1, "conflicts": 1}
    record = household(live, hid)
    assert record["rev"] == 1 and record["revisions"] == [1]
    # Both submissions are stored whole, as sent.
    assert stored_answers(live, a["id"])["floor_area"] == 70
    assert stored_answers(live, b["id"])["floor_area"] == 20
    # No common ancestor: the household keeps the first visit's answers, and every answer of the
    # second that differs is in the conflict queued for a supervisor. Nothing is lost.
    first_answers, second_answers = stored_answers(live, first["id"]), stored_answers(live, second["id"])
    assert record["answers"] == first_answers
    [(conflict_submission, fields)] = record["conflicts"]
    assert conflict_submission == second["id"] and second_result["conflict_id"]
    # Merges compare what people answered; calculated values are recomputed, never in conflict.
    form = bundled_form()
    first_inputs = without_calculations(form, first_answers)
    second_inputs = without_calculations(form, second_answers)
    differing = {name for name in first_inputs.keys() | second_inputs.keys()
                 if first_inputs.get(name) != second_inputs.get(name)}
    assert differing >= {"floor_area", "latrine_type"}
    assert {f["path"]: f["incoming"] for f in fields} == {name: second_inputs.get(name) for name in differing}


def test_disjoint_edits_at_once_are_merged(live):
    one, two = live.phones[2], live.phones[3]

    def make():
        first = submission(VILLAGE)
        assert push(live, live.phones[0], [first])[0]["status"] == "accepted"
        hid = first["household_id"]
        a = submission(VILLAGE, household_id=hid, household_rev=1, answers=household_answers(floor_area=70))
        b = submission(VILLAGE, household_id=hid, household_rev=1,
                       answers=household_answers(water_source=first["answers"]["water_source"], latrine_type="none"))
        return [("POST", PUSH, one.push_body([a]), one.headers()),
                ("POST", PUSH, two.push_body([b]), two.headers())], hid

    answers, hid = race(live.server, make)
    ra, rb = (results(answer)[0] for answer in answers)
    assert ra["status"] == rb["status"] == "accepted", (ra, rb)
    assert sorted([ra["household_rev"], rb["household_rev"]]) == [2, 3]
    assert "conflict_id" not in ra and "conflict_id" not in rb
    record = household(live, hid)
    assert record["rev"] == 3 and record["revisions"] == [1, 2, 3] and record["conflicts"] == []
    assert record["answers"]["floor_area"] == 70 and record["answers"]["latrine_type"] == "none"


def test_crossed_edits_of_two_households_at_once_all_land(live):
    """Phone one sends [edit X, edit Y], phone two [edit Y, edit X], at the same instant: each
    request locks its first household and then waits for the other's. Every edit must still be
    stored (a `retry` rejection is allowed: the phone keeps the item and sends it again)."""
    one, two = live.phones[4], live.phones[5]

    def make():
        x, y = submission(VILLAGE), submission(VILLAGE)
        assert [r["status"] for r in push(live, live.phones[0], [x, y])] == ["accepted", "accepted"]

        def edit(original, **changes):
            return submission(VILLAGE, household_id=original["household_id"], household_rev=1,
                              answers=household_answers(**changes))

        x1, y1 = edit(x, floor_area=61), edit(y, floor_area=62)
        x2 = edit(x, water_source=x["answers"]["water_source"], latrine_type="none")
        y2 = edit(y, water_source=y["answers"]["water_source"], latrine_type="none")
        return [("POST", PUSH, one.push_body([x1, y1]), one.headers()),
                ("POST", PUSH, two.push_body([y2, x2]), two.headers())], (x, y, x1, y1, x2, y2)

    answers, (x, y, x1, y1, x2, y2) = race(live.server, make)
    statuses = {}
    for phone, items, answer in ((one, [x1, y1], answers[0]), (two, [y2, x2], answers[1])):
        assert answer.status == 200, (answer.status, answer.body[:2000], live.server.logs())
        for item, result in zip(items, results(answer), strict=True):
            if result["status"] == "rejected":
                assert [e["code"] for e in result["errors"]] == ["retry"], result
                result = push(live, phone, [item])[0]  # the phone sends it again
            statuses[item["id"]] = result["status"]
    assert set(statuses.values()) == {"accepted"}, statuses
    for original in (x, y):
        record = household(live, original["household_id"])
        assert record["rev"] == 3 and record["conflicts"] == []
        assert record["answers"]["latrine_type"] == "none"
    assert household(live, x["household_id"])["answers"]["floor_area"] == 61
    assert household(live, y["household_id"])["answers"]["floor_area"] == 62


def test_a_retried_batch_after_a_lost_response_changes_nothing(live):
    phone = live.phones[6]

    def make():
        items = [submission(VILLAGE) for _ in range(5)]
        body = phone.push_body(items)
        first = results(send(live.server, "POST", PUSH, body, phone.headers()))
        assert [r["status"] for r in first] == ["accepted"] * 5
        # The response was lost: the phone sends the very same bytes again, twice at once at that.
        return [("POST", PUSH, body, phone.headers())] * 2, (items, counts(live))

    again, (items, before) = race(live.server, make)
    for answer in again:
        assert results(answer) == [{"id": item["id"], "status": "duplicate", "rev": 1, "missing_attachments": []}
                                   for item in items]
    assert counts(live) == before


def _cut(live: Live, phone: Phone, body: bytes, *, sent: int, half_close: bool, method: str = "POST",
         path: str = PUSH, content_type: str = "application/json") -> bytes:
    """Send a request's headers with the body's full Content-Length, then only ``sent`` bytes of
    the body, then hang up: half-closed (the server reads the end of the stream and can still
    answer; the answer is returned) or closed outright."""
    head = (f"{method} {path} HTTP/1.1\r\nHost: {live.server.host}:{live.server.port}\r\n"
            f"Authorization: Bearer {phone.token}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((live.server.host, live.server.port), timeout=TIMEOUT) as sock:
        sock.sendall(head + body[:sent])
        if not half_close:
            return b""
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


@pytest.mark.parametrize("where", ["mid-body", "after-the-json"])
def test_a_batch_cut_mid_request_changes_nothing(live, where):
    phone = live.phones[7]
    items = [submission(VILLAGE) for _ in range(3)]
    document = phone.push_body(items)
    # "after-the-json": what arrived is a complete, valid push; only the length shows it was cut
    # (the phone meant to send more: here, trailing whitespace).
    body, sent = (document, len(document) // 2) if where == "mid-body" else (document + b" " * 4096, len(document))
    before = counts(live)

    answer = _cut(live, phone, body, sent=sent, half_close=True)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:1000]
    assert json.loads(payload)["code"] == "request.malformed", payload
    assert counts(live) == before

    # Closed outright: wait (bounded) until the server has logged it, then look.
    served = len(live.server.access_log(f"POST {PUSH} "))
    _cut(live, phone, body, sent=sent, half_close=False)
    lines = live.server.access_log(f"POST {PUSH} ", at_least=served + 1)
    assert len(lines) == served + 1 and lines[-1][1] == 400, lines[-3:]
    assert counts(live) == before

    # The phone sends the batch again, whole: stored now, once.
    assert [r["status"] for r in push(live, phone, items)] == ["accepted"] * 3


def test_same_attachment_from_every_phone_at_once_is_stored_once(live):
    """Each phone proves it holds the bytes: each is answered 201 (whether another phone had sent
    them is not said), one file and one row are stored, and one upload per phone recorded."""
    def make():
        content = JPEG + os.urandom(300 * 1024)
        sha = hashlib.sha256(content).hexdigest()
        path = f"/api/v1/attachments/{sha}"
        return [("PUT", path, content, phone.headers("image/jpeg")) for phone in live.phones], (content, sha, path)

    answers, (content, sha, path) = race(live.server, make)
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [201] * PHONES, [(a.status, a.json()) for a in answers]
    with live.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Attachment).where(Attachment.sha256 == sha)
                            ).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(AttachmentUpload)
                            .where(AttachmentUpload.sha256 == sha)).scalar_one() == PHONES
    stored = live.attachments_dir / sha[:2] / sha[2:4] / sha
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha
    assert [p.name for p in stored.parent.iterdir()] == [sha]  # no temporary files left behind
    again = send(live.server, "PUT", path, content, live.phones[0].headers("image/jpeg"))
    assert again.status == 200


def test_same_attachment_from_one_phone_at_once_is_created_once(live):
    """A phone retrying an upload while the first attempt is still running: one 201, the rest 200."""
    phone = live.phones[1]

    def make():
        content = JPEG + os.urandom(300 * 1024)
        sha = hashlib.sha256(content).hexdigest()
        path = f"/api/v1/attachments/{sha}"
        return [("PUT", path, content, phone.headers("image/jpeg")) for _ in live.phones], sha

    answers, sha = race(live.server, make)
    assert sorted(answer.status for answer in answers) == [200] * (PHONES - 1) + [201], \
        [(a.status, a.json()) for a in answers]
    with live.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(AttachmentUpload)
                            .where(AttachmentUpload.sha256 == sha)).scalar_one() == 1


def test_an_attachment_cut_mid_upload_leaves_nothing(live):
    phone = live.phones[7]
    content = JPEG + os.urandom(256 * 1024)
    sha = hashlib.sha256(content).hexdigest()
    path = f"/api/v1/attachments/{sha}"
    answer = _cut(live, phone, content, sent=len(content) // 2, half_close=True, method="PUT", path=path,
                  content_type="image/jpeg")
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 422 "), answer[:1000]
    assert json.loads(payload)["errors"][0]["code"] == "hash_mismatch"
    served = len(live.server.access_log(f"PUT {path} "))
    _cut(live, phone, content, sent=len(content) // 3, half_close=False, method="PUT", path=path,
         content_type="image/jpeg")
    assert len(live.server.access_log(f"PUT {path} ", at_least=served + 1)) == served + 1
    with live.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Attachment).where(Attachment.sha256 == sha)
                            ).scalar_one() == 0
    folder = live.attachments_dir / sha[:2] / sha[2:4]
    assert not folder.exists() or list(folder.iterdir()) == []  # neither the file nor a temporary one
    # sent again, whole: stored
    assert send(live.server, "PUT", path, content, phone.headers("image/jpeg")).status == 201


def test_two_first_logins_with_one_device_id_at_once_register_it_once(live):
    """A device id belongs to the first user to log in with it, even when two users' first
    logins arrive together: one registers it, the other is refused with auth.device_taken (not
    a 500 from the colliding insert), and only the winner has a session on it."""
    from server.models import AuthSession, Device

    one, two = live.phones[0], live.phones[1]

    def make():
        device = f"contested-{uuid.uuid4().hex[:12]}"
        return [("POST", "/api/v1/auth/login", json.dumps({"username": phone.username, "password": PASSWORD,
                                                           "device_id": device}).encode(),
                 {"Content-Type": "application/json"}) for phone in (one, two)], device

    answers, device = race(live.server, make)
    assert sorted(answer.status for answer in answers) == [200, 409], [a.body[:500] for a in answers]
    winner = next(answer for answer in answers if answer.status == 200).json()["user"]
    loser = next(answer for answer in answers if answer.status == 409).json()
    assert loser["code"] == "auth.device_taken" and [e["path"] for e in loser["errors"]] == ["device_id"]
    with live.engine.connect() as conn:
        owner = conn.execute(sa.select(Device.user_id).where(Device.id == device)).scalar_one()
        sessions = conn.execute(sa.select(AuthSession.user_id).where(AuthSession.device_id == device)).scalars().all()
    assert str(owner) == winner["id"]
    assert [str(user_id) for user_id in sessions] == [winner["id"]]
