"""Notices to the requester and the outbox that delivers them.

A notice is written in the same transaction as the change that causes it, so a request that
exists always has its notices; the outbox then delivers each one at least once, with a stable
Message-ID / Idempotency-Key so that a retry after a crash is recognisable downstream.
Recipient, subject and body are personal data and are stored encrypted, as sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.models.base import enum_field, utc_field

# The staff view of a notice is an API shape; imported here too, where it used to live.
from app.models.request_api import NoticeOut
from app.models.vocab import NoticeStatus

__all__ = ["Notice", "NoticeAttempt", "NoticeOut"]


class Notice(SQLModel, table=True):
    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    kind: str = Field(max_length=32)
    channel: str = Field(max_length=8)  # email | sms
    # requester: a notice to the data subject's side; staff: an internal SLA reminder.
    audience: str = Field(
        default="requester", max_length=16, sa_column_kwargs={"server_default": "requester"}
    )
    # Idempotency: the same logical notice is queued once, whatever retries the caller makes.
    dedupe_key: str = Field(max_length=128, unique=True)
    recipient_enc: str
    subject_enc: str
    body_enc: str
    # For a one-time code: the body with the code masked, which replaces body_enc once the
    # message is delivered, so the code does not outlive its delivery even encrypted.
    redacted_body_enc: str | None = None
    # The whole notice as the requester reads it on the status page, when what was sent is
    # shorter: an SMS only says a notice is ready, this is the form it points to (one-time
    # codes masked from the start). None when body_enc is itself the whole text.
    full_body_enc: str | None = None
    status: NoticeStatus = enum_field(NoticeStatus, length=16, default=NoticeStatus.PENDING)
    attempts: int = 0
    next_attempt_at: datetime = utc_field()
    lease_until: datetime | None = utc_field(nullable=True)
    last_error: str | None = Field(default=None, max_length=200)
    resend_of_id: int | None = Field(default=None, foreign_key="notice.id")
    created_at: datetime = utc_field()
    delivered_at: datetime | None = utc_field(nullable=True)
    failed_at: datetime | None = utc_field(nullable=True)


class NoticeAttempt(SQLModel, table=True):
    """One record per delivery try: which transport, when, and how it ended (no addresses)."""

    __tablename__ = "notice_attempt"

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", index=True)
    number: int
    transport: str = Field(max_length=16)
    started_at: datetime = utc_field()
    finished_at: datetime | None = utc_field(nullable=True)
    outcome: str | None = Field(default=None, max_length=16)  # delivered | retry | failed
    error: str | None = Field(default=None, max_length=200)
