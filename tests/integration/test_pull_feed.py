"""Pull reads the change feed in commit order: a transaction that commits late is neither skipped
nor repeated, with no time window. Against a real gunicorn (2 workers x 4 threads) on a fresh,
committed database (a throwaway PostgreSQL database when TEST_DATABASE_URL is PostgreSQL, else a
SQLite file).

PostgreSQL: a real push is made slow. Its batch first stores a new household (the transaction
now has its id, ``xid``) and then merges a visit into household H, whose row a side connection
holds locked; the push waits there, uncommitted, for 10 seconds while other pushes commit (with
later ids) and the phone pulls again and again. A reader ordering by commit time, by ``seq`` or
by "what has committed so far" would hand out the later pushes and move its cursor past the slow
one. The test checks that the slow push really held an id older than the others' and committed
after them, and that every household state reached the phone exactly once, nothing else.

SQLite has no row locks and one writer at a time: a transaction holding the write lock keeps every
other push waiting, so no later write can commit before it and ``seq`` is commit order. The SQLite
test holds a write transaction open (writing a household revision and its feed row as a push
does) while pushes queue behind it and the phone pulls; it checks that pulls are not blocked,
that nothing committed meanwhile, and that afterwards everything arrives exactly once. It holds
for 5 s, not 10: queued pushes give up after the 15 s busy timeout (server/db.py).

Sequencing is by polling with deadlines (the database's own view of who waits for whom), never
by sleeping for a fixed time.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from support import COMMUNE_X, VILLAGE_A, VILLAGE_B
from support.households import household_answers, submission
from support.live import BASE_ENV, LiveServer, fresh_database
from support.ops import DIALECTS
from support.ops import fresh_database as fresh_database_of

import server
from conftest import test_config as make_test_config
from server import create_app
from server.cli import initialise
from server.db import configure_sqlite, db
from server.models import Change, Household, HouseholdRevision
from server.scoping import Scope
from server.services import changes
from server.services.areas import create_village, set_area_type
from server.services.users import create_user
from sync.cursors import decode_cursor

PASSWORD = "correct horse battery"
PULL, PUSH = "/api/v1/sync/pull", "/api/v1/sync/push"
TIMEOUT = 60
PHONES = {  # username: areas
    "slow": [VILLAGE_A], "puller": [VILLAGE_A], "busy0": [VILLAGE_A], "busy1": [VILLAGE_A], "busy2": [VILLAGE_A],
    "outsider": [VILLAGE_B],
}


@dataclass(frozen=True)
class Phone:
    username: str
    device_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Live:
    server: LiveServer
    engine: sa.Engine
    phones: dict[str, Phone]
    supervisor: Phone

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def push(self, phone: Phone, items: list[dict]) -> list[dict]:
        answer = self.server.request("POST", PUSH, json_body={"device_id": phone.device_id, "submissions": items},
                                     headers=phone.headers, timeout=TIMEOUT)
        assert answer.status == 200, (answer.status, answer.body[:2000])
        results = answer.json()["results"]
        assert [r["status"] for r in results] == ["accepted"] * len(items), results
        return results

    def pull_all(self, phone: Phone, cursor: str | None, limit: int = 2) -> tuple[list[dict], list[dict], str]:
        """Every page from ``cursor`` on: (households, reviews, last cursor)."""
        households, reviews = [], []
        for _ in range(500):
            query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            answer = self.server.request("GET", PULL + query, headers=phone.headers, timeout=TIMEOUT)
            assert answer.status == 200, (answer.status, answer.body[:2000])
            body = answer.json()
            households += body["changes"]["households"]
            reviews += body["changes"]["reviews"]
            cursor = body["next_cursor"]
            if not body["has_more"]:
                return households, reviews, cursor
        raise AssertionError("pull never said has_more: false")

    def pull_until(self, phone: Phone, cursor: str | None, delivered: list[tuple[str, int]], want: set,
                   reviews: list[dict] | None = None) -> str:
        """Pull (every page) until the states ``want`` have arrived, adding what arrives to
        ``delivered``. More than one round only when a transaction elsewhere on the PostgreSQL
        cluster (another database's, even: transaction ids are cluster-wide) holds the horizon."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            households, got_reviews, cursor = self.pull_all(phone, cursor)
            delivered += states(households)
            if reviews is not None:
                reviews += got_reviews
            if want <= set(delivered):
                return cursor
            assert time.monotonic() < deadline, f"never delivered: {want - set(delivered)}"
            self.server._pause(0.1)

    def review(self, submission_id: str, action: str, comment: str | None = None) -> None:
        path = f"/api/v1/submissions/{submission_id}"
        etag = self.server.request("GET", path, headers=self.supervisor.headers).headers["etag"]
        answer = self.server.request("POST", f"{path}/review", json_body={"action": action, "comment": comment},
                                     headers={**self.supervisor.headers, "If-Match": etag})
        assert answer.status == 200, (answer.status, answer.body[:2000])

    def feed(self) -> list:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(Change.xid, Change.seq, Change.kind, Change.entity_id, Change.rev)
                                .order_by(Change.xid, Change.seq)).all()


