"""Fault benchmark: phones keep pushing while gunicorn workers are killed and PostgreSQL restarts.

    .venv/bin/python bench/sync_faults.py [--phones 50] [--total 100000] [--batch-size 20]
        [--retry-rate 0.05] [--kill-every 10] [--restart-at 0.5] [--workers 2] [--threads 4] [--json]

What it does, end to end, and on its own (it needs PostgreSQL's programs under
/usr/lib/postgresql/*/bin, not a running server):

1. creates a private PostgreSQL cluster in a temporary directory (``initdb`` as the ``postgres``
   OS user when run as root: PostgreSQL refuses root), trust authentication, listening on a free
   port of 127.0.0.1 only; it is removed at the end, whatever happens. Its own cluster, so that it
   can be restarted without disturbing anyone else's;
2. ``rasoat init``, villages under commune 01-00004 and one enumerator per phone (plus a probe
   account), then gunicorn (gthread, ``--workers`` x ``--threads``) on a free port, and logs every
   phone in with its own device id (not timed);
3. builds every request body before the clock starts: ``--total`` new households of 4-6 members
   (bundled form 2022.1, as ``bench/sync_load.py`` makes them) in batches of ``--batch-size``,
   spread over the phones; with probability ``--retry-rate`` a batch is sent a second time after
   it was answered, as a phone does that lost the answer;
4. drives the load, one thread per phone, each waiting for its answer before the next batch,
   while
   - every ``--kill-every`` seconds (or at the fractions of ``--kill-at``) a gunicorn worker that
     is serving a push at that moment gets SIGKILL; gunicorn's master starts another;
   - once ``--restart-at`` of the submissions are answered, PostgreSQL is stopped
     (``pg_ctl stop -m fast``); while it is down a probe times ``/readyz``, a push and a pull, each
     of which must answer 503 problem+json with ``Retry-After`` within ``--unavailable-within``
     seconds; it is started again once a phone has been answered 503 too and at least
     ``--down-seconds`` have passed;
   - a phone sends again whatever got no answer (connection refused or reset, timeout, 5xx; after
     a 503 it waits ``Retry-After``, at most ``--max-retry-wait`` s) and the items answered
     ``rejected`` with code ``retry``, until each one is answered ``accepted`` or ``duplicate``;
5. checks exactly-once: every item answered ``accepted`` or ``duplicate``, ``duplicate`` on its
   first answer only after an attempt that got no answer, every deliberately resent batch all
   ``duplicate``, the probe's item not stored, and submissions, submission_revisions,
   households, household_revisions and household_years each holding exactly one row per accepted
   unique submission (the very ids that were sent).

``tests/integration/test_sync_faults.py`` runs the same scenario, smaller.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import platform
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import sync_load as load  # noqa: E402  (also puts tests/ on the path, for support.*)
from support.live import BASE_ENV, LiveServer  # noqa: E402

PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"
PASSWORD = load.PASSWORD
TABLES = load.TABLES


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# --- a private PostgreSQL cluster ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


class Cluster:
    """initdb + pg_ctl on a free port of 127.0.0.1 (no Unix socket outside its own directory),
    trust authentication, owned by the ``postgres`` OS user when we are root."""

    def __init__(self, directory: Path, *, fsync: bool = True):
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL's programs are not installed (/usr/lib/postgresql/*/bin)")
        self.bindir = bindir
        self.home = directory / "postgres"
        self.data = self.home / "data"
        self.log_path = self.home / "postgres.log"
        self.port = free_port()
        self.fsync = fsync
        self.running = False
        self.as_root = os.geteuid() == 0

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        result = subprocess.run([*prefix, str(self.bindir / program), *args], capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL, cwd="/")
        if result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n"
                               f"{result.stderr}\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def init(self) -> None:
        self.home.mkdir(parents=True)
        if self.as_root:
            account = pwd.getpwnam("postgres")
            # The temporary directories above are root's, mode 0700: let postgres through.
            for parent in (self.home.parent, *self.home.parent.parents):
                if parent == Path(tempfile.gettempdir()) or parent == Path("/"):
                    break
                parent.chmod(parent.stat().st_mode | 0o711)
            os.chown(self.home, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                  "--no-sync", "--no-instructions")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.home} "
                   f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log_path), "-w", "-t", "60",
                  "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        if self.running:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                log(f"could not stop PostgreSQL: {exc}")
        shutil.rmtree(self.home, ignore_errors=True)


# --- the server --------------------------------------------------------------------------------

@dataclass
class Account:
    username: str
    village: str
    device_id: str


class Stack:
    """The cluster, a migrated database with villages and enumerators, and gunicorn serving it."""

    def __init__(self, directory: Path, *, phones: int, villages: int = 10, workers: int = 2, threads: int = 4,
                 fsync: bool = True):
        self.directory = directory
        self.cluster = Cluster(directory, fsync=fsync)
        self.phones, self.villages = phones, villages
        self.workers, self.threads = workers, threads
        self.server: LiveServer | None = None
        self.accounts: list[Account] = []
        self.probe: Account | None = None

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def db_url(self) -> str:
        return self.cluster.url("rasoat")

    def start(self) -> None:
        t = time.perf_counter()
        self.cluster.init()
        self.cluster.start()
        with psycopg.connect(self.cluster.url(), autocommit=True) as conn:
            conn.execute('CREATE DATABASE "rasoat"')
        url = load.sqlalchemy_url(self.db_url)
        # Request logs off (WARNING): at this load they cost CPU and say nothing the phones don't.
        self.server = LiveServer(url, env={"RASOAT_LOG_LEVEL": "WARNING"}, workers=self.workers,
                                 threads=self.threads, directory=self.directory / "gunicorn")
        self.server.cli("init")
        self.accounts, self.probe = self._accounts(url)
        self.server.start()
        log(f"setup: PostgreSQL {self.cluster.bindir.parent.name} on port {self.cluster.port}, gunicorn "
            f"{self.workers} x {self.threads} on port {self.server.port}, {len(self.accounts)} enumerators "
            f"({time.perf_counter() - t:.1f}s)")

    def _accounts(self, url: str) -> tuple[list[Account], Account]:
        """Villages under the commune and one enumerator per phone, in-process (what the CLI
        would do one process at a time); the settings are passed, the environment is left alone."""
        import datetime

        from server import create_app
        from server.db import db
        from server.scoping import Scope
        from server.services.areas import create_village, set_area_type
        from server.services.users import create_user

        app = create_app({
            "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": BASE_ENV["SECRET_KEY"],
            "JWT_KEYS": dict([BASE_ENV["RASOAT_JWT_KEYS"].split(":", 1)]), "LOG_LEVEL": "WARNING",
            "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8, "ARGON2_PARALLELISM": 1,
            "ATTACHMENTS_DIR": str(self.directory / "attachments"),
        })
        codes = [f"{load.COMMUNE}-f{v:02d}" for v in range(1, self.villages + 1)]
        accounts = []
        with app.app_context():
            # The bench households are rural; Phường Ba Đình is officially urban.
            set_area_type(Scope(None), load.COMMUNE, "rural", datetime.date(2025, 7, 1))
            for v, code in enumerate(codes, 1):
                create_village(Scope(None), parent=load.COMMUNE, code=f"f{v:02d}", name=f"Thôn sự cố {v}")
            for p in range(self.phones + 1):
                village = codes[p % len(codes)]
                username = f"fault{p:03d}" if p < self.phones else "probe"
                create_user(Scope(None), username=username, password=PASSWORD, role="enumerator", areas=[village])
                accounts.append(Account(username, village, f"fault-phone-{p:03d}" if p < self.phones
                                        else "fault-probe"))
            db.engine.dispose()
        return accounts[:-1], accounts[-1]

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.cluster.destroy()

    def worker_pids(self) -> list[int]:
        """gunicorn's live workers (the master's children)."""
        assert self.server is not None and self.server.process is not None
        pid = self.server.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def wait_for_workers(self, timeout: float = 60) -> None:
        """Until gunicorn has its full count of workers again and /readyz answers 200."""
        deadline = time.monotonic() + timeout
        while len(self.worker_pids()) < self.workers or self.server.request("GET", "/readyz").status != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not get its workers back:\n{self.server.logs()}")
            self.server._pause(0.05)

    def login(self, account: Account) -> str:
        response = self.server.request("POST", "/api/v1/auth/login", json_body={
            "username": account.username, "password": PASSWORD, "device_id": account.device_id,
            "app_version": "faults"}, timeout=60)
        if response.status != 200:
            raise RuntimeError(f"login {account.username}: {response.status} {response.body[:300]!r}")
        return response.json()["access_token"]


# --- phones --------------------------------------------------------------------------------------

@dataclass
class Batch:
    index: int
    body: bytes
    ids: list[str]
    resend: bool  # sent a second time after its answer (a phone that lost the answer)


@dataclass
class Phone:
    index: int
    account: Account
    token: str = ""
    batches: list[Batch] = field(default_factory=list)
    first_answer: dict[str, str] = field(default_factory=dict)  # item id -> first accepted/duplicate
    unanswered: set[str] = field(default_factory=set)  # items with an attempt that got no answer
    resend_answers: Counter = field(default_factory=Counter)  # statuses of the deliberate resends
    counts: Counter = field(default_factory=Counter)
    failed_attempts: set[int] = field(default_factory=set)  # attempt numbers that got no answer
    problems: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # answered attempts, seconds


def build_batches(phones: list[Phone], total: int, size: int, retry_rate: float, seed: int) -> None:
    """``total`` new households, dealt out batch by batch to the phones in turn."""
    rng = random.Random(seed)
    per_phone = [0] * len(phones)
    count = math.ceil(total / size)
    for b in range(count):
        phone = phones[b % len(phones)]
        n = min(size, total - b * size)
        items = [{
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "form_id": "household-review", "form_version": "2022.1", "area": phone.account.village,
            "household_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "household_rev": None, "rev": 1,
            "started_at": "2026-10-02T08:11:00+07:00", "finished_at": "2026-10-02T08:40:12+07:00",
            "answers": load.household(rng, rng.randint(4, 6), False), "attachments": []} for _ in range(n)]
        body = orjson.dumps({"device_id": phone.account.device_id, "app_version": "faults", "submissions": items,
                             "pending": {"submissions": n, "attachments": 0}})
        ids = [item["id"] for item in items]
        phone.batches.append(Batch(per_phone[phone.index], body, ids, False))
        if rng.random() < retry_rate:
            phone.batches.append(Batch(per_phone[phone.index], body, ids, True))
        per_phone[phone.index] += 1


class Run:
    """What the phones, the killer and the restarter share."""

    def __init__(self, stack: Stack, total: int, args):
        self.stack = stack
        self.port = stack.server.port
        self.total = total
        self.args = args
        self.lock = threading.Lock()
        self.answered = 0  # items answered accepted/duplicate for the first time
        self.inflight: dict[int, tuple[int, int]] = {}  # phone -> (attempt, client port), body sent
        self.attempts = itertools.count(1)
        self.unavailable_seen = 0  # 503 answers to phones
        self.done = threading.Event()
        self.deadline = float("inf")
        self.t0 = 0.0
        self.kills: list[dict] = []
        self.restarts: list[dict] = []

    def progress(self) -> float:
        return self.answered / self.total if self.total else 1.0


def retry_after(headers: dict[str, str]) -> float:
    try:
        return float(headers.get("retry-after", "1"))
    except ValueError:
        return 1.0


def _subset(body: bytes, ids: list[str]) -> bytes:
    envelope = orjson.loads(body)
    wanted = set(ids)
    envelope["submissions"] = [s for s in envelope["submissions"] if s["id"] in wanted]
    return orjson.dumps(envelope)


class PhoneDriver:
    def __init__(self, phone: Phone, run: Run):
        self.phone, self.run = phone, run
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, dict[str, str], bytes, str | None, int]:
        """One attempt: (status, headers, body, error, attempt number); status 0 = no answer."""
        run, phone = self.run, self.phone
        attempt = next(run.attempts)
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", run.port, timeout=run.args.request_timeout)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {phone.token}"}
        t0 = time.perf_counter()
        try:
            self.conn.request("POST", PUSH, body=body, headers=headers)
            run.inflight[phone.index] = (attempt, self.conn.sock.getsockname()[1])
            response = self.conn.getresponse()
            payload = response.read()
            if response.will_close:
                self.conn.close()
                self.conn = None
            phone.latencies.append(time.perf_counter() - t0)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, payload, None, attempt
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = None
            phone.failed_attempts.add(attempt)
            return 0, {}, b"", f"{type(exc).__name__}: {exc}", attempt
        finally:
            run.inflight.pop(phone.index, None)

    def deliver(self, batch: Batch) -> dict[str, str]:
        """Send the batch until every item has an answer; {item id: status}."""
        run, phone = self.run, self.phone
        pending, body = list(batch.ids), batch.body
        answers: dict[str, str] = {}
        failures = 0
        while pending:
            if time.monotonic() > run.deadline:
                raise TimeoutError(f"{phone.account.username}: items still unanswered at --max-seconds")
            status, headers, payload, error, _ = self.post(body)
            if status == 0 or status >= 500:
                phone.unanswered.update(pending)
                failures += 1
                if status == 0:
                    phone.counts["no_answer"] += 1
                    wait = min(0.05 * 2 ** failures, 1.0)
                elif status == 503:
                    phone.counts["503"] += 1
                    with run.lock:
                        run.unavailable_seen += 1
                    if not headers.get("content-type", "").startswith("application/problem+json") \
                            or "retry-after" not in headers:
                        phone.problems.append(f"503 without problem+json and Retry-After: {headers} {payload[:200]!r}")
                    wait = min(retry_after(headers), run.args.max_retry_wait)
                else:
                    phone.counts[f"{status}"] += 1
                    if len(phone.problems) < 5:
                        phone.problems.append(f"HTTP {status}: {payload[:300]!r}")
                    wait = min(0.05 * 2 ** failures, 1.0)
                run.done.wait(wait)  # the phone's back-off, as a real one would
                continue
            failures = 0
            if status == 401:  # the access token expired (15 minutes): log in again
                phone.counts["relogin"] += 1
                try:
                    phone.token = run.stack.login(phone.account)
                except (OSError, RuntimeError):
                    run.done.wait(min(0.05 * 2 ** failures, 1.0))
                continue
            if status != 200:
                raise RuntimeError(f"{phone.account.username}: HTTP {status} {payload[:500]!r}")
            results = orjson.loads(payload)["results"]
            if [r["id"] for r in results] != pending:
                raise RuntimeError(f"{phone.account.username}: results not one per item in order")
            again = []
            for result in results:
                if result["status"] == "rejected" and any(e.get("code") == "retry" for e in result.get("errors", ())):
                    # "Stored concurrently by another request; send it again": maybe stored, maybe not.
                    again.append(result["id"])
                    phone.unanswered.add(result["id"])
                    phone.counts["retry_rejections"] += 1
                else:
                    answers[result["id"]] = result["status"]
            pending = again
            if pending:
                body = _subset(body, pending)
        return answers

    def __call__(self) -> None:
        run, phone = self.run, self.phone
        try:
            for batch in phone.batches:
                answers = self.deliver(batch)
                if batch.resend:
                    phone.resend_answers.update(answers.values())
                    continue
                fresh = 0
                for item_id, status in answers.items():
                    if item_id not in phone.first_answer:
                        phone.first_answer[item_id] = status
                        fresh += status in ("accepted", "duplicate")
                with run.lock:
                    run.answered += fresh
        except Exception as exc:  # noqa: BLE001 - reported, and the check then fails
            phone.problems.append(f"phone stopped: {exc!r}")
        finally:
            if self.conn is not None:
                self.conn.close()


# --- faults --------------------------------------------------------------------------------------

def sockets_by_inode(server_port: int, client_ports: set[int]) -> dict[str, int]:
    """The server side of the connections from ``client_ports``: {socket inode: client port}."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote, inode = parts[1], parts[2], parts[9]
            if (int(local.rsplit(":", 1)[1], 16) == server_port and inode != "0"
                    and (port := int(remote.rsplit(":", 1)[1], 16)) in client_ports):
                out[inode] = port
    return out


