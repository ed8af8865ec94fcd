"""Processor mode (PIPA art. 26(8)): the clinics whose patients' data Carelabs' CRMs hold as
their processor (수탁자), and each request forwarded to its clinic."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import utc_field


class Clinic(SQLModel, table=True):
    """A clinic added by staff (admin). Only the clinic's business contact: no personal data.

    Clinics of the policy file (`[[clinics]]`) are not stored here; both lists together are the
    clinics a request can name (app/services/clinics/registry.py)."""

    __tablename__ = "clinic"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    # The services (우노, 스마트CRM, ...) whose data Carelabs holds for this clinic.
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    created_by: int = Field(foreign_key="staff.id")
    created_at: datetime = utc_field()
    deactivated_at: datetime | None = utc_field(nullable=True)


class ClinicForward(SQLModel, table=True):
    """A request about data held for a clinic, forwarded to it: the clinic's deadline, its
    confirmation of receipt and its instruction. The clinic's name and contact are copied when
    the request is filed, so the record says whom we told even after the list changes."""

    __tablename__ = "clinic_forward"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", unique=True)
    clinic_code: str = Field(max_length=64, index=True)
    clinic_name: str = Field(max_length=200)
    clinic_email: str = Field(max_length=200)
    clinic_phone: str | None = Field(default=None, max_length=32)
    # The request touches 진료기록 (의료법 제21조): the receipt pointed the patient there.
    medical_records: bool = False
    # The controller's deadline (docs/decisions.md "Processor mode").
    due_on: date
    # When the e-mail went to the clinic: only once our identity check is done, so that no
    # one can make us send a named person's identifiers on an unverified request.
    forwarded_at: datetime | None = utc_field(nullable=True)
    received_at: datetime | None = utc_field(nullable=True)  # the clinic confirmed receipt
    # carry_out | refuse | clinic_answers; None until the clinic has said
    instruction: str | None = Field(default=None, max_length=16)
    reason_enc: str | None = None  # a refusal's reason, as the clinic wrote it
    instructed_at: datetime | None = utc_field(nullable=True)
    # The decision staff made of the instruction (only that one gets the clinic's result notice).
    decision_id: int | None = Field(default=None, foreign_key="decision.id")
    # clinic_answers: staff passed it on (the patient was told), then the clinic confirmed on
    # its page that it answered; the request stays open until then.
    applied_at: datetime | None = utc_field(nullable=True)
    answered_at: datetime | None = utc_field(nullable=True)