def _seed(url: str, directory: Path) -> None:
    app = create_app(make_test_config(url, directory / "seed"))
    try:
        with app.app_context():
            initialise()
            for code, name in (("a", "Thôn A"), ("b", "Thôn B")):
                create_village(Scope(None), parent=COMMUNE_X, code=code, name=name)
            set_area_type(Scope(None), COMMUNE_X, "rural", dt.date(2025, 7, 1))  # the households are rural
            for username, areas in PHONES.items():
                create_user(Scope(None), username=username, password=PASSWORD, role="enumerator", areas=areas)
            create_user(Scope(None), username="supervisor", password=PASSWORD, role="supervisor", areas=[COMMUNE_X])
            db.session.commit()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    directory = tmp_path_factory.mktemp("pull-feed")
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), directory) as url:
        _seed(url, directory)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        if engine.dialect.name == "sqlite":
            configure_sqlite(engine)  # WAL, busy timeout, BEGIN IMMEDIATE: as the server does
        try:
            with LiveServer(url, workers=2, threads=4, directory=directory / "server") as server:
                def login(username: str) -> Phone:
                    device = f"{username}-phone"
                    answer = server.request("POST", "/api/v1/auth/login", json_body={
                        "username": username, "password": PASSWORD, "device_id": device})
                    assert answer.status == 200, answer.body
                    return Phone(username, device, answer.json()["access_token"])

                yield Live(server, engine, {name: login(name) for name in PHONES}, login("supervisor"))
        finally:
            engine.dispose()


def states(households: list[dict]) -> list[tuple[str, int]]:
    return [(h["id"], h["rev"]) for h in households]


def check_exactly_once(delivered: list[tuple[str, int]], expected: set[tuple[str, int]]) -> None:
    repeated = {state: n for state, n in Counter(delivered).items() if n > 1}
    assert repeated == {}, f"delivered more than once: {repeated}"
    assert set(delivered) - expected == set(), "delivered, but not a state of the user's households"
    assert expected - set(delivered) == set(), "skipped"


def feed_position(cursor: str) -> tuple[int, int]:
    return tuple(decode_cursor(cursor, BASE_ENV["SECRET_KEY"].encode(), purpose="pull")["h"])


def visit_of(household_id: str, household_rev: int, floor_area: int) -> dict:
    return submission(VILLAGE_A, household_id=household_id, household_rev=household_rev,
                      answers=household_answers(floor_area=floor_area))


