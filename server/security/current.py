"""Who is calling: bearer-token authentication and role checks for views."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import g, request
from sqlalchemy.orm import joinedload

from server.db import db
from server.errors import Problem
from server.models import ROLES, AuthSession, User
from server.security.tokens import decode_access_token
from server.services import audit

PUBLIC_ATTRIBUTE = "_rasoat_public"
ROLES_ATTRIBUTE = "_rasoat_roles"


def _authenticate() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem("auth.required", "Send 'Authorization: Bearer <access token>'.",
                      headers={"WWW-Authenticate": 'Bearer realm="rasoat"'})
    claims = decode_access_token(token.strip())
    # The user's areas (every view needs its scope) in the same query: the model's default
    # selectin load is a second round trip, and cost more CPU than the join.
    row = db.session.execute(
        sa.select(User, AuthSession)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(AuthSession.id == claims.session_id, User.id == claims.user_id)
        .options(joinedload(User.area_links))
    ).unique().first()
    if row is None:
        raise Problem("auth.invalid_token", "The session no longer exists.")
    user, session = row
    if session.revoked_at is not None:
        raise Problem("auth.invalid_token", "The session has been revoked.",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if not user.active:
        raise Problem("auth.invalid_token", "The account is deactivated.")
    g.user = user
    g.auth_session = session
    # The caller is the actor of what this request audits (unless a service names another).
    unit_of_work = db.session()
    audit.set_origin(unit_of_work, dataclasses.replace(audit.origin_of(unit_of_work), user=user))
    # Read now, while loaded: after the view's commit the user is expired, and the request log
    # would otherwise query it again just for its name.
    g.username = user.username
    return user


def requires(*roles: str) -> Callable:
    """Authenticate the caller and require one of ``roles`` (any role when none given)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")
    allowed = frozenset(roles or ROLES)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            user = _authenticate()
            if user.role not in allowed:
                raise Problem("auth.forbidden", f"This needs the role {' or '.join(sorted(allowed))}.")
            return view(*args, **kwargs)

        setattr(wrapper, ROLES_ATTRIBUTE, allowed)
        return wrapper

    return decorate


def public(view: Callable) -> Callable:
    """Mark a view as deliberately open (login, refresh, health)."""
    setattr(view, PUBLIC_ATTRIBUTE, True)
    return view


def current_user() -> User:
    return g.user


def current_session() -> AuthSession:
    """The session the caller's token belongs to (its device, its expiry)."""
    return g.auth_session
