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



def pair_key(app, username: str, address: str = "198.51.100.1") -> str:
    from server.services.sessions import pair_throttle_key

    return pair_throttle_key(username, address)


def test_username_is_locked_from_an_address_after_the_limit_even_with_the_right_password(app, client, accounts):
    limit, window = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"], app.config["LOGIN_WINDOW_SECONDS"]
    accounts.create("enumerator", [VILLAGE_A], username="doanmo")
    for _ in range(limit):
        problem(_login(client, "doanmo", WRONG), 401, "auth.invalid_credentials")
    _assert_rate_limited(_login(client, "doanmo", PASSWORD), window)
    # Whatever case it is typed in.
    _assert_rate_limited(_login(client, "DoanMo", PASSWORD), window)
    # Other users are not affected, from the same address either.
    accounts.create("enumerator", [VILLAGE_A], username="nguoikhac")
    assert _login(client, "nguoikhac", PASSWORD).status_code == 200


def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(app, client, accounts):
    """Six anonymous requests used to lock any username out for the whole window, from everywhere."""
    limit, window = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"], app.config["LOGIN_WINDOW_SECONDS"]
    accounts.create("enumerator", [VILLAGE_A], username="bikhoa")
    for _ in range(limit + 1):
        _login(client, "bikhoa", WRONG, address="203.0.113.66")
    _assert_rate_limited(_login(client, "bikhoa", PASSWORD, address="203.0.113.66"), window)
    # The owner, at the commune office, logs in as usual.
    assert _login(client, "bikhoa", PASSWORD, address="198.51.100.20").status_code == 200


def test_the_usernames_ceiling_stops_guesses_spread_over_many_addresses(app, client, accounts, config):
    config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"] = 2
    config["LOGIN_MAX_FAILURES_PER_USERNAME"] = 6
    window = config["LOGIN_WINDOW_SECONDS"]
    accounts.create("enumerator", [VILLAGE_A], username="phantan")
    for i in range(6):  # two addresses' worth each time: no pair reaches its limit... together they do
        problem(_login(client, "phantan", WRONG, address=f"203.0.113.{100 + i // 2}"), 401,
                "auth.invalid_credentials")
    # The ceiling holds from every address, even a new one, even with the right password.
    _assert_rate_limited(_login(client, "phantan", WRONG, address="203.0.113.150"), window)
    _assert_rate_limited(_login(client, "phantan", PASSWORD, address="198.51.100.30"), window)
    # Other usernames are not affected.
    accounts.create("enumerator", [VILLAGE_A], username="phantan2")
    assert _login(client, "phantan2", PASSWORD, address="203.0.113.150").status_code == 200


def test_a_success_does_not_reset_the_usernames_ceiling(app, client, accounts, config):
    config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"] = 3
    config["LOGIN_MAX_FAILURES_PER_USERNAME"] = 4
    accounts.create("enumerator", [VILLAGE_A], username="khongxoa")
    for i in range(3):
        problem(_login(client, "khongxoa", WRONG, address=f"203.0.113.{160 + i}"), 401, "auth.invalid_credentials")
    assert _login(client, "khongxoa", PASSWORD, address="198.51.100.40").status_code == 200
    problem(_login(client, "khongxoa", WRONG, address="203.0.113.170"), 401, "auth.invalid_credentials")
    # Four failures in the window: the owner's success in between did not wipe the guesser's count.
    _assert_rate_limited(_login(client, "khongxoa", WRONG, address="203.0.113.171"), config["LOGIN_WINDOW_SECONDS"])


def test_a_login_name_cannot_name_another_users_counter(app, client, accounts, config):
    """The counters are keyed so that no typed name reaches another user's pair counter."""
    config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"] = 2
    accounts.create("enumerator", [VILLAGE_A], username="nannhan2")
    for i in range(6):
        _login(client, "nannhan2|addr:198.51.100.1", WRONG, address=f"203.0.113.{200 + i}")
        _login(client, "user:nannhan2|addr:198.51.100.1", WRONG, address=f"203.0.113.{200 + i}")
    assert _login(client, "nannhan2", PASSWORD).status_code == 200


def test_failures_before_the_limit_are_forgiven_by_a_success(app, client, accounts):
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    accounts.create("enumerator", [VILLAGE_A], username="quenmatkhau")
    for _ in range(limit - 1):
        problem(_login(client, "quenmatkhau", WRONG), 401, "auth.invalid_credentials")
    assert _login(client, "quenmatkhau", PASSWORD).status_code == 200
    for _ in range(limit - 1):  # the count started again
        problem(_login(client, "quenmatkhau", WRONG), 401, "auth.invalid_credentials")
    assert _login(client, "quenmatkhau", PASSWORD).status_code == 200


def test_unknown_usernames_are_throttled_too(app, client):
    limit, window = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"], app.config["LOGIN_WINDOW_SECONDS"]
    for _ in range(limit):
        problem(_login(client, "khongco", WRONG), 401, "auth.invalid_credentials")
    _assert_rate_limited(_login(client, "khongco", WRONG), window)