class Background(threading.Thread):
    """A push in its own thread; ``result`` or ``error`` once it is done."""

    def __init__(self, live: Live, phone: Phone, items: list[dict]):
        super().__init__(daemon=True)
        self.live, self.phone, self.items = live, phone, items
        self.result: list[dict] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.live.push(self.phone, self.items)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self) -> list[dict]:
        self.join(timeout=2 * TIMEOUT)
        assert not self.is_alive(), "the push never came back"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def test_a_push_committing_late_is_neither_skipped_nor_repeated_postgresql(live):
    if live.dialect != "postgresql":
        pytest.skip("row locks and transaction ids are PostgreSQL's; SQLite: see the test below")
    phones = live.phones
    slow, puller, outsider = phones["slow"], phones["puller"], phones["outsider"]
    busy = [phones[f"busy{i}"] for i in range(3)]
    expected: set[tuple[str, int]] = set()

    # Before: H and a few households; the phone pulls them, and one review of its own submission.
    h_item = submission(VILLAGE_A)
    live.push(slow, [h_item])
    mine = submission(VILLAGE_A)
    live.push(puller, [mine])
    before = [submission(VILLAGE_A) for _ in range(3)]
    live.push(busy[0], before)
    live.push(outsider, [submission(VILLAGE_B)])
    expected |= {(i["household_id"], 1) for i in [h_item, mine, *before]}
    delivered: list[tuple[str, int]] = []
    cursor = live.pull_until(puller, None, delivered, expected)

    # The slow push: a new household X (written first: the transaction gets its id), then a visit
    # to H, whose row a side connection holds locked.
    h = h_item["household_id"]
    x_item = submission(VILLAGE_A)
    with live.engine.connect() as side, live.engine.connect() as watch:
        watch.execution_options(isolation_level="AUTOCOMMIT")
        side_tx = side.begin()
        side.execute(sa.select(Household.id).where(Household.id == uuid.UUID(h)).with_for_update())
        side_pid = side.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        slow_push = Background(live, slow, [x_item, visit_of(h, 1, 71)])
        slow_push.start()
        deadline = time.monotonic() + TIMEOUT
        while True:
            waiting = watch.execute(sa.text(
                "SELECT backend_xid::text FROM pg_stat_activity WHERE :side = ANY(pg_blocking_pids(pid))"),
                {"side": side_pid}).all()
            if waiting:
                break
            assert slow_push.is_alive(), f"the push did not wait for H's lock: {slow_push.result or slow_push.error}"
            assert time.monotonic() < deadline, "the push never reached H"
            slow_push.join(0.05)
        assert len(waiting) == 1 and waiting[0][0] is not None, (
            f"the waiting push holds no transaction id ({waiting}): not a late commit of an early transaction")
        slow_xid = int(waiting[0][0])
        held_since = time.monotonic()

        # Held 10 s: others push (village A and, not the phone's, village B), commit, and the phone
        # pulls. None of them may reach it yet: they lie beyond the slow transaction.
        during: list[dict] = []
        review_sent = False
        while time.monotonic() - held_since < 10 or len(during) < 6:
            item = submission(VILLAGE_A)
            live.push(busy[len(during) % len(busy)], [item])
            during.append(item)
            live.push(outsider, [submission(VILLAGE_B)])
            if not review_sent:
                live.review(mine["id"], "request_changes", "Thiếu ảnh nhà")
                review_sent = True
            households, reviews, cursor = live.pull_all(puller, cursor)
            assert households == [] and reviews == [], "a commit after the open transaction was delivered"
            delivered += states(households)
            assert time.monotonic() - held_since < 5 * TIMEOUT
        still = watch.execute(sa.text(
            "SELECT backend_xid::text FROM pg_stat_activity WHERE :side = ANY(pg_blocking_pids(pid))"),
            {"side": side_pid}).all()
        assert still == waiting and slow_push.is_alive(), "the slow push did not stay open for the whole hold"
        side_tx.rollback()
    slow_results = slow_push.finish()
    assert slow_results[1]["household_rev"] == 2
    expected |= {(x_item["household_id"], 1), (h, 2)} | {(i["household_id"], 1) for i in during}

    # What the feed holds: the slow transaction's rows come before the others' (older id), and
    # it committed after them.
    feed = live.feed()
    by_entity = {(str(row.entity_id), row.rev): row for row in feed if row.kind == "household"}
    slow_rows = [by_entity[(x_item["household_id"], 1)], by_entity[(h, 2)]]
    assert {row.xid % 2**32 for row in slow_rows} == {slow_xid}
    assert all(by_entity[(i["household_id"], 1)].xid > slow_rows[0].xid for i in during)

    reviews: list[dict] = []
    mark = len(delivered)
    cursor = live.pull_until(puller, cursor, delivered, expected, reviews)
    check_exactly_once(delivered, expected)
    assert [(r["submission_id"], r["review_state"]) for r in reviews] == [(mine["id"], "changes_requested")]
    assert (h, 2) in delivered[mark:]
    # Once nothing older runs, the cursor stands past every row, village B's too: the next pull
    # scans nothing again.
    last_row, deadline = max((row.xid, row.seq) for row in feed), time.monotonic() + TIMEOUT
    while feed_position(cursor) <= last_row:
        assert time.monotonic() < deadline, "the cursor never moved past the feed"
        live.server._pause(0.1)
        households, reviews, cursor = live.pull_all(puller, cursor)
        assert households == reviews == []
    assert live.pull_all(puller, cursor)[:2] == ([], [])


