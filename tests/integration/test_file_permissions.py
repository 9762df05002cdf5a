"""The embedded deployment's files are its owner's alone: the instance folder 0700, the SQLite
database (and its -wal and -shm files) and the generated secrets 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from server import create_app
from server.db import db


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture()
def permissive_umask():
    """umask 000: what the code asks for is what the files get (the default 022 would hide a
    missing mode behind 0644 files still being readable by others, which the test catches too)."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture()
def embedded_environment(monkeypatch, tmp_path):
    instance = tmp_path / "deploy" / "instance"
    for name in ("DATABASE_URL", "SECRET_KEY", "RASOAT_JWT_KEYS", "RASOAT_SECRET_KEY", "RASOAT_JWT_ACTIVE_KID",
                 "RASOAT_SQLALCHEMY_DATABASE_URI", "RASOAT_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RASOAT_INSTANCE_PATH", str(instance))
    return instance


def start(config=None):
    app = create_app({"LOG_LEVEL": "WARNING", **(config or {})})
    with app.app_context():
        db.session.execute(sa.text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        db.session.execute(sa.text("INSERT INTO probe VALUES (1)"))
        db.session.commit()
    return app


def stop(app):
    with app.app_context():
        db.engine.dispose()


def test_the_embedded_database_folder_and_secrets_are_private(embedded_environment, permissive_umask):
    instance = embedded_environment
    app = start()
    try:
        database = instance / "rasoat.sqlite3"
        assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}"
        assert mode(instance) == 0o700
        assert mode(database) == 0o600
        # WAL mode: SQLite made these beside the database, with its permissions.
        for companion in (instance / "rasoat.sqlite3-wal", instance / "rasoat.sqlite3-shm"):
            assert companion.exists() and mode(companion) == 0o600, companion
        for secret in ("secret_key", "jwt_key_k1"):
            assert mode(instance / secret) == 0o600, secret
    finally:
        stop(app)


def test_a_database_url_file_is_created_private_too(embedded_environment, permissive_umask, tmp_path):
    database = tmp_path / "elsewhere.sqlite3"
    app = start({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    try:
        assert mode(database) == 0o600
    finally:
        stop(app)


def test_a_world_readable_database_from_before_loses_the_others_bits(embedded_environment, permissive_umask,
                                                                      tmp_path):
    database = tmp_path / "old.sqlite3"
    app = start({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    stop(app)
    os.chmod(database, 0o644)
    app = start({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    try:
        assert mode(database) == 0o640  # the group's bit is the operator's choice (backups)
    finally:
        stop(app)
