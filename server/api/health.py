from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, send_from_directory

from server.db import READ_ONLY, db
from server.errors import Problem
from server.security.current import public

blp = Blueprint("health", __name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def migration_heads() -> set[str]:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return set(ScriptDirectory.from_config(cfg).get_heads())


@blp.get("/healthz")
@public
def healthz():
    """The process is alive."""
    return {"status": "ok"}


@blp.get("/readyz")
@public
def readyz():
    """The database answers and its schema is at the migrations' head."""
    try:
        with db.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})  # never waits for a writer (SQLite)
            conn.execute(sa.text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except sa.exc.SQLAlchemyError as exc:
        raise Problem("server.unavailable", f"Database unreachable: {type(exc).__name__}") from exc
    heads = current_app.extensions.setdefault("rasoat_migration_heads", migration_heads())
    if current != heads:
        raise Problem("server.unavailable", "Database schema is not at the current migration; run `rasoat init`.",
                      database=sorted(current), expected=sorted(heads))
    return {"status": "ready", "database": db.engine.dialect.name, "migration": sorted(current)}


@blp.get("/api/docs/assets/<path:filename>")
@public
def swagger_assets(filename):
    """Swagger UI served by the app itself: the server works on a LAN without internet."""
    import swagger_ui_bundle

    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
