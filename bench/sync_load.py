"""Load benchmark: simulated phones pushing household submissions through gunicorn on PostgreSQL.

    .venv/bin/python bench/sync_load.py [--phones 50] [--batches-per-phone 20] [--batch-size 20]
        [--retry-rate 0.05] [--invalid-rate 0.01] [--workers 3] [--threads 4] [--rate 0] [--json]

What it does, end to end, and on its own (nothing to prepare but a PostgreSQL server):

1. creates a throwaway database on the PostgreSQL server of ``--database-url`` (default
   127.0.0.1:5432, user postgres) and drops it at the end, whatever happens;
2. ``rasoat init`` (migrations, areas, bundled forms), then villages under commune 01-00004
   and one enumerator per phone, spread over the villages;
3. starts gunicorn (gthread workers) on 127.0.0.1 with a free port, and logs every phone in
   with its own device id (not timed);
4. builds every request body before the clock starts: each phone sends ``--batches-per-phone``
   batches of ``--batch-size`` new households of 4-6 members (bundled form 2022.1); an item is
   invalid (a birth year the form refuses) with probability ``--invalid-rate``; a batch is sent a
   second time, as a phone does after losing the response, with probability ``--retry-rate``;
5. drives the load: one thread per phone with a keep-alive ``http.client`` connection, each
   sending its batches one after the other (a phone waits for its answer); stops at the end of
   the work or after ``--max-seconds``;
6. checks exactly-once: every first-sent valid item ``accepted``, every invalid one ``rejected``
   and absent from the database, every item of a retried batch that was accepted before answered
   ``duplicate``; row counts of submissions, submission_revisions, households,
   household_revisions, household_years equal to the accepted unique items;
7. stops gunicorn and runs the raw baseline: the very rows the server wrote, read back, the
   tables emptied, and inserted again straight into PostgreSQL by psycopg (``executemany``
   per table, one transaction per batch, one connection per phone, the same commit
   durability), so that the server/baseline ratio is printed.

The client runs on the same machine as the server and PostgreSQL: its CPU time is reported,
with gunicorn's and PostgreSQL's, so the reader can judge how much of the machine it took.
Password hashing uses a low argon2 cost (only the untimed logins use it).
"""

from __future__ import annotations

import datetime

import argparse
import copy
import http.client
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))

from support.households import _cases, household_answers  # noqa: E402

COMMUNE = "01-00004"
PUSH_PATH = "/api/v1/sync/push"
PASSWORD = "bench-password-2026"
TABLES = ("households", "household_revisions", "household_years", "submissions", "submission_revisions")
ENV = {
    "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
    "RASOAT_JWT_KEYS": "b1:bench-jwt-key-0123456789abcdef0123456789",
    "RASOAT_LOG_LEVEL": "WARNING",
    "RASOAT_ARGON2_TIME_COST": "1",
    "RASOAT_ARGON2_MEMORY_COST": "8",
    "RASOAT_ARGON2_PARALLELISM": "1",
}
GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hùng", "Lan", "Long", "Mai", "Minh", "Nga", "Phúc",
         "Quang", "Sơn", "Thảo", "Trang", "Tuấn", "Việt", "Yến"]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"]


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# --- the database -----------------------------------------------------------------------------

