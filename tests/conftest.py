"""Test fixtures: a real database (SQLite by default, PostgreSQL when TEST_DATABASE_URL is
set), migrated once per session; each test runs inside an outer transaction that is rolled
back, with the app's commits turned into savepoints (conventions, trap 2)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from server import create_app
from server.cli import initialise
from server.db import db
from server.scoping import Scope
from server.services.areas import create_village, set_area_type
from server.services.users import create_user

TEST_KEYS = {"t1": "test-key-one-0123456789abcdef0123456789", "t2": "test-key-two-0123456789abcdef0123456789"}


def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def test_config(url: str, instance: Path) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
        "JWT_KEYS": TEST_KEYS,
        "JWT_ACTIVE_KID": "t1",
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 8,
        "ARGON2_PARALLELISM": 1,
        "LOG_LEVEL": "WARNING",
        "ATTACHMENTS_DIR": str(instance / "attachments"),
        "TESTING": True,
    }


def reset_database(url: str) -> None:
    """Start from an empty database (the PostgreSQL one is a throwaway made by .ci/run)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def db_url(tmp_path_factory) -> str:
    return database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def app(db_url, tmp_path_factory):
    reset_database(db_url)
    application = create_app(test_config(db_url, tmp_path_factory.mktemp("instance")))
    with application.app_context():
        initialise()
        # Fixed areas every test may use: two villages in one commune, one in another province.
        for parent, code, name in (("01-00004", "a", "Thôn A"), ("01-00004", "b", "Thôn B"),
                                   ("01-00008", "c", "Thôn C"), ("79-25747", "d", "Ấp D")):
            create_village(Scope(None), parent=parent, code=code, name=name)
        # Officially these communes are urban wards; the tests' households are rural ones.
        for commune in ("01-00004", "01-00008", "79-25747"):
            set_area_type(Scope(None), commune, "rural", dt.date(2025, 7, 1))
        # When a test binds the session to a connection inside an outer transaction, the
        # app's commits become savepoints (see `transaction`).
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture()
def transaction(app) -> Iterator[sa.Connection]:
    """Everything a test writes is rolled back at the end.

    No app context is held during the test: each request gets its own, so nothing in
    ``flask.g`` (the authenticated user, say) leaks from one request to the next.
    """
    engines = db._app_engines[app]
    engine = engines[None]
    connection = engine.connect()
    outer = connection.begin()
    engines[None] = connection
    try:
        yield connection
    finally:
        engines[None] = engine
        outer.rollback()
        connection.close()


@pytest.fixture()
def config(app):
    """Change app.config for one test and put it back afterwards, whatever happens."""
    saved = dict(app.config)
    try:
        yield app.config
    finally:
        for key in set(app.config) - set(saved):
            del app.config[key]
        app.config.update(saved)


@pytest.fixture()
def client(app, transaction):
    return app.test_client()


class Accounts:
    """Creates users and logs them in through the real HTTP endpoints."""

    def __init__(self, app, client):
        self.app, self.client = app, client

    def create(self, role: str, areas: list[str] | None = None, *, username: str | None = None,
               password: str = "correct horse battery", active: bool = True):
        with self.app.app_context():
            user = create_user(Scope(None), username=username or f"{role}-{uuid.uuid4().hex[:8]}",
                               password=password, role=role, areas=areas or [], active=active)
            return SimpleNamespace(id=user.id, username=user.username, role=user.role, areas=user.area_codes)

    def login(self, username: str, password: str = "correct horse battery", **extra) -> dict:
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": password, **extra})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def headers(self, role: str, areas: list[str] | None = None, **extra) -> dict:
        user = self.create(role, areas)
        tokens = self.login(user.username, **extra)
        return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture()
def accounts(app, client) -> Accounts:
    return Accounts(app, client)

