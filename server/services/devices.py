"""Phones: listing with last sync, revoking a lost one, releasing one that changes hands."""

from __future__ import annotations

import sqlalchemy as sa

from server.db import db, utcnow
from server.errors import Problem
from server.models import AuthSession, Device, User, UserArea
from server.pagination import Page, paginate
from server.scoping import Scope
from server.services import audit
from server.services.sessions import revoke_sessions


def _visible_devices(scope: Scope) -> sa.Select:
    query = sa.select(Device)
    if not scope.is_national:
        owners = sa.select(UserArea.user_id).where(scope.clause(UserArea.area_code))
        query = query.where(Device.user_id.in_(owners))
    return query


def list_devices(scope: Scope, *, cursor: str | None, limit: int) -> Page:
    return paginate(_visible_devices(scope), key=Device.id, cursor=cursor, limit=limit, purpose="devices")


def owners(devices: list[Device]) -> dict:
    ids = {d.user_id for d in devices}
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(ids))).scalars()}


def revoke_device(scope: Scope, device_id: str, actor: User) -> Device:
    device = db.session.execute(_visible_devices(scope).where(Device.id == device_id)).scalar_one_or_none()
    if device is None:
        raise Problem("request.not_found", "No such device in your areas.")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        device.revoked_by = actor.id
        revoke_sessions(AuthSession.device_id == device.id, "device_revoked")
        owner = db.session.get(User, device.user_id)
        audit.record("device.revoke", target_type="device", target_id=device.id, owner=str(device.user_id),
                     area_code=owner.area_codes[0] if owner.area_codes else None)
    db.session.commit()
    return device


def release_device(scope: Scope, device_id: str, actor: User) -> Device:
    """Free a device id for the next user who logs in with it (a shared phone handed over to
    another village head): its owner's sessions on it end now; nothing else of theirs changes.

    The device keeps its owner until that next login, so it stays in the same supervisors'
    lists meanwhile. Releasing twice is harmless; a revoked device stays revoked (a lost phone
    that turns up again gets a fresh install, hence a new id).
    """
    device = db.session.execute(_visible_devices(scope).where(Device.id == device_id).with_for_update()
                                ).scalar_one_or_none()
    if device is None:
        raise Problem("request.not_found", "No such device in your areas.")
    if device.revoked_at is not None:
        raise Problem("device.revoked", "A revoked device cannot be released; reinstall the app on it "
                                        "to register it again under a new device id.")
    if device.released_at is None:
        device.released_at = utcnow()
        device.released_by = actor.id
        revoke_sessions(AuthSession.device_id == device.id, "device_released")
        owner = db.session.get(User, device.user_id)
        # What the phone last said it still had to send: work of the owner that the new user's
        # phone may still hold (the phone should have synced before changing hands).
        audit.record("device.release", target_type="device", target_id=device.id, owner=str(device.user_id),
                     pending_submissions=device.pending_submissions,
                     pending_attachments=device.pending_attachments,
                     last_sync_at=device.last_sync_at.isoformat() if device.last_sync_at else None,
                     area_code=owner.area_codes[0] if owner.area_codes else None)
    db.session.commit()
    return device
