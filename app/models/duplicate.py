"""Duplicate flags: a newer request by the same subject, for the same service and type, while
an older one was open (app/workflows/duplicates.py), and what staff made of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import utc_field


class DuplicateFlag(SQLModel, table=True):
    __tablename__ = "duplicate_flag"
    __table_args__ = (UniqueConstraint("request_id", "other_id", name="uq_duplicate_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    # The newer request, and the open older one it duplicates.
    request_id: int = Field(foreign_key="request.id", index=True)
    # No foreign key: PostgreSQL checks one with a KEY SHARE lock on the older request's row
    # inside the filing's transaction, while the outbox worker takes FOR UPDATE on request rows
    # (in id order) to record deliveries; filings of one person flagging several older
    # requests then deadlocked with the worker. Requests are never deleted (the purge scrubs
    # their content and keeps the row), so the id always names a request.
    other_id: int = Field(index=True)
    basis: str = Field(max_length=32)  # workflows.duplicates.Basis
    state: str = Field(default="flagged", max_length=16, index=True)  # FlagState
    flagged_at: datetime = utc_field()
    settled_at: datetime | None = utc_field(nullable=True)
    settled_by: int | None = Field(default=None, foreign_key="staff.id")