def test_a_held_write_lock_on_sqlite_keeps_later_writes_behind_it(live):
    if live.dialect != "sqlite":
        pytest.skip("SQLite's single writer; PostgreSQL: see the test above")
    phones = live.phones
    slow, puller, outsider = phones["slow"], phones["puller"], phones["outsider"]
    busy = [phones[f"busy{i}"] for i in range(3)]

    h_item = submission(VILLAGE_A)
    live.push(slow, [h_item])
    before = [submission(VILLAGE_A) for _ in range(2)]
    live.push(busy[0], before)
    households, _, cursor = live.pull_all(puller, None)
    delivered = states(households)
    expected = {(i["household_id"], 1) for i in [h_item, *before]}
    check_exactly_once(delivered, expected)

    h = uuid.UUID(h_item["household_id"])
    with live.engine.connect() as side:
        side_tx = side.begin()  # BEGIN IMMEDIATE: the write lock, as a push takes it
        now = dt.datetime.now(dt.UTC)
        answers = side.execute(sa.select(Household.answers).where(Household.id == h)).scalar_one()
        side.execute(sa.update(Household.__table__).where(Household.id == h).values(rev=2, updated_at=now))
        side.execute(sa.insert(HouseholdRevision.__table__).values(
            household_id=h, rev=2, answers=answers, submission_id=None, submission_rev=None, base_rev=1, merged=True,
            created_at=now))
        side.execute(sa.insert(Change.__table__).values(changes.household_row(h, 2, VILLAGE_A, at=now)))
        held_seq = side.execute(sa.select(sa.func.max(Change.seq))).scalar_one()

        queued = [submission(VILLAGE_A) for _ in range(3)]
        pushes = [Background(live, phone, [item]) for phone, item in zip(busy, queued, strict=True)]
        pushes.append(Background(live, outsider, [submission(VILLAGE_B)]))
        for push in pushes:
            push.start()
        held_since = time.monotonic()
        pulls = 0
        while time.monotonic() - held_since < 5:
            # Pulls read beside the writer (WAL) and see nothing of it, nor of the queued pushes.
            households, reviews, cursor = live.pull_all(puller, cursor)
            assert households == [] and reviews == []
            pulls += 1
            for push in pushes:
                push.join(0.05)
        assert pulls >= 2
        ended = [(push.result, repr(push.error)) for push in pushes if not push.is_alive()]
        assert not ended, f"a push came back while another transaction held the lock: {ended}"
        side_tx.commit()
    for push in pushes:
        push.finish()
    expected |= {(str(h), 2)} | {(i["household_id"], 1) for i in queued}

    # Commit order is seq order: the held row comes before every queued push's.
    feed = live.feed()
    assert all(row.xid == 0 for row in feed)
    queued_seqs = [row.seq for row in feed if (str(row.entity_id), row.rev) in {(i["household_id"], 1) for i in queued}]
    assert len(queued_seqs) == len(queued) and min(queued_seqs) > held_seq

    households, _, cursor = live.pull_all(puller, cursor)
    delivered += states(households)
    check_exactly_once(delivered, expected)
    assert feed_position(cursor) == (0, max(row.seq for row in feed))
    assert live.pull_all(puller, cursor)[:2] == ([], [])


def test_the_feed_holds_one_row_per_household_revision(live):
    """Every household state written so far (by pushes, by the tests' side writers) has exactly
    one feed row, and every feed row is a state that exists."""
    phone = live.phones["busy0"]
    item = submission(VILLAGE_A)
    live.push(phone, [item])
    live.push(phone, [visit_of(item["household_id"], 1, 44)])
    with live.engine.connect() as conn:
        revisions = Counter((str(r.household_id), r.rev) for r in conn.execute(
            sa.select(HouseholdRevision.household_id, HouseholdRevision.rev)))
        rows = Counter((str(r.entity_id), r.rev) for r in conn.execute(
            sa.select(Change.entity_id, Change.rev).where(Change.kind == "household")))
    assert revisions and rows == revisions, json.dumps({"only_revisions": sorted(map(str, revisions - rows)),
                                                        "only_feed": sorted(map(str, rows - revisions))})


