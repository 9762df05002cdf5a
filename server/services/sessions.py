"""Login, refresh-token rotation with reuse detection, logout, and login throttling."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import uuid
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from server.db import UTCDateTime, db, utcnow
from server.errors import Problem, field_error
from server.models import AuthSession, Device, LoginThrottle, RefreshToken, User
from server.security.passwords import burn_verification, verify_password
from server.security.tokens import (
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
    seal_successor,
    unseal_successor,
)
from server.services import audit
from server.text import normalise_username


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def _issue_pair(user: User, session: AuthSession, now: dt.datetime) -> TokenPair:
    refresh = new_refresh_token()
    db.session.add(RefreshToken(token_hash=hash_refresh_token(refresh), session_id=session.id, issued_at=now))
    return TokenPair(
        access_token=issue_access_token(user.id, session.id, user.role, now),
        refresh_token=refresh,
        expires_in=current_app.config["ACCESS_TOKEN_TTL_SECONDS"],
        user=user,
    )


# --- throttling -----------------------------------------------------------------------------

def _throttle_keys(username: str, address: str | None) -> list[tuple[str, int]]:
    """The counters a login attempt counts against, the one a success clears first.

    Locking a username from everywhere after a few failures let anyone lock anyone out with a few
    anonymous requests; the lockout is therefore per username *and* address. The username alone
    has a ceiling too, far higher, so that guesses spread over many addresses still run out.
    """
    cfg = current_app.config
    return [(pair_throttle_key(username, address), cfg["LOGIN_MAX_FAILURES_PER_USERNAME_AND_ADDRESS"]),
            (_bounded(f"user:{username}"), cfg["LOGIN_MAX_FAILURES_PER_USERNAME"]),
            *([(_bounded(f"addr:{address}"), cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"])] if address else [])]


def pair_throttle_key(username: str, address: str | None) -> str:
    """The counter of one username from one address. Hashed from an unambiguous encoding: a
    login name may hold any text, and must not be able to name another user's pair counter."""
    return "pair:" + hashlib.sha256(orjson.dumps([username, address or ""])).hexdigest()


def _bounded(key: str) -> str:
    # The key column holds 200 characters; a longer name or address is counted under its hash.
    return key if len(key) <= 200 else "hash:" + hashlib.sha256(key.encode()).hexdigest()


def _count_attempt(keys: list[tuple[str, int]], now: dt.datetime) -> None:
    """Count this attempt against every key *before* the password is checked (the caller commits
    at once): check-then-count let a burst of parallel guesses all through, and two first failures
    racing to insert the same key ended in a 500 on PostgreSQL. A refused attempt counts nowhere
    (the caller commits only when none refused): a guesser locked out of a username from one
    address must not use up that username's ceiling by hammering on."""
    window = current_app.config["LOGIN_WINDOW_SECONDS"]
    table = LoginThrottle.__table__
    insert = (postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
    expired = table.c.window_start <= now - dt.timedelta(seconds=window)
    retry = 0
    for key, limit in keys:
        statement = insert.values(key=key, window_start=now, failures=1).on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"failures": sa.case((expired, 1), else_=table.c.failures + 1),
                  "window_start": sa.case((expired, sa.literal(now, UTCDateTime)), else_=table.c.window_start)},
        ).returning(table.c.window_start, table.c.failures)
        window_start, failures = db.session.execute(statement).one()
        if failures > limit:
            retry = max(retry, 1, math.ceil(window - (now - window_start).total_seconds()))
    if retry:
        raise Problem("request.rate_limited", "Too many failed logins; try again later.",
                      headers={"Retry-After": str(retry)}, retry_after=retry)


