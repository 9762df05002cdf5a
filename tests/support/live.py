"""A real gunicorn serving the app over HTTP, for tests that need real processes (several
workers, a browser).

    with fresh_database(base_url, tmp_path) as url:
        live = LiveServer(url, env={"RASOAT_LOGIN_MAX_FAILURES_PER_USERNAME": "3"}, workers=2)
        live.cli("init")
        live.cli("user", "create", "nam", "--role", "admin", "--password-stdin", input="secret-pass\\n")
        with live:
            status, headers, body = live.request("GET", "/readyz")

Nothing here sleeps for a fixed time: waits are bounded polls that also notice a dead server.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Cheap hashing and fixed secrets: a live server in a test is not a deployment.
BASE_ENV = {
    "SECRET_KEY": "live-secret-key-0123456789abcdef0123456789",
    "RASOAT_JWT_KEYS": "l1:live-jwt-key-0123456789abcdef0123456789",
    "RASOAT_ARGON2_TIME_COST": "1",
    "RASOAT_ARGON2_MEMORY_COST": "8",
    "RASOAT_ARGON2_PARALLELISM": "1",
    "RASOAT_LOG_LEVEL": "INFO",
}

_LISTENING = re.compile(r"Listening at: http://([\d.]+):(\d+)")
_BOOTED = re.compile(r"Booting worker with pid: (\d+)")


class LiveServerError(RuntimeError):
    pass


@contextlib.contextmanager
def fresh_database(base_url: str | None, directory: Path) -> Iterator[str]:
    """An empty database for one live server: a new SQLite file in ``directory``, or, when
    ``base_url`` is PostgreSQL, a throwaway database on the same server (dropped afterwards)."""
    if not base_url or not base_url.startswith("postgresql"):
        yield f"sqlite:///{directory / f'live-{secrets.token_hex(4)}.sqlite3'}"
        return
    base = sa.engine.make_url(base_url)
    name = f"rasoat_live_{secrets.token_hex(6)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LiveServer:
    """gunicorn (gthread workers) on a free port of 127.0.0.1, serving ``server.wsgi:app``."""

    def __init__(self, db_url: str, *, env: Mapping[str, str] | None = None, workers: int = 2,
                 threads: int = 4, startup_timeout: float = 60.0, directory: Path | None = None,
                 gunicorn_args: tuple[str, ...] = ()):
        self.db_url = db_url
        self.workers = workers
        self.threads = threads
        self.gunicorn_args = tuple(gunicorn_args)  # e.g. ("--max-requests", "1")
        self.startup_timeout = startup_timeout
        self.directory = Path(directory or tempfile.mkdtemp(prefix="rasoat-live-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **BASE_ENV, "DATABASE_URL": db_url,
                    "RASOAT_INSTANCE_PATH": str(self.directory / "instance"), **(env or {})}
        self.env.pop("TEST_DATABASE_URL", None)
        self.stdout_path = self.directory / "stdout.log"  # the app's JSON request log
        self.stderr_path = self.directory / "stderr.log"  # gunicorn's own log
        self.access_path = self.directory / "access.log"  # "<worker pid> <status> <request line>"
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    # --- the rasoat command, with the server's environment ------------------------------

    def cli(self, *args: str, input: str | None = None, timeout: float = 180) -> str:
        result = subprocess.run([str(BIN / "rasoat"), *args], cwd=ROOT, env=self.env, input=input,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise LiveServerError(f"rasoat {' '.join(args)} failed ({result.returncode}):\n"
                                  f"{result.stdout}\n{result.stderr}")
        return result.stdout

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise LiveServerError("the server is not running")
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        # Port 0: the master binds a free port itself and logs it; no race with other tests.
        command = [str(BIN / "gunicorn"), "--workers", str(self.workers), "--worker-class", "gthread",
                   "--threads", str(self.threads), "--bind", f"{self.host}:0", "--timeout", "60",
                   "--graceful-timeout", "10", "--access-logfile", str(self.access_path),
                   "--access-logformat", "%(p)s %(s)s %(r)s", *self.gunicorn_args, "server.wsgi:app"]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _pause(self, seconds: float) -> None:
        """Wait a little, failing at once if gunicorn died meanwhile."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return
        raise LiveServerError(f"gunicorn exited with {code}:\n{self.logs()}")

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while self.port is None:
            if time.monotonic() > deadline:
                raise LiveServerError(f"gunicorn did not bind within {self.startup_timeout}s:\n{self.logs()}")
            found = _LISTENING.search(self.stderr_path.read_text(errors="replace"))
            if found:
                self.port = int(found.group(2))
            else:
                self._pause(0.05)
        while True:
            try:
                # One probe at a time, waiting as long as the deadline allows: a probe given up
                # on stays in the listen backlog and is served later anyway, and under
                # --max-requests 1 every such probe costs a worker its life (a slow machine then
                # spends the whole deadline rebooting workers for abandoned probes).
                if self.request("GET", "/readyz", timeout=max(5.0, deadline - time.monotonic())).status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise LiveServerError(f"/readyz not ready within {self.startup_timeout}s:\n{self.logs()}")
            self._pause(0.1)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # gunicorn's master stops its workers on SIGTERM
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)  # its own session: only gunicorn and its workers
            process.wait(timeout=10)

    # --- talking to it -----------------------------------------------------------------------

    def request(self, method: str, path: str, *, json_body: Any = None, headers: Mapping[str, str] | None = None,
                timeout: float = 30) -> Response:
        """One request on a new connection (so that successive requests may reach different workers)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            sent = {"Connection": "close", **(headers or {})}
            body = None
            if json_body is not None:
                body = json.dumps(json_body).encode()
                sent.setdefault("Content-Type", "application/json")
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def worker_pids(self) -> set[int]:
        return {int(pid) for pid in _BOOTED.findall(self.stderr_path.read_text(errors="replace"))}

    def access_log(self, matching: str = "", *, at_least: int = 0, timeout: float = 10) -> list[tuple[int, int, str]]:
        """(worker pid, status, request line) per request served whose request line starts with
        ``matching``. A worker writes its line just after answering, so wait (bounded) until there
        are ``at_least`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            lines = []
            if self.access_path.exists():
                for line in self.access_path.read_text(errors="replace").splitlines():
                    pid, status, request_line = line.split(" ", 2)
                    if request_line.startswith(matching):
                        lines.append((int(pid.strip("<>")), int(status), request_line))
            if len(lines) >= at_least or time.monotonic() > deadline:
                return lines
            self._pause(0.02)

    def logs(self) -> str:
        parts = []
        for path in (self.stderr_path, self.stdout_path):
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)