class Assigning(threading.Thread):
    """A supervisor's assignment request in its own thread; ``status`` once it is done."""

    def __init__(self, live: Live, household_id: str, enumerator_id: str):
        super().__init__(daemon=True)
        self.live, self.household_id, self.enumerator_id = live, household_id, enumerator_id
        self.status: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            answer = self.live.server.request(
                "PUT", f"/api/v1/households/{self.household_id}/assignment",
                json_body={"enumerator_id": self.enumerator_id}, headers=self.live.supervisor.headers,
                timeout=TIMEOUT)
            self.status = answer.status
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_an_assignment_committing_late_reaches_the_phone_in_commit_order_postgresql(live):
    """An assignment is a change like a visit: its feed rows wait for its transaction. The
    supervisor's request to assign a household of village A (which starts the village assigning)
    is held, with its transaction id, while other phones record new households there and the
    puller pulls: none of them may reach the puller meanwhile (they were recorded while the village
    did not assign, but they lie beyond the held transaction). Once it commits, the puller is told
    to drop every household of the village it did not create, and receives none of the others."""
    if live.dialect != "postgresql":
        pytest.skip("row locks and transaction ids are PostgreSQL's (SQLite runs one writer at a time)")
    phones = live.phones
    puller, busy = phones["puller"], [phones[f"busy{i}"] for i in range(3)]
    mine = submission(VILLAGE_A)
    live.push(puller, [mine])
    target = submission(VILLAGE_A)
    live.push(busy[0], [target])

    def pull_all(cursor: str | None) -> tuple[list[dict], list[str], str]:
        households, removed = [], []
        for _ in range(500):
            answer = live.server.request("GET", f"{PULL}?limit=3" + (f"&cursor={cursor}" if cursor else ""),
                                         headers=puller.headers, timeout=TIMEOUT)
            assert answer.status == 200, (answer.status, answer.body[:2000])
            body = answer.json()
            households += body["changes"]["households"]
            removed += body["changes"]["households_removed"]
            cursor = body["next_cursor"]
            if not body["has_more"]:
                return households, removed, cursor
        raise AssertionError("pull never said has_more: false")

    with live.engine.connect() as conn:
        held_before = {str(h) for h in conn.execute(sa.select(Household.id).where(Household.area_code == VILLAGE_A))
                       .scalars()}
        busy1 = str(conn.execute(sa.text("SELECT id FROM users WHERE username = 'busy1'")).scalar_one())
        created_by_puller = {str(h) for h in conn.execute(sa.text(
            "SELECT r.household_id FROM household_revisions r JOIN submissions s ON s.id = r.submission_id"
            " JOIN users u ON u.id = s.enumerator_id WHERE r.rev = 1 AND u.username = 'puller'")).scalars()}
    assert mine["household_id"] in created_by_puller and target["household_id"] not in created_by_puller
    deadline, cursor, had = time.monotonic() + TIMEOUT, None, set()
    while not held_before <= had:  # another database's transaction may hold the horizon a while
        households, _, cursor = pull_all(cursor)
        had |= {h["id"] for h in households}
        assert time.monotonic() < deadline, "the puller never received the village"
        live.server._pause(0.1)

    # A side transaction inserts the same assignment row first and holds it: the request takes the
    # village's lock (its transaction now has an id), then waits on that row.
    with live.engine.connect() as side, live.engine.connect() as watch:
        watch.execution_options(isolation_level="AUTOCOMMIT")
        side_tx = side.begin()
        side.execute(sa.text(
            "INSERT INTO household_assignments (household_id, enumerator_id, area_code, assigned_by, assigned_at)"
            " VALUES (:h, :e, :a, NULL, now())"), {"h": uuid.UUID(target["household_id"]), "e": uuid.UUID(busy1),
                                                    "a": VILLAGE_A})
        side_pid = side.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        request = Assigning(live, target["household_id"], busy1)
        request.start()
        deadline = time.monotonic() + TIMEOUT
        while not (waiting := watch.execute(sa.text(
                "SELECT backend_xid::text FROM pg_stat_activity WHERE :side = ANY(pg_blocking_pids(pid))"),
                {"side": side_pid}).all()):
            assert request.is_alive(), f"the assignment did not wait: {request.status} {request.error}"
            assert time.monotonic() < deadline, "the assignment never reached the held row"
            request.join(0.05)
        assert len(waiting) == 1 and waiting[0][0] is not None, f"the waiting request holds no transaction id: {waiting}"
        held_xid = int(waiting[0][0])

        during = []
        for i in range(3):
            item = submission(VILLAGE_A)
            live.push(busy[i], [item])
            during.append(item["household_id"])
            households, removed, cursor = pull_all(cursor)
            assert households == [] and removed == [], "a change after the held assignment was delivered"
        assert request.is_alive(), "the assignment did not stay open while the others committed"
        side_tx.rollback()
    request.join(2 * TIMEOUT)
    assert not request.is_alive() and request.error is None and request.status == 200, (request.status, request.error)

    feed = live.feed()
    assignment_rows = [row for row in feed if row.kind == "assignment"]
    assert {row.xid % 2**32 for row in assignment_rows} == {held_xid}
    assert all(row.xid > assignment_rows[0].xid for row in feed
               if row.kind == "household" and str(row.entity_id) in during)

    # Afterwards: everything the puller held but did not create is dropped, its own stays, and
    # none of the households recorded meanwhile ever reaches it.
    received, dropped, deadline = [], [], time.monotonic() + TIMEOUT
    while not (held_before - created_by_puller) <= set(dropped):
        households, removed, cursor = pull_all(cursor)
        received += [h["id"] for h in households]
        dropped += removed
        assert time.monotonic() < deadline, f"never dropped: {held_before - created_by_puller - set(dropped)}"
        live.server._pause(0.1)
    assert set(dropped) & created_by_puller == set()
    assert set(received) <= created_by_puller and not set(received) & set(during)
    assert len(dropped) == len(set(dropped))
    with live.engine.begin() as conn:  # leave village A as the other tests found it
        conn.execute(sa.text("DELETE FROM household_assignments"))


