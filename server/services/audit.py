"""Append entries to the audit log (in the caller's transaction)."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request

from server.db import db
from server.models import AuditEntry, User


def record(action: str, *, actor: User | None = None, target_type: str | None = None,
           target_id: object = None, area_code: str | None = None, **detail: Any) -> None:
    if actor is None and has_request_context():
        actor = g.get("user")
    db.session.add(AuditEntry(
        actor_id=actor.id if actor else None,
        actor_username=actor.username if actor else None,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        area_code=area_code,
        detail=detail,
        request_id=g.get("request_id") if has_request_context() else None,
        client_address=request.remote_addr if has_request_context() else None,
    ))