def worker_serving(workers: list[int], server_port: int, client_ports: set[int]) -> tuple[int, set[int]] | None:
    """A worker holding the connection of a push in flight, and the client ports it holds."""
    inodes = sockets_by_inode(server_port, client_ports)
    if not inodes:
        return None
    for pid in workers:
        held = set()
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    held.add(inodes[link[8:-1]])
        except OSError:
            continue
        if held:
            return pid, held
    return None


def killer(run: Run) -> None:
    """SIGKILL a worker that is serving a push, every --kill-every seconds or at --kill-at."""
    args, stack = run.args, run.stack
    fractions = sorted(args.kill_at or [])
    next_time = run.t0 + args.kill_every if args.kill_every else float("inf")
    while not run.done.is_set():
        due = time.perf_counter() >= next_time or (fractions and run.progress() >= fractions[0])
        if not due:
            run.done.wait(0.02)
            continue
        if fractions and run.progress() >= fractions[0]:
            fractions.pop(0)
        give_up = time.monotonic() + 5
        while not run.done.is_set():
            snapshot = dict(run.inflight)
            ports = {port: (phone, attempt) for phone, (attempt, port) in snapshot.items()}
            found = worker_serving(stack.worker_pids(), run.port, set(ports))
            if found:
                pid, held = found
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                run.kills.append({"t": time.perf_counter() - run.t0, "pid": pid,
                                  "in_flight": [ports[p] for p in held]})
                break
            if time.monotonic() > give_up:
                run.kills.append({"t": time.perf_counter() - run.t0, "pid": None, "in_flight": []})
                break
            run.done.wait(0.005)
        next_time = time.perf_counter() + args.kill_every if args.kill_every else float("inf")


