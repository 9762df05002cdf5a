"""The real `rasoat` console script, run as a subprocess the way `make run` and the Dockerfile
run it: init, user create, demo, db current, serve."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.ops import DIALECTS, fresh_database

from conftest import test_config as make_test_config
from server import create_app
from server.db import db

RASOAT = Path(sys.executable).with_name("rasoat")
TIMEOUT = 120


class Cli:
    """Runs `rasoat` against one database and instance folder."""

    def __init__(self, url: str, instance: Path):
        self.url, self.instance = url, instance
        self.env = {
            **{k: v for k, v in os.environ.items()
               if not k.startswith("RASOAT_") and k not in {"DATABASE_URL", "SECRET_KEY", "FLASK_APP"}},
            "DATABASE_URL": url,
            "RASOAT_INSTANCE_PATH": str(instance),
            # Cheap password hashing; the cost is read from the hash when verifying.
            "RASOAT_ARGON2_TIME_COST": "1",
            "RASOAT_ARGON2_MEMORY_COST": "8",
            "RASOAT_ARGON2_PARALLELISM": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def run(self, *args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(RASOAT), *args], input=stdin, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, timeout=TIMEOUT, check=False)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, (args, result.returncode, result.stdout[-2000:], result.stderr[-4000:])
        return result.stdout

    def login(self, username: str, password: str) -> dict:
        """Log in through the app, in-process, on the database the CLI wrote."""
        app = create_app(make_test_config(self.url, self.instance / "probe"))
        try:
            response = app.test_client().post("/api/v1/auth/login", json={"username": username, "password": password})
            return {"status": response.status_code, **(response.get_json() or {})}
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


# For what does not depend on the database (argument handling, files): SQLite only.
sqlite_only = pytest.mark.parametrize("cli", ["sqlite"], indirect=True)


@pytest.fixture(scope="module", params=DIALECTS)
def cli(request, tmp_path_factory) -> Iterator[Cli]:
    """One initialised database per dialect for the module (init is the slow part)."""
    directory = tmp_path_factory.mktemp(f"cli-{request.param}")
    with fresh_database(request.param, directory) as url:
        runner = Cli(url, directory / "instance")
        first = runner.ok("init")
        assert re.search(r"database ready: 3355 areas added", first), first
        yield runner


def test_init_is_idempotent(cli):
    assert "database ready: 0 areas added" in cli.ok("init")


@sqlite_only
def test_development_secrets_are_kept_in_the_instance_folder(cli):
    for name in ("secret_key", "jwt_key_k1"):
        path = cli.instance / name
        assert path.exists(), name
        assert path.stat().st_mode & 0o077 == 0, f"{name} is readable by others"


def test_db_current_names_the_head(cli):
    out = cli.ok("db", "current")
    heads = cli.ok("db", "heads")
    head = re.search(r"^(\w+) \(head\)", heads, re.MULTILINE).group(1)
    assert re.search(rf"^{head} \(head\)", out, re.MULTILINE), out


def test_user_create_reads_password_from_stdin(cli):
    result = cli.run("user", "create", "Nguyen.Lan", "--role", "enumerator", "--area", "01-00004",
                     "--password-stdin", stdin="mật khẩu rất dài 2026\n")
    assert result.returncode == 0, result.stderr
    assert re.search(r"created enumerator nguyen\.lan \([0-9a-f-]{36}\)", result.stdout), result.stdout
    tokens = cli.login("nguyen.lan", "mật khẩu rất dài 2026")
    assert tokens["status"] == 200, tokens
    assert tokens["user"]["role"] == "enumerator" and tokens["user"]["areas"] == ["01-00004"]
    assert cli.login("nguyen.lan", "mật khẩu rất dài 2026\n")["status"] == 401  # the newline is not part of it


@sqlite_only
def test_user_create_with_unknown_area_fails_clearly(cli):
    result = cli.run("user", "create", "lac.duong", "--role", "enumerator", "--area", "99-99999",
                     "--password-stdin", stdin="some long password\n")
    assert result.returncode != 0
    assert "99-99999" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert cli.login("lac.duong", "some long password")["status"] == 401


@sqlite_only
def test_user_create_refuses_password_without_stdin_flag(cli):
    result = cli.run("user", "create", "khong.co", "--role", "supervisor", "--area", "01-00004", stdin="pw\n")
    assert result.returncode == 2  # click usage error
    assert "--password-stdin" in result.stderr
    assert "Traceback" not in result.stderr


@sqlite_only
def test_user_create_refuses_unknown_role_and_duplicate(cli):
    bad_role = cli.run("user", "create", "ai.do", "--role", "boss", "--password-stdin", stdin="long password 1\n")
    assert bad_role.returncode == 2 and "boss" in bad_role.stderr
    cli.ok("user", "create", "trung.lap", "--role", "admin", "--password-stdin", stdin="long password 1\n")
    again = cli.run("user", "create", "trung.lap", "--role", "admin", "--password-stdin", stdin="long password 2\n")
    assert again.returncode != 0 and "Traceback" not in again.stderr
    assert "taken" in again.stderr.lower() or "exists" in again.stderr.lower(), again.stderr


def test_demo_prints_accounts_that_can_log_in(cli):
    out = cli.ok("demo")
    accounts = re.findall(r"^\s+(\w+)\s+(\S+)\s+password: (\S+)$", out, re.MULTILINE)
    assert {(role, name) for role, name, _ in accounts} == {
        ("admin", "admin"), ("supervisor", "giamsat"), ("enumerator", "rasoat1")}
    for role, username, password in accounts:
        tokens = cli.login(username, password)
        assert tokens["status"] == 200, (username, tokens)
        assert tokens["user"]["role"] == role
    assert cli.ok("demo") == out, "demo is idempotent and prints the same accounts"


def test_demo_refused_in_production(tmp_path):
    runner = Cli(f"sqlite:///{tmp_path / 'prod.sqlite3'}", tmp_path / "instance")
    production = {"RASOAT_ENV": "production", "SECRET_KEY": "p" * 48, "RASOAT_JWT_KEYS": "k1:" + "q" * 48}
    result = runner.run("demo", env=production)
    assert result.returncode != 0
    assert "production" in result.stderr, result.stderr
    assert "password:" not in result.stdout


def test_production_without_settings_refuses_to_start(tmp_path):
    runner = Cli(f"sqlite:///{tmp_path / 'prod.sqlite3'}", tmp_path / "instance")
    result = runner.run("init", env={"RASOAT_ENV": "production"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr or "DATABASE_URL" in result.stderr or "JWT" in result.stderr, result.stderr
    assert not (tmp_path / "instance" / "secret_key").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def test_serve_answers_health_checks(cli, tmp_path):
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(RASOAT), "serve", "--port", str(port), "--workers", "1"],
                                   stdout=log, stderr=subprocess.STDOUT, env=cli.env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                status, _, body = _get(f"{base}/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer in 60 s:\n" + log_path.read_text()[-3000:]
            time.sleep(0.2)
        assert json.loads(body) == {"status": "ok"}

        status, _, body = _get(f"{base}/readyz")
        assert status == 200, body
        assert json.loads(body)["status"] == "ready"

        status, headers, body = _get(f"{base}/api/v1/me", {"X-Request-ID": "cli-serve-probe-1"})
        probe_id = headers["X-Request-ID"]
        assert status == 401 and probe_id != "cli-serve-probe-1"  # the server makes its own
        assert json.loads(body)["request_id"] == probe_id
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - only when gunicorn hangs
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    # gunicorn runs the same structured logging: one JSON line per request, with its id.
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    probe = [line for line in lines if line.get("request_id") == probe_id]
    assert probe and probe[0]["path"] == "/api/v1/me" and probe[0]["status"] == 401, lines[-5:]
    assert probe[0]["client_request_id"] == "cli-serve-probe-1"
