"""Login, refresh rotation and reuse, logout, and token validation."""

from __future__ import annotations

import datetime as dt
import uuid

import jwt
import pytest
from support import bearer, problem

from conftest import TEST_KEYS


def test_login_returns_tokens_and_user(accounts, client):
    user = accounts.create("enumerator", ["01-00004-a"], username="Rasoat.Vien")
    tokens = accounts.login("rasoat.vien")  # usernames are case-insensitive
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert tokens["user"] == {**tokens["user"], "username": "rasoat.vien", "role": "enumerator",
                              "areas": ["01-00004-a"], "id": str(user.id)}
    me = client.get("/api/v1/me", headers=bearer(tokens))
    assert me.status_code == 200
    assert me.get_json()["areas"] == ["01-00004-a"]


def test_unknown_user_and_wrong_password_answer_alike(accounts, client):
    accounts.create("supervisor", ["01-00004"], username="giamsat1")
    wrong = client.post("/api/v1/auth/login", json={"username": "giamsat1", "password": "nope-nope-nope"})
    unknown = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope-nope-nope"})
    a, b = problem(wrong, 401, "auth.invalid_credentials"), problem(unknown, 401, "auth.invalid_credentials")
    assert a["detail"] == b["detail"]


def test_deactivated_user_cannot_log_in(accounts, client):
    accounts.create("enumerator", ["01-00004-a"], username="nghiviec", active=False)
    problem(client.post("/api/v1/auth/login", json={"username": "nghiviec", "password": "correct horse battery"}),
            401, "auth.invalid_credentials")


def test_refresh_rotates_and_reuse_revokes_the_family(accounts, client):
    accounts.create("enumerator", ["01-00004-a"], username="xoay")
    first = accounts.login("xoay", device_id="phone-1")
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200
    third = third.get_json()

    # The first token presented again, its pair used since (no retry, whatever the grace window):
    # reuse. The whole family dies, including the newest pair.
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}),
            401, "auth.refresh_reused")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]}),
            401, "auth.invalid_token")
    problem(client.get("/api/v1/me", headers=bearer(third)), 401, "auth.invalid_token")


def test_refresh_bound_to_its_device(accounts, client):
    accounts.create("enumerator", ["01-00004-a"], username="mayrieng")
    tokens = accounts.login("mayrieng", device_id="phone-7")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"], "device_id": "phone-8"}),
            401, "auth.invalid_token")
    ok = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"], "device_id": "phone-7"})
    assert ok.status_code == 200


def test_logout_ends_access_and_refresh(accounts, client):
    accounts.create("supervisor", ["01-00004"], username="dangxuat")
    tokens = accounts.login("dangxuat")
    assert client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    problem(client.get("/api/v1/me", headers=bearer(tokens)), 401, "auth.invalid_token")
    problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    # Logging out twice is harmless.
    assert client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204


def _claims(tokens: dict) -> dict:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})


def _forge(claims: dict, *, key: str = TEST_KEYS["t1"], kid: str = "t1", alg: str = "HS256", **changes) -> dict:
    claims = {**claims, **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=alg, headers={'kid': kid})}"}


@pytest.fixture()
def valid(accounts):
    accounts.create("admin", [], username="quantri")
    return _claims(accounts.login("quantri"))


def test_a_well_formed_token_is_accepted(client, valid):
    assert client.get("/api/v1/me", headers=_forge(valid)).status_code == 200


def test_token_signed_with_the_second_key_of_the_ring_is_accepted(client, valid):
    # Rotation: tokens signed by any key still in the ring stay valid.
    assert client.get("/api/v1/me", headers=_forge(valid, key=TEST_KEYS["t2"], kid="t2")).status_code == 200


@pytest.mark.parametrize("case", ["expired", "not_yet_valid", "wrong_audience", "wrong_issuer", "forged",
                                  "unknown_kid", "alg_none", "missing_jti", "missing_exp", "bad_sub",
                                  "key_of_other_kid", "garbage"])
def test_bad_tokens_are_refused(client, valid, case):
    now = int(dt.datetime.now(dt.UTC).timestamp())
    if case == "expired":
        headers = _forge(valid, exp=now - 60, iat=now - 1000, nbf=now - 1000)
    elif case == "not_yet_valid":
        headers = _forge(valid, nbf=now + 3600, exp=now + 7200)
    elif case == "wrong_audience":
        headers = _forge(valid, aud="someone-else")
    elif case == "wrong_issuer":
        headers = _forge(valid, iss="evil")
    elif case == "forged":
        headers = _forge(valid, key="an-attacker-key-0123456789abcdef0123456789")
    elif case == "unknown_kid":
        headers = _forge(valid, kid="t9")
    elif case == "key_of_other_kid":
        headers = _forge(valid, key=TEST_KEYS["t2"], kid="t1")
    elif case == "alg_none":
        header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT","kid":"t1"}').decode()
        body = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(valid).encode()).decode()
        headers = {"Authorization": f"Bearer {header}.{body}."}
    elif case == "missing_jti":
        headers = _forge(valid, jti=None)
    elif case == "missing_exp":
        headers = _forge(valid, exp=None)
    elif case == "bad_sub":
        headers = _forge(valid, sub=str(uuid.uuid4()))
    else:
        headers = {"Authorization": "Bearer not.a.token"}
    body = problem(client.get("/api/v1/me", headers=headers), 401, "auth.invalid_token")
    assert "Bearer" in client.get("/api/v1/me", headers=headers).headers.get("WWW-Authenticate", "Bearer")
    assert body["detail"]


def test_missing_or_non_bearer_authorization(client):
    problem(client.get("/api/v1/me"), 401, "auth.required")
    problem(client.get("/api/v1/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}), 401, "auth.required")


def test_refresh_slides_the_sessions_expiry(app, accounts, client):
    import sqlalchemy as sa

    from server.db import db
    from server.models import AuthSession

    user = accounts.create("enumerator", ["01-00004-a"])
    tokens = accounts.login(user.username, device_id="slide-1")
    with app.app_context():
        session = db.session.execute(sa.select(AuthSession).where(AuthSession.user_id == user.id)).scalar_one()
        session.expires_at = session.created_at + dt.timedelta(seconds=5)  # about to end
        db.session.commit()
        sid = session.id
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 200
    with app.app_context():
        expires = db.session.get(AuthSession, sid).expires_at
    assert expires - dt.datetime.now(dt.UTC) > dt.timedelta(days=29)
