"""Configuration: defaults, then the environment, then the caller's mapping.

Every key below can be set from the environment as ``RASOAT_<KEY>`` (typed after its
default); ``DATABASE_URL`` and ``SECRET_KEY`` are also read under their usual names.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    # "development" (embedded default, generated secrets) or "production" (refuses weak ones).
    "ENV": "development",
    "SQLALCHEMY_DATABASE_URI": None,  # from DATABASE_URL; default SQLite file in the instance folder
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    # PostgreSQL: give up connecting after this long (libpq's minimum is 2), so that a request
    # answers 503 while the database is away instead of hanging.
    "DATABASE_CONNECT_TIMEOUT_SECONDS": 2,
    "SECRET_KEY": None,
    # JWT keyring: {kid: secret}; tokens are signed with JWT_ACTIVE_KID and verified with any.
    "JWT_KEYS": {},
    "JWT_ACTIVE_KID": None,
    "JWT_ISSUER": "rasoat",
    "JWT_AUDIENCE": "rasoat-api",
    "JWT_LEEWAY_SECONDS": 5,
    "ACCESS_TOKEN_TTL_SECONDS": 900,
    "REFRESH_TOKEN_TTL_SECONDS": 30 * 24 * 3600,  # phones stay offline for days
    # A refresh token presented again this soon after its use, before the pair it got is used,
    # gets that same pair (a retry after a lost answer on 2G, or two refreshes racing) instead
    # of ending the session; later, or once that pair is used, it is reuse. 0 turns it off.
    "REFRESH_GRACE_SECONDS": 60,
    # A web console session (a cookie naming a row of auth_sessions) ends after this long without
    # a request: a working day at a shared commune computer, renewed as the supervisor works.
    "CONSOLE_SESSION_TTL_SECONDS": 8 * 3600,
    # Request limits.
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "MAX_JSON_BYTES": 8 * 1024 * 1024,
    # Login throttling (stored in the database so it holds across gunicorn workers). Failures
    # count per username and address (the lockout a guesser meets), per address (one host trying
    # many names), and per username from all addresses together: a ceiling, much higher, against
    # guessing spread over many addresses. A lockout from one address leaves the others alone.
    "LOGIN_WINDOW_SECONDS": 900,
    "LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS": 5,
    "LOGIN_MAX_FAILURES_PER_USERNAME": 100,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 50,
    # argon2id cost; tests lower it.
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_COST": 65536,
    "ARGON2_PARALLELISM": 2,
    # Number of reverse proxies in front of the app whose X-Forwarded-For is trusted.
    "TRUSTED_PROXIES": 0,
    "PAGE_SIZE_DEFAULT": 50,
    "PAGE_SIZE_MAX": 500,
    "LOG_LEVEL": "INFO",
    # Where attachment bytes live (default: <instance>/attachments).
    "ATTACHMENTS_DIR": "",
    # Bytes of uploads that no submission of their uploader refers to (yet), per user and
    # device: beyond it a PUT is 413 attachment.quota_exceeded (push the submissions first).
    "ATTACHMENT_QUOTA_BYTES": 256 * 1024 * 1024,
    # `rasoat attachments prune` deletes such uploads once they are this many days old.
    "ATTACHMENT_UNREFERENCED_DAYS": 14,
    # How long a pull cursor stays valid.
    "PULL_CURSOR_MAX_AGE_SECONDS": 60 * 24 * 3600,
    # A pushed visit may not be dated before this day (ISO date): a phone whose clock says
    # 1970 or year 1 is told to re-stamp the visit from the server's time.
    "EARLIEST_VISIT": "2020-01-01",
    # Quality flags (docs/quality.md): an interview shorter than this many minutes; a location
    # less accurate than this many metres, or this many km from the median of the village's
    # other households; an income per person whose robust z-score is beyond this; the medians
    # need at least this many other households with a value.
    "QUALITY_MIN_INTERVIEW_MINUTES": 10.0,
    "QUALITY_MAX_GPS_ACCURACY_M": 50.0,
    "QUALITY_MAX_GPS_DISTANCE_KM": 5.0,
    "QUALITY_INCOME_Z": 3.5,
    "QUALITY_MIN_NEIGHBOURS": 5,
    "DEMO": False,
}

MIN_SECRET_BYTES = 32
_WEAK_SECRETS = {"dev", "secret", "changeme", "change-me", "development"}


class ConfigError(RuntimeError):
    """The configuration is unsafe or unusable; the app refuses to start."""


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, dict):
        return json.loads(raw)
    return raw


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    jwt_keys = environ.get("RASOAT_JWT_KEYS")
    pair_keys = jwt_keys is not None and not jwt_keys.lstrip().startswith("{")
    for key, default in DEFAULTS.items():
        raw = environ.get(f"RASOAT_{key}")
        if raw is not None and not (key == "JWT_KEYS" and pair_keys):
            found[key] = _coerce(raw, default)
    if environ.get("DATABASE_URL"):
        found["SQLALCHEMY_DATABASE_URI"] = environ["DATABASE_URL"]
    if environ.get("SECRET_KEY"):
        found["SECRET_KEY"] = environ["SECRET_KEY"]
    if pair_keys and jwt_keys.strip():
        # Also accept "kid1:secret1,kid2:secret2" (easier in a .env file).
        pairs = [p.split(":", 1) for p in jwt_keys.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ConfigError("RASOAT_JWT_KEYS must be kid:secret pairs separated by commas, or a JSON object")
        found["JWT_KEYS"] = {k.strip(): v.strip() for k, v in pairs}
    return found


def normalise_database_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_instance_folder(instance_path: Path) -> None:
    """The instance folder holds the embedded database, generated secrets and attachments: only
    its owner may enter it (0700, whatever the umask). A folder that exists already is left as
    the operator made it."""
    if not instance_path.exists():
        instance_path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(instance_path, 0o700)  # mkdir's mode is subject to the umask


def _instance_secret(instance_path: Path, name: str) -> str:
    """A random secret kept in the instance folder (embedded default only)."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    make_instance_folder(instance_path)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def _is_weak(secret: str | None) -> bool:
    return not secret or secret in _WEAK_SECRETS or len(secret.encode()) < MIN_SECRET_BYTES


