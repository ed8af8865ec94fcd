"""Art. 37-2 requests: extending the 30-day period (Decree art. 44-3) and naming the
automated decision a request is about when the subject did not know it."""

from __future__ import annotations

from sqlmodel import Session

from app.errors import InvalidTransition
from app.models.request import Request
from app.runtime import Runtime
from app.services.audit.timeline import note
from app.services.notices.queue import queue_notice
from app.workflows import automated as rules
from app.workflows.deadlines import kst_date, target_date
from app.workflows.lifecycle import Status
from app.workflows.notice_extras import DeadlineExtensionExtra
from app.workflows.notices import NoticeKind


def extend(session: Session, rt: Runtime, request: Request, *, reason: str, actor: str) -> None:
    """30 more days from the current deadline, at most twice, each with a reason notice. The
    queue, the SLA state and the detail read `legal_due_on`, so they all see the new one."""
    rules.check_extension(
        request.type,
        Status(request.status),
        request.extensions,
        today=kst_date(rt.clock()),
        due_on=request.legal_due_on,
    )
    previous = request.legal_due_on
    new = rules.extended_deadline(previous, rt.calendar)
    request.legal_due_on = new.due_on
    request.target_due_on = target_date(new.due_on, rt.settings.target_days_before, rt.calendar)
    request.deadline_unconfirmed = new.beyond_calendar
    request.extensions += 1
    request.version += 1
    request.updated_at = rt.clock()
    # The reason goes to the subject in the notice; the timeline keeps only dates.
    note(
        session,
        rt,
        request,
        "deadline_extended",
        actor=actor,
        number=request.extensions,
        previous_due_on=previous.isoformat(),
        new_due_on=new.due_on.isoformat(),
        explain=[{"date": s.date.isoformat(), "note": s.note} for s in new.explain],
    )
    session.flush()
    queue_notice(
        session,
        rt,
        request,
        NoticeKind.DEADLINE_EXTENSION,
        actor=actor,
        extra=DeadlineExtensionExtra(
            reason=reason,
            previous_due_on=previous,
            new_due_on=new.due_on,
            number=request.extensions,
        ),
        dedupe=f"extension:{request.extensions}",
    )


_BEFORE_DECISION = frozenset({Status.IDENTITY_PENDING, Status.AWAITING_REQUESTER, Status.IN_REVIEW})


def resolve_decision(
    session: Session, rt: Runtime, request: Request, *, code: str, actor: str
) -> None:
    """Staff name the policy's decision a request is about (the subject chose `unknown`, or
    chose the wrong one); recorded on the timeline with both codes."""
    if not rules.is_automated_type(request.type):
        raise InvalidTransition("자동화된 결정에 관한 요구가 아닙니다.")
    if request.status not in _BEFORE_DECISION:
        raise InvalidTransition("결정을 내리기 전에만 대상 자동화된 결정을 바꿀 수 있습니다.")
    rules.check_decision_code(code, service=request.service, policy=rt.policy, field="code")
    previous = request.automated_decision
    request.automated_decision = code
    request.version += 1
    request.updated_at = rt.clock()
    note(
        session,
        rt,
        request,
        "automated_decision_resolved",
        actor=actor,
        previous=previous,
        automated_decision=code,
    )
    session.flush()
