"""Evidence and identity: uploaded files, identity checks, one-time codes, requester replies."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from app.models.base import utc_field


class Attachment(SQLModel, table=True):
    """An uploaded file; the bytes live encrypted in the evidence store, not in the database."""

    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    kind: str = Field(max_length=32)
    # Sniffed from the bytes, never from the name (an XLSX extract's type is 65 characters).
    content_type: str = Field(max_length=128)
    size: int
    sha256: str = Field(max_length=64)
    blob_key: str = Field(max_length=64, unique=True)
    filename_enc: str | None = None  # names of ID scans can carry a person's name
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime = utc_field()
    # Evidence that a holder carried a decision out (kind task_evidence).
    task_id: int | None = Field(default=None, foreign_key="task.id", index=True)


class IdentityCheck(SQLModel, table=True):
    """Each verification step (Decree art. 46(1)): method, result, actor, time."""

    __tablename__ = "identity_check"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    method: str = Field(max_length=32)
    result: str = Field(max_length=16)  # verified | failed
    actor: str = Field(max_length=64)
    note_enc: str | None = None
    checked_at: datetime = utc_field()


class Verification(SQLModel, table=True):
    """The one-time code sent to the requester's contact; only its keyed hash is kept."""

    __tablename__ = "verification"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", unique=True)
    code_hash: str = Field(max_length=64)
    issued_at: datetime = utc_field()
    expires_at: datetime = utc_field()
    failed_attempts: int = 0
    locked_until: datetime | None = utc_field(nullable=True)
    sends: int = 0
    window_started_at: datetime = utc_field()
    verified_at: datetime | None = utc_field(nullable=True)


class Reply(SQLModel, table=True):
    """The requester's answer to an information request (보완 요청), encrypted."""

    __tablename__ = "reply"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    body_enc: str
    created_at: datetime = utc_field()


class InfoRequest(SQLModel, table=True):
    """보완 요청: what staff asked the requester for and by when, encrypted, so the status page
    can show the question while it is open (the notice is the letter; this is the question)."""

    __tablename__ = "info_request"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    message_enc: str
    respond_by: date | None = None
    created_at: datetime = utc_field()
