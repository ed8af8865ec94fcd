"""The requester's own moves after filing: objecting to a decision, withdrawing a request."""

from __future__ import annotations

from sqlmodel import Session, select

from app.core.codes import new_access_code
from app.errors import InvalidTransition
from app.models.channeltalk import ChatLink
from app.models.request import Party, Request
from app.models.request_api import RequestCreated
from app.models.vocab import Outcome
from app.runtime import Runtime
from app.services.audit.timeline import record_event
from app.services.intake.plan import Facts, plan_request
from app.services.intake.write import unique_reference, write_filing
from app.services.notices.queue import queue_notice
from app.workflows import decisions as rules
from app.workflows.deadlines import Deadline, kst_date, period_for
from app.workflows.lifecycle import CLOSED, Status, TransitionEvent, transition
from app.workflows.notice_extras import ObjectionReceiptExtra, WithdrawalExtra
from app.workflows.notices import NoticeKind


def _follow_up(
    session: Session,
    rt: Runtime,
    source: Request,
    *,
    type: str,
    period_days: int,
    access_code_hash: str,
    details_enc: str | None,
    actor: str,
    data: dict[str, object],
    automated_decision: str | None = None,
) -> tuple[Request, Deadline]:
    """A new request linked to `source`, for the same people, starting in review (whoever
    holds a code for `source` already proved who they are)."""
    assert source.id is not None
    now = rt.clock()
    parties = session.exec(select(Party).where(Party.request_id == source.id)).all()
    facts = Facts(
        reference=unique_reference(session, kst_date(now)),
        type=type,
        service=source.service,
        channel=source.channel,
        received_at=now,
        period_days=period_days,
        notify_by=source.notify_by,
        items=list(source.items),
        access_scope=source.access_scope if type == "access" else None,
        automated_decision=automated_decision,
        delivery=source.delivery,
        actor=actor,
        access_code_hash=access_code_hash,
        details_enc=details_enc,
        correction_enc=source.correction_enc,
        transmission_to=source.transmission_to,
        transmission_enc=source.transmission_enc,
        status=Status.IN_REVIEW,
        parent_id=source.id,
        # The same people: their encrypted fields are copied as they are.
        copied_parties=[p.model_dump(exclude={"id", "request_id"}) for p in parties],
        event_data=dict(data),
    )
    plan = plan_request(rt, facts)
    new = session.get(Request, write_filing(session, rt, plan))
    assert new is not None and new.id is not None
    link = session.exec(select(ChatLink).where(ChatLink.request_id == source.id)).first()
    if link is not None:  # a chat request's follow-up is answered in the same chat
        session.add(ChatLink(**link.model_dump(exclude={"id", "request_id"}), request_id=new.id))
        session.flush()
    return new, plan.deadline


def can_object(status: str, outcome: str | None) -> bool:
    """Whether the requester may object now (the API's rule, the web form's): art. 38(5),
    after every outcome whose notice offers the objection method."""
    return rules.objection_allowed(Status(status), Outcome(outcome) if outcome else None)


def file_objection(
    session: Session, rt: Runtime, parent: Request, reason: str, *, actor: str = "requester"
) -> RequestCreated:
    """Art. 38(5): a linked request of type `objection`, with its own deadline and queue place.
    `actor`: the requester on the web or API; staff for an objection that came by e-mail,
    letter or in a chat (the notices offer those routes too)."""
    if not can_object(parent.status, parent.outcome):
        raise InvalidTransition(
            "이의제기는 일부 인용, 거절, 보유 개인정보 없음, 정정하지 않음 결정이나 "
            "열람 연기, 본인 확인 불가 통지를 받은 뒤에 할 수 있습니다."
        )
    code = new_access_code()
    objection, deadline = _follow_up(
        session,
        rt,
        parent,
        type="objection",
        period_days=rt.settings.objection_period_days,
        access_code_hash=rt.vault.hash_secret(code),
        actor=actor,
        details_enc=rt.vault.encrypt(reason, field="request.details"),
        data={"objection_to": parent.reference},
    )
    record_event(
        session,
        rt,
        parent,
        TransitionEvent(
            kind="objection_filed",
            from_status="",
            to_status="",
            actor=actor,
            at=objection.received_at,
            data={"objection": objection.reference},
        ),
    )
    queue_notice(
        session,
        rt,
        parent,
        NoticeKind.OBJECTION_RECEIPT,
        actor=actor,
        dedupe=f"objection:{objection.reference}",
        extra=ObjectionReceiptExtra(
            objection_reference=objection.reference,
            objection_due_on=deadline.due_on,
            period_days=rt.settings.objection_period_days,
        ),
    )
    return RequestCreated(
        reference=objection.reference,
        access_code=code,
        type="objection",
        status=objection.status,
        received_at=objection.received_at,
        legal_deadline=deadline.due_on,
        next_action="wait",
    )


def reopen_after_objection(
    session: Session, rt: Runtime, objection: Request, actor: str
) -> Request:
    """An upheld objection: the original request is taken up again as a new linked request,
    with a fresh legal period from today. The requester's original access code opens it."""
    original = session.get(Request, objection.parent_id)
    assert original is not None
    if original.status == Status.POSTPONED:
        # An upheld objection to a postponement ends it today: the access follows within the
        # new period (표준지침 art. 31(1)) under the same request, not a second one.
        from app.services.decisions.postponement import end_postponement

        end_postponement(session, rt, original, ended_on=None, actor=actor)
        return original
    reopened, _ = _follow_up(
        session,
        rt,
        objection,
        type=original.type,
        period_days=period_for(original.type),
        access_code_hash=original.access_code_hash,
        details_enc=original.details_enc,
        actor=actor,
        data={"reopened_after_objection": objection.reference, "original": original.reference},
        # Art. 37-2: the reopened request is about the same automated decision.
        automated_decision=original.automated_decision,
    )
    return reopened


def withdraw(session: Session, rt: Runtime, request: Request) -> None:
    """The requester may withdraw at any open status."""
    if request.status in CLOSED:
        raise InvalidTransition("이미 끝난 요청은 취소할 수 없습니다.")
    now = rt.clock()
    record_event(
        session, rt, request, transition(request, Status.WITHDRAWN, actor="requester", now=now)
    )
    request.updated_at = now
    session.flush()
    queue_notice(
        session,
        rt,
        request,
        NoticeKind.WITHDRAWAL,
        actor="requester",
        extra=WithdrawalExtra(withdrawn_at=now),
    )
