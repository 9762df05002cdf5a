"""The database handle, the declarative base, and engine settings per dialect."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import uuid

import orjson
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.util import immutabledict

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Portable JSON: JSONB on PostgreSQL, JSON text elsewhere.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
# History that is written once and read back whole, never queried inside (revisions): JSON text
# on PostgreSQL too, which it stores as sent instead of converting it to JSONB (the conversion
# was a large share of PostgreSQL's work per pushed submission).
HistoryJSON = sa.JSON()


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def json_dumps(value) -> str:
    """The JSON columns' serialiser (engine option ``json_serializer``).

    orjson: several times faster than ``json.dumps``, which was the largest self-time item in a
    profile of the push (answers are written to four rows). The stored JSON means the same: JSONB keeps
    values, not text. orjson writes NaN as null where ``json.dumps`` wrote ``NaN`` (which
    PostgreSQL refuses); answers cannot hold NaN (request bodies are strict JSON) and forms/
    stores a non-finite calculation as null already. What orjson refuses (integers beyond
    64 bits, non-string keys) goes to ``json.dumps`` as before.
    """
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def postgres_engine_options(options: dict, connect_timeout: int) -> dict:
    """Engine options for PostgreSQL that fail fast while the database is away (restart,
    failover) instead of failing later or hanging a worker thread; explicit settings win.

    ``pool_pre_ping``: a pooled connection that died with a restart is replaced when it is
    checked out, instead of failing the request that drew it. ``connect_timeout``: a host that
    does not answer (no refusal) fails within seconds, not after the TCP timeout.
    """
    connect_args = {"connect_timeout": connect_timeout, **(options.get("connect_args") or {})}
    return {"pool_pre_ping": True, **options, "connect_args": connect_args}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(sa.types.TypeDecorator):
    """Timestamps stored in UTC and always returned timezone-aware.

    SQLite has no time zones (DateTime(timezone=True) silently drops the offset), so we
    store naive UTC everywhere and reattach UTC on the way out.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


#: Execution option (of a connection, or of a session for the connections it opens): its
#: transactions only read. The caller decides (the HTTP layer: GET, HEAD and OPTIONS requests
#: never write); on SQLite such a transaction begins without taking the write lock.
READ_ONLY = "rasoat_read_only"


def set_read_only(session: Session, read_only: bool) -> None:
    """Declare whether the transactions ``session`` begins from now on only read.

    Applies when the session next opens a connection (its next transaction), not to one in
    progress. Without the declaration a transaction may write.
    """
    options = {key: value for key, value in session.execution_options.items() if key != READ_ONLY}
    if read_only:
        options[READ_ONLY] = True
    session.execution_options = immutabledict(options)


def private_database_file(url: sa.URL) -> None:
    """The SQLite file holds every household's answers: create it readable by its owner only
    (0600, whatever the umask), before SQLite creates it with 0644. SQLite gives the -wal and
    -shm files the database file's permissions. A file made by an earlier version, readable by
    anyone, loses the others' bits (the group's are the operator's choice, e.g. for backups)."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("uri"):
        return
    path = os.path.abspath(database)
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for name in (path, f"{path}-wal", f"{path}-shm"):
            try:
                mode = stat.S_IMODE(os.stat(name).st_mode)
                if mode & 0o007:
                    os.chmod(name, mode & ~0o007)
            except (FileNotFoundError, PermissionError):
                continue
    except FileNotFoundError:
        return  # no such folder: SQLite will say so on the first connection


def configure_sqlite(engine: sa.Engine) -> None:
    """Make SQLite safe for concurrent writers and savepoints (see conventions, trap 4).

    pysqlite's own transaction handling is switched off; we emit BEGIN IMMEDIATE so that a
    transaction takes the write lock up front and waits (busy_timeout) instead of failing
    with "database is locked" when it later upgrades from read to write. A connection marked
    read-only (the ``READ_ONLY`` execution option: see ``set_read_only``) begins a plain
    (deferred) transaction instead and never waits for a writer.
    """

    private_database_file(engine.url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Reads need no lock: in WAL mode they run beside a writer.
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")