def probe(stack: Stack, token: str, body: bytes) -> dict:
    """Time what the server answers while the database is down."""
    out = {}
    auth = {"Authorization": f"Bearer {token}"}
    for name, method, path, payload, headers in (
            ("readyz", "GET", "/readyz", None, {}),
            ("push", "POST", PUSH, body, {**auth, "Content-Type": "application/json"}),
            ("pull", "GET", PULL, None, auth)):
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", stack.server.port, timeout=30)
        try:
            conn.request(method, path, body=payload, headers={"Connection": "close", **headers})
            response = conn.getresponse()
            data = response.read()
            status, got = response.status, {k.lower(): v for k, v in response.getheaders()}
            error = None
        except (OSError, http.client.HTTPException) as exc:
            status, got, data, error = 0, {}, b"", repr(exc)
        finally:
            conn.close()
        try:
            code = orjson.loads(data).get("code") if data else None
        except orjson.JSONDecodeError:
            code = None
        out[name] = {"status": status, "seconds": time.perf_counter() - t0, "content_type": got.get("content-type"),
                     "retry_after": got.get("retry-after"), "code": code, "error": error}
    return out


def restarter(run: Run, probe_body: bytes) -> None:
    """Once --restart-at of the work is answered: stop PostgreSQL, probe, start it again."""
    args, stack = run.args, run.stack
    while not run.done.is_set() and run.progress() < args.restart_at:
        run.done.wait(0.02)
    if run.done.is_set():
        return
    token = stack.login(stack.probe)  # a fresh token: the database will be away
    seen_before = run.unavailable_seen
    t_stop = time.perf_counter()
    stack.cluster.stop("fast")
    t_down = time.perf_counter()
    probed = probe(stack, token, probe_body)
    # Down until a phone too has been told 503 (so the phones' handling is exercised), for at
    # least --down-seconds, at most 30 s.
    limit = t_down + 30
    while time.perf_counter() < limit and (run.unavailable_seen == seen_before
                                           or time.perf_counter() < t_down + args.down_seconds):
        if run.done.wait(0.02):
            break
    t_start = time.perf_counter()
    stack.cluster.start()
    t_up = time.perf_counter()
    answered_at_up = run.answered
    # Recovery: the first item newly answered after the start.
    while not run.done.is_set() and run.answered == answered_at_up and time.perf_counter() < t_up + 60:
        run.done.wait(0.01)
    recovered = time.perf_counter()
    run.restarts.append({
        "at_progress": answered_at_up / run.total, "t": t_stop - run.t0, "stop_s": t_down - t_stop,
        "down_s": t_start - t_down, "start_s": t_up - t_start, "first_answer_after_start_s": recovered - t_up,
        "probe": probed, "phones_503_while_down": run.unavailable_seen - seen_before})


