"""The request lifecycle: one transition table; anything not in it is refused.

Statuses follow the reference architecture. `awaiting_requester` (보완 요청, a request for more
information) returns to the status it was entered from, which the request remembers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from app.errors import InvalidTransition
from app.models.vocab import Outcome as Outcome
from app.models.vocab import Status as Status
from app.workflows.deadlines import kst_date

S = Status

CLOSED: frozenset[Status] = frozenset({S.COMPLETED, S.REJECTED, S.WITHDRAWN})
OPEN: frozenset[Status] = frozenset(set(Status) - CLOSED)

TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.IDENTITY_PENDING: frozenset({S.IN_REVIEW, S.AWAITING_REQUESTER, S.REJECTED, S.WITHDRAWN}),
    # 보완 요청 may come before or during review; the way back is checked against resume_status.
    S.AWAITING_REQUESTER: frozenset({S.IDENTITY_PENDING, S.IN_REVIEW, S.REJECTED, S.WITHDRAWN}),
    S.IN_REVIEW: frozenset(
        {
            S.AWAITING_REQUESTER,
            S.POSTPONED,
            S.AWAITING_APPROVAL,
            S.EXECUTING,
            S.COMPLETED,
            S.WITHDRAWN,
        }
    ),
    # Postponement exists for access only (PIPA art. 35(3)); see can_postpone().
    S.POSTPONED: frozenset({S.IN_REVIEW, S.WITHDRAWN}),
    # Approval sends the case on, or back to review.
    S.AWAITING_APPROVAL: frozenset({S.EXECUTING, S.COMPLETED, S.IN_REVIEW, S.WITHDRAWN}),
    S.EXECUTING: frozenset({S.COMPLETED, S.WITHDRAWN}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
}


class Transitionable(Protocol):
    status: Status
    type: str
    resume_status: Status | None
    version: int
    closed_at: datetime | None
    closed_on: date | None
    received_at: datetime
    days_to_close: int | None


@dataclass(frozen=True)
class TransitionEvent:
    kind: str
    from_status: str
    to_status: str
    actor: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


def transition(
    request: Transitionable,
    to: Status,
    *,
    actor: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> TransitionEvent:
    """Move `request` to `to`, or raise InvalidTransition and change nothing."""
    current = Status(request.status)
    if to not in TRANSITIONS[current]:
        raise InvalidTransition(f"'{current}' 상태에서 '{to}' 상태로 바꿀 수 없습니다.")
    if to is S.POSTPONED and request.type != "access":
        raise InvalidTransition(
            "열람 연기는 열람 요구에만 할 수 있습니다(개인정보 보호법 제35조제3항)."
        )
    returning = current is S.AWAITING_REQUESTER and to not in (S.REJECTED, S.WITHDRAWN)
    if returning and request.resume_status != to:
        raise InvalidTransition(
            f"보완 요청 전 상태('{request.resume_status}')로만 돌아갈 수 있습니다."
        )
    request.resume_status = current if to is S.AWAITING_REQUESTER else None
    request.status = to
    request.version += 1
    if to in CLOSED:
        request.closed_at = now
        request.closed_on = kst_date(now)
        request.days_to_close = (request.closed_on - kst_date(request.received_at)).days
    return TransitionEvent(
        kind="status_changed",
        from_status=current,
        to_status=to,
        actor=actor,
        at=now,
        data=dict(data or {}),
    )
