"""All tables; importing this module registers them on the metadata."""

from server.models.accounts import ROLES, User, UserArea
from server.models.assignments import HouseholdAssignment
from server.models.areas import AREA_LEVELS, Area, AreaSetting
from server.models.audit import AuditEntry
from server.models.devices import Device
from server.models.forms import VERSION_STATES, FormVersion, ParameterSet
from server.models.sync import (
    REVIEW_STATES,
    Attachment,
    AttachmentUpload,
    Change,
    Conflict,
    Household,
    HouseholdRevision,
    HouseholdYear,
    Submission,
    SubmissionAttachment,
    SubmissionComment,
    SubmissionReview,
    SubmissionRevision,
)
from server.models.season import CommuneDecision, Complaint, VillageMeeting
from server.models import reports as _reports  # noqa: F401  (the reports' index)
from server.models.sessions import AuthSession, LoginThrottle, RefreshToken

__all__ = [
    "CommuneDecision",
    "Complaint",
    "VillageMeeting",
    "REVIEW_STATES",
    "Attachment",
    "AttachmentUpload",
    "Change",
    "Conflict",
    "Household",
    "HouseholdAssignment",
    "HouseholdRevision",
    "HouseholdYear",
    "Submission",
    "SubmissionAttachment",
    "SubmissionComment",
    "SubmissionReview",
    "SubmissionRevision",
    "AREA_LEVELS",
    "ROLES",
    "Area",
    "AreaSetting",
    "AuditEntry",
    "AuthSession",
    "Device",
    "FormVersion",
    "LoginThrottle",
    "ParameterSet",
    "RefreshToken",
    "User",
    "UserArea",
    "VERSION_STATES",
]
