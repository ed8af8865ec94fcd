"""Bulk actions on a queue selection: what each action may touch (pure).

"Unverified too long" is the controller's policy, not the law's: Decree art. 46(1) lets the
controller refuse a request whose requester it cannot identify, and a requester who never
answers the one-time code or the 보완 요청 leaves the request open with its deadline running.
The number of days is a setting, off by default; the notice tells the requester they may file
again (the identity-rejected notice of Decree art. 46).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from app.workflows.lifecycle import Status


class BulkAction(StrEnum):
    ASSIGN = "assign"
    NOTE = "note"
    INFO_REMINDER = "info_reminder"  # the open 보완 요청 sent again
    CLOSE_UNVERIFIED = "close_unverified"


# Who may run each action, by the capability of app/deps.py it needs.
NEEDS_HANDLING = frozenset({BulkAction.CLOSE_UNVERIFIED})

# Statuses in which identity is still not established: waiting for it, or waiting for the
# requester's answer to a 보완 요청 asked before review.
_UNVERIFIED = (Status.IDENTITY_PENDING, Status.AWAITING_REQUESTER)


def unverified_too_long(
    status: Status,
    resume_status: Status | None,
    received_on: date,
    today: date,
    after_days: int | None,
) -> bool:
    """Still unverified `after_days` whole days after the day of receipt (KST days). Off
    (never) without a setting."""
    if after_days is None or status not in _UNVERIFIED:
        return False
    if status is Status.AWAITING_REQUESTER and resume_status is not Status.IDENTITY_PENDING:
        return False  # the 보완 요청 was asked in review: identity is already established
    return (today - received_on).days >= after_days


def may_remind(status: Status) -> bool:
    """A 보완 요청 reminder only while the request waits for the requester's answer."""
    return status is Status.AWAITING_REQUESTER