def progress(run: Run, every: float) -> None:
    """A line on stderr every ``every`` seconds, for whoever watches a long run."""
    while not run.done.wait(every):
        log(f"{time.perf_counter() - run.t0:6.0f}s: {run.answered} of {run.total} answered, "
            f"{len([k for k in run.kills if k['pid']])} kills, {len(run.restarts)} restarts, "
            f"{run.unavailable_seen} answers 503")


# --- checks --------------------------------------------------------------------------------------

def check(phones: list[Phone], probe_ids: list[str], conn: psycopg.Connection) -> dict:
    problems: list[str] = []
    sent: set[str] = set()
    accepted: set[str] = set()
    first: Counter = Counter()
    for phone in phones:
        problems += [f"{phone.account.username}: {p}" for p in phone.problems]
        for batch in phone.batches:
            if batch.resend:
                continue
            for item_id in batch.ids:
                sent.add(item_id)
                status = phone.first_answer.get(item_id)
                first[status or "unanswered"] += 1
                if status not in ("accepted", "duplicate"):
                    problems.append(f"{phone.account.username} item {item_id}: {status or 'never answered'}")
                    continue
                if status == "duplicate" and item_id not in phone.unanswered:
                    problems.append(f"{phone.account.username} item {item_id}: duplicate, but every earlier "
                                    "attempt was answered")
                accepted.add(item_id)
        wrong = {s: n for s, n in phone.resend_answers.items() if s != "duplicate"}
        if wrong:
            problems.append(f"{phone.account.username}: deliberately resent items answered {wrong}")
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    stored = {str(r[0]) for r in conn.execute("SELECT id FROM submissions")}
    for table, n in counts.items():
        if n != len(accepted):
            problems.append(f"{table}: {n} rows, {len(accepted)} accepted unique submissions")
    if stored != accepted:
        problems.append(f"stored ids differ from the accepted ones: {len(stored - accepted)} extra, "
                        f"{len(accepted - stored)} missing")
    probe_stored = len(stored & set(probe_ids))
    if probe_stored:
        problems.append("the probe's push (sent while the database was down) was stored")
    return {"ok": not problems, "problems": problems[:20], "problem_count": len(problems),
            "sent_unique": len(sent), "accepted_unique": len(accepted), "first_answers": dict(first),
            "resend_answers": dict(sum((p.resend_answers for p in phones), Counter())),
            "resent_batches": sum(b.resend for p in phones for b in p.batches),
            "probe_stored": probe_stored, "rows": counts}


