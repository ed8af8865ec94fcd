"""Decisions on a request and postponements of access."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import PydanticJSON, enum_field, utc_field
from app.models.vocab import DecisionState, Delivery, Outcome

# An instant kept as its own ISO 8601 text (the offset it was given with).
_IsoInstant = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), when_used="json")]


class DecisionAccess(BaseModel):
    """Access: how and when the data is made available, and the fee (Decree arts. 41(5), 47)."""

    model_config = ConfigDict(frozen=True)

    method: Delivery
    available_at: _IsoInstant | None = None
    place: str | None = None
    fee_krw: int = 0
    postage_krw: int = 0
    caused_by_controller: bool = False


class RetentionEntry(BaseModel):
    """One item of a deletion's retention plan: deleted now, or kept until when and why
    (art. 21(3); app.workflows.retention.ItemPlan)."""

    model_config = ConfigDict(frozen=True)

    item: str
    item_name: str
    action: Literal["delete", "keep"]
    keep_until: date | None
    rule: str | None
    statute: str | None
    article: str | None = None  # the statute's provision (stored plans before it have none)
    reason: str  # the sentence for the subject's notice


class Decision(SQLModel, table=True):
    """What the team decided, on which grounds, and who approved it.

    A request can have several (one sent back by the officer, then a new draft); the latest
    one is in force. `reason_enc` is the text the subject reads; it may name people.
    """

    __tablename__ = "decision"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    outcome: Outcome = enum_field(Outcome, length=32)
    grounds: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    items_granted: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    items_withheld: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason_enc: str | None = None
    # Correction: what was changed, encrypted (it holds the values).
    changes_enc: str | None = None
    access: DecisionAccess | None = Field(
        default=None, sa_column=Column(PydanticJSON(DecisionAccess | None), nullable=True)
    )
    # Deletion / withdrawal: what is deleted now and what is kept until when (art. 21(3)).
    retention: list[RetentionEntry] | None = Field(
        default=None, sa_column=Column(PydanticJSON(list[RetentionEntry] | None), nullable=True)
    )
    subject_stated_termination: bool | None = None  # art. 37(2)4
    state: DecisionState = enum_field(DecisionState, length=24)
    drafted_by: int = Field(foreign_key="staff.id")
    drafted_at: datetime = utc_field()
    approved_by: int | None = Field(default=None, foreign_key="staff.id")
    decided_at: datetime | None = utc_field(nullable=True)
    approval_note_enc: str | None = None
    # Art. 37-2 refusal granted: `not_applied` (the decision no longer applies to the subject)
    # or `human_reprocessing` (a person decided again).
    ad_measure: str | None = Field(default=None, max_length=32)
    # Art. 37-2: the structured explanation of Decree art. 44-3(2) (result, main criteria and
    # procedure, data types) or a review's reconsidered result, as JSON, encrypted (it is
    # about the subject).
    ad_explanation_enc: str | None = None


class Postponement(SQLModel, table=True):
    """An access postponement (art. 35(3)): both deadlines are kept."""

    __tablename__ = "postponement"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    reason_enc: str
    started_at: datetime = utc_field()
    original_due_on: date
    expected_end: date | None = None
    ended_on: date | None = None
    new_due_on: date | None = None
