"""argon2id password hashing, with cost taken from the app config."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_PASSWORD_LENGTH = 8


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    key = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])
    cache = current_app.extensions.setdefault("rasoat_hashers", {})
    if key not in cache:
        cache[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=key[2], type=Type.ID)
    return cache[key]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def burn_verification() -> None:
    """Spend the time of one verification, so an unknown username answers as slowly as a wrong password."""
    cache = current_app.extensions.setdefault("rasoat_dummy_hash", {})
    if "hash" not in cache:
        cache["hash"] = hash_password("not-a-real-password")
    verify_password(cache["hash"], "wrong-password-for-timing")
