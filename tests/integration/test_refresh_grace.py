"""The refresh grace window: a refresh token presented again soon after its use (a retry after
a lost answer on 2G, two refreshes racing) gets the same new pair instead of ending the session;
later, or once that pair is used, it is reuse and ends the family as before."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os

import pytest
import sqlalchemy as sa
from support import VILLAGE_A, bearer, problem
from support.live import LiveServer, fresh_database

from server.models import AuditEntry, RefreshToken
from server.security.tokens import hash_refresh_token

REFRESH = "/api/v1/auth/refresh"


def refresh(client, token, **extra):
    return client.post(REFRESH, json={"refresh_token": token, **extra})


@pytest.fixture()
def tokens(accounts):
    accounts.create("enumerator", [VILLAGE_A], username="songyeu")
    return accounts.login("songyeu", device_id="grace-1")


def age_use(transaction, token: str, seconds: float) -> None:
    """Pretend the token was used ``seconds`` ago."""
    transaction.execute(sa.update(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token))
                        .values(used_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)))


def test_a_retry_within_the_window_gets_the_same_pair_and_the_session_lives(client, app, tokens, transaction):
    first = refresh(client, tokens["refresh_token"], device_id="grace-1")
    assert first.status_code == 200
    first = first.get_json()
    age_use(transaction, tokens["refresh_token"], app.config["REFRESH_GRACE_SECONDS"] - 2)
    again = refresh(client, tokens["refresh_token"], device_id="grace-1")
    assert again.status_code == 200, again.get_json()
    again = again.get_json()
    assert (again["access_token"], again["refresh_token"]) == (first["access_token"], first["refresh_token"])
    assert 0 < again["expires_in"] <= first["expires_in"]
    assert client.get("/api/v1/me", headers=bearer(again)).status_code == 200
    # The pair works on: the session was never ended.
    third = refresh(client, again["refresh_token"], device_id="grace-1")
    assert third.status_code == 200
    assert client.get("/api/v1/me", headers=bearer(third.get_json())).status_code == 200
    # The retry is audited.
    retries = transaction.execute(sa.select(AuditEntry.action).where(AuditEntry.action == "auth.refresh_retry")).all()
    assert len(retries) == 1


def test_after_the_window_reuse_still_ends_the_family(client, app, tokens, transaction):
    first = refresh(client, tokens["refresh_token"]).get_json()
    age_use(transaction, tokens["refresh_token"], app.config["REFRESH_GRACE_SECONDS"] + 1)
    problem(refresh(client, tokens["refresh_token"]), 401, "auth.refresh_reused")
    problem(refresh(client, first["refresh_token"]), 401, "auth.invalid_token")
    problem(client.get("/api/v1/me", headers=bearer(first)), 401, "auth.invalid_token")


def test_within_the_window_once_the_new_pair_is_used_it_is_reuse(client, tokens):
    first = refresh(client, tokens["refresh_token"]).get_json()
    second = refresh(client, first["refresh_token"]).get_json()
    problem(refresh(client, tokens["refresh_token"]), 401, "auth.refresh_reused")
    problem(client.get("/api/v1/me", headers=bearer(second)), 401, "auth.invalid_token")


def test_a_retry_from_another_device_is_reuse(client, tokens):
    first = refresh(client, tokens["refresh_token"], device_id="grace-1").get_json()
    problem(refresh(client, tokens["refresh_token"], device_id="grace-2"), 401, "auth.refresh_reused")
    problem(client.get("/api/v1/me", headers=bearer(first)), 401, "auth.invalid_token")


def test_a_window_of_zero_turns_the_grace_off(client, config, tokens):
    config["REFRESH_GRACE_SECONDS"] = 0
    first = refresh(client, tokens["refresh_token"]).get_json()
    problem(refresh(client, tokens["refresh_token"]), 401, "auth.refresh_reused")
    problem(client.get("/api/v1/me", headers=bearer(first)), 401, "auth.invalid_token")


def test_a_logged_out_session_gets_nothing_in_the_window(client, tokens):
    first = refresh(client, tokens["refresh_token"]).get_json()
    assert client.post("/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]}).status_code == 204
    problem(refresh(client, tokens["refresh_token"]), 401)


def test_the_database_holds_no_token_in_clear_and_only_the_latest_pair_sealed(client, tokens, transaction):
    first = refresh(client, tokens["refresh_token"]).get_json()
    second = refresh(client, first["refresh_token"]).get_json()
    hashes = {hash_refresh_token(t["refresh_token"]) for t in (tokens, first, second)}
    session_rows = transaction.execute(sa.select(RefreshToken.token_hash, RefreshToken.successor_sealed)
                                       .where(RefreshToken.token_hash.in_(hashes))).all()
    assert len(session_rows) == 3
    sealed = [r.successor_sealed for r in session_rows if r.successor_sealed is not None]
    assert len(sealed) == 1  # the latest rotation's; earlier ones were cleared
    for blob in sealed:
        for secret in (second["refresh_token"], second["access_token"], first["refresh_token"]):
            assert secret.encode() not in blob
            assert secret.encode()[:16] not in blob


def test_a_tampered_seal_is_refused_as_reuse(client, tokens, transaction):
    first = refresh(client, tokens["refresh_token"]).get_json()
    key = hash_refresh_token(tokens["refresh_token"])
    blob = transaction.execute(sa.select(RefreshToken.successor_sealed).where(RefreshToken.token_hash == key)).scalar()
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    transaction.execute(sa.update(RefreshToken).where(RefreshToken.token_hash == key).values(successor_sealed=flipped))
    problem(refresh(client, tokens["refresh_token"]), 401, "auth.refresh_reused")
    problem(client.get("/api/v1/me", headers=bearer(first)), 401, "auth.invalid_token")


# --- a real race: several refreshes with one token at once, through gunicorn -----------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    directory = tmp_path_factory.mktemp("grace")
    with fresh_database(os.environ.get("TEST_DATABASE_URL"), directory) as url:
        server = LiveServer(url, workers=2, threads=4, directory=directory / "server")
        server.cli("init")
        server.cli("user", "create", "duadua", "--role", "enumerator", "--area", "01-00004",
                   "--password-stdin", input="correct horse battery\n")
        with server:
            yield server


def test_racing_refreshes_all_get_the_one_new_pair_and_the_session_lives(live):
    login = live.request("POST", "/api/v1/auth/login", json_body={
        "username": "duadua", "password": "correct horse battery", "device_id": "race-1"})
    assert login.status == 200, login.body
    token = login.json()["refresh_token"]

    def attempt(_):
        return live.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": token, "device_id": "race-1"})

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(attempt, range(6)))
    assert [a.status for a in answers] == [200] * 6, [a.body for a in answers]
    pairs = {(a.json()["access_token"], a.json()["refresh_token"]) for a in answers}
    assert len(pairs) == 1
    [(access, new_refresh)] = pairs
    assert live.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {access}"}).status == 200
    renewed = live.request("POST", "/api/v1/auth/refresh", json_body={"refresh_token": new_refresh,
                                                                       "device_id": "race-1"})
    assert renewed.status == 200, renewed.body
    assert live.request("GET", "/api/v1/me", headers={
        "Authorization": f"Bearer {renewed.json()['access_token']}"}).status == 200