# --- the run -------------------------------------------------------------------------------------

def scenario(stack: Stack, args) -> dict:
    """Drive the load with the faults on a started stack; the summary (see ``report``)."""
    phones = [Phone(i, account) for i, account in enumerate(stack.accounts)]
    t = time.perf_counter()
    build_batches(phones, args.total, args.batch_size, args.retry_rate, args.seed)
    sends = [b for p in phones for b in p.batches]
    log(f"payloads: {len(sends)} batches ({sum(b.resend for b in sends)} to be resent), "
        f"{sum(len(b.body) for b in sends) / len(sends) / 1024:.1f} KiB average body "
        f"({time.perf_counter() - t:.1f}s, not timed)")
    rng = random.Random(args.seed + 1)
    probe_item = {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "form_id": "household-review",
                  "form_version": "2022.1", "area": stack.probe.village,
                  "household_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "household_rev": None,
                  "rev": 1, "started_at": "2026-10-02T08:11:00+07:00", "finished_at": "2026-10-02T08:40:12+07:00",
                  "answers": load.household(rng, 4, False), "attachments": []}
    probe_body = orjson.dumps({"device_id": stack.probe.device_id, "app_version": "faults",
                               "submissions": [probe_item], "pending": {"submissions": 1, "attachments": 0}})
    for phone in phones:
        phone.token = stack.login(phone.account)

    run = Run(stack, args.total, args)
    drivers = [threading.Thread(target=PhoneDriver(p, run), name=f"phone-{p.index}") for p in phones]
    chaos = [threading.Thread(target=killer, args=(run,), name="killer"),
             threading.Thread(target=restarter, args=(run, probe_body), name="restarter"),
             threading.Thread(target=progress, args=(run, args.progress_every), name="progress")]
    load_before = os.getloadavg()
    run.t0 = time.perf_counter()
    run.deadline = time.monotonic() + args.max_seconds
    for th in (*drivers, *chaos):
        th.start()
    try:
        for th in drivers:
            th.join()
        wall = time.perf_counter() - run.t0
    finally:
        run.done.set()
        for th in chaos:
            th.join()
    load_after = os.getloadavg()
    if not stack.cluster.running:  # the run ended while it was down (only on a failure)
        stack.cluster.start()

    failed = {(p.index, a) for p in phones for a in p.failed_attempts}
    victims = [[tuple(v) for v in k["in_flight"] if tuple(v) in failed] for k in run.kills]
    mid_batch = [v for v in victims if v]
    counts = sum((p.counts for p in phones), Counter())
    latencies = [x for p in phones for x in p.latencies]
    with psycopg.connect(stack.db_url) as conn:
        verdict = check(phones, [probe_item["id"]], conn)
    return {
        "config": {k: getattr(args, k) for k in ("phones", "total", "batch_size", "retry_rate", "kill_every",
                                                 "kill_at", "restart_at", "down_seconds", "max_retry_wait",
                                                 "workers", "threads", "seed")},
        "wall_s": wall,
        "submissions_per_s": verdict["accepted_unique"] / wall,
        "batches": len(sends),
        "attempts": next(run.attempts) - 1,
        "resends": {"no_answer": counts["no_answer"], "503": counts["503"],
                    "other_5xx": {k: v for k, v in counts.items() if k.isdigit() and k != "503"},
                    "retry_rejections": counts["retry_rejections"], "relogins": counts["relogin"]},
        "latency_ms": {"p50": load.percentile(latencies, 0.5) * 1000, "p95": load.percentile(latencies, 0.95) * 1000,
                       "max": max(latencies, default=0) * 1000},
        "kills": {"total": len([k for k in run.kills if k["pid"]]), "mid_batch": len(mid_batch),
                  "pushes_cut": sum(len(v) for v in victims),
                  "no_push_in_flight": len([k for k in run.kills if not k["pid"]]), "log": run.kills},
        "restarts": run.restarts,
        "load_average": {"before": load_before[0], "after": load_after[0]},
        "exactly_once": verdict,
    }


