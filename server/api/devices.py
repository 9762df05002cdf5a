from __future__ import annotations

from marshmallow import Schema, fields

from server.api.common import PageQuery, page_limit, page_schema
from server.jsonio import ApiBlueprint
from server.scoping import scope_of
from server.security.current import current_user, requires
from server.services import devices as service

blp = ApiBlueprint("devices", __name__, url_prefix="/api/v1", description="Phones: last sync, revocation, release")


class DeviceOut(Schema):
    id = fields.String(required=True)
    user_id = fields.UUID(required=True)
    username = fields.String()
    name = fields.String()
    app_version = fields.String(allow_none=True)
    first_seen_at = fields.AwareDateTime()
    last_seen_at = fields.AwareDateTime()
    last_sync_at = fields.AwareDateTime(allow_none=True)
    pending_submissions = fields.Integer(allow_none=True)
    pending_attachments = fields.Integer(allow_none=True)
    revoked = fields.Boolean()
    revoked_at = fields.AwareDateTime(allow_none=True)
    released = fields.Boolean(metadata={"description": "Released: the next user to log in with this id registers it"})
    released_at = fields.AwareDateTime(allow_none=True)


DevicePage = page_schema(DeviceOut, "DevicePage")


def _view(device, owners) -> dict:
    owner = owners.get(device.user_id)
    return {**{k: getattr(device, k) for k in DeviceOut._declared_fields if hasattr(device, k)},
            "username": owner.username if owner else None, "revoked": device.revoked_at is not None,
            "released": device.released_at is not None}


@blp.route("/devices", methods=["GET"])
@requires("admin", "supervisor")
@blp.arguments(PageQuery, location="query")
@blp.response(200, DevicePage)
def list_devices(args):
    """Devices of users in your areas, with last sync."""
    page = service.list_devices(scope_of(current_user()), cursor=args["cursor"], limit=page_limit(args))
    owners = service.owners(page.items)
    return {"items": [_view(d, owners) for d in page.items], "next_cursor": page.next_cursor}


@blp.route("/devices/<string:device_id>/revoke", methods=["POST"])
@requires("admin", "supervisor")
@blp.response(200, DeviceOut)
def revoke_device(device_id):
    """Revoke a lost phone: all its sessions end now, and it cannot log in again."""
    device = service.revoke_device(scope_of(current_user()), device_id, current_user())
    return _view(device, service.owners([device]))


@blp.route("/devices/<string:device_id>/release", methods=["POST"])
@requires("admin", "supervisor")
@blp.response(200, DeviceOut)
@blp.alt_response(409, description="The device is revoked (code `device.revoked`): it cannot be released")
def release_device(device_id):
    """Release a phone that changes hands, so that its next user can register it.

    The owner's sessions on it end now, and the next user to log in with its device id
    registers it. Until a release, anyone else's login with the id is refused (409
    `auth.device_taken`). Check `pending_submissions` first: the phone should have synced.
    """
    device = service.release_device(scope_of(current_user()), device_id, current_user())
    return _view(device, service.owners([device]))
