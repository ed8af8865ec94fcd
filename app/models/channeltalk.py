"""Channel Talk: raw webhook deliveries, chats linked to requests, and detections to confirm.

Channel Talk ids (channel, user chat, user, message) are opaque ids of the processor and are
kept in clear for lookups and API calls; everything a person wrote or is called (message text,
the site's member id) is encrypted like every other personal datum, with a blind index where we
look it up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from app.models.base import utc_field


class InboundEvent(SQLModel, table=True):
    """One webhook delivery (or one message found by reconciliation), stored once per event.

    The raw body is encrypted and deleted after CHANNELTALK_EVENT_RETENTION_DAYS.
    """

    __tablename__ = "inbound_event"
    __table_args__ = (Index("ix_inbound_event_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(default="channeltalk", max_length=16)
    # sha256 of the event's identity (type + entity id + version fields): a repeat is dropped.
    dedupe_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=32)  # message | userchat | user | other
    via: str = Field(default="webhook", max_length=16)  # webhook | reconcile
    payload_enc: str
    # pending | processing | done | ignored | failed
    status: str = Field(default="pending", max_length=16)
    outcome: str | None = Field(default=None, max_length=32)  # what processing did
    attempts: int = 0
    next_attempt_at: datetime = utc_field()
    lease_until: datetime | None = utc_field(nullable=True)
    last_error: str | None = Field(default=None, max_length=200)
    received_at: datetime = utc_field(index=True)
    processed_at: datetime | None = utc_field(nullable=True)


class ChatLink(SQLModel, table=True):
    """The chat a request came from; its notices go back into that chat."""

    __tablename__ = "chat_link"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", unique=True)
    channel_id: str = Field(max_length=64)
    user_chat_id: str = Field(max_length=64, index=True)
    user_id: str = Field(max_length=64, index=True)
    member_id_enc: str | None = None
    member_id_bidx: str | None = Field(default=None, max_length=64, index=True)
    user_type: str = Field(max_length=16)  # member | lead | unified
    # How the chat itself identifies the person: member_hash (a logged-in member, trusted by
    # setting) or none (a lead, or a member without Member Hash).
    identity: str = Field(max_length=16)
    trigger_message_id: str = Field(max_length=64)
    confidence: str = Field(max_length=8)
    matched: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = utc_field()


class ChatMessage(SQLModel, table=True):
    """A customer's message kept with the request it belongs to (the first and later ones)."""

    __tablename__ = "chat_message"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    message_id: str = Field(max_length=64)
    sent_at: datetime = utc_field()
    text_enc: str
    created_at: datetime = utc_field()


class ChatCandidate(SQLModel, table=True):
    """A message that may be a rights request: a manager confirms (files it) or dismisses it."""

    __tablename__ = "chat_candidate"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=64, unique=True)
    channel_id: str = Field(max_length=64)
    user_chat_id: str = Field(max_length=64, index=True)
    user_id: str = Field(max_length=64)
    member_id_enc: str | None = None
    # The Channel Talk user as the delivery named it (name, profile), encrypted JSON: filing
    # on confirmation needs the contact to send the one-time code to.
    user_enc: str | None = None
    user_type: str = Field(max_length=16)
    message_at: datetime = utc_field()
    text_enc: str
    suggested: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    matched: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | filed | dismissed
    request_id: int | None = Field(default=None, foreign_key="request.id")
    decided_by: int | None = Field(default=None, foreign_key="staff.id")
    decided_at: datetime | None = utc_field(nullable=True)
    # The private note asking managers to confirm: posted once, retried by the worker.
    note_sent_at: datetime | None = utc_field(nullable=True)
    note_attempts: int = 0
    created_at: datetime = utc_field()


class IntegrationState(SQLModel, table=True):
    """What the last reconciliation found (webhook blocked or not, chats looked at)."""

    __tablename__ = "integration_state"

    key: str = Field(primary_key=True, max_length=64)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = utc_field()
