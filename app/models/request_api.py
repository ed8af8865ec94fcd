"""API schemas of the request aggregate (contract: ../shared/design/api.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field

from app.core.text import normalize_phone
from app.models.bounds import Instant
from app.models.vocab import (
    AccessScope,
    DelegationScope,
    Delivery,
    NotifyBy,
    Relationship,
    TransmissionTo,
)
from app.textsafety import MultiLine, OneLine, one_line, phone_characters

FileableType = Literal[
    "access",
    "correction",
    "deletion",
    "suspension",
    "consent_withdrawal",
    # Art. 37-2
    "automated_decision_refusal",
    "automated_decision_explanation",
    "automated_decision_review",
    # Art. 35-2
    "transmission",
]
StaffChannel = Literal["email", "fax", "letter", "phone", "in_person", "channeltalk"]


def _phone(value: str) -> str:
    digits = normalize_phone(value)
    if not 9 <= len(digits) <= 11 or not digits.startswith("0"):
        raise ValueError("전화번호 형식이 올바르지 않습니다(예: 010-1234-5678).")
    return value.strip()


def _name(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("이름을 입력해 주세요.")
    return value


def _email_text(value: object) -> object:
    # Before EmailStr's own check, so control characters get the same rule as everywhere.
    if isinstance(value, str):
        one_line(value.strip())
    return value


# Every free-text and contact field takes one of these (app/textsafety.py: control
# characters, bidi controls and invisible-only text are refused; phones are digits and
# separators only; only multi-line free text keeps newlines).
Phone = Annotated[
    str, Field(max_length=32), AfterValidator(phone_characters), AfterValidator(_phone)
]
Name = Annotated[str, Field(max_length=100), AfterValidator(one_line), AfterValidator(_name)]
Email = Annotated[EmailStr, BeforeValidator(_email_text)]
ShortText = Annotated[OneLine, Field(max_length=300)]
Code = Annotated[OneLine, Field(max_length=64)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SubjectIn(_In):
    name: Name
    # Required where the service collected a birth date (policy `collects_birth_date`).
    birth_date: date | None = None
    email: Email | None = None
    phone: Phone | None = None
    # "만 14세 미만입니까?": the answer taken where no birth date is held (art. 38(2)).
    under_14: bool | None = None


class RequesterIn(_In):
    relationship: Relationship = Relationship.SELF
    name: Name | None = None
    birth_date: date | None = None
    email: Email | None = None
    phone: Phone | None = None


class DelegationIn(_In):
    """The fields of 위임장 (PIPC notice form No. 11)."""

    delegator_name: Name
    # Required where the service collected birth dates (law rule 20), like subject.birth_date.
    delegator_birth_date: date | None = None
    delegator_phone: Phone | None = None
    delegator_address: ShortText | None = None
    delegate_name: Name
    delegate_birth_date: date
    delegate_phone: Phone | None = None
    delegate_address: ShortText | None = None
    relationship_to_subject: ShortText | None = None
    scope: list[DelegationScope] = Field(min_length=1, max_length=len(DelegationScope))
    signed_on: date


class CorrectionIn(_In):
    item: Code
    current_value: MultiLine | None = Field(default=None, max_length=1000)
    requested_value: MultiLine = Field(min_length=1, max_length=1000)


class RecipientIn(_In):
    """The institution data is transmitted to (art. 35-2(2)): a 개인정보관리 전문기관 or
    another recipient the Decree admits."""

    name: ShortText = Field(min_length=1)
    # Its registration or designation number, as the recipient gives it.
    code: Code = Field(min_length=1)
    contact: ShortText = Field(min_length=1)


class TransmissionIn(_In):
    to: TransmissionTo
    recipient: RecipientIn | None = None


class RequestCreate(_In):
    type: FileableType
    service: Code
    subject: SubjectIn
    requester: RequesterIn | None = None
    delegation: DelegationIn | None = None
    items: list[OneLine] = Field(default_factory=list)
    details: MultiLine | None = None
    correction: CorrectionIn | None = None
    delivery: Delivery = Delivery.ELECTRONIC
    notify_by: NotifyBy | None = None
    # Access only: what the subject wants to see (Decree art. 41(1) 1-5); omitted = all five.
    access_scope: list[AccessScope] | None = Field(default=None, min_length=1, max_length=5)
    # Processor mode (art. 26(8)): the clinic whose patients' data this is; omitted = the
    # policy's controller.
    controller: Code | None = None
    # Art. 37-2 types only: the policy's automated decision (its code), or "unknown" (staff
    # resolve it); omitted = "unknown".
    automated_decision: Code | None = None
    # Transmission only (art. 35-2): to the subject, or to a named recipient.
    transmission: TransmissionIn | None = None


class StaffRequestCreate(RequestCreate):
    channel: StaffChannel
    received_at: Instant


class RequestCreated(BaseModel):
    reference: str
    access_code: str = Field(description="Shown only in this response; stored hashed.")
    type: str
    status: str
    received_at: datetime
    legal_deadline: date
    next_action: str
    # What we changed in what was sent, and why (e.g. a resident registration number masked).
    warnings: list[str] = Field(default_factory=list)
    # Processor mode: the clinic that is the controller, when the request named one.
    controller: str | None = None


class NoticeSummary(BaseModel):
    """One notice sent (or being sent) to the requester, with its whole text."""

    kind: str
    # When it was delivered; None while it is queued or when delivery failed.
    sent_at: datetime | None
    created_at: datetime = Field(description="when the notice was written and queued")
    channel: str = Field(description="email | sms | chat: how the message went out")
    status: str = Field(description="pending (queued or retrying) | delivered | failed")
    subject: str
    # The whole text as written (an SMS only pointed here); one-time codes masked.
    body: str


class NoticeOut(BaseModel):
    """A notice as staff see it: what was sent, to whom, and how delivery went."""

    id: int
    kind: str
    channel: str
    status: str
    recipient: str
    subject: str
    # What was sent (an SMS: the short pointer), a one-time code masked.
    body: str
    # The whole notice as the requester reads it (for an SMS, the form it points to).
    full_text: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None
    resend_of: int | None


class DocumentSent(BaseModel):
    """A file the requester sent: what kind, when; never its name (it can be personal)."""

    kind: str
    content_type: str
    size: int
    uploaded_at: datetime


class InfoRequestOpen(BaseModel):
    message: str
    respond_by: date | None = None


class RequestPublic(BaseModel):
    """What the requester sees with the access code: the request's state and the notices sent
    to them, whole (which address the recipient by name); no other personal data."""

    reference: str
    type: str
    service: str
    status: str
    outcome: str | None
    received_at: datetime
    legal_deadline: date
    # The deadline reached past the confirmed holiday calendar (law rule 5): it may move.
    deadline_unconfirmed: bool = False
    next_action: str
    decision: dict[str, object] | None = None
    notices: list[NoticeSummary] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    # While a 보완 요청 is open: what was asked and the date to answer by.
    info_request: InfoRequestOpen | None = None
    # The items the request names (codes of the service's catalog; empty: every item) and
    # the documents the requester has sent so far.
    items: list[str] = Field(default_factory=list)
    documents: list[DocumentSent] = Field(default_factory=list)


class QueueItem(BaseModel):
    reference: str
    type: str
    service: str
    channel: str
    status: str
    received_at: datetime
    legal_deadline: date
    target_date: date
    sla: str
    assignee: int | None
    # Open, nobody assigned, and received longer ago than RIGHTSDESK_UNASSIGNED_FLAG_HOURS.
    unassigned_too_long: bool = False
    # Executing: holders' tasks not yet done or waived (open or failed) — what it waits for.
    tasks_pending: int = 0
    # Of those, the ones past their due day (the holders are late).
    tasks_overdue: int = 0
    # After completion: the day the next scheduled destruction of an item kept under a statute
    # opens (art. 21(1)); None when nothing is scheduled.
    next_scheduled_on: date | None = None
    # The legal deadline reached past the confirmed holiday calendar (law rule 5).
    deadline_unconfirmed: bool = False
    # Processor mode (art. 26(8)): the clinic that is the controller, its deadline and its
    # instruction (carry_out | refuse | clinic_answers; None until it has said).
    controller: str | None = None
    clinic_due_on: date | None = None
    clinic_instruction: str | None = None
    # The clinic said it answers the patient itself and has not confirmed it did by
    # clinic_due_on: staff follow it up.
    clinic_overdue: bool = False


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None


class PersonOut(BaseModel):
    relationship: str
    name: str | None
    birth_date: date | None
    email: str | None
    phone: str | None


class EventOut(BaseModel):
    seq: int
    kind: str
    from_status: str | None
    to_status: str | None
    actor: str
    at: datetime
    data: dict[str, object]


class AttachmentOut(BaseModel):
    id: int
    kind: str
    content_type: str
    size: int
    sha256: str
    filename: str | None
    uploaded_by: str
    uploaded_at: datetime


class IdentityCheckOut(BaseModel):
    method: str
    result: str
    actor: str
    note: str | None
    checked_at: datetime


class VerificationOut(BaseModel):
    sends: int
    issued_at: datetime
    expires_at: datetime
    failed_attempts: int
    locked_until: datetime | None
    verified_at: datetime | None


class ReplyOut(BaseModel):
    at: datetime
    message: str


class RecordMatchCheck(BaseModel):
    """One line of what staff match against the service's records (Decree art. 46(1))."""

    check: Literal["name", "birth_date", "contact"]
    label: str  # what to compare, in Korean, for the console
    values: list[str]  # the subject's values as filed (contact: e-mail and phone)


