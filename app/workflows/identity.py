"""What each requester must show, and the one-time code rules. Pure: no clock, no I/O.

Decree art. 46(1): before anything is disclosed or changed, the controller confirms that the
requester is the data subject or a legitimate representative. PIPA art. 38(4) and 표준지침
art. 34: no documents or steps beyond what collecting the data required (law rule 20), so a
subject filing for themself proves control of the contact they gave, nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.errors import Conflict, FieldError
from app.models.vocab import GRANTING, Outcome, Relationship
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


# Decree art. 46(1): the methods that bind the request to the subject's own records. A
# one-time code (or a chat login) proves control of a contact, not that the contact belongs
# to the subject the request names; these do (docs/decisions.md "Identity bound to the account").
RECORD_BINDING_METHODS: frozenset[IdentityMethod] = frozenset(
    {IdentityMethod.ACCOUNT_RECORD_MATCH, IdentityMethod.ID_IN_PERSON, IdentityMethod.ID_COPY}
)

# The staff detail's name for the missing record match (api.md "Identity bound to the account").
MATCH_ACCOUNT_RECORD = "match_account_record"

# What staff compare against the service's records before recording `account_record_match`
# (Decree art. 46(1)): the console shows each beside the subject's value.
RECORD_MATCH_CHECKLIST: tuple[tuple[str, str], ...] = (
    ("name", "이름이 서비스의 회원(고객) 기록과 같은지"),
    ("birth_date", "생년월일이 서비스의 기록과 같은지"),
    ("contact", "이메일 또는 휴대전화번호가 서비스에 등록된 연락처와 같은지"),
)


def record_matched(verified_methods: Iterable[str]) -> bool:
    """Decree art. 46(1): a verified check by a method that binds the request to the subject."""
    return any(m in RECORD_BINDING_METHODS for m in verified_methods)


def record_match_needed(request_type: str, *, required: bool) -> bool:
    """Whether a grant on this request waits for the record match. An objection grants
    nothing itself (an upheld one reopens the request, which is decided under this rule)."""
    return required and request_type != "objection"


def check_record_match(
    outcome: Outcome, request_type: str, verified_methods: Iterable[str], *, required: bool
) -> None:
    """Decree art. 46(1), law rule 19: nothing is disclosed or changed for a subject the
    request is not bound to. A refusal, `no_data_held`, `unchanged` and a 보완 요청 give
    nothing, so they need no match."""
    if outcome not in GRANTING or not record_match_needed(request_type, required=required):
        return
    if record_matched(verified_methods):
        return
    msg = (
        "인용하기 전에 정보주체의 이름·생년월일·연락처를 서비스의 기록과 대조하고 "
        "본인 확인 결과(account_record_match, id_in_person 또는 id_copy)를 기록해 주세요"
        "(시행령 제46조제1항)."
    )
    raise Conflict(
        msg,
        code="identity_not_matched",
        errors=[FieldError("outcome", "identity_not_matched", msg)],
    )


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