def machine() -> dict:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z")}


def report(s: dict) -> str:
    c, ok, r = s["config"], s["exactly_once"], s["resends"]
    kills = s["kills"]
    schedule = f"every {c['kill_every']:g} s" if c["kill_every"] else f"at {c['kill_at']} of the work"
    lines = [
        f"machine: {s['machine']['nproc']} cpu ({s['machine']['cpu']}), Python {s['machine']['python']}, "
        f"PostgreSQL {s['postgresql']}, {s['machine']['date']}; load average {s['load_average']['before']:.1f} "
        f"before, {s['load_average']['after']:.1f} after",
        f"load: {c['phones']} phones, {c['total']} submissions in batches of {c['batch_size']}, "
        f"{c['retry_rate']:.0%} of batches resent; gunicorn gthread {c['workers']} x {c['threads']}; "
        f"a worker SIGKILLed {schedule}; PostgreSQL restarted at {c['restart_at']:.0%}",
        "",
        f"server:   {s['submissions_per_s']:.0f} submissions/s accepted ({ok['accepted_unique']} in "
        f"{s['wall_s']:.1f}s, faults included); {s['batches']} batches, {s['attempts']} requests",
        f"latency:  p50 {s['latency_ms']['p50']:.0f} ms, p95 {s['latency_ms']['p95']:.0f} ms, max "
        f"{s['latency_ms']['max']:.0f} ms (answered requests)",
        f"resent:   {r['no_answer']} without an answer (cut by a kill, or sent on a keep-alive connection that a "
        f"killed worker or gunicorn's idle timeout had closed), {r['503']} after a 503, "
        f"other 5xx {r['other_5xx'] or 'none'}; {r['retry_rejections']} items rejected `retry`; "
        f"{r['relogins']} logins again; {ok['resent_batches']} batches resent on purpose",
        f"kills:    {kills['total']} workers SIGKILLed, {kills['mid_batch']} of them while serving a push whose "
        f"phone then got no answer ({kills['pushes_cut']} pushes cut in all); {kills['no_push_in_flight']} times no "
        "push was in flight",
    ]
    for restart in s["restarts"]:
        p = restart["probe"]
        lines += [
            f"restart:  at {restart['at_progress']:.0%} ({restart['t']:.1f}s): stop {restart['stop_s']:.2f}s, down "
            f"{restart['down_s']:.2f}s, start {restart['start_s']:.2f}s, first answer "
            f"{restart['first_answer_after_start_s']:.2f}s after the start; phones answered 503 "
            f"{restart['phones_503_while_down']} times while it was down",
            "  while down: " + "; ".join(
                f"{name} {v['status']} {v['code'] or v['error']} in {v['seconds'] * 1000:.0f} ms, Retry-After "
                f"{v['retry_after']}" for name, v in p.items()),
        ]
    if not s["restarts"]:
        lines.append("restart:  none (the run ended first)")
    lines += [
        "",
        f"exactly-once: {'OK' if ok['ok'] else 'FAILED'}",
        "  rows: " + ", ".join(f"{t} {n}" for t, n in ok["rows"].items())
        + f"  == accepted unique {ok['accepted_unique']} (of {ok['sent_unique']} sent)",
        "  first answers: " + ", ".join(f"{k} {v}" for k, v in sorted(ok["first_answers"].items()))
        + "; deliberate resends: " + ", ".join(f"{k} {v}" for k, v in sorted(ok["resend_answers"].items())),
        f"  the probe's push while the database was down: {'STORED' if ok['probe_stored'] else 'not stored'}",
    ]
    lines += [f"  PROBLEM: {p}" for p in ok["problems"]]
    return "\n".join(lines)