def pg_url(url: str, database: str | None = None) -> str:
    """A libpq URL (for psycopg) from a SQLAlchemy or libpq one, optionally for another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def sqlalchemy_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def admin(url: str, sql: str) -> None:
    with psycopg.connect(pg_url(url), autocommit=True) as conn:
        conn.execute(sql)


# --- setup -------------------------------------------------------------------------------------

def setup_accounts(db_url: str, instance: Path, phones: int, villages: int) -> list[tuple[str, str]]:
    """Villages under COMMUNE and one enumerator per phone; returns (username, village) pairs."""
    os.environ.update(ENV)  # the in-process app reads the same settings as gunicorn
    from server import create_app
    from server.scoping import Scope
    from server.services.areas import create_village, set_area_type
    from server.services.users import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(db_url), "LOG_LEVEL": "WARNING"})
    codes = [f"{COMMUNE}-b{v:02d}" for v in range(1, villages + 1)]
    out = []
    with app.app_context():
        # The bench households are rural; Phường Ba Đình is officially urban.
        set_area_type(Scope(None), COMMUNE, "rural", datetime.date(2025, 7, 1))
        for v, code in enumerate(codes, 1):
            create_village(Scope(None), parent=COMMUNE, code=f"b{v:02d}", name=f"Thôn đo tải {v}")
        for p in range(phones):
            village = codes[p % len(codes)]
            username = f"bench{p:03d}"
            create_user(Scope(None), username=username, password=PASSWORD, role="enumerator", areas=[village])
            out.append((username, village))
        from server.db import db

        db.engine.dispose()
    return out


class Gunicorn:
    """gunicorn with gthread workers on a free port of 127.0.0.1, in its own process group."""

    def __init__(self, env: dict, workers: int, threads: int, directory: Path):
        self.env, self.workers, self.threads = env, workers, threads
        self.stderr_path = directory / "gunicorn.log"
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    def start(self, timeout: float = 60) -> None:
        command = [str(BIN / "gunicorn"), "-k", "gthread", "--workers", str(self.workers),
                   "--threads", str(self.threads), "--bind", "127.0.0.1:0", "--timeout", "60",
                   "--graceful-timeout", "10", "server.wsgi:app"]
        with open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                            stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while self.port is None:
            found = re.search(r"Listening at: http://[\d.]+:(\d+)", self.stderr_path.read_text(errors="replace"))
            if found:
                self.port = int(found.group(1))
            elif self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{self.stderr_path.read_text()[-3000:]}")
            else:
                time.sleep(0.05)
        while True:
            try:
                status, _ = request(http.client.HTTPConnection("127.0.0.1", self.port, timeout=5), "GET", "/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"/readyz not ready:\n{self.stderr_path.read_text()[-3000:]}")
            time.sleep(0.1)
        # Workers boot one by one; wait until all of them are up (each has answered or will soon).
        while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


def request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read()


def login(port: int, username: str, device_id: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        status, body = request(conn, "POST", "/api/v1/auth/login",
                               orjson.dumps({"username": username, "password": PASSWORD, "device_id": device_id,
                                             "app_version": "bench"}),
                               {"Content-Type": "application/json"})
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"login {username}: {status} {body[:300]!r}")
    return orjson.loads(body)["access_token"]


# --- payloads ----------------------------------------------------------------------------------

@dataclass
class Send:
    batch: int
    body: bytes
    retry: bool
    ids: list[str]
    invalid: list[bool]


@dataclass
class Phone:
    index: int
    username: str
    village: str
    device_id: str
    token: str = ""
    sends: list[Send] = field(default_factory=list)
    results: list[tuple[float, int, bytes | None, str | None]] = field(default_factory=list)


def household(rng: random.Random, members: int, invalid: bool) -> dict:
    templates = _cases("2022")["members"]
    family = rng.choice(FAMILY)
    answers = household_answers()
    extra = [copy.deepcopy(templates["grandfather_70"]),
             dict(copy.deepcopy(templates["son_10"]), birth_year=rng.randint(2012, 2020))]
    answers["members"] += extra[:members - 4]
    for member in answers["members"]:
        member["member_name"] = f"{family} {rng.choice(['Văn', 'Thị', 'Đức', 'Ngọc'])} {rng.choice(GIVEN)}"
    answers["member_count"] = members
    answers["head_name"] = answers["members"][0]["member_name"]
    answers["household_code"] = f"B-{rng.randrange(10**8):08d}"
    answers["income_agriculture"] = rng.randrange(20, 400) * 1_000_000
    answers["floor_area"] = rng.randint(15, 150)
    if invalid:
        answers["members"][0]["birth_year"] = 1700  # outside the form's constraint: rejected
    return answers


def build_payloads(phones: list[Phone], batches: int, size: int, retry_rate: float, invalid_rate: float,
                   seed: int) -> None:
    rng = random.Random(seed)
    for phone in phones:
        for b in range(batches):
            items, invalid = [], []
            for _ in range(size):
                bad = rng.random() < invalid_rate
                items.append({
                    "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "form_id": "household-review", "form_version": "2022.1", "area": phone.village,
                    "household_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "household_rev": None, "rev": 1,
                    "started_at": "2026-10-02T08:11:00+07:00", "finished_at": "2026-10-02T08:40:12+07:00",
                    "answers": household(rng, rng.randint(4, 6), bad), "attachments": []})
                invalid.append(bad)
            body = orjson.dumps({"device_id": phone.device_id, "app_version": "bench", "submissions": items,
                                 "pending": {"submissions": (batches - b - 1) * size, "attachments": 0}})
            send = Send(b, body, False, [i["id"] for i in items], invalid)
            phone.sends.append(send)
            if rng.random() < retry_rate:
                phone.sends.append(Send(b, body, True, send.ids, invalid))


# --- the load ----------------------------------------------------------------------------------

def drive(phone: Phone, port: int, start: threading.Barrier, clock: dict) -> None:
    """One phone: its batches one after the other on one keep-alive connection, each sent when
    its slot comes (``--rate``) or at once when unpaced; never two at a time."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {phone.token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start.wait()
    interval = clock["interval"]
    first = clock["t0"] + interval * phone.index / clock["phones"]
    try:
        for k, send in enumerate(phone.sends):
            due = first + k * interval
            now = time.perf_counter()
            if interval and now < due:
                time.sleep(due - now)
            if time.perf_counter() > clock["deadline"]:
                break
            t0 = time.perf_counter()
            late = t0 - due if interval else 0.0
            error = None
            for attempt in (1, 2):
                # gunicorn closes a keep-alive connection idle for 2 s; like any HTTP client, the
                # phone then sends the same batch again on a new connection (a push is safe to
                # resend: whatever the first attempt stored comes back `duplicate`).
                try:
                    status, body = request(conn, "POST", PUSH_PATH, send.body, headers)
                    phone.results.append((time.perf_counter() - t0, status, body, None, late, attempt > 1,
                                          time.perf_counter()))
                    break
                except (OSError, http.client.HTTPException) as exc:
                    error = repr(exc)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            else:
                phone.results.append((time.perf_counter() - t0, 0, None, error, late, True, time.perf_counter()))
    finally:
        conn.close()


