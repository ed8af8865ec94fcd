"""Carrying out the clinic's instruction: staff turn it into the decision in force, and a grant
into holder tasks (the existing task machinery); the requester hears the clinic's decision.

The decision is the clinic's (the controller's), so it needs no officer approval here and no
account-record match: the clinic identified its patient when it instructed."""

from __future__ import annotations

from sqlmodel import Session

from app.errors import InvalidTransition
from app.models.decision import Decision, DecisionAccess
from app.models.request import Request
from app.models.staff import Staff
from app.models.vocab import DecisionState, Delivery
from app.runtime import Runtime
from app.services.audit.timeline import move
from app.services.clinics.forwarding import forward_of
from app.services.closing import latest_decision
from app.services.decisions.approval import _complete
from app.services.notices.queue import queue_notice
from app.workflows import processor as rules
from app.workflows.lifecycle import Outcome, Status
from app.workflows.notice_extras import ClinicResultExtra, NoticeKind


def apply_instruction(session: Session, rt: Runtime, request: Request, staff: Staff) -> None:
    forward = forward_of(session, request)
    if forward is None:
        raise InvalidTransition("병원에 전달된 요청이 아닙니다.")
    if forward.instruction is None:
        raise InvalidTransition("병원의 지시를 아직 받지 못했습니다.")
    decided = latest_decision(session, request)
    if request.status != Status.IN_REVIEW or (
        decided is not None and decided.state != DecisionState.SENT_BACK
    ):
        raise InvalidTransition("검토 중인 요청에만 병원의 지시를 적용할 수 있습니다.")
    actor = f"staff:{staff.id}"
    chosen = rules.ClinicInstruction(forward.instruction)
    if chosen is rules.ClinicInstruction.CLINIC_ANSWERS:
        move(session, rt, request, Status.COMPLETED, actor=actor, clinic_answers=True)
        queue_clinic_result(session, rt, request, dedupe="result:clinic")
        return
    reason = rt.vault.decrypt_opt(forward.reason_enc, field="clinic_forward.reason")
    granted = chosen is rules.ClinicInstruction.CARRY_OUT
    if granted and request.type not in rules.CARRIED_OUT_TYPES:
        raise InvalidTransition("이 유형의 요청은 병원의 지시로 처리할 수 없습니다.")
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
    _complete(session, rt, request, decision, actor)


def _items(rt: Runtime, request: Request) -> list[str]:
    service = rt.policy.service(request.service)
    assert service is not None
    return list(request.items) or [i.code for i in service.items]


def clinic_result_extra(
    session: Session, rt: Runtime, request: Request
) -> ClinicResultExtra | None:
    """The result notice of a request the clinic decided; None for the controller's own."""
    forward = forward_of(session, request)
    if forward is None or forward.instruction is None:
        return None
    return ClinicResultExtra(
        instruction=forward.instruction,
        clinic_name=forward.clinic_name,
        clinic_contact=forward.clinic_phone or forward.clinic_email,
        reason=rt.vault.decrypt_opt(forward.reason_enc, field="clinic_forward.reason"),
    )


def queue_clinic_result(session: Session, rt: Runtime, request: Request, *, dedupe: str) -> bool:
    extra = clinic_result_extra(session, rt, request)
    if extra is None:
        return False
    queue_notice(
        session, rt, request, NoticeKind.CLINIC_RESULT, extra=extra, actor="system", dedupe=dedupe
    )
    return True
