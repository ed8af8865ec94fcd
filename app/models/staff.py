"""Staff accounts, their bearer tokens, and the log of who looked at whose data."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.models.base import utc_field


class Role(StrEnum):
    AGENT = "agent"  # triage, information requests, draft decisions
    SECURITY = "security"  # 정보보안팀: all handling
    OFFICER = "officer"  # 개인정보보호책임자: approves refusals, partial grants, destruction
    ADMIN = "admin"  # staff and tokens; no access to requests


class Staff(SQLModel, table=True):
    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    role: str = Field(max_length=16)
    # Where SLA reminders reach this person (optional; the team address otherwise).
    email: str | None = Field(default=None, max_length=254)
    active: bool = True
    created_at: datetime = utc_field()
    revoked_at: datetime | None = utc_field(nullable=True)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = utc_field()
    revoked_at: datetime | None = utc_field(nullable=True)
    # After this the token no longer works (RIGHTSDESK_TOKEN_TTL_DAYS when it was made).
    expires_at: datetime | None = utc_field(nullable=True)
    # Updated at most once a minute, so a busy client does not write on every call.
    last_used_at: datetime | None = utc_field(nullable=True)


class AccessLog(SQLModel, table=True):
    """Which staff member viewed which request's personal data, when and from where; also
    the requester's downloads of the access package (no staff member: `staff_id` is None)."""

    __tablename__ = "access_log"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    action: str = Field(max_length=32)
    attachment_id: int | None = Field(default=None, foreign_key="attachment.id")
    client_ip: str | None = Field(default=None, max_length=64)
    # Why (안전성 확보조치 기준 art. 8: 접속기록 holds the task performed): the client's
    # X-Access-Purpose header, else what the action implies.
    purpose: str = Field(
        default="요구 처리", max_length=100, sa_column_kwargs={"server_default": "요구 처리"}
    )
    at: datetime = utc_field(index=True)


class InternalNote(SQLModel, table=True):
    """A staff note on a request (PATCH note); never shown to the requester."""

    __tablename__ = "internal_note"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    staff_id: int = Field(foreign_key="staff.id")
    body_enc: str
    created_at: datetime = utc_field()


class ExportLog(SQLModel, table=True):
    """Every export of the register: who, when, from where, what range, with personal data?"""

    __tablename__ = "export_log"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    kind: str = Field(max_length=32)
    params: str = Field(max_length=500)
    personal_data: bool = False
    row_count: int = 0
    client_ip: str | None = Field(default=None, max_length=64)
    purpose: str = Field(
        default="요구 처리", max_length=100, sa_column_kwargs={"server_default": "요구 처리"}
    )
    at: datetime = utc_field(index=True)