def test_the_window_expiring_lets_the_user_in_again(app, client, accounts, transaction):
    limit, window = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"], app.config["LOGIN_WINDOW_SECONDS"]
    key = pair_key(app, "chodoi")
    accounts.create("enumerator", [VILLAGE_A], username="chodoi")
    for _ in range(limit):
        _login(client, "chodoi", WRONG)
    _assert_rate_limited(_login(client, "chodoi", PASSWORD), window)

    # Half the window later: still locked, and Retry-After says how long is left.
    half = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=window // 2)
    transaction.execute(sa.update(LoginThrottle).where(LoginThrottle.key == key).values(window_start=half))
    retry = _assert_rate_limited(_login(client, "chodoi", PASSWORD), window)
    assert retry <= window - window // 2 + 1

    # The window is over.
    over = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=window + 1)
    transaction.execute(sa.update(LoginThrottle).where(LoginThrottle.key == key).values(window_start=over))
    assert _login(client, "chodoi", PASSWORD).status_code == 200
    assert transaction.execute(sa.select(LoginThrottle.key).where(LoginThrottle.key == key)).first() is None


def test_a_failure_after_the_window_starts_a_new_one(app, client, accounts, transaction):
    limit = app.config["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]
    key = pair_key(app, "cuasomoi")
    accounts.create("enumerator", [VILLAGE_A], username="cuasomoi")
    for _ in range(limit):
        _login(client, "cuasomoi", WRONG)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=app.config["LOGIN_WINDOW_SECONDS"] + 1)
    transaction.execute(sa.update(LoginThrottle).where(LoginThrottle.key == key).values(window_start=old))
    problem(_login(client, "cuasomoi", WRONG), 401, "auth.invalid_credentials")
    failures, start = transaction.execute(
        sa.select(LoginThrottle.failures, LoginThrottle.window_start).where(LoginThrottle.key == key)
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


LIVE_ENV = {"RASOAT_LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS": str(LIMIT)}


@pytest.fixture(scope="module")
def live_database(tmp_path_factory):
    """A fresh database (SQLite file, or a throwaway PostgreSQL database) made by ``rasoat init``."""
    directory = tmp_path_factory.mktemp("live")
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), directory) as url:
        setup = LiveServer(url, env=LIVE_ENV, directory=directory / "setup")
        setup.cli("init")
        for name in ("cheo", "songsong", "xaxa"):
            setup.cli("user", "create", name, "--role", "enumerator", "--area", COMMUNE_X,
                      "--password-stdin", input=f"{PASSWORD}\n")
        yield url, directory


SLOW_BOOT_TIMEOUT = 180


def _live_login(live, username: str, password: str):
    # Workers that live one request each are rebooted between attempts: on a loaded machine a
    # boot takes tens of seconds, which is slow, not wrong.
    return live.request("POST", "/api/v1/auth/login", json_body={"username": username, "password": password},
                        timeout=SLOW_BOOT_TIMEOUT)


def test_the_limit_holds_across_gunicorn_workers(live_database):
    url, directory = live_database
    # Two workers, each replaced after (about) one request: the attempts meet different processes,
    # so only a count shared through the database can say 429 on time.
    with LiveServer(url, env=LIVE_ENV, workers=2, directory=directory / "one-request-workers",
                    gunicorn_args=("--max-requests", "1"), startup_timeout=SLOW_BOOT_TIMEOUT) as live:
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


def test_the_pair_lockout_and_the_ceiling_hold_across_gunicorn_workers(live_database):
    """Behind a trusted proxy (X-Forwarded-For names the address): a lockout from one address
    leaves another alone, and the username's ceiling, counted by every worker, stops guesses from
    many addresses, in processes that each saw only some of them."""
    url, directory = live_database
    env = {**LIVE_ENV, "RASOAT_LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS": "2",
           "RASOAT_LOGIN_MAX_FAILURES_PER_USERNAME": "5", "RASOAT_TRUSTED_PROXIES": "1"}

    def attempt(live, password: str, address: str) -> int:
        return live.request("POST", "/api/v1/auth/login", json_body={"username": "xaxa", "password": password},
                            headers={"X-Forwarded-For": address}, timeout=SLOW_BOOT_TIMEOUT).status

    with LiveServer(url, env=env, workers=2, directory=directory / "pairs",
                    gunicorn_args=("--max-requests", "1"), startup_timeout=SLOW_BOOT_TIMEOUT) as live:
        assert [attempt(live, WRONG, "203.0.113.1") for _ in range(3)] == [401, 401, 429]
        assert attempt(live, PASSWORD, "203.0.113.1") == 429  # that address is locked out of "xaxa"
        assert attempt(live, PASSWORD, "198.51.100.7") == 200  # the owner elsewhere is not
        # Two failures so far count towards the ceiling of 5 (refusals count nowhere: a locked-out
        # address hammering on must not use up the owner's ceiling).
        assert [attempt(live, WRONG, f"203.0.113.{n}") for n in (2, 3, 4)] == [401, 401, 401]
        assert attempt(live, PASSWORD, "198.51.100.8") == 429
        lines = live.access_log(LOGIN_LINE, at_least=9)
        assert len({pid for pid, _, _ in lines}) >= 2, lines
