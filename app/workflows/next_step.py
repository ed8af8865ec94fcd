"""What a request waits for next and who must take that step: one pure function, read by the
staff console's queue (and by the API when it shows the same).

The statuses and their moves are the lifecycle's (app/workflows/lifecycle.py); this table
only says, for each open status, whose move it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.workflows.lifecycle import Status


class Step(StrEnum):
    ASSIGN = "assign"  # nobody handles it yet
    IDENTITY_REVIEW = "identity_review"  # Decree art. 46(1): check who asks
    REQUESTER_REPLY = "requester_reply"  # 보완 요청: the requester answers
    DECIDE = "decide"  # draft the decision
    END_POSTPONEMENT = "end_postponement"  # art. 35(3): access once the reason is gone
    APPROVE = "approve"  # the officer approves or sends back the draft
    HOLDER_TASKS = "holder_tasks"  # holders carry the decision out
    TASKS_OVERDUE = "tasks_overdue"  # a holder is past its task's due day: chase it
    FINISH = "finish"  # every task done: release the package or record access given
    NONE = "none"  # closed


class Actor(StrEnum):
    TEAM = "team"  # any case worker may pick it up
    ASSIGNEE = "assignee"  # the staff member the request is assigned to
    OFFICER = "officer"  # the privacy officer (개인정보 보호책임자)
    REQUESTER = "requester"  # outside: the data subject or their representative
    HOLDERS = "holders"  # outside the team: the departments and processors holding the data
    NOBODY = "nobody"


@dataclass(frozen=True)
class NextStep:
    step: Step
    actor: Actor


# Whose move each open status is, once the request has an assignee.
_BY_STATUS: dict[Status, NextStep] = {
    Status.IDENTITY_PENDING: NextStep(Step.IDENTITY_REVIEW, Actor.ASSIGNEE),
    Status.AWAITING_REQUESTER: NextStep(Step.REQUESTER_REPLY, Actor.REQUESTER),
    Status.IN_REVIEW: NextStep(Step.DECIDE, Actor.ASSIGNEE),
    Status.POSTPONED: NextStep(Step.END_POSTPONEMENT, Actor.ASSIGNEE),
    Status.AWAITING_APPROVAL: NextStep(Step.APPROVE, Actor.OFFICER),
    Status.EXECUTING: NextStep(Step.HOLDER_TASKS, Actor.HOLDERS),
}

# Statuses whose next step is the assignee's own (an unassigned one is the team's).
ASSIGNEE_STATUSES: frozenset[Status] = frozenset(
    s for s, n in _BY_STATUS.items() if n.actor == Actor.ASSIGNEE
) | {Status.EXECUTING}
# Statuses whose next step is the officer's, whoever the assignee is.
OFFICER_STATUSES: frozenset[Status] = frozenset(
    s for s, n in _BY_STATUS.items() if n.actor == Actor.OFFICER
)
# Statuses that wait on the team to assign them when nobody is: everything open except what
# waits on someone outside or on the officer.
TEAM_STATUSES: frozenset[Status] = ASSIGNEE_STATUSES - {Status.EXECUTING}


def next_step(
    status: str, *, assigned: bool, tasks_pending: int, tasks_overdue: int = 0
) -> NextStep:
    """The next step of a request and who must take it (`tasks_overdue`: of the pending
    tasks, those past their due day)."""
    current = Status(status)
    step = _BY_STATUS.get(current)
    if step is None:
        return NextStep(Step.NONE, Actor.NOBODY)
    if not assigned and current in TEAM_STATUSES:
        return NextStep(Step.ASSIGN, Actor.TEAM)
    if current == Status.EXECUTING and tasks_pending == 0:
        # Every holder is done (or waived): the assignee releases or records the access.
        return NextStep(Step.FINISH, Actor.ASSIGNEE)
    if current == Status.EXECUTING and tasks_overdue > 0:
        return NextStep(Step.TASKS_OVERDUE, Actor.HOLDERS)
    return step


def needs(step: NextStep, *, is_officer: bool, is_assignee: bool, may_triage: bool) -> bool:
    """Whether this step waits on the viewer: their own case's step, the officer's approval,
    or (for whoever triages) a request nobody has picked up. An executing request waits on
    its holders but stays with its assignee, who answers for their deadline."""
    if step.actor == Actor.OFFICER:
        return is_officer
    if step.actor == Actor.TEAM:
        return may_triage
    if step.actor in (Actor.ASSIGNEE, Actor.HOLDERS):
        return is_assignee
    return False
