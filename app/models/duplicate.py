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
    other_id: int = Field(foreign_key="request.id", index=True)
    basis: str = Field(max_length=32)  # workflows.duplicates.Basis
    state: str = Field(default="flagged", max_length=16, index=True)  # FlagState
    flagged_at: datetime = utc_field()
    settled_at: datetime | None = utc_field(nullable=True)
    settled_by: int | None = Field(default=None, foreign_key="staff.id")
