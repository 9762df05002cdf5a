"""Opaque, tamper-proof cursors: a JSON payload, an issue time and an HMAC.

A cursor is only good for the purpose it was made for (``users``, ``pull``, ...) and for
``max_age`` seconds when given; anything else is a :class:`CursorError`, which the server
answers with 410 so the client starts again without a cursor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


class CursorError(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, purpose: str, body: bytes) -> bytes:
    return hmac.new(key, purpose.encode() + b"\x00" + body, hashlib.sha256).digest()[:16]


def encode_cursor(payload: dict[str, Any], key: bytes, *, purpose: str, now: float | None = None) -> str:
    body = json.dumps({"p": payload, "t": int(now if now is not None else time.time())},
                      separators=(",", ":"), sort_keys=True, default=str).encode()
    return f"{_b64(body)}.{_b64(_sign(key, purpose, body))}"


def decode_cursor(cursor: str, key: bytes, *, purpose: str, max_age: float | None = None,
                  now: float | None = None) -> dict[str, Any]:
    try:
        body_text, sig_text = cursor.split(".", 1)
        body, sig = _unb64(body_text), _unb64(sig_text)
    except (ValueError, TypeError) as exc:
        raise CursorError("The cursor is malformed.") from exc
    if not hmac.compare_digest(sig, _sign(key, purpose, body)):
        raise CursorError("The cursor is unknown.")
    data = json.loads(body)
    if max_age is not None and (now if now is not None else time.time()) - data["t"] > max_age:
        raise CursorError("The cursor has expired.")
    return data["p"]
