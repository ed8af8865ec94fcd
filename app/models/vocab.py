"""The vocabulary of a rights request (PIPA art. 38(1) 열람등요구)."""

from __future__ import annotations

from enum import StrEnum


class RequestType(StrEnum):
    ACCESS = "access"  # art. 35
    CORRECTION = "correction"  # art. 36
    DELETION = "deletion"  # art. 36
    SUSPENSION = "suspension"  # art. 37(1)
    CONSENT_WITHDRAWAL = "consent_withdrawal"  # art. 37(1), added 2023
    # Art. 37-2 (in force 2024.3.15), PIPC 고시 of 2024-09-26: 거부, 설명, 검토.
    AUTOMATED_DECISION_REFUSAL = "automated_decision_refusal"  # art. 37-2(1)
    AUTOMATED_DECISION_EXPLANATION = "automated_decision_explanation"  # art. 37-2(2)
    AUTOMATED_DECISION_REVIEW = "automated_decision_review"  # art. 37-2(2), 고시: 검토
    TRANSMISSION = "transmission"  # art. 35-2 (Decree arts. 42-2 to 42-8), gated by the policy
    OBJECTION = "objection"  # art. 38(5); created only against a decision, never filed directly


class Status(StrEnum):
    """Where a request stands (its moves: app.workflows.lifecycle.TRANSITIONS)."""

    IDENTITY_PENDING = "identity_pending"
    AWAITING_REQUESTER = "awaiting_requester"
    IN_REVIEW = "in_review"
    POSTPONED = "postponed"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Outcome(StrEnum):
    """What a decision answers (api.md "Outcomes, completed"; docs/decisions.md)."""

    GRANTED = "granted"
    PARTIALLY_GRANTED = "partially_granted"
    REFUSED = "refused"
    # Any type: the controller holds no personal data of this subject in the service.
    NO_DATA_HELD = "no_data_held"
    # Correction only: the data was checked and is accurate, so nothing is changed.
    UNCHANGED = "unchanged"


# The outcomes that give the subject something (disclose, change, delete or stop data).
GRANTING: frozenset[Outcome] = frozenset({Outcome.GRANTED, Outcome.PARTIALLY_GRANTED})


FILEABLE_TYPES = tuple(t for t in RequestType if t is not RequestType.OBJECTION)

TYPE_LABELS_KO: dict[str, str] = {
    "access": "열람",
    "correction": "정정",
    "deletion": "삭제",
    "suspension": "처리정지",
    "consent_withdrawal": "동의 철회",
    "objection": "이의제기",
    # Art. 37-2: the three requests about an automated decision.
    "automated_decision_refusal": "자동화된 결정 거부",
    "automated_decision_explanation": "자동화된 결정 설명",
    "automated_decision_review": "자동화된 결정 검토",
    "transmission": "전송",
}

# Art. 37-2: the types that name an automated decision of the policy (or `unknown`).
AUTOMATED_DECISION_TYPES: frozenset[str] = frozenset(
    {
        "automated_decision_refusal",
        "automated_decision_explanation",
        "automated_decision_review",
    }
)


class Relationship(StrEnum):
    SELF = "self"
    LEGAL_REPRESENTATIVE = "legal_representative"  # art. 38(2), Decree art. 45(1)1
    DELEGATE = "delegate"  # Decree art. 45(1)2, with 위임장 (form No. 11)


class Channel(StrEnum):
    WEB = "web"
    API = "api"
    EMAIL = "email"
    FAX = "fax"
    LETTER = "letter"
    PHONE = "phone"
    IN_PERSON = "in_person"
    CHANNELTALK = "channeltalk"


class Delivery(StrEnum):
    ELECTRONIC = "electronic"
    MAIL = "mail"
    IN_PERSON = "in_person"


class NotifyBy(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class AccessScope(StrEnum):
    """What the subject asks to see (Decree art. 41(1) 1-5), in the decree's order."""

    ITEMS = "items"  # 1. 개인정보의 항목 및 내용
    PURPOSES = "purposes"  # 2. 수집ㆍ이용의 목적
    RETENTION = "retention"  # 3. 보유 및 이용 기간
    THIRD_PARTY = "third_party"  # 4. 제3자 제공 현황
    CONSENT = "consent"  # 5. 처리에 동의한 사실 및 내용


class DelegationScope(StrEnum):
    """The boxes of 위임장 (PIPC notice form No. 11)."""

    ACCESS = "access"
    CORRECTION_DELETION = "correction_deletion"
    SUSPENSION = "suspension"
    CONSENT_WITHDRAWAL = "consent_withdrawal"
    # Art. 37-2: one box for the three automated-decision requests (form No. 11 predates them).
    AUTOMATED_DECISION = "automated_decision"
    TRANSMISSION = "transmission"  # art. 35-2 (the form predates it; an added box)


# Which box of the 위임장 covers which request type; form No. 11 has one box for 정정ㆍ삭제.
SCOPE_FOR_TYPE: dict[str, DelegationScope] = {
    "access": DelegationScope.ACCESS,
    "correction": DelegationScope.CORRECTION_DELETION,
    "deletion": DelegationScope.CORRECTION_DELETION,
    "suspension": DelegationScope.SUSPENSION,
    "consent_withdrawal": DelegationScope.CONSENT_WITHDRAWAL,
    "automated_decision_refusal": DelegationScope.AUTOMATED_DECISION,
    "automated_decision_explanation": DelegationScope.AUTOMATED_DECISION,
    "automated_decision_review": DelegationScope.AUTOMATED_DECISION,
    "transmission": DelegationScope.TRANSMISSION,
}


class TransmissionTo(StrEnum):
    """Where transmitted data goes (art. 35-2(1) to the subject, 35-2(2) to a recipient)."""

    SELF = "self"
    THIRD_PARTY = "third_party"


class DecisionState(StrEnum):
    """Where a drafted decision stands (its moves: app.workflows.decisions.DECISION_TRANSITIONS)."""

    AWAITING_APPROVAL = "awaiting_approval"  # drafted; the officer approves or sends it back
    APPROVED = "approved"  # approved by the officer (not the drafter)
    SENT_BACK = "sent_back"  # returned to review; a new draft replaces it
    FINAL = "final"  # in force without approval (a full grant that needs none)


class TaskStatus(StrEnum):
    """Where a holder's task stands (its moves: app.workflows.tasks.TASK_TRANSITIONS)."""

    OPEN = "open"
    DONE = "done"
    WAIVED = "waived"  # the officer decided this holder need not act (with a reason)
    FAILED = "failed"  # the holder could not act; reopened or waived, never left as is
    # A later step of a carried-out decision, not yet due: the worker opens it on `opens_on`
    # (the day after a statutory retention period ends: art. 21(1)).
    SCHEDULED = "scheduled"


class TaskKind(StrEnum):
    """Why a task exists (app/workflows/tasks.py)."""

    DECISION = "decision"  # carrying the decision out: the request waits for it
    # Destroying an item kept under a statute once its period ends (arts. 21(1), 21(3)).
    RETENTION_END = "retention_end"
    # Art. 37(5): destroying (or otherwise dealing with) the data whose processing stopped.
    SUSPENSION_FOLLOWUP = "suspension_followup"
    # Decree art. 43(2): telling the controller the corrected or deleted items came from.
    NOTIFY_SOURCE = "notify_source"


class NoticeStatus(StrEnum):
    """Where a notice stands in the outbox."""

    PENDING = "pending"  # queued, or waiting for its next attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # given up after the last attempt
