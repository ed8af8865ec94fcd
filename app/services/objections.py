"""The requester's own moves after filing: objecting to a decision, withdrawing a request."""

from __future__ import annotations

from sqlmodel import Session, select

from app.errors import InvalidTransition
from app.models.request import Party, Request
from app.models.request_api import RequestCreated
from app.runtime import Runtime
from app.services.codes import new_access_code
from app.services.events import record_event
from app.services.filing import unique_reference
from app.services.notices import queue_notice
from app.workflows import decisions as rules
from app.workflows.deadlines import kst_date, legal_deadline, target_date
from app.workflows.lifecycle import CLOSED, Status, TransitionEvent, transition
from app.workflows.notices import NoticeKind


def file_objection(session: Session, rt: Runtime, parent: Request, reason: str) -> RequestCreated:
    """Art. 38(5): a linked request of type `objection`, with its own deadline and queue place.

    Whoever holds the parent's access code already proved who they are, so the objection
    starts in review.
    """
    if not rules.objection_allowed(parent.status, parent.outcome):
        raise InvalidTransition("이의제기는 일부 인용 또는 거절 결정을 받은 뒤에 할 수 있습니다.")
    assert parent.id is not None
    now = rt.clock()
    deadline = legal_deadline(now, rt.settings.objection_period_days, rt.calendar)
    code = new_access_code()
    objection = Request(
        reference=unique_reference(session, kst_date(now)),
        type="objection",
        service=parent.service,
        channel="api",
        status=Status.IN_REVIEW,
        received_at=now,
        legal_due_on=deadline.due_on,
        target_due_on=target_date(deadline.due_on, rt.settings.target_days_before, rt.calendar),
        period_days=deadline.period_days,
        deadline_unconfirmed=deadline.beyond_calendar,
        parent_id=parent.id,
        access_code_hash=rt.vault.hash_secret(code),
        items=list(parent.items),
        delivery=parent.delivery,
        notify_by=parent.notify_by,
        details_enc=rt.vault.encrypt(reason, field="request.details"),
        created_at=now,
        updated_at=now,
    )
    session.add(objection)
    session.flush()
    assert objection.id is not None
    for p in session.exec(select(Party).where(Party.request_id == parent.id)).all():
        # The same people: their encrypted fields are copied as they are.
        session.add(Party(**p.model_dump(exclude={"id", "request_id"}), request_id=objection.id))
    record_event(
        session,
        objection,
        TransitionEvent(
            kind="filed",
            from_status="",
            to_status=Status.IN_REVIEW,
            actor="requester",
            at=now,
            data={
                "objection_to": parent.reference,
                "legal_deadline": deadline.due_on.isoformat(),
                "explain": [{"date": s.date.isoformat(), "note": s.note} for s in deadline.explain],
            },
        ),
    )
    record_event(
        session,
        parent,
        TransitionEvent(
            kind="objection_filed",
            from_status="",
            to_status="",
            actor="requester",
            at=now,
            data={"objection": objection.reference},
        ),
    )
    queue_notice(
        session,
        rt,
        parent,
        NoticeKind.OBJECTION_RECEIPT,
        actor="requester",
        dedupe=f"objection:{objection.reference}",
        extra={"objection_reference": objection.reference, "objection_due_on": deadline.due_on},
    )
    return RequestCreated(
        reference=objection.reference,
        access_code=code,
        type="objection",
        status=objection.status,
        received_at=now,
        legal_deadline=deadline.due_on,
        next_action="wait",
    )


def withdraw(session: Session, rt: Runtime, request: Request) -> None:
    """The requester may withdraw at any open status."""
    if request.status in CLOSED:
        raise InvalidTransition("이미 끝난 요청은 취소할 수 없습니다.")
    now = rt.clock()
    record_event(
        session, request, transition(request, Status.WITHDRAWN, actor="requester", now=now)
    )
    request.updated_at = now
    session.flush()
    queue_notice(
        session, rt, request, NoticeKind.WITHDRAWAL, actor="requester", extra={"withdrawn_at": now}
    )
