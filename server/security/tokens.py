"""JWT access tokens (HS256, keyring with key ids) and opaque refresh tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import jwt
import orjson
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


# --- the refresh grace window: the pair a rotation issued, sealed under the token it replaced ----
#
# A phone on 2G often loses the answer to its refresh, or sends it twice; presenting the just-used
# token again within the grace window gets the same new pair back. The server keeps that pair only
# sealed: encrypted and authenticated under keys derived (HKDF-SHA256, RFC 5869) from the
# presented token, which the server stores only as its SHA-256, salted with the server's secret.
# Each key seals exactly one pair, so a keystream (HKDF-Expand) XORed with it is a sound one-time
# cipher; the tag (HMAC-SHA256 over the ciphertext) refuses anything altered. Neither a copy of the
# database alone, nor the used token without the server's secret, opens it.

_GRACE_INFO = b"rasoat refresh grace v1"
_TAG_BYTES = 32


def _hkdf(secret: str, token: str, length: int) -> bytes:
    prk = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    if length > 255 * 32:
        raise ValueError("too long to seal")
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + _GRACE_INFO + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def seal_successor(presented: str, refresh_token: str, access_token: str, access_expires_at: int) -> bytes:
    """The pair issued for ``presented``, sealed under ``presented``."""
    plain = orjson.dumps({"r": refresh_token, "a": access_token, "e": access_expires_at})
    keys = _hkdf(current_app.config["SECRET_KEY"], presented, _TAG_BYTES + len(plain))
    cipher = bytes(a ^ b for a, b in zip(plain, keys[_TAG_BYTES:], strict=True))
    return hmac.new(keys[:_TAG_BYTES], cipher, hashlib.sha256).digest() + cipher


def unseal_successor(presented: str, sealed: bytes) -> tuple[str, str, int] | None:
    """(refresh token, access token, access expiry) sealed by ``seal_successor``, or None."""
    tag, cipher = sealed[:_TAG_BYTES], sealed[_TAG_BYTES:]
    keys = _hkdf(current_app.config["SECRET_KEY"], presented, _TAG_BYTES + len(cipher))
    if not hmac.compare_digest(tag, hmac.new(keys[:_TAG_BYTES], cipher, hashlib.sha256).digest()):
        return None
    pair = orjson.loads(bytes(a ^ b for a, b in zip(cipher, keys[_TAG_BYTES:], strict=True)))
    return pair["r"], pair["a"], int(pair["e"])


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