def _forgive_attempt(keys: list[tuple[str, int]]) -> None:
    """A successful login clears the failures of its username from its address, and takes itself
    off the other counts (the username's ceiling is not cleared by a success: the owner logging
    in must not reset a distributed guesser's count)."""
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == keys[0][0]))
    for key, _limit in keys[1:]:
        db.session.execute(sa.update(LoginThrottle).where(LoginThrottle.key == key, LoginThrottle.failures > 0)
                           .values(failures=LoginThrottle.failures - 1))


# --- devices --------------------------------------------------------------------------------

def _device_taken(device: Device, user: User) -> Problem:
    """Refuse ``user`` a device id registered to someone else, audited (a hijack attempt or a
    phone that changed hands without a release); the owner is not named to the caller."""
    owner = db.session.get(User, device.user_id)
    audit.record("auth.device_taken", actor=user, target_type="device", target_id=device.id,
                 owner=str(device.user_id), area_code=owner.area_codes[0] if owner and owner.area_codes else None)
    message = "This device is registered to another user; a supervisor can release it."
    return Problem("auth.device_taken", message, errors=[field_error("device_id", "device_taken", message)])


def _register_device(user: User, device_id: str, device_name: str | None, app_version: str | None,
                     now: dt.datetime) -> None:
    """Bind the login to ``device_id``: a new id is registered to ``user``, a released one is
    registered again, one of another user's is refused and left as it is.

    The row is created if absent (ON CONFLICT DO NOTHING) and then locked, so that two first
    logins with the same id, or a login racing a release, cannot both win.
    """
    table = Device.__table__
    insert = (postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)
    db.session.execute(insert.values(id=device_id, user_id=user.id, name=device_name or "", app_version=app_version,
                                     first_seen_at=now, last_seen_at=now)
                       .on_conflict_do_nothing(index_elements=[table.c.id]))
    device = db.session.get(Device, device_id, with_for_update=True, populate_existing=True)
    if device.revoked_at is not None:
        db.session.commit()
        raise Problem("auth.device_revoked", "This device was revoked; ask your supervisor.")
    if device.released_at is not None:
        previous = device.user_id
        # A new owner starts clean: what the phone reported belonged to the previous user.
        device.user_id, device.released_at, device.released_by = user.id, None, None
        device.first_seen_at, device.name, device.app_version = now, "", None
        device.last_sync_at = device.pending_submissions = device.pending_attachments = None
        audit.record("device.register", actor=user, target_type="device", target_id=device.id,
                     previous_owner=str(previous), area_code=user.area_codes[0] if user.area_codes else None)
    elif device.user_id != user.id:
        problem = _device_taken(device, user)
        db.session.commit()
        raise problem
    device.last_seen_at = now
    if device_name:
        device.name = device_name
    if app_version:
        device.app_version = app_version
    db.session.flush()


# --- login / refresh / logout ---------------------------------------------------------------

def _check_credentials(username: str, password: str, address: str | None, now: dt.datetime) -> User:
    """The user these credentials name, counted against the login throttle (shared by the API's
    login and the console's, so that neither is a way around the other's limit)."""
    username = normalise_username(username)
    keys = _throttle_keys(username, address)
    _count_attempt(keys, now)
    db.session.commit()  # visible to concurrent attempts before the (slow) password check
    user = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        burn_verification()
    ok = user is not None and verify_password(user.password_hash, password) and user.active
    if not ok:
        audit.record("auth.login_failed", actor=user, target_type="user", username=username)
        db.session.commit()
        raise Problem("auth.invalid_credentials", "Unknown username or wrong password.",
                      headers={"WWW-Authenticate": 'Bearer realm="rasoat"'})
    _forgive_attempt(keys)
    return user


def login(username: str, password: str, device_id: str | None, device_name: str | None,
          app_version: str | None, address: str | None) -> TokenPair:
    now = utcnow()
    user = _check_credentials(username, password, address, now)

    if device_id is not None:
        _register_device(user, device_id, device_name, app_version, now)

    session = AuthSession(
        id=uuid.uuid4(), user_id=user.id, device_id=device_id, created_at=now,
        expires_at=now + dt.timedelta(seconds=current_app.config["REFRESH_TOKEN_TTL_SECONDS"]),
    )
    db.session.add(session)
    pair = _issue_pair(user, session, now)
    audit.record("auth.login", actor=user, target_type="session", target_id=session.id, device_id=device_id)
    db.session.commit()
    return pair