def cpu_ticks(pids) -> dict[int, int]:
    """utime + stime (clock ticks) per live process."""
    out = {}
    for pid in pids:
        try:
            fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = int(fields_[11]) + int(fields_[12])
        except (OSError, IndexError, ValueError):
            pass
    return out


def cpu_since(before: dict[int, int], after: dict[int, int]) -> int:
    """Ticks spent between two snapshots; a process born meanwhile counts from zero (one that
    ended meanwhile is lost, so keep the snapshots close to the work)."""
    return sum(t - before.get(pid, 0) for pid, t in after.items())


def machine_busy_ticks() -> int:
    """CPU ticks the whole machine spent busy (all processes), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values) - values[3] - values[4]  # minus idle and iowait


def postgres_pids() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- checks ------------------------------------------------------------------------------------

def check(phones: list[Phone], conn: psycopg.Connection) -> dict:
    """Compare every answer with what it must be, and the database with the accepted items."""
    problems: list[str] = []
    accepted: set[str] = set()
    invalid_ids: set[str] = set()
    statuses: dict[str, int] = {}
    retried = retried_items = retried_duplicates = resends = 0
    for phone in phones:
        seen: set[str] = set()
        for send, (_, status, body, error, _late, resent, _done) in zip(phone.sends, phone.results, strict=False):
            resends += resent
            if status != 200:
                problems.append(f"{phone.username} batch {send.batch}: HTTP {status} {error or body[:200]!r}")
                continue
            results = orjson.loads(body)["results"]
            if [r["id"] for r in results] != send.ids:
                problems.append(f"{phone.username} batch {send.batch}: results not one per item in order")
                continue
            retried += send.retry
            for item_id, bad, result in zip(send.ids, send.invalid, results, strict=True):
                statuses[result["status"]] = statuses.get(result["status"], 0) + 1
                if bad:
                    invalid_ids.add(item_id)
                    expected = "rejected"
                elif item_id in seen:
                    expected = "duplicate"
                    retried_items += 1
                    retried_duplicates += result["status"] == "duplicate"
                else:
                    expected = "accepted"
                # Sent again after a dropped connection: the lost attempt may have stored it.
                allowed = {"accepted", "duplicate"} if expected == "accepted" and resent else {expected}
                if result["status"] not in allowed:
                    problems.append(f"{phone.username} batch {send.batch} item {item_id}: "
                                    f"{result['status']}, expected {expected}: {str(result)[:300]}")
                elif expected == "accepted":
                    accepted.add(item_id)
                    seen.add(item_id)
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    stored = {str(r[0]) for r in conn.execute("SELECT id FROM submissions")}
    for table, n in counts.items():
        if n != len(accepted):
            problems.append(f"{table}: {n} rows, {len(accepted)} accepted unique items")
    if stored != accepted:
        problems.append(f"submission ids differ from the accepted ones: {len(stored - accepted)} extra, "
                        f"{len(accepted - stored)} missing")
    present_invalid = conn.execute("SELECT count(*) FROM submissions WHERE id = ANY(%s::uuid[])",
                                   [list(invalid_ids)]).fetchone()[0]
    if present_invalid:
        problems.append(f"{present_invalid} invalid items were stored")
    return {"ok": not problems, "problems": problems[:20], "problem_count": len(problems),
            "accepted_unique": len(accepted), "invalid_items": len(invalid_ids),
            "invalid_stored": present_invalid, "statuses": statuses, "retried_batches": retried,
            "resent_after_connection_drop": resends,
            "retried_items_accepted_before": retried_items, "retried_items_answered_duplicate": retried_duplicates,
            "rows": counts}


# --- the raw baseline --------------------------------------------------------------------------

def baseline(db_url: str, phones: list[Phone], expected: dict, mode: str) -> dict:
    """The rows the server wrote, inserted again straight into PostgreSQL, batch by batch."""
    url = pg_url(db_url)
    with psycopg.connect(url) as conn:
        for oid_name in ("json", "jsonb"):  # keep JSON as text: re-inserted exactly as stored
            conn.adapters.register_loader(oid_name, psycopg.types.string.TextLoader)
        rows, columns = {}, {}
        for table in TABLES:
            cur = conn.execute(f"SELECT * FROM {table}")
            columns[table] = [d.name for d in cur.description]
            rows[table] = cur.fetchall()
        conn.execute("TRUNCATE " + ", ".join(TABLES) + " CASCADE")
        conn.commit()
    # Group the rows by the batch that carried their submission (households by their submission).
    batch_of: dict[str, tuple[int, int]] = {}
    for phone in phones:
        for send in phone.sends:
            if not send.retry:
                for item_id in send.ids:
                    batch_of[item_id] = (phone.index, send.batch)
    household_batch = {}
    sub_col = columns["submissions"]
    for row in rows["submissions"]:
        rec = dict(zip(sub_col, row, strict=True))
        household_batch[str(rec["household_id"])] = batch_of[str(rec["id"])]
    work: dict[tuple[int, int], dict[str, list]] = {}
    for table in TABLES:
        key_col = columns[table].index("submission_id" if table.startswith("submission_") else
                                       "id" if table == "submissions" else
                                       "household_id" if table != "households" else "id")
        for row in rows[table]:
            key = str(row[key_col])
            where = batch_of[key] if table.startswith("submission") else household_batch[key]
            work.setdefault(where, {t: [] for t in TABLES})[table].append(row)
    inserts = {t: f"INSERT INTO {t} ({', '.join(columns[t])}) VALUES ({', '.join(['%s'] * len(columns[t]))})"
               for t in TABLES}
    copies = {t: f"COPY {t} ({', '.join(columns[t])}) FROM STDIN" for t in TABLES}
    per_phone: dict[int, list[dict]] = {}
    for (p, b), tables in sorted(work.items()):
        per_phone.setdefault(p, []).append(tables)
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(per_phone) + 1)
    errors: list[str] = []

    def insert(batches: list[dict]) -> None:
        try:
            with psycopg.connect(url) as conn:
                barrier.wait()
                for tables in batches:
                    t0 = time.perf_counter()
                    with conn.transaction(), conn.cursor() as cur:
                        for table in TABLES:  # households first: the others reference them
                            if not tables[table]:
                                continue
                            if mode == "copy":
                                with cur.copy(copies[table]) as copy:
                                    for row in tables[table]:
                                        copy.write_row(row)
                            else:
                                cur.executemany(inserts[table], tables[table])
                    with lock:
                        latencies.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - reported, and the counts then differ
            errors.append(repr(exc))
            barrier.abort()

    threads = [threading.Thread(target=insert, args=(b,)) for b in per_phone.values()]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    with psycopg.connect(url) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    n = len(rows["submissions"])
    return {"method": mode, "submissions": n, "wall_s": wall, "submissions_per_s": n / wall if wall else 0.0,
            "batches": len(latencies), "p50_ms": percentile(latencies, 0.5) * 1000,
            "p95_ms": percentile(latencies, 0.95) * 1000, "rows": counts, "errors": errors[:5],
            "ok": counts == expected and not errors}


# --- main --------------------------------------------------------------------------------------

def run(args) -> dict:
    tick = os.sysconf("SC_CLK_TCK")
    name = f"rasoat_bench_{secrets.token_hex(5)}"
    server_url = args.database_url
    db_url = pg_url(server_url, name)
    directory = Path(tempfile.mkdtemp(prefix="rasoat-bench-"))
    env = {**os.environ, **ENV, "DATABASE_URL": sqlalchemy_url(db_url),
           "RASOAT_INSTANCE_PATH": str(directory / "instance")}
    env.pop("TEST_DATABASE_URL", None)
    admin(server_url, f'CREATE DATABASE "{name}"')
    gunicorn = Gunicorn(env, args.workers, args.threads, directory)
    try:
        t = time.perf_counter()
        subprocess.run([str(BIN / "rasoat"), "init"], cwd=ROOT, env=env, check=True, capture_output=True)
        users = setup_accounts(db_url, directory / "instance", args.phones, args.villages)
        phones = [Phone(i, u, v, f"bench-phone-{i:03d}") for i, (u, v) in enumerate(users)]
        log(f"setup: database {name}, {len(phones)} enumerators in {args.villages} villages "
            f"({time.perf_counter() - t:.1f}s)")
        t = time.perf_counter()
        build_payloads(phones, args.batches_per_phone, args.batch_size, args.retry_rate, args.invalid_rate,
                       args.seed)
        sends = [s for p in phones for s in p.sends]
        log(f"payloads: {len(sends)} requests, {sum(len(s.body) for s in sends) / len(sends) / 1024:.1f} KiB "
            f"average body ({time.perf_counter() - t:.1f}s, not timed)")
        gunicorn.start()
        for phone in phones:
            phone.token = login(gunicorn.port, phone.username, phone.device_id)
        # No warm-up: the first batches (form compiled, pools filled) count, as on a fresh server.
        log(f"gunicorn: {args.workers} workers x {args.threads} threads on port {gunicorn.port}; "
            f"{len(phones)} phones logged in")

        barrier = threading.Barrier(len(phones) + 1)
        # Paced: each phone sends a batch every `interval` seconds, phases spread evenly.
        interval = len(phones) * args.batch_size / args.rate if args.rate else 0.0
        clock = {"interval": interval, "phones": len(phones), "t0": 0.0, "deadline": float("inf")}
        threads = [threading.Thread(target=drive, args=(p, gunicorn.port, barrier, clock)) for p in phones]
        for th in threads:
            th.start()
        server_pids = [gunicorn.process.pid, *gunicorn.worker_pids()]
        pg_pids = postgres_pids()
        cpu0 = (resource.getrusage(resource.RUSAGE_SELF), cpu_ticks(server_pids), cpu_ticks(pg_pids),
                machine_busy_ticks())
        t0 = time.perf_counter()
        clock["t0"], clock["deadline"] = t0, t0 + args.max_seconds
        barrier.wait()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
        ru = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (ru.ru_utime - cpu0[0].ru_utime) + (ru.ru_stime - cpu0[0].ru_stime)
        server_cpu = cpu_since(cpu0[1], cpu_ticks([gunicorn.process.pid, *gunicorn.worker_pids()])) / tick
        pg_cpu = cpu_since(cpu0[2], cpu_ticks(postgres_pids())) / tick
        busy = (machine_busy_ticks() - cpu0[3]) / tick
        gunicorn.stop()

        latencies = [r[0] for p in phones for r in p.results]
        # Time a send started after its slot (the previous answer came late): with the latency,
        # the delay as seen from the schedule (no coordinated omission).
        from_schedule = [r[0] + r[4] for p in phones for r in p.results]
        late_sends = sum(1 for p in phones for r in p.results if r[4] > 0.05)
        # Steady state: from when every phone has sent its first batch until the first phone has
        # nothing left to send (excludes the ramp-up and the tail of phones with extra retries).
        steady_from = t0 + interval if interval else max(p.results[0][6] for p in phones if p.results)
        steady_to = min(p.results[-1][6] for p in phones if p.results)
        steady_items = sum(len(s.ids) for p in phones for s, r in zip(p.sends, p.results, strict=False)
                           if steady_from <= r[6] <= steady_to)
        # (None when that window is too short to mean anything, e.g. a tiny run.)
        steady_rate = steady_items / (steady_to - steady_from) if steady_to - steady_from > wall / 4 else None
        items_sent = sum(len(s.ids) for p in phones for s in p.sends[:len(p.results)])
        with psycopg.connect(db_url) as conn:
            verdict = check(phones, conn)
        summary = {
            "machine": machine(server_url),
            "config": {k: getattr(args, k) for k in ("phones", "batches_per_phone", "batch_size", "retry_rate",
                                                     "invalid_rate", "workers", "threads", "villages", "seed",
                                                     "max_seconds", "rate")},
            "server": {
                "wall_s": wall, "requests": len(latencies), "items": items_sent,
                "submissions_per_s": verdict["accepted_unique"] / wall,
                "items_per_s": items_sent / wall, "requests_per_s": len(latencies) / wall,
                "steady_items_per_s": steady_rate,
                "p50_ms": percentile(latencies, 0.5) * 1000, "p95_ms": percentile(latencies, 0.95) * 1000,
                "p99_ms": percentile(latencies, 0.99) * 1000, "max_ms": max(latencies) * 1000,
                "offered_rate": args.rate or None, "late_sends": late_sends,
                "p95_from_schedule_ms": percentile(from_schedule, 0.95) * 1000 if args.rate else None,
                "p99_from_schedule_ms": percentile(from_schedule, 0.99) * 1000 if args.rate else None,
                "cpu_s": {"client": client_cpu, "gunicorn": server_cpu, "postgres": pg_cpu,
                          # Everything else the machine ran meanwhile (other users' jobs, the kernel).
                          "other": max(0.0, busy - client_cpu - server_cpu - pg_cpu),
                          "available": wall * (os.cpu_count() or 1)},
                "stopped_by_time_limit": items_sent < sum(len(s.ids) for s in sends),
            },
            "exactly_once": verdict,
        }
        if not args.no_baseline:
            summary["baseline"] = baseline(db_url, phones, verdict["rows"], args.baseline)
            summary["ratio_server_to_baseline"] = (summary["server"]["submissions_per_s"]
                                                   / summary["baseline"]["submissions_per_s"])
        return summary
    finally:
        gunicorn.stop()
        admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(directory, ignore_errors=True)


def machine(server_url: str) -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with psycopg.connect(pg_url(server_url)) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return {"nproc": os.cpu_count(), "cpu": model, "ram_gib": round(mem, 1), "python": platform.python_version(),
            "postgresql": pg, "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def report(s: dict) -> str:
    srv, ok, cpu = s["server"], s["exactly_once"], s["server"]["cpu_s"]
    m, c = s["machine"], s["config"]
    lines = [
        f"machine: {m['nproc']} cpu ({m['cpu']}), {m['ram_gib']} GiB, Python {m['python']}, "
        f"PostgreSQL {m['postgresql']}, {m['date']}",
        f"load: {c['phones']} phones x {c['batches_per_phone']} batches x {c['batch_size']} items, retry "
        f"{c['retry_rate']:.0%}, invalid {c['invalid_rate']:.0%}; gunicorn gthread {c['workers']} workers x "
        f"{c['threads']} threads; " + (f"paced at {c['rate']:.0f} submissions/s offered" if c["rate"] else
                                         "unpaced: each phone sends its next batch on the answer (saturation)"),
        "",
        f"server:   {srv['submissions_per_s']:8.0f} submissions/s accepted  ({srv['items_per_s']:.0f} items/s incl. "
        f"duplicates and rejects, {srv['requests_per_s']:.1f} batches/s)",
        (f"          steady state (all phones sending): {srv['steady_items_per_s']:.0f} items/s answered"
         if srv["steady_items_per_s"] else "          steady state: window too short to measure"),
        f"          {ok['accepted_unique']} accepted in {srv['wall_s']:.1f}s, {srv['requests']} batches"
        + ("  [STOPPED BY --max-seconds]" if srv["stopped_by_time_limit"] else ""),
        f"latency:  p50 {srv['p50_ms']:.0f} ms   p95 {srv['p95_ms']:.0f} ms   p99 {srv['p99_ms']:.0f} ms   "
        f"max {srv['max_ms']:.0f} ms  (per batch)",
        *([f"          from the schedule: p95 {srv['p95_from_schedule_ms']:.0f} ms   p99 "
           f"{srv['p99_from_schedule_ms']:.0f} ms; {srv['late_sends']} of {srv['requests']} batches sent >50 ms "
           f"late (a phone waits for its previous answer)"] if c["rate"] else []),
        f"cpu:      gunicorn {cpu['gunicorn']:.1f}s  postgres {cpu['postgres']:.1f}s  client {cpu['client']:.1f}s  "
        f"other processes {cpu['other']:.1f}s  of {cpu['available']:.1f}s available",
        f"          per accepted submission: gunicorn {1000 * cpu['gunicorn'] / max(1, ok['accepted_unique']):.2f} ms"
        f"  postgres {1000 * cpu['postgres'] / max(1, ok['accepted_unique']):.2f} ms",
    ]
    if "baseline" in s:
        b = s["baseline"]
        lines.append(f"baseline: {b['submissions_per_s']:8.0f} submissions/s raw psycopg {b['method']} "
                     f"(5 tables, 1 commit per batch; p50 {b['p50_ms']:.0f} ms, p95 {b['p95_ms']:.0f} ms)"
                     + ("" if b["ok"] else f"  [BASELINE CHECK FAILED {b['errors']}]"))
        lines.append(f"ratio:    server / baseline = {s['ratio_server_to_baseline']:.2f}")
    rows = ok["rows"]
    lines += [
        "",
        f"exactly-once: {'OK' if ok['ok'] else 'FAILED'}",
        "  rows: " + ", ".join(f"{t} {n}" for t, n in rows.items()) + f"  == accepted unique {ok['accepted_unique']}",
        "  answers: " + ", ".join(f"{k} {v}" for k, v in sorted(ok["statuses"].items())),
        f"  retried batches {ok['retried_batches']}: {ok['retried_items_answered_duplicate']} of "
        f"{ok['retried_items_accepted_before']} items accepted before answered duplicate",
        f"  invalid items {ok['invalid_items']}: all rejected, {ok['invalid_stored']} stored",
        f"  batches sent again on a new connection after gunicorn closed an idle keep-alive one: "
        f"{ok['resent_after_connection_drop']}",
    ]
    lines += [f"  PROBLEM: {p}" for p in ok["problems"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", type=int, default=50)
    parser.add_argument("--batches-per-phone", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--retry-rate", type=float, default=0.05)
    parser.add_argument("--invalid-rate", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--villages", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--max-seconds", type=float, default=300, help="stop sending after this long")
    parser.add_argument("--rate", type=float, default=0,
                        help="offered load in submissions/s over all phones (each phone sends a batch every "
                             "phones x batch-size / rate seconds); 0: every phone sends its next batch as soon "
                             "as it has the answer (saturation)")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server (any database on it); the benchmark creates and drops "
                             "its own database there")
    parser.add_argument("--baseline", choices=["executemany", "copy"], default="executemany",
                        help="how the raw baseline inserts each batch's rows (the server uses COPY)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    summary = run(args)
    print(json.dumps(summary, indent=2, ensure_ascii=False) if args.json else report(summary))
    return 0 if summary["exactly_once"]["ok"] and summary.get("baseline", {"ok": True})["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
