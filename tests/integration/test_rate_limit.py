"""Login throttling: per username, per address, the window, and across gunicorn workers."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os

import pytest
import sqlalchemy as sa
from support import COMMUNE_X, VILLAGE_A, problem
from support.live import LiveServer, fresh_database

from server.models import LoginThrottle

PASSWORD = "correct horse battery"
WRONG = "not the password"


def _login(client, username: str, password: str, address: str = "198.51.100.1"):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _assert_rate_limited(response, window: int) -> int:
    body = problem(response, 429, "request.rate_limited")
    retry = response.headers["Retry-After"]
    assert retry.isdigit(), retry
    assert 0 < int(retry) <= window
    assert body["retry_after"] == int(retry)
    assert "access_token" not in body
    return int(retry)



def test_username_is_locked_after_the_limit_even_with_the_right_password(app, client, accounts):
    limit, window = app.config["LOGIN_MAX_FAILURES_PER_USERNAME"], app.config["LOGIN_WINDOW_SECONDS"]
    accounts.create("enumerator", [VILLAGE_A], username="doanmo")
    for _ in range(limit):
        problem(_login(client, "doanmo", WRONG), 401, "auth.invalid_credentials")
    _assert_rate_limited(_login(client, "doanmo", PASSWORD), window)
    # The lock is on the username, from any address, and whatever case it is typed in.
    _assert_rate_limited(_login(client, "DoanMo", PASSWORD, address="203.0.113.9"), window)
    # Other users are not affected.
    accounts.create("enumerator", [VILLAGE_A], username="nguoikhac")
    assert _login(client, "nguoikhac", PASSWORD).status_code == 200


def test_failures_before_the_limit_are_forgiven_by_a_success(app, client, accounts):
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME"]
    accounts.create("enumerator", [VILLAGE_A], username="quenmatkhau")
    for _ in range(limit - 1):
        problem(_login(client, "quenmatkhau", WRONG), 401, "auth.invalid_credentials")
    assert _login(client, "quenmatkhau", PASSWORD).status_code == 200
    for _ in range(limit - 1):  # the count started again
        problem(_login(client, "quenmatkhau", WRONG), 401, "auth.invalid_credentials")
    assert _login(client, "quenmatkhau", PASSWORD).status_code == 200


def test_unknown_usernames_are_throttled_too(app, client):
    limit, window = app.config["LOGIN_MAX_FAILURES_PER_USERNAME"], app.config["LOGIN_WINDOW_SECONDS"]
    for _ in range(limit):
        problem(_login(client, "khongco", WRONG), 401, "auth.invalid_credentials")
    _assert_rate_limited(_login(client, "khongco", WRONG), window)


def test_the_window_expiring_lets_the_user_in_again(app, client, accounts, transaction):
    limit, window = app.config["LOGIN_MAX_FAILURES_PER_USERNAME"], app.config["LOGIN_WINDOW_SECONDS"]
    accounts.create("enumerator", [VILLAGE_A], username="chodoi")
    for _ in range(limit):
        _login(client, "chodoi", WRONG)
    _assert_rate_limited(_login(client, "chodoi", PASSWORD), window)

    # Half the window later: still locked, and Retry-After says how long is left.
    half = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=window // 2)
    transaction.execute(sa.update(LoginThrottle).where(LoginThrottle.key == "user:chodoi").values(window_start=half))
    retry = _assert_rate_limited(_login(client, "chodoi", PASSWORD), window)
    assert retry <= window - window // 2 + 1

    # The window is over.
    over = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=window + 1)
    transaction.execute(sa.update(LoginThrottle).where(LoginThrottle.key == "user:chodoi").values(window_start=over))
    assert _login(client, "chodoi", PASSWORD).status_code == 200
    assert transaction.execute(sa.select(LoginThrottle.key).where(LoginThrottle.key == "user:chodoi")).first() is None


def test_a_failure_after_the_window_starts_a_new_one(app, client, accounts, transaction):
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME"]
    accounts.create("enumerator", [VILLAGE_A], username="cuasomoi")
    for _ in range(limit):
        _login(client, "cuasomoi", WRONG)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=app.config["LOGIN_WINDOW_SECONDS"] + 1)
    transaction.execute(sa.update(LoginThrottle).where(LoginThrottle.key == "user:cuasomoi").values(window_start=old))
    problem(_login(client, "cuasomoi", WRONG), 401, "auth.invalid_credentials")
    failures, start = transaction.execute(
        sa.select(LoginThrottle.failures, LoginThrottle.window_start).where(LoginThrottle.key == "user:cuasomoi")
    ).one()
    assert failures == 1
    assert start.replace(tzinfo=dt.UTC) > old + dt.timedelta(seconds=1)


def test_address_is_locked_after_many_usernames(app, client, accounts, config):
    config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 4
    window = config["LOGIN_WINDOW_SECONDS"]
    accounts.create("supervisor", [COMMUNE_X], username="nannhan")
    for i in range(4):  # a different username each time: no username reaches its own limit
        problem(_login(client, f"doan-{i}", WRONG, address="203.0.113.50"), 401, "auth.invalid_credentials")
    _assert_rate_limited(_login(client, "nannhan", PASSWORD, address="203.0.113.50"), window)
    _assert_rate_limited(_login(client, "doan-9", WRONG, address="203.0.113.50"), window)
    # The same user from another address is fine: the lock is on the address.
    assert _login(client, "nannhan", PASSWORD, address="203.0.113.51").status_code == 200


def test_successful_logins_do_not_use_up_the_address(app, client, accounts, config):
    # An office behind one NAT address: many people logging in must not lock it.
    config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 2
    accounts.create("enumerator", [VILLAGE_A], username="vanphong")
    for _ in range(5):
        assert _login(client, "vanphong", PASSWORD, address="203.0.113.60").status_code == 200
    problem(_login(client, "vanphong", WRONG, address="203.0.113.60"), 401, "auth.invalid_credentials")
    assert _login(client, "vanphong", PASSWORD, address="203.0.113.60").status_code == 200


# --- across processes: a real gunicorn with two workers ------------------------------------------

LIMIT = 3
LOGIN_LINE = "POST /api/v1/auth/login "


LIVE_ENV = {"RASOAT_LOGIN_MAX_FAILURES_PER_USERNAME": str(LIMIT)}


@pytest.fixture(scope="module")
def live_database(tmp_path_factory):
    """A fresh database (SQLite file, or a throwaway PostgreSQL database) made by ``rasoat init``."""
    directory = tmp_path_factory.mktemp("live")
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), directory) as url:
        setup = LiveServer(url, env=LIVE_ENV, directory=directory / "setup")
        setup.cli("init")
        for name in ("cheo", "songsong"):
            setup.cli("user", "create", name, "--role", "enumerator", "--area", COMMUNE_X,
                      "--password-stdin", input=f"{PASSWORD}\n")
        yield url, directory


def _live_login(live, username: str, password: str):
    return live.request("POST", "/api/v1/auth/login", json_body={"username": username, "password": password})


def test_the_limit_holds_across_gunicorn_workers(live_database):
    url, directory = live_database
    # Two workers, each replaced after (about) one request: the attempts meet different processes,
    # so only a count shared through the database can say 429 on time.
    with LiveServer(url, env=LIVE_ENV, workers=2, directory=directory / "one-request-workers",
                    gunicorn_args=("--max-requests", "1")) as live:
        statuses = [_live_login(live, "cheo", WRONG).status for _ in range(LIMIT)]
        assert statuses == [401] * LIMIT
        locked = _live_login(live, "cheo", PASSWORD)
        assert locked.status == 429, locked.body
        assert locked.headers["content-type"] == "application/problem+json"
        assert locked.json()["code"] == "request.rate_limited"
        assert locked.headers["retry-after"].isdigit() and int(locked.headers["retry-after"]) > 0
        assert locked.json()["retry_after"] == int(locked.headers["retry-after"])

        lines = live.access_log(LOGIN_LINE, at_least=LIMIT + 1)
        assert [status for _, status, _ in lines] == [401] * LIMIT + [429]
        # The process that refused had itself seen fewer than LIMIT of the failures (usually none):
        # the count it acted on came from the other processes, through the database.
        refuser = lines[LIMIT][0]
        assert sum(1 for pid, _, _ in lines[:LIMIT] if pid == refuser) < LIMIT, lines
        assert len({pid for pid, _, _ in lines}) >= 2, lines


def test_parallel_guesses_get_no_more_than_the_limit(live_database):
    """A burst of simultaneous wrong passwords: exactly LIMIT are checked, the rest are refused,
    none fails with a 5xx (two first failures racing to create the counter)."""
    url, directory = live_database
    with LiveServer(url, env=LIVE_ENV, workers=2, directory=directory / "parallel") as live:
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(lambda _: _live_login(live, "songsong", WRONG).status, range(12)))
        assert sorted(statuses) == [401] * LIMIT + [429] * (12 - LIMIT), statuses
        assert len(live.worker_pids()) == 2
