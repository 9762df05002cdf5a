"""Fresh databases for the operations tests (migrations, CLI): a SQLite file always, and a
throwaway PostgreSQL database next to TEST_DATABASE_URL when that is PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.config import normalise_database_url


def postgres_url() -> str | None:
    """TEST_DATABASE_URL when it names a PostgreSQL database, else None."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    return normalise_database_url(url) if url.startswith(("postgres", "postgresql")) else None


# Parametrise a fixture with these to run on SQLite always and on PostgreSQL when configured.
DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql",
                 marks=pytest.mark.skipif(postgres_url() is None, reason="TEST_DATABASE_URL is not PostgreSQL")),
]


@contextmanager
def throwaway_postgres(prefix: str = "rasoat_ops") -> Iterator[str]:
    """Create an empty database on the server of TEST_DATABASE_URL; drop it afterwards."""
    base = sa.make_url(postgres_url())
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@contextmanager
def fresh_database(dialect: str, directory: Path) -> Iterator[str]:
    """The URL of an empty database of ``dialect``."""
    if dialect == "sqlite":
        yield f"sqlite:///{directory / 'fresh.sqlite3'}"
    else:
        with throwaway_postgres() as url:
            yield url


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