@pytest.fixture(params=DIALECTS)
def fresh_app(request, tmp_path) -> Iterator[Flask]:
    with fresh_database_of(request.param, tmp_path) as url:
        app = create_app(make_test_config(url, tmp_path / "instance"))
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def migration(name: str):
    path = Path(server.__file__).parent / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_upgrading_to_the_feed_lists_what_exists_already(fresh_app):
    """Migration 0006 gives every existing household's current state and every standing review
    outcome a feed row, so a phone pulling from the start after the upgrade gets them all."""
    with fresh_app.app_context():
        initialise()
        create_village(Scope(None), parent=COMMUNE_X, code="a", name="Thôn A")
        set_area_type(Scope(None), COMMUNE_X, "rural", dt.date(2025, 7, 1))
        create_user(Scope(None), username="phone", password=PASSWORD, role="enumerator", areas=[VILLAGE_A])
        create_user(Scope(None), username="boss", password=PASSWORD, role="supervisor", areas=[COMMUNE_X])
        db.session.commit()
        db.session.remove()
    client = fresh_app.test_client()

    def headers(username: str) -> dict[str, str]:
        answer = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD,
                                                         "device_id": f"{username}-phone"})
        assert answer.status_code == 200, answer.get_json()
        return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}

    phone, boss = headers("phone"), headers("boss")
    first = submission(VILLAGE_A)
    for item in (first, visit_of(first["household_id"], 1, 66)):
        answer = client.post(PUSH, json={"device_id": "phone-phone", "submissions": [item]}, headers=phone)
        assert answer.get_json()["results"][0]["status"] == "accepted", answer.get_json()
    etag = client.get(f"/api/v1/submissions/{first['id']}", headers=boss).headers["ETag"]
    assert client.post(f"/api/v1/submissions/{first['id']}/review", json={"action": "approve"},
                       headers={**boss, "If-Match": etag}).status_code == 200

    # Back to a database written before the feed (downgrading through later revisions is not
    # this test's business): an empty feed, then the migration's backfill.
    with fresh_app.app_context():
        db.session.execute(sa.delete(Change))
        for statement in migration("0006_change_feed").BACKFILL:
            db.session.execute(sa.text(statement))
        db.session.commit()
        rows = db.session.execute(sa.select(Change.kind, Change.entity_id, Change.rev, Change.user_id)
                                  .order_by(Change.seq)).all()
        db.session.remove()
    assert [(kind, str(entity), rev) for kind, entity, rev, _ in rows] == [
        ("household", first["household_id"], 2), ("review", first["id"], 1)]

    # PostgreSQL: a transaction of another database on the cluster may hold the horizon for a while.
    deadline = time.monotonic() + TIMEOUT
    while not (body := client.get(f"{PULL}?limit=10", headers=phone).get_json())["changes"]["households"]:
        assert time.monotonic() < deadline, "the backfilled rows never became readable"
        threading.Event().wait(0.1)
    assert [(h["id"], h["rev"], h["answers"]["floor_area"]) for h in body["changes"]["households"]] == [
        (first["household_id"], 2, 66)]
    assert [(r["submission_id"], r["review_state"]) for r in body["changes"]["reviews"]] == [(first["id"], "approved")]
