"""JWT access tokens (HS256, keyring with key ids) and opaque refresh tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import jwt
from flask import current_app

from server.errors import Problem

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    role: str


def issue_access_token(user_id: uuid.UUID, session_id: uuid.UUID, role: str, now: dt.datetime) -> str:
    cfg = current_app.config
    kid = cfg["JWT_ACTIVE_KID"]
    claims = {
        "iss": cfg["JWT_ISSUER"],
        "aud": cfg["JWT_AUDIENCE"],
        "sub": str(user_id),
        "sid": str(session_id),
        "role": role,
        "iat": now,
        "nbf": now,
        "exp": now + dt.timedelta(seconds=cfg["ACCESS_TOKEN_TTL_SECONDS"]),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, cfg["JWT_KEYS"][kid], algorithm=ALGORITHM, headers={"kid": kid})


def _invalid(detail: str) -> Problem:
    return Problem("auth.invalid_token", detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def decode_access_token(token: str) -> AccessClaims:
    cfg = current_app.config
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise _invalid("The token is malformed.") from exc
    if header.get("alg") != ALGORITHM:
        raise _invalid("The token's algorithm is not accepted.")
    key = cfg["JWT_KEYS"].get(header.get("kid"))
    if key is None:
        raise _invalid("The token's key id is unknown.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=cfg["JWT_AUDIENCE"],
            issuer=cfg["JWT_ISSUER"],
            leeway=cfg["JWT_LEEWAY_SECONDS"],
            options={"require": REQUIRED_CLAIMS},
        )
        return AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]), str(claims["role"]))
    except jwt.ExpiredSignatureError as exc:
        raise _invalid("The token has expired.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise _invalid("The token is not yet valid.") from exc
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise _invalid("The token is invalid.") from exc


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
