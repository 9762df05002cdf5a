"""User administration, scoped to the acting admin's areas."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa

from server.db import db
from server.errors import Problem, invalid
from server.models import Area, AuthSession, User, UserArea
from server.pagination import Page, paginate
from server.scoping import Scope
from server.security.passwords import MIN_PASSWORD_LENGTH, hash_password
from server.services import audit
from server.services.sessions import revoke_sessions
from server.text import new_username, nfc


def _visible_users(scope: Scope) -> sa.Select:
    query = sa.select(User)
    if not scope.is_national:
        inside = sa.select(UserArea.user_id).where(scope.clause(UserArea.area_code))
        query = query.where(User.id.in_(inside))
    return query


def list_users(scope: Scope, *, role: str | None, cursor: str | None, limit: int) -> Page:
    query = _visible_users(scope)
    if role:
        query = query.where(User.role == role)
    return paginate(query, key=User.username, cursor=cursor, limit=limit, purpose="users")


def get_user(scope: Scope, user_id: uuid.UUID) -> User:
    user = db.session.execute(_visible_users(scope).where(User.id == user_id)).scalar_one_or_none()
    if user is None:
        raise Problem("request.not_found", "No such user in your areas.")
    return user


def display_names(user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names to show for people a page already names by id (a submission's enumerator, its
    reviewers and commenters: the caller got the ids from a scoped read), display name first."""
    if not user_ids:
        return {}
    rows = db.session.execute(sa.select(User.id, User.display_name, User.username)
                              .where(User.id.in_(sorted(user_ids)))).all()
    return {row.id: row.display_name or row.username for row in rows}


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise invalid("password", "too_short", f"At least {MIN_PASSWORD_LENGTH} characters.")


def _check_areas(scope: Scope, codes: Iterable[str], role: str) -> list[str]:
    given = list(codes)  # error paths name the position in the request, not in the sorted set
    codes = sorted(set(given))
    known = set(db.session.execute(sa.select(Area.code).where(Area.code.in_(codes))).scalars())
    for i, code in enumerate(given):
        if code not in known:
            raise invalid(f"areas/{i}", "unknown_area", f"No area with code {code!r}.")
        if not scope.covers(code):
            raise invalid(f"areas/{i}", "outside_scope", f"Area {code!r} is outside your areas.")
    if role != "admin" and not codes:
        raise invalid("areas", "required", "Supervisors and enumerators need at least one area.")
    if not scope.is_national and not codes:
        raise invalid("areas", "required", "A provincial admin can only create users inside their areas.")
    return codes


def create_user(scope: Scope, *, username: str, password: str, role: str, areas: list[str],
                display_name: str = "", active: bool = True) -> User:
    try:
        username = new_username(username)
    except ValueError as exc:
        raise invalid("username", "invalid", str(exc)) from exc
    _check_password(password)
    codes = _check_areas(scope, areas, role)
    if db.session.execute(sa.select(User.id).where(User.username == username)).first():
        raise Problem("user.username_taken", f"The username {username!r} is taken.",
                      errors=[{"path": "username", "code": "taken", "message": "Already taken."}])
    user = User(username=username, password_hash=hash_password(password), role=role,
                display_name=nfc(display_name), active=active)
    user.area_links = [UserArea(area_code=c) for c in codes]
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", target_type="user", target_id=user.id, area_code=codes[0] if codes else None,
                 username=username, role=role, areas=codes)
    db.session.commit()
    return user


def update_user(scope: Scope, user_id: uuid.UUID, changes: dict) -> User:
    user = get_user(scope, user_id)
    # Seeing a user (one of their areas is yours) is not owning them: a provincial admin may
    # change only users who work entirely inside the province, else a national admin must.
    if not scope.covers_all(user.area_codes) or (not scope.is_national and not user.area_codes):
        raise Problem("auth.forbidden", "This user also works outside your areas; ask a national admin.")
    role = changes.get("role", user.role)
    recorded: dict = {}
    if "areas" in changes or "role" in changes:
        codes = _check_areas(scope, changes.get("areas", user.area_codes), role)
        if codes != user.area_codes:
            user.area_links = [UserArea(area_code=c) for c in codes]
            recorded["areas"] = codes
        if role != user.role:
            user.role = role
            recorded["role"] = role
    if "display_name" in changes:
        user.display_name = nfc(changes["display_name"])
        recorded["display_name"] = user.display_name
    if "password" in changes:
        _check_password(changes["password"])
        user.password_hash = hash_password(changes["password"])
        recorded["password"] = "changed"
    if "active" in changes and changes["active"] != user.active:
        user.active = changes["active"]
        recorded["active"] = user.active
    if recorded.keys() & {"role", "areas", "password", "active"}:
        # Old tokens carry old powers: end them.
        revoke_sessions(AuthSession.user_id == user.id, "user_changed")
    audit.record("user.update", target_type="user", target_id=user.id,
                 area_code=user.area_codes[0] if user.area_codes else None, **recorded)
    db.session.commit()
    return user
