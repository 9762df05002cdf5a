"""All tables; importing this module registers them on the metadata."""

from server.models.accounts import ROLES, User, UserArea
from server.models.areas import AREA_LEVELS, Area, AreaSetting
from server.models.audit import AuditEntry
from server.models.devices import Device
from server.models.sessions import AuthSession, LoginThrottle, RefreshToken

__all__ = [
    "AREA_LEVELS",
    "ROLES",
    "Area",
    "AreaSetting",
    "AuditEntry",
    "AuthSession",
    "Device",
    "LoginThrottle",
    "RefreshToken",
    "User",
    "UserArea",
]