def finalise(config: dict[str, Any], instance_path: Path) -> None:
    """Fill derived values and refuse unsafe production settings (mutates ``config``)."""
    production = config["ENV"] == "production"
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        if production:
            raise ConfigError("DATABASE_URL must be set in production")
        make_instance_folder(instance_path)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance_path / 'rasoat.sqlite3'}"
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])

    if not config.get("SECRET_KEY"):
        if production:
            raise ConfigError("SECRET_KEY must be set in production")
        config["SECRET_KEY"] = _instance_secret(instance_path, "secret_key")
    if production and _is_weak(config["SECRET_KEY"]):
        raise ConfigError(f"SECRET_KEY is too short or a known default (need >= {MIN_SECRET_BYTES} bytes)")

    keys = dict(config.get("JWT_KEYS") or {})
    if not keys:
        if production:
            raise ConfigError("RASOAT_JWT_KEYS must be set in production (kid:secret,...)")
        keys = {"k1": _instance_secret(instance_path, "jwt_key_k1")}
    for kid, secret in keys.items():
        if _is_weak(secret):
            raise ConfigError(f"JWT key {kid!r} is shorter than {MIN_SECRET_BYTES} bytes or a known default")
    config["JWT_KEYS"] = keys
    if not config.get("JWT_ACTIVE_KID"):
        config["JWT_ACTIVE_KID"] = next(iter(keys))
    if config["JWT_ACTIVE_KID"] not in keys:
        raise ConfigError("RASOAT_JWT_ACTIVE_KID names no key in RASOAT_JWT_KEYS")
    if production and config.get("DEMO"):
        raise ConfigError("demo mode is not allowed in production")
