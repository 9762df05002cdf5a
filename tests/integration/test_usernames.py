"""New usernames are NFC ASCII from a small set (no look-alikes, zero-width or right-to-left
characters); usernames stored before the rule still log in."""

from __future__ import annotations

import unicodedata

import pytest
import sqlalchemy as sa
from support import VILLAGE_A, problem

from server.db import db
from server.errors import Problem
from server.models import User
from server.scoping import Scope
from server.security.passwords import hash_password
from server.services.users import create_user
from server.text import USERNAME_PATTERN, new_username

PASSWORD = "correct horse battery"


@pytest.fixture()
def admin(accounts) -> dict:
    return accounts.headers("admin")


def _create(client, headers, username):
    return client.post("/api/v1/users", headers=headers, json={
        "username": username, "password": PASSWORD, "role": "enumerator", "areas": [VILLAGE_A]})


def _users(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one()


REFUSED = {
    "cyrillic a": "\u0430dmin",
    "greek omicron": "r\u03bfot",
    "zero-width space": "ad\u200bmin",
    "zero-width joiner": "admin\u200d",
    "right-to-left override": "adm\u202enig",
    "right-to-left mark": "\u200fadmin",
    "full-width": "\uff41\uff44\uff4d\uff49\uff4e",
    "long s (folds to s)": "\u017fam",
    "ligature (folds to fi)": "\ufb01nance",
    "vietnamese": "hoà.nt",
    "vietnamese nfd": unicodedata.normalize("NFD", "hoà.nt"),
    "space inside": "nguyen van",
    "colon": "a:b",
    "at sign": "ai@xa",
    "slash": "a/b",
    "leading dot": ".admin",
    "trailing dash": "admin-",
    "two characters": "ab",
    "65 characters": "a" * 65,
    "nul": "adm\x00in",
    "empty": "",
}


@pytest.mark.parametrize("username", list(REFUSED.values()), ids=list(REFUSED))
def test_look_alike_invisible_and_foreign_usernames_are_refused(app, client, admin, username):
    before = _users(app)
    body = problem(_create(client, admin, username), 422, "request.invalid")
    assert [e["path"] for e in body["errors"]] == ["username"], body
    assert _users(app) == before


def test_the_error_suggests_the_ascii_spelling(client, admin):
    body = problem(_create(client, admin, "Nguyễn Thị Hoà"), 422, "request.invalid")
    assert "'nguyen.thi.hoa'" in body["errors"][0]["message"]
    assert _create(client, admin, "nguyen.thi.hoa").status_code == 201


@pytest.mark.parametrize(("typed", "stored"), [
    ("Rasoat.Vien", "rasoat.vien"), ("  giamsat_2  ", "giamsat_2"), ("a-b", "a-b"), ("x" * 64, "x" * 64),
    ("001", "001"),
])
def test_ascii_usernames_are_stored_lower_case(client, admin, typed, stored):
    response = _create(client, admin, typed)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["username"] == stored
    login = client.post("/api/v1/auth/login", json={"username": typed.upper(), "password": PASSWORD})
    assert login.status_code == 200, login.get_json()


def test_every_caller_of_the_service_gets_the_rule(app, transaction):
    # The CLI (`rasoat user create`) and the demo accounts call the service, not the API.
    with app.app_context():
        with pytest.raises(Problem) as info:
            create_user(Scope(None), username="\u0430dmin", password=PASSWORD, role="admin", areas=[])
        assert info.value.errors[0]["path"] == "username"


def test_the_demo_accounts_follow_the_rule():
    from server.cli import DEMO_ACCOUNTS

    for username, *_ in DEMO_ACCOUNTS:
        assert new_username(username) == username


def test_the_published_pattern_is_the_rule(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    create = next(s for name, s in schemas.items() if name.startswith("UserCreate"))
    assert create["properties"]["username"]["pattern"] == USERNAME_PATTERN


@pytest.mark.parametrize("legacy", ["hoà.nt", "\u0430dmin", "ab", "ngô bảo"])
def test_usernames_stored_before_the_rule_still_log_in(app, client, legacy):
    """Only creating a user is restricted (there is no rename): existing accounts keep working,
    typed in NFC or NFD and in any case."""
    with app.app_context():
        db.session.add(User(username=legacy, password_hash=hash_password(PASSWORD), role="enumerator",
                            display_name="", active=True))
        db.session.commit()
    for typed in {legacy, legacy.upper(), unicodedata.normalize("NFD", legacy.upper()), f" {legacy} "}:
        response = client.post("/api/v1/auth/login", json={"username": typed, "password": PASSWORD})
        assert response.status_code == 200, (typed, response.get_json())
