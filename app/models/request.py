"""The request aggregate: request, party, delegation, event, idempotency record.

Personal data (names, birth dates, contacts, free text) lives only in `*_enc` columns,
encrypted with AES-GCM by app.core.crypto.Vault; `*_bidx` columns hold keyed hashes for lookup.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.base import enum_field, utc_field, utcnow
from app.models.vocab import Outcome, Status

_VERSION = Column("version", Integer, nullable=False)
_OPEN_SQL = "status NOT IN ('completed', 'rejected', 'withdrawn')"
_BREACHED_SQL = "closed_on > legal_due_on"


class Request(SQLModel, table=True):
    __tablename__ = "request"
    __table_args__ = (
        Index("ix_request_status_due", "status", "legal_due_on"),
        Index("ix_request_received", "received_at"),
        # The dashboard counts every request by type and service (and how many have a closing
        # date) from this index alone; it also serves `type = ?`.
        Index("ix_request_type_service_closed", "type", "service", "closed_on"),
        # The open requests: a partial index, so the millions of closed requests are not in the
        # way (the same predicate as the SLA twin's "open"). Ordered for the queue by deadline;
        # the other columns let the dashboard count and the sweep filter without the table.
        # SQLite uses it only for queries that spell the predicate out with literals.
        Index(
            "ix_request_open_due",
            "legal_due_on",
            "id",
            "type",
            "service",
            "assignee_id",
            "received_at",
            "closed_on",
            sqlite_where=text(_OPEN_SQL),
            postgresql_where=text(_OPEN_SQL),
        ),
        # Closed after the legal deadline (a few percent of the closed): the dashboard's
        # breached counts.
        Index(
            "ix_request_breached",
            "type",
            "service",
            "status",
            sqlite_where=text(_BREACHED_SQL),
            postgresql_where=text(_BREACHED_SQL),
        ),
        # The last 30 / 90 days' on-time rate and days to close, read from the index alone.
        Index("ix_request_closed_on", "closed_on", "days_to_close", "legal_due_on"),
    )

    # Optimistic concurrency: every UPDATE says "WHERE version = <the version read>", so of two
    # writers that read the same version exactly one succeeds. The workflows bump the number.
    __mapper_args__ = {"version_id_col": _VERSION, "version_id_generator": False}

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=32, unique=True)
    type: str = Field(max_length=32)  # indexed by ix_request_type_service_closed
    service: str = Field(max_length=32, index=True)
    channel: str = Field(max_length=16)
    status: Status = enum_field(Status, length=32)
    outcome: Outcome | None = enum_field(Outcome, length=32, default=None, nullable=True)
    resume_status: Status | None = enum_field(Status, length=32, default=None, nullable=True)
    received_at: datetime = utc_field()
    # KST dates: Civil Act arts. 157-161 count whole days in Korea time.
    legal_due_on: date
    target_due_on: date
    period_days: int
    # The deadline reached past the confirmed holiday calendar (law rule 5): unconfirmed.
    deadline_unconfirmed: bool = False
    assignee_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="request.id")
    version: int = Field(default=1, sa_column=_VERSION)
    access_code_hash: str = Field(max_length=64)
    items: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Access: what the subject wants to see (Decree art. 41(1) 1-5); None = everything.
    access_scope: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    delivery: str = Field(max_length=16)
    notify_by: str = Field(max_length=8)
    details_enc: str | None = None
    correction_enc: str | None = None
    # Transmission (art. 35-2): `self` or `third_party`; the recipient institution (name,
    # registration, contact) as encrypted JSON, since its contact may name a person.
    transmission_to: str | None = Field(default=None, max_length=16)
    transmission_enc: str | None = None
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()
    closed_at: datetime | None = utc_field(nullable=True)
    # KST date of closing, fixed when the request closes; the SLA twin compares it in SQL.
    closed_on: date | None = None
    # Calendar days from receipt to closing (KST dates), fixed at closing, for the dashboard.
    days_to_close: int | None = None
    # Personal data removed after RIGHTSDESK_PURGE_AFTER_DAYS (`rightsdesk purge`); the
    # anonymous facts (type, service, dates, outcome, timeline) stay for statistics.
    purged_at: datetime | None = utc_field(nullable=True)
    # The proof kept past the purge (notice bodies, decision and postponement reasons) is
    # removed after RIGHTSDESK_PROOF_RETENTION_YEARS (Civil Act art. 766(2)).
    proof_purged_at: datetime | None = utc_field(nullable=True)
    # Art. 37-2 types: the policy's automated decision the request is about, or "unknown"
    # until staff resolve it; None for every other type.
    automated_decision: str | None = Field(default=None, max_length=64)
    # Decree art. 44-3: how many times the 30-day period was extended (at most twice).
    extensions: int = 0


class Party(SQLModel, table=True):
    """The data subject, and the requester when someone else files."""

    __tablename__ = "party"
    __table_args__ = (UniqueConstraint("request_id", "role", name="uq_party_request_role"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    role: str = Field(max_length=16)  # subject | requester
    relationship: str = Field(max_length=32)  # self | legal_representative | delegate
    name_enc: str | None = None
    birth_date_enc: str | None = None
    email_enc: str | None = None
    phone_enc: str | None = None
    name_bidx: str | None = Field(default=None, max_length=64, index=True)
    email_bidx: str | None = Field(default=None, max_length=64, index=True)
    phone_bidx: str | None = Field(default=None, max_length=64, index=True)


class Delegation(SQLModel, table=True):
    """위임장 (PIPC notice form No. 11): its fields, encrypted as one document, and its scope."""

    __tablename__ = "delegation"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", unique=True)
    fields_enc: str
    scope: list[str] = Field(sa_column=Column(JSON, nullable=False))
    signed_on: date


class Event(SQLModel, table=True):
    """Append-only timeline; `data` never holds personal data."""

    __tablename__ = "event"
    __table_args__ = (UniqueConstraint("request_id", "seq", name="uq_event_request_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    seq: int
    kind: str = Field(max_length=48)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str | None = Field(default=None, max_length=32)
    actor: str = Field(max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = utc_field()
    # The chain (app/workflows/audit.py): the previous event's MAC and this event's.
    prev_mac: str | None = Field(default=None, max_length=64)
    mac: str | None = Field(default=None, max_length=64)


class AuditAnchor(SQLModel, table=True):
    """One link of the global chain: the heads of every request chain that grew since the
    previous anchor (events with id <= last_event_id), sealed with the previous anchor's MAC."""

    __tablename__ = "audit_anchor"

    id: int | None = Field(default=None, primary_key=True)
    last_event_id: int
    heads: list[list[Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Unique: two workers anchoring at once cannot both extend the same link.
    prev_mac: str = Field(max_length=64, unique=True)
    mac: str = Field(max_length=64)
    created_at: datetime = utc_field()


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a POST with an Idempotency-Key, encrypted (it holds the access
    code), kept for RIGHTSDESK_IDEMPOTENCY_TTL_HOURS."""

    __tablename__ = "idempotency_record"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True)
    body_hash: str = Field(max_length=64)
    request_id: int = Field(foreign_key="request.id")
    response_enc: str
    created_at: datetime = utc_field()
    expires_at: datetime = utc_field(index=True)


__all__ = ["Delegation", "Event", "IdempotencyRecord", "Party", "Request", "utcnow"]
