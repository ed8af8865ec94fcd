"""Tasks: carrying a decision out at every holder of the data (app/workflows/tasks.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from app.models.base import enum_field, utc_field
from app.models.vocab import TaskKind, TaskStatus


class Task(SQLModel, table=True):
    """One holder's part of a decision: what to do with which items, by when, and the proof.

    The holder's name and contact are copied from the policy when the task is made, so the
    record says whom we instructed even after the policy changes.
    """

    __tablename__ = "task"
    __table_args__ = (Index("ix_task_status_due", "status", "due_on"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    decision_id: int = Field(foreign_key="decision.id")
    # decision | retention_end | suspension_followup: only `decision` tasks hold the request
    # in `executing`; the others are tracked on their own after it completes.
    kind: TaskKind = enum_field(TaskKind, length=24, default=TaskKind.DECISION)
    holder_code: str = Field(max_length=64)
    holder_kind: str = Field(max_length=16)  # system | processor
    holder_name: str = Field(max_length=200)
    contact_email: str | None = Field(default=None, max_length=200)
    # [{"item": code, "instruction": delete | separate | correct | suspend}]
    instructions: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    status: TaskStatus = enum_field(TaskStatus, length=16, default=TaskStatus.OPEN)
    due_on: date
    # A scheduled task opens on this day (KST): the day after the item's keep_until.
    opens_on: date | None = None
    assignee_id: int | None = Field(default=None, foreign_key="staff.id")
    # Evidence: [{"action": ..., "method": ...}], who, when it was done and when recorded.
    performed: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    note_enc: str | None = None
    completed_by: str | None = Field(default=None, max_length=64)  # staff:<id> | holder:<code>
    performed_at: datetime | None = utc_field(nullable=True)
    completed_at: datetime | None = utc_field(nullable=True)
    reason_enc: str | None = None  # why it failed, or why the officer waived it
    waived_by: int | None = Field(default=None, foreign_key="staff.id")
    reminded_at: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()
