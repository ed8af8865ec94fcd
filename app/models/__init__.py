"""All tables, imported so that SQLModel.metadata (and Alembic) sees them."""

from app.models import base as _base  # noqa: F401  (naming convention first)
from app.models.access import AccessDownload, AccessPackage
from app.models.channeltalk import (
    ChatCandidate,
    ChatLink,
    ChatMessage,
    InboundEvent,
    IntegrationState,
)
from app.models.clinic import Clinic, ClinicForward
from app.models.console import ConsoleSession, EnrolmentLink, SignInLog, StaffCredential
from app.models.decision import Decision, Postponement
from app.models.duplicate import DuplicateFlag
from app.models.identity import Attachment, IdentityCheck, InfoRequest, Reply, Verification
from app.models.notice import Notice, NoticeAttempt
from app.models.request import AuditAnchor, Delegation, Event, IdempotencyRecord, Party, Request
from app.models.staff import AccessLog, ApiToken, ExportLog, InternalNote, Role, Staff
from app.models.task import Task
from app.models.transmission import TransmissionLog

__all__ = [
    "AccessDownload",
    "AccessLog",
    "AccessPackage",
    "ApiToken",
    "Attachment",
    "AuditAnchor",
    "ChatCandidate",
    "ChatLink",
    "ChatMessage",
    "Clinic",
    "ClinicForward",
    "ConsoleSession",
    "Decision",
    "Delegation",
    "DuplicateFlag",
    "EnrolmentLink",
    "Event",
    "ExportLog",
    "IdempotencyRecord",
    "IdentityCheck",
    "InboundEvent",
    "InfoRequest",
    "IntegrationState",
    "InternalNote",
    "Notice",
    "NoticeAttempt",
    "Party",
    "Postponement",
    "Reply",
    "Request",
    "Role",
    "SignInLog",
    "Staff",
    "StaffCredential",
    "Task",
    "TransmissionLog",
    "Verification",
]
