"""Carrying out the clinic's instruction: staff turn it into the decision in force, and a grant
into holder tasks (the existing task machinery); the requester hears the clinic's decision.

The decision is the clinic's (the controller's), so it needs no officer approval here. Our own
identity check still stands between the clinic's word and the patient's data: nothing is
applied while the request waits for identity, and a grant waits for the account-record match
(Decree art. 46(1)), as any grant does."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.errors import Conflict, InvalidTransition
from app.models.decision import Decision, DecisionAccess
from app.models.request import Request
from app.models.staff import Staff
from app.models.vocab import DecisionState, Delivery
from app.runtime import Runtime
from app.services.audit.timeline import move, note
from app.services.clinics.forwarding import forward_of
from app.services.closing import latest_decision
from app.services.decisions.approval import _complete
from app.services.identity.checks import verified_methods
from app.services.notices.queue import queue_notice
from app.workflows import processor as rules
from app.workflows.identity import check_record_match
from app.workflows.lifecycle import Outcome, Status
from app.workflows.notice_extras import ClinicResultExtra, NoticeKind


def _identity_pending(request: Request) -> bool:
    """Our identity check is not done: the clinic's word does not stand for it."""
    return request.status == Status.IDENTITY_PENDING or (
        request.status == Status.AWAITING_REQUESTER
        and request.resume_status == Status.IDENTITY_PENDING
    )


def apply_instruction(session: Session, rt: Runtime, request: Request, staff: Staff) -> None:
    forward = forward_of(session, request)
    if forward is None:
        raise InvalidTransition("병원에 전달된 요청이 아닙니다.")
    if forward.instruction is None:
        raise InvalidTransition("병원의 지시를 아직 받지 못했습니다.")
    if _identity_pending(request):
        raise Conflict(
            "본인 확인이 끝나지 않은 요청입니다. 병원의 지시는 기록되어 있으며, 저희의 본인 확인이 "
            "끝난 뒤에 적용할 수 있습니다.",
            code="identity_pending",
        )
    if forward.applied_at is not None:
        raise InvalidTransition("병원의 지시는 이미 적용했습니다. 병원의 답변 확인을 기다립니다.")
    decided = latest_decision(session, request)
    if request.status != Status.IN_REVIEW or (
        decided is not None and decided.state != DecisionState.SENT_BACK
    ):
        raise InvalidTransition("검토 중인 요청에만 병원의 지시를 적용할 수 있습니다.")
    actor = f"staff:{staff.id}"
    chosen = rules.ClinicInstruction(forward.instruction)
    if chosen is rules.ClinicInstruction.CLINIC_ANSWERS:
        # The request stays open until the clinic confirms on its page that it answered
        # (forwarding.record_answered); past clinic_due_on staff see it overdue.
        forward.applied_at = rt.clock()
        session.add(forward)
        note(session, rt, request, "clinic_answers", actor=actor, clinic=forward.clinic_code)
        request.version += 1
        request.updated_at = rt.clock()
        session.flush()
        queue_clinic_result(session, rt, request, dedupe="result:clinic")
        if forward.answered_at is not None:  # the clinic said so already
            move(session, rt, request, Status.COMPLETED, actor=actor, clinic_answered=True)
        return
    reason = rt.vault.decrypt_opt(forward.reason_enc, field="clinic_forward.reason")
    granted = chosen is rules.ClinicInstruction.CARRY_OUT
    if granted and request.type not in rules.CARRIED_OUT_TYPES:
        raise InvalidTransition("이 유형의 요청은 병원의 지시로 처리할 수 없습니다.")
    if granted:
        # Decree art. 46(1): the clinic's grant reaches the patient's data only for a
        # requester we matched against the service's records.
        check_record_match(
            Outcome.GRANTED,
            request.type,
            verified_methods(session, request),
            required=rt.settings.identity_require_record_match,
        )
    decision = Decision(
        request_id=request.id,  # type: ignore[arg-type]
        outcome=Outcome.GRANTED if granted else Outcome.REFUSED,
        grounds=[],
        items_granted=_items(rt, request) if granted else [],
        items_withheld=[] if granted else _items(rt, request),
        reason_enc=rt.vault.encrypt_opt(reason, field="decision.reason"),
        access=DecisionAccess(method=Delivery(request.delivery))
        if granted and request.type == "access"
        else None,
        state=DecisionState.AWAITING_APPROVAL,
        drafted_by=staff.id,  # type: ignore[arg-type]
        drafted_at=rt.clock(),
    )
    session.add(decision)
    session.flush()
    forward.decision_id = decision.id
    forward.applied_at = rt.clock()
    session.add(forward)
    session.flush()
    _complete(session, rt, request, decision, actor)


def _items(rt: Runtime, request: Request) -> list[str]:
    service = rt.policy.service(request.service)
    assert service is not None
    return list(request.items) or [i.code for i in service.items]


def clinic_result_extra(
    session: Session,
    rt: Runtime,
    request: Request,
    decision: Decision | None = None,
    package_expires_at: datetime | None = None,
) -> ClinicResultExtra | None:
    """The result notice of a request the clinic decided: for the decision apply_instruction
    made (`decision`), or for the clinic that answers itself (no decision). None otherwise:
    the controller's own decisions get their own forms."""
    forward = forward_of(session, request)
    if forward is None or forward.instruction is None or forward.applied_at is None:
        return None
    if decision is not None and forward.decision_id != decision.id:
        return None
    if decision is None and forward.instruction != rules.ClinicInstruction.CLINIC_ANSWERS:
        return None
    service = rt.policy.service(request.service)
    names = {i.code: i.name for i in service.items} if service else {}
    done = decision.items_granted if decision is not None else []
    return ClinicResultExtra(
        instruction=forward.instruction,
        clinic_name=forward.clinic_name,
        clinic_contact=forward.clinic_phone or forward.clinic_email,
        reason=rt.vault.decrypt_opt(forward.reason_enc, field="clinic_forward.reason"),
        items_done=[names.get(c, c) for c in done],
        method=decision.access.method
        if decision is not None and decision.access is not None
        else None,
        package_expires_at=package_expires_at,
        clinic_due_on=forward.due_on,
    )


def queue_clinic_result(
    session: Session,
    rt: Runtime,
    request: Request,
    *,
    dedupe: str,
    decision: Decision | None = None,
    package_expires_at: datetime | None = None,
) -> bool:
    extra = clinic_result_extra(session, rt, request, decision, package_expires_at)
    if extra is None:
        return False
    queue_notice(
        session, rt, request, NoticeKind.CLINIC_RESULT, extra=extra, actor="system", dedupe=dedupe
    )
    return True