def refresh(token: str, device_id: str | None) -> TokenPair:
    now = utcnow()
    stored = db.session.get(RefreshToken, hash_refresh_token(token), with_for_update=True)
    if stored is None:
        raise Problem("auth.invalid_token", "Unknown refresh token.")
    session = db.session.get(AuthSession, stored.session_id, with_for_update=True)
    user = db.session.get(User, session.user_id)
    if session.device_id is not None:
        # Said before "the session has ended" (revoking a device ends its sessions too): a phone
        # reported lost must learn it at its next contact, to wipe what it holds (issue 9).
        bound = db.session.get(Device, session.device_id)
        if bound is not None and bound.revoked_at is not None:
            raise Problem("auth.device_revoked", "This device was revoked; ask your supervisor.")
    if stored.used_at is not None:
        # Presented again within the grace window (a retry after a lost answer, or a race), before
        # the pair it got has been used: that same pair again.
        retried = _grace_pair(token, stored, session, user, device_id, now)
        if retried is not None:
            audit.record("auth.refresh_retry", actor=user, target_type="session", target_id=session.id,
                         after_seconds=round(max(0.0, (now - stored.used_at).total_seconds()), 3))
            db.session.commit()
            return retried
        # A used token presented again: it was stolen or replayed. End the whole family.
        if session.revoked_at is None:
            session.revoked_at, session.revoked_reason = now, "refresh_reuse"
            audit.record("auth.refresh_reuse", actor=user, target_type="session", target_id=session.id)
        db.session.commit()
        raise Problem("auth.refresh_reused")
    if session.revoked_at is not None or session.expires_at <= now or not user.active:
        raise Problem("auth.invalid_token", "The session has ended; log in again.")
    if session.device_id is not None and device_id is not None and device_id != session.device_id:
        raise Problem("auth.invalid_token", "This refresh token belongs to another device.")
    if session.device_id is not None:
        device = db.session.get(Device, session.device_id)
        if device.revoked_at is not None:
            raise Problem("auth.device_revoked")
        if device.released_at is not None or device.user_id != session.user_id:
            # Released, or registered since by someone else: the release ended this session, or
            # should have (a refresh racing it); it can never be renewed on this device.
            session.revoked_at, session.revoked_reason = now, "device_released"
            problem = (Problem("auth.invalid_token", "This device was released; log in again.")
                       if device.user_id == session.user_id else _device_taken(device, user))
            db.session.commit()
            raise problem
        device.last_seen_at = now
    elif device_id is not None:
        # A session opened without a device stays unbound; naming another user's device is
        # refused all the same, so a refresh is never a way around the login's check.
        named = db.session.get(Device, device_id)
        if named is not None and named.user_id != user.id and named.released_at is None:
            problem = _device_taken(named, user)
            db.session.commit()
            raise problem
    stored.used_at = now
    # Sliding expiry: a phone that syncs at least once a month stays logged in.
    session.expires_at = now + dt.timedelta(seconds=current_app.config["REFRESH_TOKEN_TTL_SECONDS"])
    pair = _issue_pair(user, session, now)
    if current_app.config["REFRESH_GRACE_SECONDS"] > 0:
        # Only the latest rotation can be retried: what earlier ones sealed is of no use any more.
        db.session.execute(sa.update(RefreshToken).where(RefreshToken.session_id == session.id,
                                                         RefreshToken.successor_sealed.is_not(None))
                           .values(successor_sealed=None))
        expires_at = int((now + dt.timedelta(seconds=pair.expires_in)).timestamp())
        stored.successor_sealed = seal_successor(token, pair.refresh_token, pair.access_token, expires_at)
    db.session.commit()
    return pair