def unavailable_ok(restart: dict, within: float) -> list[str]:
    """What is wrong with the probe's answers while the database was down (nothing: [])."""
    wrong = []
    for name, v in restart["probe"].items():
        if v["status"] != 503 or v["code"] != "server.unavailable" or not v["retry_after"] \
                or not (v["content_type"] or "").startswith("application/problem+json") or v["seconds"] > within:
            wrong.append(f"{name}: {v}")
    return wrong


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phones", type=int, default=50)
    p.add_argument("--total", type=int, default=100_000, help="submissions, over all phones")
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--retry-rate", type=float, default=0.05, help="share of batches sent twice")
    p.add_argument("--kill-every", type=float, default=10.0, help="seconds between worker kills (0: none)")
    p.add_argument("--kill-at", type=float, nargs="*", default=[],
                   help="also kill a worker when these fractions of the work are answered")
    p.add_argument("--restart-at", type=float, default=0.5,
                   help="restart PostgreSQL when this fraction of the work is answered")
    p.add_argument("--down-seconds", type=float, default=3.0, help="keep PostgreSQL down at least this long")
    p.add_argument("--max-retry-wait", type=float, default=10.0, help="cap on a phone's wait after a 503")
    p.add_argument("--unavailable-within", type=float, default=2.0,
                   help="seconds within which the server must answer 503 while the database is down")
    p.add_argument("--request-timeout", type=float, default=60.0, help="a phone's socket timeout")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--villages", type=int, default=10)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--max-seconds", type=float, default=3600, help="give up after this long")
    p.add_argument("--no-fsync", action="store_true", help="PostgreSQL with fsync=off (the test's setting)")
    p.add_argument("--progress-every", type=float, default=30.0, help="seconds between progress lines")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs) for a look")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="rasoat-faults-"))
    try:
        with Stack(directory, phones=args.phones, villages=args.villages, workers=args.workers,
                   threads=args.threads, fsync=not args.no_fsync) as stack:
            summary = scenario(stack, args)
            with psycopg.connect(stack.cluster.url()) as conn:
                summary["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            summary["machine"] = machine()
    finally:
        if args.keep:
            log(f"kept {directory} (gunicorn/stdout.log: the app's log; gunicorn/stderr.log: gunicorn's)")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    wrong = [w for r in summary["restarts"] for w in unavailable_ok(r, args.unavailable_within)]
    summary["unavailable_problems"] = wrong
    print(json.dumps(summary, indent=2, ensure_ascii=False) if args.json else report(summary))
    for w in wrong:
        print(f"UNAVAILABLE PROBLEM: {w}")
    return 0 if summary["exactly_once"]["ok"] and not wrong and summary["restarts"] else 1


if __name__ == "__main__":
    sys.exit(main())
