"""What each requester must show, and the one-time code rules. Pure: no clock, no I/O.

Decree art. 46(1): before anything is disclosed or changed, the controller confirms that the
requester is the data subject or a legitimate representative. PIPA art. 38(4) and 표준지침
art. 34: no documents or steps beyond what collecting the data required (law rule 20), so a
subject filing for themself proves control of the contact they gave, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.models.vocab import Relationship
from app.workflows.lifecycle import Status


class AttachmentKind(StrEnum):
    IDENTITY_DOCUMENT = "identity_document"  # the representative's own ID
    POWER_OF_ATTORNEY = "power_of_attorney"  # signed 위임장 scan (form No. 11, Decree art. 45(2))
    PROOF_OF_REPRESENTATION = "proof_of_representation"  # e.g. 가족관계증명서 (art. 38(2))
    CORRECTION_EVIDENCE = "correction_evidence"  # art. 36(5)
    OTHER = "other"


class IdentityMethod(StrEnum):
    ID_IN_PERSON = "id_in_person"  # ID document seen in person
    ID_COPY = "id_copy"  # ID copy received
    ACCOUNT_RECORD_MATCH = "account_record_match"  # matches the service's account records
    ONE_TIME_CODE = "one_time_code"  # control of the contact shown by a code
    # Logged in to the company's site: a Channel Talk chat of a member whose messenger was
    # booted with Member Hash (docs/channeltalk.md).
    MEMBER_LOGIN = "member_login"


class Piece(StrEnum):
    """A missing piece, named as the requester's next action."""

    VERIFY_CONTACT = "verify_contact"
    SUBMIT_IDENTITY_DOCUMENT = "submit_identity_document"
    SUBMIT_PROOF_OF_REPRESENTATION = "submit_proof_of_representation"
    SUBMIT_POWER_OF_ATTORNEY = "submit_power_of_attorney"


# What each kind of requester shows (Decree arts. 45, 46; PIPA art. 38(2)).
REQUIRED: dict[Relationship, tuple[Piece, ...]] = {
    Relationship.SELF: (Piece.VERIFY_CONTACT,),
    Relationship.LEGAL_REPRESENTATIVE: (
        Piece.SUBMIT_IDENTITY_DOCUMENT,
        Piece.SUBMIT_PROOF_OF_REPRESENTATION,
    ),
    Relationship.DELEGATE: (Piece.SUBMIT_POWER_OF_ATTORNEY, Piece.SUBMIT_IDENTITY_DOCUMENT),
}

_SATISFIED_BY: dict[Piece, AttachmentKind] = {
    Piece.SUBMIT_IDENTITY_DOCUMENT: AttachmentKind.IDENTITY_DOCUMENT,
    Piece.SUBMIT_PROOF_OF_REPRESENTATION: AttachmentKind.PROOF_OF_REPRESENTATION,
    Piece.SUBMIT_POWER_OF_ATTORNEY: AttachmentKind.POWER_OF_ATTORNEY,
}


@dataclass(frozen=True)
class Evidence:
    attachment_kinds: frozenset[str]
    contact_verified: bool


def missing_pieces(relationship: str, evidence: Evidence) -> list[Piece]:
    missing = []
    for piece in REQUIRED[Relationship(relationship)]:
        if piece is Piece.VERIFY_CONTACT:
            done = evidence.contact_verified
        else:
            done = _SATISFIED_BY[piece].value in evidence.attachment_kinds
        if not done:
            missing.append(piece)
    return missing


def verified_automatically(relationship: str, evidence: Evidence) -> bool:
    """A subject filing for themself is verified by the code alone; documents of a
    representative are always looked at by a person before review starts."""
    return relationship == Relationship.SELF and not missing_pieces(relationship, evidence)


# What the requester is asked to do next, outside identity_pending (shown on the status page).
NEXT_ACTION: dict[str, str] = {
    Status.AWAITING_REQUESTER: "provide_information",
    Status.IN_REVIEW: "wait",
    Status.POSTPONED: "wait",
    Status.AWAITING_APPROVAL: "wait",
    Status.EXECUTING: "wait",
    Status.COMPLETED: "none",
    Status.REJECTED: "none",
    Status.WITHDRAWN: "none",
}


def next_action(status: str, relationship: str, evidence: Evidence) -> str:
    """The first missing piece by name; 'wait' once everything is in for staff to check."""
    if status == Status.IDENTITY_PENDING:
        missing = missing_pieces(relationship, evidence)
        return missing[0].value if missing else "wait"
    return NEXT_ACTION[status]


# --- one-time codes ------------------------------------------------------------------------


@dataclass(frozen=True)
class OtpRules:
    ttl: timedelta
    max_attempts: int
    lock: timedelta
    resend_interval: timedelta
    max_sends: int
    send_window: timedelta


@dataclass(frozen=True)
class OtpState:
    issued_at: datetime
    expires_at: datetime
    failed_attempts: int
    locked_until: datetime | None
    sends: int
    window_started_at: datetime
    verified_at: datetime | None


class OtpOutcome(StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"
    EXPIRED = "expired"
    LOCKED = "locked"
    ALREADY_VERIFIED = "already_verified"


def check_code(state: OtpState, *, matches: bool, now: datetime) -> OtpOutcome:
    """Judge one attempt. A locked code refuses even the right digits until a new one is sent."""
    if state.verified_at is not None:
        return OtpOutcome.ALREADY_VERIFIED
    if state.locked_until is not None:
        return OtpOutcome.LOCKED
    if now >= state.expires_at:
        return OtpOutcome.EXPIRED
    return OtpOutcome.VERIFIED if matches else OtpOutcome.WRONG


def locks_after_this_failure(state: OtpState, rules: OtpRules) -> bool:
    return state.failed_attempts + 1 >= rules.max_attempts


def resend_wait(state: OtpState, rules: OtpRules, *, now: datetime) -> timedelta:
    """How long the requester must wait before another code may be sent (zero: now)."""
    waits = [state.issued_at + rules.resend_interval - now]
    if state.locked_until is not None:
        waits.append(state.locked_until - now)
    in_window = now < state.window_started_at + rules.send_window
    if in_window and state.sends >= rules.max_sends:
        waits.append(state.window_started_at + rules.send_window - now)
    return max([timedelta(0), *waits])