def _grace_pair(token: str, stored: RefreshToken, session: AuthSession, user: User, device_id: str | None,
                now: dt.datetime) -> TokenPair | None:
    """The pair that ``stored``'s use issued, when ``token`` is presented again within the grace
    window, from the same device, while that pair is still unused and the session alive; None
    otherwise (the caller treats it as reuse and ends the family)."""
    grace = current_app.config["REFRESH_GRACE_SECONDS"]
    # A use later than this request's ``now`` is a concurrent one (``now`` was read before the row
    # lock was granted): within the window too.
    if grace <= 0 or stored.successor_sealed is None or (now - stored.used_at).total_seconds() > grace:
        return None
    if session.revoked_at is not None or session.expires_at <= now or not user.active:
        return None
    if session.device_id is not None and device_id is not None and device_id != session.device_id:
        return None
    unsealed = unseal_successor(token, stored.successor_sealed)
    if unsealed is None:
        return None
    refresh_token, access_token, expires_at = unsealed
    successor = db.session.get(RefreshToken, hash_refresh_token(refresh_token))
    if successor is None or successor.session_id != session.id or successor.used_at is not None:
        return None
    return TokenPair(access_token=access_token, refresh_token=refresh_token,
                     expires_in=max(0, expires_at - int(now.timestamp())), user=user)


def logout(token: str) -> None:
    stored = db.session.get(RefreshToken, hash_refresh_token(token))
    if stored is None:
        return  # idempotent: nothing to end
    session = db.session.get(AuthSession, stored.session_id)
    if session.revoked_at is None:
        session.revoked_at, session.revoked_reason = utcnow(), "logout"
        audit.record("auth.logout", actor=db.session.get(User, session.user_id),
                     target_type="session", target_id=session.id)
    db.session.commit()


# --- console (cookie) sessions --------------------------------------------------------------
# A browser session of the web console is a row of the same auth_sessions table, without a
# device and without refresh tokens: the signed cookie names the row. Logout, password change,
# deactivation and revocation (``revoke_sessions``) therefore end it exactly as they end a phone's.

def open_console_session(username: str, password: str, address: str | None) -> AuthSession:
    now = utcnow()
    user = _check_credentials(username, password, address, now)
    session = AuthSession(id=uuid.uuid4(), user_id=user.id, device_id=None, created_at=now,
                          expires_at=now + dt.timedelta(seconds=current_app.config["CONSOLE_SESSION_TTL_SECONDS"]))
    db.session.add(session)
    audit.record("auth.login", actor=user, target_type="session", target_id=session.id, channel="console")
    db.session.commit()
    return session


def extend_console_session(connection: sa.Connection, session_id: uuid.UUID, now: dt.datetime) -> dt.datetime:
    """Sliding expiry: the session lives its full time again from ``now``. Written on its own
    ``connection`` (the caller's short transaction), because most console requests are GETs whose
    own transaction only reads (on SQLite it holds no write lock and must not take one midway)."""
    expires_at = now + dt.timedelta(seconds=current_app.config["CONSOLE_SESSION_TTL_SECONDS"])
    connection.execute(sa.update(AuthSession).where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
                       .values(expires_at=expires_at))
    return expires_at


def end_session(session: AuthSession, reason: str = "logout") -> None:
    """Log a session out (the console's logout); idempotent."""
    if session.revoked_at is None:
        session.revoked_at, session.revoked_reason = utcnow(), reason
        audit.record("auth.logout", actor=db.session.get(User, session.user_id),
                     target_type="session", target_id=session.id)
    db.session.commit()


def revoke_sessions(where: sa.ColumnElement[bool], reason: str) -> None:
    """Revoke every open session matching ``where`` (caller commits)."""
    db.session.execute(
        sa.update(AuthSession)
        .where(where, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
