"""The officer's approval, and what a final decision starts."""

from __future__ import annotations

from sqlmodel import Session

from app.errors import (
    Forbidden,
    InvalidTransition,
)
from app.models.decision import Decision
from app.models.request import Request
from app.models.staff import Staff
from app.models.vocab import DecisionState
from app.runtime import Runtime
from app.services.audit.timeline import move
from app.services.closing import complete_request, latest_decision
from app.workflows.decisions import move_decision
from app.workflows.lifecycle import Status


def approve(
    session: Session,
    rt: Runtime,
    request: Request,
    officer: Staff,
    *,
    approve: bool,
    note: str | None,
) -> None:
    decision = latest_decision(session, request)
    if request.status != Status.AWAITING_APPROVAL or decision is None:
        raise InvalidTransition("승인을 기다리는 결정이 없습니다.")
    if decision.drafted_by == officer.id:
        raise Forbidden("자신이 작성한 결정은 승인하거나 반려할 수 없습니다.")
    actor = f"staff:{officer.id}"
    decision.approval_note_enc = rt.vault.encrypt_opt(note, field="decision.approval_note")
    decision.approved_by = officer.id
    if approve:
        move_decision(decision, DecisionState.APPROVED)
        _complete(session, rt, request, decision, actor)
    else:
        move_decision(decision, DecisionState.SENT_BACK)
        move(
            session,
            rt,
            request,
            Status.IN_REVIEW,
            actor=actor,
            decision_id=decision.id,
            sent_back=True,
        )


def _complete(
    session: Session, rt: Runtime, request: Request, decision: Decision, actor: str
) -> None:
    """The decision is final. When it changes, deletes or stops data somewhere, every holder
    gets a task and the request waits in `executing` (app/services/tasks/execution.py); otherwise it
    completes now."""
    decision.decided_at = rt.clock()
    if decision.state == DecisionState.AWAITING_APPROVAL:  # in force without approval
        move_decision(decision, DecisionState.FINAL)
    request.outcome = decision.outcome
    if request.type != "objection":
        from app.services.tasks.execution import start_execution

        if start_execution(session, rt, request, decision, actor=actor):
            return
    complete_request(session, rt, request, actor=actor)