class IdentityOut(BaseModel):
    """Where the request's identity stands (api.md "Identity bound to the account")."""

    # The requester's missing pieces, and `match_account_record` while a grant still waits for
    # staff to match the subject against the service's records.
    missing: list[str]
    record_match_required: bool
    record_matched: bool
    # The methods that count as the match: account_record_match, id_copy, id_in_person.
    record_match_methods: list[str]
    record_match_checklist: list[RecordMatchCheck]


class DuplicateOut(BaseModel):
    """One flag as either request shows it (the staff detail's `duplicates`)."""

    reference: str  # the other request
    # "older": this request duplicates the other; "newer": the other came after this one.
    other_is: Literal["older", "newer"]
    basis: Literal["contact", "name_birth_date"]
    state: Literal["flagged", "linked", "closed"]
    other_status: str


class StaffRequestDetail(QueueItem):
    """Everything staff may see, personal data included (each view is access-logged)."""

    next_action: str
    # Identity and authority pieces still missing, by name (empty once past identity_pending).
    missing: list[str]
    identity: IdentityOut
    attachments: list[AttachmentOut]
    identity_checks: list[IdentityCheckOut]
    verification: VerificationOut | None
    replies: list[ReplyOut]
    # The decision in force (executing or completed), or the draft awaiting the officer; with
    # its state, retention plan and who drafted and approved it. None before any, or after
    # a draft was sent back.
    decision: dict[str, object] | None
    # Access postponements (art. 35(3)): both deadlines of each.
    postponements: list[dict[str, object]]
    internal_notes: list[dict[str, object]]
    # Filed in a Channel Talk chat: the chat, the detection and the customer's messages.
    chat: dict[str, object] | None = None
    # Processor mode: the clinic, its contact, deadline, receipt and instruction.
    clinic: dict[str, object] | None = None
    # The notices to the requester, whole text beside delivery status (as the requester
    # reads them; one-time codes masked). Every notice, staff's too: .../notices.
    notices: list[NoticeOut] = Field(default_factory=list)
    # Other open requests of the same subject, service and type (flagged at filing), and
    # what staff made of each flag.
    duplicates: list[DuplicateOut] = Field(default_factory=list)

    outcome: str | None
    version: int
    period_days: int
    items: list[str]
    # Access: what the subject asked to see (Decree art. 41(1) 1-5); None = all five.
    access_scope: list[str] | None = None
    # Art. 37-2 types: the automated decision named ("unknown" until staff resolve it) and
    # how many times the 30-day period was extended (Decree art. 44-3: at most twice).
    automated_decision: str | None = None
    extensions: int = 0
    delivery: str
    notify_by: str
    details: str | None
    correction: dict[str, object] | None
    # Transmission (art. 35-2): {"to": "self" | "third_party", "recipient": {...} | None}.
    transmission: dict[str, object] | None = None
    subject: PersonOut
    requester: PersonOut | None
    delegation: dict[str, object] | None
    parent_reference: str | None
    closed_at: datetime | None
    events: list[EventOut]


SortKey = Literal["legal_deadline", "-received_at"]
SlaState = Literal["on_track", "due_soon", "overdue", "met", "breached"]
